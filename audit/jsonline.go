package audit

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
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
	if y := t.Year(); y < 0 || y >= 10000 {
		return b, false
	}
	b = append(b, `{"time":"`...)
	b = appendRFC3339Nano(b, t)
	b = append(b, `","level":`...)
	b = appendJSONString(b, level.String())
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, msg)
	for _, a := range attrs {
		if a.Key == "" {
			return b, false // slog drops it, or inlines a group
		}
		b = append(b, ',')
		b = appendJSONString(b, a.Key)
		b = append(b, ':')
		v := a.Value
		switch v.Kind() {
		case slog.KindString:
			b = appendJSONString(b, v.String())
		case slog.KindInt64:
			b = strconv.AppendInt(b, v.Int64(), 10)
		case slog.KindUint64:
			b = strconv.AppendUint(b, v.Uint64(), 10)
		case slog.KindBool:
			b = strconv.AppendBool(b, v.Bool())
		case slog.KindDuration:
			b = strconv.AppendInt(b, int64(v.Duration()), 10)
		default:
			return b, false
		}
	}
	return append(b, "}\n"...), true
}

// appendRFC3339Nano appends t as t.AppendFormat(b, time.RFC3339Nano)
// does, without parsing the layout, for a UTC time (the access record's);
// any other location goes through AppendFormat.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	if t.Location() != time.UTC {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
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
	b = appendDigits(b, sec, 2)
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
