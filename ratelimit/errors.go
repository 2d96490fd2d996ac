package ratelimit

import (
	"errors"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/problem"
)

// Sentinel errors, for errors.Is. Each is wrapped by a typed error that
// carries the details and answers with a problem document.
var (
	// ErrLimited: a policy refused the request (429).
	ErrLimited = errors.New("ratelimit: rate limit exceeded")
	// ErrCostTooHigh: the request costs more than a policy's burst and can
	// never be allowed (429 without Retry-After). Also matches ErrLimited.
	ErrCostTooHigh = errors.New("ratelimit: request cost exceeds the policy burst")
	// ErrUnavailable: the store failed and a FailClosed policy applied (503).
	ErrUnavailable = errors.New("ratelimit: limit store unavailable")
	// ErrOverloaded: server-side capacity is exhausted: an in-flight
	// (concurrency) limit or the process-wide rate (503 + Retry-After).
	ErrOverloaded = errors.New("ratelimit: server overloaded")
	// ErrBodyTooLarge: the declared request body exceeds MaxBodyBytes (413).
	ErrBodyTooLarge = errors.New("ratelimit: request body too large")
	// ErrMissingKey: a policy's key could not be formed for the request.
	ErrMissingKey = errors.New("ratelimit: request lacks the policy key")
	// ErrNotRecorded is wrapped by a [Store]'s error when the store
	// answered but could not record the charge of a decision that would
	// have allowed the request: nothing was written (Redis refusing writes
	// at maxmemory, for example). It is not "the store is unreachable": a
	// client can cause it by flooding the store with keys, so the Limiter
	// decides FailOpen policies locally then, like FailLocal ones, instead
	// of letting the request through unlimited; FailClosed ones answer 503.
	ErrNotRecorded = errors.New("ratelimit: the store could not record the charge")
)

// ConfigError describes one problem with a [Config]. [New] returns all of
// them joined with errors.Join.
type ConfigError struct {
	Field  string // the Config field, e.g. "Policies[0].Quota"
	Value  string // the offending value, as written (may be empty)
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("ratelimit: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("ratelimit: %s %q: %s", e.Field, e.Value, e.Reason)
}

// LimitedError reports the policy that refused a request. It matches
// [ErrLimited], and [ErrCostTooHigh] when Never is set.
type LimitedError struct {
	// Policy is the name of the violated policy (the first one, in
	// configuration order, when several refused).
	Policy string
	// RetryAfter is the true wait until the same request would be allowed
	// by every policy. Zero when Never is set.
	RetryAfter time.Duration
	// Never reports that the request's cost exceeds the policy's burst.
	Never bool
}

func (e *LimitedError) Error() string {
	if e.Never {
		return "ratelimit: policy " + e.Policy + ": request cost exceeds the burst"
	}
	return "ratelimit: policy " + e.Policy + ": rate limit exceeded"
}

// Is reports whether target is ErrLimited, or ErrCostTooHigh for Never.
func (e *LimitedError) Is(target error) bool {
	return target == ErrLimited || (e.Never && target == ErrCostTooHigh)
}

// Problem returns a 429 problem naming the policy in the "policy" member.
func (e *LimitedError) Problem() *problem.Details {
	d := problem.TooManyRequests("The request rate limit was exceeded.")
	if e.Never {
		d = problem.TooManyRequests("The request costs more than the rate limit allows at once; it will not succeed if retried.")
	}
	return d.With("policy", e.Policy)
}

// UnavailableError reports a store failure answered with 503 because a
// policy is [FailClosed]. Err is the store's error, for logs only.
type UnavailableError struct {
	Policy string
	Err    error
}

func (e *UnavailableError) Error() string {
	return "ratelimit: policy " + e.Policy + ": store unavailable: " + e.Err.Error()
}

// Unwrap returns ErrUnavailable and the store error.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// Problem returns a 503 problem without the store error.
func (e *UnavailableError) Problem() *problem.Details {
	return problem.ServiceUnavailable("The service cannot check its rate limits right now.")
}

// OverloadError reports load shedding: Cause is "in_flight" (global
// concurrency limit), "in_flight_per_key" or "global_rate" (the process-wide
// unkeyed rate).
type OverloadError struct {
	Cause      string
	RetryAfter time.Duration
}

func (e *OverloadError) Error() string { return ErrOverloaded.Error() + " (" + e.Cause + ")" }

// Unwrap returns ErrOverloaded.
func (e *OverloadError) Unwrap() error { return ErrOverloaded }

// Problem returns a 503 problem: the server sheds load.
func (e *OverloadError) Problem() *problem.Details {
	return problem.ServiceUnavailable("The service is busy; retry later.")
}

// BodyTooLargeError reports a declared Content-Length over the limit.
type BodyTooLargeError struct {
	Limit int64
}

func (e *BodyTooLargeError) Error() string {
	return fmt.Sprintf("%s (limit %d bytes)", ErrBodyTooLarge.Error(), e.Limit)
}

// Unwrap returns ErrBodyTooLarge.
func (e *BodyTooLargeError) Unwrap() error { return ErrBodyTooLarge }

// Problem returns a 413 problem stating the limit.
func (e *BodyTooLargeError) Problem() *problem.Details {
	return problem.ContentTooLarge("The request body is larger than allowed.").With("max_bytes", e.Limit)
}

// MissingKeyError reports that a policy's key could not be formed (the
// header is absent, no principal, no route pattern). Part names the kind of
// key part, never its value.
type MissingKeyError struct {
	Policy string
	Part   string
	// Deployment is true when the part is missing because of how the
	// limiter is deployed (no client address, no route pattern, no
	// principal source), answered with 500; otherwise the client did not
	// send what the policy needs, answered with 400.
	Deployment bool
}

func (e *MissingKeyError) Error() string {
	return "ratelimit: policy " + e.Policy + ": request lacks key part " + e.Part
}

// Unwrap returns ErrMissingKey.
func (e *MissingKeyError) Unwrap() error { return ErrMissingKey }

// Problem returns 400, or 500 for a deployment problem.
func (e *MissingKeyError) Problem() *problem.Details {
	if e.Deployment {
		return problem.InternalServerError("")
	}
	return problem.BadRequest("The request lacks information the rate limit requires.")
}

var (
	_ problem.Problem = (*LimitedError)(nil)
	_ problem.Problem = (*UnavailableError)(nil)
	_ problem.Problem = (*OverloadError)(nil)
	_ problem.Problem = (*BodyTooLargeError)(nil)
	_ problem.Problem = (*MissingKeyError)(nil)
)
