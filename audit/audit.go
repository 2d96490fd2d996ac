package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/internal/reqctx"
	"github.com/bulwark-go/bulwark/secevent"
)

// Record messages. Every record the auditor writes has one of them.
const (
	MsgRequest   = "http.request"    // one per request
	MsgEvent     = "security.event"  // a security event outside a request
	MsgAggregate = "audit.aggregate" // N identical denials summarized
)

// Auditor writes the access and security-event log. It is safe for
// concurrent use. Its methods do nothing after [Auditor.Close] other than
// writing records, which still reach the handler.
type Auditor struct {
	s          settings
	line       JSONLineHandler // s.h, when it takes JSON lines
	flood      *flood
	nextSweep  atomic.Int64
	headerKeys []string
	handleErrs atomic.Uint64
	suppressed atomic.Uint64
	ids        sync.Pool // of *mrand.ChaCha8
}

// Interface guards: the auditor records events outside requests.
var _ secevent.Recorder = (*Auditor)(nil)

// New checks cfg and returns an [Auditor]. Every problem found is returned,
// joined; each is a [*ConfigError].
func New(cfg Config) (*Auditor, error) {
	s, errs := cfg.check()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a := &Auditor{s: s}
	a.line, _ = s.h.(JSONLineHandler)
	a.ids.New = func() any {
		var seed [32]byte
		_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails (Go 1.24+)
		return mrand.NewChaCha8(seed)
	}
	if s.floodAfter > 0 {
		a.flood = newFlood(s.floodAfter, s.floodEvery, s.floodMaxKeys)
	}
	for _, h := range s.logHeaders {
		a.headerKeys = append(a.headerKeys, "http.request.header."+strings.ToLower(h))
	}
	return a, nil
}

// Redactor returns the auditor's redactor, to apply the same rules to an
// application's own logs with [Redactor.Handler].
func (a *Auditor) Redactor() *Redactor { return a.s.red }

// Stats counts what the auditor did not write as a record of its own.
type Stats struct {
	Suppressed    uint64 // denials folded into "audit.aggregate" records
	HandlerErrors uint64 // records the handler failed to write
}

// Stats returns the counters so far.
func (a *Auditor) Stats() Stats {
	return Stats{Suppressed: a.suppressed.Load(), HandlerErrors: a.handleErrs.Load()}
}

// Close writes the summaries of pending flood aggregates. It does not
// close the handler: close a [Chain] or an [Async] after the auditor.
func (a *Auditor) Close() error {
	if a.flood != nil {
		a.writeSummaries(context.Background(), a.flood.sweep(a.s.now(), true))
	}
	return nil
}

// Handler returns middleware that assigns the request ID, installs the
// security-event recorder in the request context, calls next and writes
// one record for the request. Put it outside everything it should observe
// (after clientip, so client.address is the resolved one).
func (a *Auditor) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.s.now()
		st := &reqState{a: a, rw: recWriter{w: w}}
		st.id, st.trace = a.requestID(r)
		st.idHdr[0] = st.id
		w.Header()[a.s.idHeader] = st.idHdr[:]
		// st is the request's security-event recorder and audit state: in
		// the request's shared slots when a layer outside attached them
		// (no copy of the request), else in slots of its own (st's
		// carrier, in the same allocation).
		r2 := r
		if s := reqctx.From(r.Context()); s == nil || !s.SetAudit(st) || !s.SetRecorder(st) {
			st.ctx.Init(r.Context(), s)
			st.ctx.ForceAudit(st)
			st.ctx.ForceRecorder(st)
			r2 = r.WithContext(&st.ctx)
		}
		panicked := true
		defer func() {
			if panicked {
				a.finish(st, r2, start, true)
			}
		}()
		next.ServeHTTP(&st.rw, r2)
		panicked = false
		a.finish(st, r2, start, false)
	})
}

func (a *Auditor) requestID(r *http.Request) (string, TraceContext) {
	var tc TraceContext
	if v := r.Header["Traceparent"]; len(v) == 1 {
		tc, _ = ParseTraceparent(v[0])
	}
	if !a.s.ignoreID {
		if v := r.Header[a.s.idHeader]; len(v) == 1 && ValidRequestID(v[0]) {
			return v[0], tc
		}
	}
	return a.newID(), tc
}

// newID is [NewRequestID] from a pool of ChaCha8 generators, each seeded
// from crypto/rand: as unpredictable, without a system call per request.
func (a *Auditor) newID() string {
	g := a.ids.Get().(*mrand.ChaCha8)
	var b [16]byte
	_, _ = g.Read(b[:]) // ChaCha8.Read never fails
	a.ids.Put(g)
	return hex.EncodeToString(b[:])
}

// reqState is one request's record in the making; it is the secevent
// recorder of the request context, and that context itself.
type reqState struct {
	ctx   reqctx.Carrier // the inner layers' context, when st brings the slots
	a     *Auditor
	idHdr [1]string
	id    string
	trace TraceContext
	rw    recWriter

	mu         sync.Mutex
	events     eventList
	dropped    int
	ident      secevent.Identity
	identified bool
	done       bool
}

var (
	_ secevent.Recorder   = (*reqState)(nil)
	_ secevent.Identifier = (*reqState)(nil)
)

// Value returns s for [stateKey] and asks the parent context otherwise.

// Record adds e to the request's record, or writes it on its own when the
// record was already written (a goroutine outliving the request).
func (s *reqState) Record(ctx context.Context, e secevent.Event) {
	if e.Name == "" {
		return
	}
	ev := s.a.entry(e)
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		s.a.standalone(ctx, ev, s.id)
		return
	}
	if len(s.events) < s.a.s.maxEvents {
		s.events = append(s.events, ev)
	} else {
		s.dropped++
	}
	s.mu.Unlock()
}

// Identify names the authenticated caller in the request's record.
func (s *reqState) Identify(_ context.Context, id secevent.Identity) {
	s.mu.Lock()
	s.ident, s.identified = id, true
	s.mu.Unlock()
}

var knownMethods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace, "QUERY"}

func (a *Auditor) finish(st *reqState, r *http.Request, start time.Time, panicked bool) {
	end := a.s.now()
	st.mu.Lock()
	st.done = true
	events, dropped, ident, identified := st.events, st.dropped, st.ident, st.identified
	st.mu.Unlock()

	status := st.rw.status
	switch {
	case status != 0:
	case panicked:
		status = http.StatusInternalServerError
	case st.rw.hijacked:
		status = http.StatusSwitchingProtocols
	default:
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if len(events) > 0 || dropped > 0 {
		level = slog.LevelWarn
	}
	if status >= 500 || panicked {
		level = slog.LevelError
	}
	ctx := r.Context()
	if !a.s.h.Enabled(ctx, level) {
		return
	}
	red := a.s.red
	route := r.Pattern
	if a.s.route != nil {
		route = a.s.route(r)
	}
	addr := clientip.FromRequest(r)
	if a.flood != nil {
		if len(events) > 0 && status >= 400 {
			// The route pattern, not the path: an attacker varying the path
			// must not escape aggregation.
			k := floodKey{event: events[0].name, route: route, status: status}
			if addr.IsValid() {
				k.client = clientip.Aggregate(addr, 64)
			}
			ok, sums := a.flood.allow(k, end, st.id, events[0].reason)
			a.writeSummaries(ctx, sums)
			if !ok {
				a.suppressed.Add(1)
				return
			}
		} else if n := a.nextSweep.Load(); end.UnixNano() >= n {
			a.nextSweep.Store(end.Add(a.s.floodEvery).UnixNano())
			a.writeSummaries(ctx, a.flood.sweep(end, false))
		}
	}

	v := accessRecord{st: st, r: r, route: route, addr: addr, status: status, took: end.Sub(start),
		ident: ident, identified: identified, panicked: panicked, dropped: dropped}
	t := end.UTC()
	if a.line != nil && a.s.attrs == nil && len(events) == 0 && a.writeDirect(ctx, t, level, &v) {
		return
	}
	o := recordOut{at: make([]slog.Attr, 0, 20)}
	a.core(&o, &v)
	if a.s.attrs != nil {
		n := len(o.at)
		o.at = a.s.attrs(r, o.at)
		for i := n; i < len(o.at); i++ {
			o.at[i].Value = red.value(o.at[i].Key, o.at[i].Value, 0)
		}
	}
	a.logHeaders(&o, r)
	if len(events) > 0 {
		o.at = append(o.at, slog.Any("events", events))
	}
	if dropped > 0 {
		o.int("events_dropped", int64(dropped))
	}
	if a.line != nil && a.writeLine(ctx, t, level, o.at) {
		return
	}
	rec := slog.NewRecord(t, level, MsgRequest, 0)
	rec.AddAttrs(o.at...)
	a.handle(ctx, rec)
}

// accessRecord is what finish gathered for a request's access record.
type accessRecord struct {
	st         *reqState
	r          *http.Request
	route      string
	addr       netip.Addr
	status     int
	took       time.Duration
	ident      secevent.Identity
	identified bool
	panicked   bool
	dropped    int
}

// core emits the access record's attributes up to the Attrs hook's, in
// their order.
func (a *Auditor) core(o *recordOut, v *accessRecord) {
	red, r := a.s.red, v.r
	m := method(r.Method)
	o.str("request_id", v.st.id)
	o.str("http.request.method", m)
	o.str("url.path", red.String(r.URL.Path))
	if m == "_OTHER" {
		o.str("http.request.method_original", sanitize(r.Method, 32))
	}
	if r.URL.RawQuery != "" {
		o.str("url.query", red.Query(r.URL.RawQuery))
	}
	if v.route != "" {
		o.str("http.route", red.String(v.route))
	}
	o.int("http.response.status_code", int64(v.status))
	o.int("http.response.body.size", v.st.rw.bytes)
	o.dur("http.server.request.duration_ns", v.took)
	if v.addr.IsValid() {
		o.addr("client.address", v.addr)
	}
	if ua := r.Header["User-Agent"]; len(ua) > 0 && ua[0] != "" {
		o.str("user_agent.original", sanitize(ua[0], a.s.uaLen))
	}
	if tr := &v.st.trace; tr.TraceID != "" {
		o.str("trace_id", tr.TraceID)
		o.str("span_id", tr.SpanID)
	}
	if v.identified {
		o.str("user.id", red.String(v.ident.Subject))
		if v.ident.Method != "" {
			o.str("bulwark.authn.method", red.String(v.ident.Method))
		}
		if v.ident.Issuer != "" {
			o.str("bulwark.authn.issuer", red.String(v.ident.Issuer))
		}
	}
	if v.panicked {
		o.flag("bulwark.panic", true)
	}
}

// logHeaders emits the request headers Config.LogHeaders names.
func (a *Auditor) logHeaders(o *recordOut, r *http.Request) {
	for i, h := range a.s.logHeaders {
		if v := r.Header[h]; len(v) > 0 {
			o.value(a.headerKeys[i], a.s.red.value(h, slog.StringValue(strings.Join(v, ", ")), 0))
		}
	}
}

// writeDirect appends the access record of a request without events or
// an Attrs hook as JSON, straight from what finish gathered (no
// attributes in between), and hands it to the handler's JSON line path.
// It reports false, having written nothing, when a value is one the line
// path does not format: the caller then builds the attributes.
func (a *Auditor) writeDirect(ctx context.Context, t time.Time, level slog.Level, v *accessRecord) bool {
	return a.writeJSONLine(ctx, level, func(b []byte) ([]byte, bool) {
		b, ok := appendLineHead(b, t, level, MsgRequest)
		if !ok {
			return b, false
		}
		o := recordOut{line: true, ok: true, b: b}
		a.core(&o, v)
		a.logHeaders(&o, v.r)
		if v.dropped > 0 {
			o.int("events_dropped", int64(v.dropped))
		}
		return append(o.b, "}\n"...), o.ok
	})
}

// writeLine appends the access record as JSON and hands it to the
// handler's JSON line path. It reports false, having written nothing, for
// a record with attributes the fast path does not format (events, an Attrs
// hook's groups or Any values): those go through slog.
func (a *Auditor) writeLine(ctx context.Context, t time.Time, level slog.Level, at []slog.Attr) bool {
	return a.writeJSONLine(ctx, level, func(b []byte) ([]byte, bool) {
		return appendLine(b, t, level, MsgRequest, at)
	})
}

// writeJSONLine hands the line fill appends to a pooled buffer to the
// handler's JSON line path, unless fill reports it could not.
func (a *Auditor) writeJSONLine(ctx context.Context, level slog.Level, fill func([]byte) ([]byte, bool)) bool {
	bp := linePool.Get().(*[]byte)
	b, ok := fill((*bp)[:0])
	if ok {
		if err := a.line.HandleJSONLine(ctx, level, b); err != nil {
			a.handleErrs.Add(1)
		}
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		linePool.Put(bp)
	}
	return ok
}

func method(m string) string {
	for _, k := range knownMethods {
		if m == k {
			return k
		}
	}
	return "_OTHER"
}

func (a *Auditor) handle(ctx context.Context, rec slog.Record) {
	if err := a.s.h.Handle(ctx, rec); err != nil {
		a.handleErrs.Add(1)
	}
}

// Record writes e as a record of its own ("security.event"), for what
// happens outside a request: a key rotated or revoked, a JWKS refresh
// failed, a store fallback entered. Install the auditor as the recorder of
// a background context (secevent.NewContext(ctx, auditor)) and
// secevent.Emit reaches it. Called with a request context from the
// auditor's middleware, it adds e to that request's record instead.
// With [Config.FloodAfter], repeated identical events (same name and
// reason) are aggregated like denials.
func (a *Auditor) Record(ctx context.Context, e secevent.Event) {
	if e.Name == "" {
		return
	}
	if st, ok := reqctx.From(ctx).Audit().(*reqState); ok && st != nil && st.a == a {
		st.Record(ctx, e)
		return
	}
	a.standalone(ctx, a.entry(e), "")
}

func (a *Auditor) standalone(ctx context.Context, ev eventEntry, reqID string) {
	now := a.s.now()
	if !a.s.h.Enabled(ctx, slog.LevelWarn) {
		return
	}
	if a.flood != nil {
		ok, sums := a.flood.allow(floodKey{event: ev.name, route: ev.reason}, now, reqID, "")
		a.writeSummaries(ctx, sums)
		if !ok {
			a.suppressed.Add(1)
			return
		}
	}
	rec := slog.NewRecord(now.UTC(), slog.LevelWarn, MsgEvent, 0)
	rec.AddAttrs(slog.String("event.name", ev.name))
	if ev.reason != "" {
		rec.AddAttrs(slog.String("event.reason", ev.reason))
	}
	if reqID != "" {
		rec.AddAttrs(slog.String("request_id", reqID))
	}
	if len(ev.attrs) > 0 {
		rec.AddAttrs(slog.Attr{Key: "event.attrs", Value: slog.GroupValue(ev.attrs...)})
	}
	a.handle(ctx, rec)
}

func (a *Auditor) writeSummaries(ctx context.Context, sums []summary) {
	red := a.s.red.String
	for _, s := range sums {
		rec := slog.NewRecord(s.end.UTC(), slog.LevelWarn, MsgAggregate, 0)
		rec.AddAttrs(slog.String("event.name", s.key.event), slog.Int("aggregate.count", s.count),
			slog.Time("aggregate.start", s.start.UTC()), slog.Time("aggregate.end", s.end.UTC()))
		if s.firstID != "" {
			ids := make(list, len(s.ids))
			for i, id := range s.ids {
				ids[i] = slog.StringValue(id)
			}
			rec.AddAttrs(slog.String("aggregate.first_request_id", s.firstID), slog.String("aggregate.last_request_id", s.lastID),
				slog.Any("aggregate.request_ids", ids))
		}
		if len(s.reasons) > 0 {
			rs := make(list, len(s.reasons))
			for i, r := range s.reasons {
				rs[i] = slog.StringValue(red(r))
			}
			rec.AddAttrs(slog.Any("aggregate.reasons", rs))
		}
		if s.key.status != 0 {
			rec.AddAttrs(slog.Int("http.response.status_code", s.key.status))
			if s.key.route != "" {
				rec.AddAttrs(slog.String("http.route", red(s.key.route)))
			}
		} else {
			rec.AddAttrs(slog.String("event.reason", s.key.route))
		}
		if s.key.client.IsValid() {
			rec.AddAttrs(slog.String("client.address", s.key.client.String()))
		}
		a.handle(ctx, rec)
	}
}
