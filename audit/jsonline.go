package audit

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// The access record's hot path. slog stays the interface: a record goes
// to whatever slog.Handler the Config names. But when that handler is one
// of this package's JSON writers ([NewJSONHandler], [Chain], [File]), the
// record is appended as JSON directly, in the bytes slog's own
// JSONHandler would write for it (TestJSONLineIsSlogsBytes holds the two
// to the same output), into one pooled buffer, with no slog.Record, no
// value boxing and no second formatting pass: the chain's MAC input is
// the same, byte for byte.

// JSONLineHandler is an slog.Handler that also takes a record already
// formatted as slog's JSONHandler formats it: one JSON object and a
// newline. [Auditor] hands its access records to it that way. The
// handlers of this package implement it; a wrapper of one can too, by
// passing the line on.
type JSONLineHandler interface {
	slog.Handler
	HandleJSONLine(ctx context.Context, level slog.Level, line []byte) error
}

var (
	_ JSONLineHandler = (*JSONHandler)(nil)
	_ JSONLineHandler = (*Chain)(nil)
	_ JSONLineHandler = (*File)(nil)
)

// JSONHandler writes records as JSON lines to w, exactly as
// slog.NewJSONHandler does, one Write per record, and takes the access
// records of an [Auditor] without formatting them twice.
type JSONHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	inner slog.Handler // slog's JSONHandler, writing into buf
	buf   *[]byte
}

// NewJSONHandler returns a handler writing JSON lines to w. With opts that
// set ReplaceAttr or AddSource, it is slog.NewJSONHandler itself (those
// change the bytes of every record, which the fast path does not).
func NewJSONHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts != nil && (opts.ReplaceAttr != nil || opts.AddSource) {
		return slog.NewJSONHandler(w, opts)
	}
	buf := new([]byte)
	return &JSONHandler{mu: new(sync.Mutex), w: w, buf: buf, inner: slog.NewJSONHandler(bufWriter{buf}, opts)}
}

// bufWriter collects what slog's handler writes (under JSONHandler.mu).
type bufWriter struct{ b *[]byte }

func (w bufWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// Enabled reports whether records at l are written.
func (h *JSONHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.inner.Enabled(ctx, l) }

// Handle writes r as one JSON line.
func (h *JSONHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.write(ctx, h.inner, r)
}

// write formats r with inner (slog's handler, or a derived one) into the
// shared buffer and writes it in one Write, under the writer's lock.
func (h *JSONHandler) write(ctx context.Context, inner slog.Handler, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.buf = (*h.buf)[:0]
	if err := inner.Handle(ctx, r); err != nil {
		return err
	}
	_, err := h.w.Write(*h.buf)
	return err
}

// HandleJSONLine writes a line already formatted.
func (h *JSONHandler) HandleJSONLine(_ context.Context, _ slog.Level, line []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(line)
	return err
}

// WithAttrs returns a handler writing to the same writer with attrs added.
func (h *JSONHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &jsonDerived{h: h, inner: h.inner.WithAttrs(as)}
}

// WithGroup returns a handler writing to the same writer within group name.
func (h *JSONHandler) WithGroup(name string) slog.Handler {
	return &jsonDerived{h: h, inner: h.inner.WithGroup(name)}
}

// jsonDerived is a JSONHandler with attributes or a group: records go
// through slog's formatting (its prefix is not the fast path's).
type jsonDerived struct {
	h     *JSONHandler
	inner slog.Handler
}

func (d *jsonDerived) Enabled(ctx context.Context, l slog.Level) bool { return d.inner.Enabled(ctx, l) }
func (d *jsonDerived) Handle(ctx context.Context, r slog.Record) error {
	return d.h.write(ctx, d.inner, r)
}
func (d *jsonDerived) WithAttrs(as []slog.Attr) slog.Handler {
	return &jsonDerived{h: d.h, inner: d.inner.WithAttrs(as)}
}
func (d *jsonDerived) WithGroup(name string) slog.Handler {
	return &jsonDerived{h: d.h, inner: d.inner.WithGroup(name)}
}

// linePool holds the buffers access records are appended into.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// appendLine appends the record slog's JSONHandler would write for a
// record of time t, level, msg and attrs, and reports false (having
// appended something unusable) when an attribute is of a kind the fast
// path does not format (groups, Any, LogValuer, Time, Float64): the caller
// then goes through slog.
func appendLine(b []byte, t time.Time, level slog.Level, msg string, attrs []slog.Attr) ([]byte, bool) {
	b, ok := appendLineHead(b, t, level, msg)
	if !ok {
		return b, false
	}
	for _, a := range attrs {
		if a.Key == "" {
			return b, false // slog drops it, or inlines a group
		}
		b = append(b, ',')
		b = appendJSONString(b, a.Key)
		b = append(b, ':')
		if b, ok = appendLineValue(b, a.Value); !ok {
			return b, false
		}
	}
	return append(b, "}\n"...), true
}

// appendLineHead appends the start of a record's line, up to its first
// attribute: time, level and message. It reports false for a time slog
// writes otherwise (a year outside 0–9999).
func appendLineHead(b []byte, t time.Time, level slog.Level, msg string) ([]byte, bool) {
	if y := t.Year(); y < 0 || y >= 10000 {
		return b, false
	}
	b = append(b, `{"time":"`...)
	b = appendRFC3339Nano(b, t)
	b = append(b, `","level":`...)
	b = appendJSONString(b, level.String())
	b = append(b, `,"msg":`...)
	return appendJSONString(b, msg), true
}

// appendLineValue appends v as slog's JSONHandler writes it, for the kinds the
// line path formats; it reports false for the others.
func appendLineValue(b []byte, v slog.Value) ([]byte, bool) {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(b, v.String()), true
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10), true
	}
	return b, false
}

// recordOut receives an access record's attributes in their order: as
// JSON appended to b (line set: the direct path, no slog.Attr in
// between), or as slog attributes appended to at. Keys are the auditor's
// own — constants, and "http.request.header." + a validated header name
// — none of which JSON escapes, so the line path writes them as they are
// (TestJSONLineIsSlogsBytes holds it to slog's bytes).
type recordOut struct {
	line bool
	ok   bool // line: every value was one the line path formats
	b    []byte
	at   []slog.Attr
}

func (o *recordOut) key(k string) {
	o.b = append(o.b, ',', '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *recordOut) str(k, v string) {
	if !o.line {
		o.at = append(o.at, slog.String(k, v))
		return
	}
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

func (o *recordOut) int(k string, v int64) {
	if !o.line {
		o.at = append(o.at, slog.Int64(k, v))
		return
	}
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *recordOut) dur(k string, d time.Duration) {
	if !o.line {
		o.at = append(o.at, slog.Duration(k, d))
		return
	}
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(d), 10)
}

func (o *recordOut) flag(k string, v bool) {
	if !o.line {
		o.at = append(o.at, slog.Bool(k, v))
		return
	}
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// addr is an IP address as a string attribute; the line path appends it
// without making the string.
func (o *recordOut) addr(k string, a netip.Addr) {
	if !o.line {
		o.at = append(o.at, slog.String(k, a.String()))
		return
	}
	o.key(k)
	if a.Zone() != "" { // a zone is text of any kind: escape it
		o.b = appendJSONString(o.b, a.String())
		return
	}
	o.b = append(o.b, '"')
	o.b = a.AppendTo(o.b) // digits, hex digits, '.' and ':'
	o.b = append(o.b, '"')
}

func (o *recordOut) value(k string, v slog.Value) {
	if !o.line {
		o.at = append(o.at, slog.Attr{Key: k, Value: v})
		return
	}
	o.key(k)
	var ok bool
	if o.b, ok = appendLineValue(o.b, v); !ok {
		o.ok = false
	}
}

// appendRFC3339Nano appends t as t.AppendFormat(b, time.RFC3339Nano)
// does, without parsing the layout, for a UTC time (the access record's);
// any other location goes through AppendFormat.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, secondText(t)[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10) // #nosec G115 -- a decimal digit
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// stamp is the text of one second, "2006-01-02T15:04:05".
type stamp struct {
	unix int64
	text [19]byte
}

// lastStamp is the second the latest record was written in: records come
// many to a second, so the date and clock are worked out once a second.
var lastStamp atomic.Pointer[stamp]

// secondText returns the date and clock of t (UTC) to the second.
func secondText(t time.Time) *[19]byte {
	u := t.Unix()
	if s := lastStamp.Load(); s != nil && s.unix == u {
		return &s.text
	}
	s := &stamp{unix: u}
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b := s.text[:0]
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	_ = appendDigits(b, sec, 2)
	lastStamp.Store(s)
	return &s.text
}

// appendDigits appends v (0 ≤ v < 10^width) zero-padded to width digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10) // #nosec G115 -- a decimal digit
		v /= 10
	}
	return append(b, d[:width]...)
}

const hexDigits = "0123456789abcdef"

// plainJSON marks the bytes a JSON string holds as they are: printable
// ASCII but '"' and '\\'.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s quoted as slog's JSONHandler quotes strings:
// '"', '\\' and controls escaped (\n, \r, \t by name), invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped; '<', '>' and '&' as they are.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		for i < len(s) && plainJSON[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
