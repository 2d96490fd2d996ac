package ratelimit

import (
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark/problem"
)

// maxPolicies is how many policies one [Limiter] may have.
const maxPolicies = 8

// FailMode says what a policy does when the [Store] returns an error.
type FailMode uint8

const (
	// FailClosed refuses the request with 503 (the default).
	FailClosed FailMode = iota
	// FailLocal decides the policy with a per-process memory store instead,
	// so each instance enforces the limit alone until the store is back.
	FailLocal
	// FailOpen lets the request through unlimited by this policy when the
	// store could not be asked (unreachable, timed out, circuit open). When
	// the store answered that it could not record the charge
	// ([ErrNotRecorded]: Redis full, for one), which a client can cause by
	// flooding it with keys, the policy is decided locally as with
	// FailLocal instead: FailOpen never means "no limit" to an attacker.
	FailOpen
)

// Policy is one rate limit: Quota units of cost per Period, sustained, with
// bursts of up to Burst units at once, decided by GCRA (the generic cell
// rate algorithm: one timestamp per key, exact, no fixed-window edges).
type Policy struct {
	// Name identifies the policy in RateLimit headers, problem responses,
	// events and metrics. Required; 1 to 64 characters from A–Z a–z 0–9
	// and "_-.", unique within the Config.
	Name string
	// Quota is how many units of cost are allowed per Period. Required, >= 1.
	Quota int64
	// Period is the window of the quota, a whole number of seconds (the
	// RateLimit-Policy "w" parameter). Required.
	Period time.Duration
	// Burst is how many units may be taken at once from a full bucket.
	// Default: Quota. RateLimit-Policy advertises Quota per Period (q, w);
	// the r of RateLimit is what may be taken now, at most Burst.
	Burst int64
	// Key is what the policy limits by; parts are combined. Required: there
	// is no silent fallback to one shared bucket. Use [ClientIP] before
	// authentication and [Principal] or [APIKeyID] after it.
	Key []KeyPart
	// Optional makes the policy not apply to a request whose key cannot be
	// formed (for example a per-principal tier on anonymous requests).
	// Default false: such a request is refused ([MissingKeyError]).
	Optional bool
	// OnStoreError is what the policy does when the store fails. Default
	// [FailClosed].
	OnStoreError FailMode
	// Shadow runs the policy in dry-run mode: after the enforced policies
	// allowed a request, it is decided and charged separately, and what it
	// would have refused is only counted (metrics hook) and emitted as an
	// event. It never changes an answer: it never refuses, sends no
	// headers, is skipped when its key cannot be formed (as if Optional)
	// and when its store fails, and sees no request the enforced policies
	// refused (enforced, it would not have been charged for those either).
	Shadow bool
}

// Outcome is what a policy did with a request, for [Hooks].
type Outcome uint8

const (
	Allowed      Outcome = iota + 1 // the policy allowed the request
	Denied                          // the policy refused the request
	ShadowDenied                    // a shadow policy would have refused
	FailedOpen                      // the store failed; allowed by FailOpen
	FailedLocal                     // the store failed; decided locally
	FailedClosed                    // the store failed; refused by FailClosed
)

// Hooks receive metrics. Each is optional, called synchronously, and must
// be fast and safe for concurrent use. The package has no metrics
// dependency: adapt these to Prometheus, OpenTelemetry or expvar.
type Hooks struct {
	// OnDecision is called once per policy that applied to a request.
	OnDecision func(policy string, o Outcome)
	// OnStoreLatency is called after each store call with its duration
	// (measured with Config.Now) and error.
	OnStoreLatency func(d time.Duration, err error)
}

// Config configures a [Limiter]. [New] copies it.
type Config struct {
	// Policies are decided together, all or nothing: a request refused by
	// one policy is charged to none. Required unless only MaxInFlight,
	// MaxBodyBytes or GlobalRate is wanted; at most 8.
	Policies []Policy

	// Store keeps the rate-limit state. Default: a [MemoryStore] built from
	// Memory. Use a shared store (Redis) to limit a fleet as one.
	Store Store
	// Memory configures the default memory store, and the local store of
	// FailLocal policies. See [MemoryConfig].
	Memory MemoryConfig

	// HashKey is the 16-byte SipHash key for request keys. Empty (default):
	// random per Limiter, which is right for a memory store. Instances that
	// share a Store must share the key, and keep it secret: with it, an
	// attacker could aim many keys at one bucket.
	HashKey []byte

	// Cost returns the cost of a request in units (values below 1 count as
	// 1). A cost above a policy's Burst can never be allowed and is refused
	// with 429 and no Retry-After ([ErrCostTooHigh]), however large, on
	// every store: a cost read from the request (?count=) is safe to use.
	// Default: every request costs 1.
	Cost func(r *http.Request) int64

	// Exempt, if set, exempts requests for which it returns true from the
	// rate policies (not from MaxBodyBytes or in-flight limits).
	Exempt func(r *http.Request) bool
	// ExemptPrefixes exempts client addresses (from [ClientIP]'s source)
	// inside these prefixes, e.g. health checkers. A /0 is refused.
	ExemptPrefixes []netip.Prefix

	// LegacyHeaders adds X-RateLimit-Limit, X-RateLimit-Remaining and
	// X-RateLimit-Reset (seconds) for the most constrained policy, besides
	// the IETF RateLimit-Policy and RateLimit headers. Default off.
	LegacyHeaders bool

	// GlobalRate, when > 0, limits the whole process to this many requests
	// per second with bursts of GlobalBurst (default: GlobalRate rounded
	// up), unkeyed, with golang.org/x/time/rate: load shedding, answered
	// with 503. It is charged only for requests the rate policies allowed
	// (and exempt ones), so one client's refused requests cannot spend it
	// for everyone; see [Limiter.Handler] for the order of the checks.
	GlobalRate  rate.Limit
	GlobalBurst int

	// MaxInFlight, when > 0, is how many requests may be inside the next
	// handler at once, in total (a request holds its slot from before its
	// rate decision, so a request shed here is charged nothing). Over it:
	// 503 with Retry-After.
	MaxInFlight int
	// MaxInFlightPerKey, when > 0, is how many requests of one key (by
	// InFlightKey) may be in flight at once. Over it: 503 with Retry-After.
	MaxInFlightPerKey int
	// InFlightKey is the key of MaxInFlightPerKey. Required with it.
	InFlightKey []KeyPart
	// OverloadRetryAfter is the Retry-After sent with 503 load-shedding
	// answers. Default 1s; rounded up to whole seconds.
	OverloadRetryAfter time.Duration

	// MaxBodyBytes, when > 0, limits request bodies: a larger declared
	// Content-Length is refused with 413 before anything is charged, and
	// the body is wrapped in http.MaxBytesReader so that a chunked or
	// lying body fails to read past the limit. Default 0: no limit here.
	MaxBodyBytes int64

	// Now returns the current time. Default: the monotonic clock (the wall
	// time when the process started plus the monotonic time since), so
	// that a step of the wall clock does not refill or drain limits.
	Now func() time.Time

	// ErrorHandler answers refused requests. Default [problem.WriteError].
	// The RateLimit and Retry-After headers are set before it is called.
	ErrorHandler problem.ErrorHandler

	// Hooks receive metrics.
	Hooks Hooks
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func checkParts(field string, parts []KeyPart) []error {
	var errs []error
	if len(parts) == 0 {
		errs = append(errs, &ConfigError{Field: field, Reason: "required: say what the limit is keyed by (no silent shared bucket)"})
	}
	if len(parts) > maxKeyParts {
		errs = append(errs, &ConfigError{Field: field, Reason: "at most " + strconv.Itoa(maxKeyParts) + " parts"})
	}
	for i, p := range parts {
		f := field + "[" + strconv.Itoa(i) + "]"
		switch p.kind {
		case partIP:
			if p.ipv6Bits < 1 || p.ipv6Bits > 128 {
				errs = append(errs, &ConfigError{Field: f, Value: strconv.Itoa(p.ipv6Bits), Reason: "IPv6 prefix length must be 1 to 128"})
			}
		case partPrincipal, partAPIKey:
			if p.id == nil {
				errs = append(errs, &ConfigError{Field: f, Reason: p.name() + " needs an Identity"})
			}
		case partHeader:
			if !validName(p.header) {
				errs = append(errs, &ConfigError{Field: f, Value: p.header, Reason: "not a valid header name"})
			}
		case partRoute:
		case partFunc:
			if p.fn == nil {
				errs = append(errs, &ConfigError{Field: f, Reason: "Func needs a function"})
			}
		default:
			errs = append(errs, &ConfigError{Field: f, Reason: "zero KeyPart: build parts with ClientIP, Principal, Header, …"})
		}
	}
	return errs
}
