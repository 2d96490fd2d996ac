package audit

import (
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// Defaults. Each is what the zero value of the matching [Config] field
// means.
const (
	// DefaultRequestIDHeader carries the request ID in and out.
	DefaultRequestIDHeader = "X-Request-ID"
	// DefaultMaxEvents is how many security events one request record
	// holds; more are counted in events_dropped.
	DefaultMaxEvents = 16
	// DefaultUserAgentLen caps user_agent.original, in bytes.
	DefaultUserAgentLen = 256
	// DefaultFloodInterval is the longest an aggregate of denials stays
	// open before its record is written.
	DefaultFloodInterval = 10 * time.Second
	// DefaultFloodMaxKeys bounds the flood aggregator's table; beyond it,
	// denials are aggregated per event name only.
	DefaultFloodMaxKeys = 10000
)

// Config configures an [Auditor]. The zero value writes JSON records to
// standard error, one per request, takes a well-formed inbound
// X-Request-ID and redacts the default secrets.
type Config struct {
	// Handler receives every record. Default: slog.NewJSONHandler on
	// os.Stderr. Wrap it in [NewChain] for tamper evidence and in
	// [NewAsync] for asynchronous delivery. The auditor writes records at
	// level Info (Warn when the request carried a security event, Error
	// for 5xx); a handler whose level is above that drops them.
	Handler slog.Handler

	// RequestIDHeader is the header that carries the request ID in the
	// request and echoes it in the response. Default
	// [DefaultRequestIDHeader]. An inbound value is used only when it
	// matches ^[A-Za-z0-9._-]{1,64}$; otherwise a fresh random ID is made.
	RequestIDHeader string

	// IgnoreInboundRequestID makes a fresh ID for every request even when
	// a well-formed one arrives: use it on a server that faces clients
	// directly, where the ID is the client's choice. Default false.
	IgnoreInboundRequestID bool

	// LogHeaders names request headers to log as
	// http.request.header.<name> (OpenTelemetry's attribute), values
	// redacted as in [RedactConfig]. Default: none.
	LogHeaders []string

	// Route returns the route pattern of a request after the next handler
	// has run, e.g. for chi:
	//	func(r *http.Request) string { return chi.RouteContext(r.Context()).RoutePattern() }
	// and for http.ServeMux, [ServeMuxRoute](mux). Default: r.Pattern, which
	// http.ServeMux sets only on the request it receives itself — when any
	// middleware between the auditor and the mux derives a new request
	// (headers, ratelimit and auth all do), the auditor never sees it, so
	// set Route.
	Route func(*http.Request) string

	// Attrs, when set, appends attributes of its own to each request's
	// record when it is written (a gateway names the upstream service it
	// chose) and returns the extended slice. Keys should not collide with
	// the record's own; values are redacted like every other and must be
	// bounded. Default none.
	Attrs func(r *http.Request, attrs []slog.Attr) []slog.Attr

	// Redact configures redaction of every value the auditor writes.
	Redact RedactConfig

	// MaxEvents caps the security events kept in one request record.
	// Default [DefaultMaxEvents]; at most 1024.
	MaxEvents int

	// UserAgentLen caps user_agent.original in bytes. Default
	// [DefaultUserAgentLen]; at most Redact.MaxLen.
	UserAgentLen int

	// FloodAfter, when set, is the rate (denials per second) above which
	// identical denials are folded instead of written one by one: a
	// denial (a response of 400 or more that carried a security event)
	// with the same first event, status, route pattern (not path, which
	// the attacker chooses) and client (IPv6 by /64) as others is written
	// as a record of its own while that key stays within FloodAfter per
	// second (with a burst of one second's worth); beyond it, it is
	// folded into one "audit.aggregate" record that gives the count, the
	// first and last request ID, up to 100 request IDs and up to 8
	// distinct reasons, written when the key falls back under the rate,
	// after FloodInterval, or at Close. Security events recorded outside
	// requests are aggregated by name and reason the same way. An
	// attacker then adds at most FloodAfter records per second per key
	// plus one aggregate. Default 0: never aggregate, every request has a
	// record of its own.
	FloodAfter float64

	// FloodInterval is the longest an aggregate stays open before its
	// record is written. Default [DefaultFloodInterval]. Needs FloodAfter.
	FloodInterval time.Duration

	// FloodMaxKeys bounds the aggregation table. Default
	// [DefaultFloodMaxKeys]; at most 1,000,000. Needs FloodAfter.
	FloodMaxKeys int

	// Deprecated: every request has a record of its own unless FloodAfter
	// is set; this field does nothing. It must not be set with FloodAfter.
	DangerouslyDisableFloodAggregation bool

	// Now returns the current time. Default time.Now. Records carry it in
	// UTC.
	Now func() time.Time
}

type settings struct {
	h            slog.Handler
	idHeader     string
	ignoreID     bool
	logHeaders   []string
	route        func(*http.Request) string
	attrs        func(*http.Request, []slog.Attr) []slog.Attr
	red          *Redactor
	maxEvents    int
	uaLen        int
	floodAfter   float64
	floodEvery   time.Duration
	floodMaxKeys int
	noFlood      bool
	now          func() time.Time
}

func (cfg *Config) check() (settings, []error) {
	var errs []error
	s := settings{
		h: cfg.Handler, idHeader: cfg.RequestIDHeader, ignoreID: cfg.IgnoreInboundRequestID, route: cfg.Route, attrs: cfg.Attrs,
		maxEvents: cfg.MaxEvents, uaLen: cfg.UserAgentLen, floodAfter: cfg.FloodAfter, floodEvery: cfg.FloodInterval,
		floodMaxKeys: cfg.FloodMaxKeys, noFlood: cfg.DangerouslyDisableFloodAggregation, now: cfg.Now,
	}
	if s.h == nil {
		s.h = NewJSONHandler(os.Stderr, nil)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var red []error
	s.red, red = newRedactor(cfg.Redact, "Redact.")
	errs = append(errs, red...)
	if s.idHeader == "" {
		s.idHeader = DefaultRequestIDHeader
	} else if !validHeaderName(s.idHeader) {
		errs = append(errs, &ConfigError{Field: "RequestIDHeader", Value: cfg.RequestIDHeader, Reason: "not a valid header name"})
	}
	s.idHeader = http.CanonicalHeaderKey(s.idHeader)
	for _, h := range cfg.LogHeaders {
		if !validHeaderName(h) {
			errs = append(errs, &ConfigError{Field: "LogHeaders", Value: h, Reason: "not a valid header name"})
			continue
		}
		s.logHeaders = append(s.logHeaders, http.CanonicalHeaderKey(h))
	}
	switch {
	case s.maxEvents == 0:
		s.maxEvents = DefaultMaxEvents
	case s.maxEvents < 0 || s.maxEvents > 1024:
		errs = append(errs, &ConfigError{Field: "MaxEvents", Reason: "must be between 1 and 1024"})
	}
	switch {
	case s.uaLen == 0:
		s.uaLen = min(DefaultUserAgentLen, s.red.maxLen)
	case s.uaLen < 16 || s.uaLen > s.red.maxLen:
		errs = append(errs, &ConfigError{Field: "UserAgentLen", Reason: "must be between 16 and Redact.MaxLen"})
	}
	switch {
	case s.floodEvery == 0:
		s.floodEvery = DefaultFloodInterval
	case s.floodEvery < 0:
		errs = append(errs, &ConfigError{Field: "FloodInterval", Value: s.floodEvery.String(), Reason: "must be positive"})
	}
	switch {
	case s.floodMaxKeys == 0:
		s.floodMaxKeys = DefaultFloodMaxKeys
	case s.floodMaxKeys < 0 || s.floodMaxKeys > 1_000_000:
		errs = append(errs, &ConfigError{Field: "FloodMaxKeys", Reason: "must be between 1 and 1000000"})
	}
	switch {
	case s.floodAfter != s.floodAfter || s.floodAfter < 0 || s.floodAfter > 1e6:
		errs = append(errs, &ConfigError{Field: "FloodAfter", Reason: "must be between 0 (never aggregate) and 1000000 per second"})
	case s.floodAfter > 0 && s.floodAfter < 0.01:
		errs = append(errs, &ConfigError{Field: "FloodAfter", Reason: "must be at least 0.01 per second"})
	case s.floodAfter == 0 && !s.noFlood && (cfg.FloodInterval > 0 || cfg.FloodMaxKeys > 0):
		errs = append(errs, &ConfigError{Field: "FloodInterval", Reason: "FloodInterval and FloodMaxKeys need FloodAfter (without it nothing is aggregated)"})
	}
	if s.noFlood && (s.floodAfter != 0 || cfg.FloodInterval != 0 || cfg.FloodMaxKeys != 0) {
		errs = append(errs, &ConfigError{Field: "DangerouslyDisableFloodAggregation",
			Reason: "set together with FloodAfter, FloodInterval or FloodMaxKeys: choose one"})
	}
	return s, errs
}

func validHeaderName(h string) bool {
	if h == "" || len(h) > 128 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; !isWordByte(c) && !strings.ContainsRune("!#$%&'*+^`|~", rune(c)) {
			return false
		}
	}
	return true
}

// ServeMuxRoute returns a [Config.Route] hook for an http.ServeMux: the
// pattern mux routes the request to ("GET /items/{id}"), or "" when none
// matches. It works wherever the auditor sits in the stack.
func ServeMuxRoute(mux *http.ServeMux) func(*http.Request) string {
	return func(r *http.Request) string {
		_, pattern := mux.Handler(r)
		return pattern
	}
}
