package ratelimit

import (
	"context"
	"time"
)

// Limit is one policy applied to one subject, as a [Store] sees it: no
// names and no request data, only hashes and the GCRA parameters.
type Limit struct {
	// Key identifies the (policy, subject) pair. It is a keyed hash of the
	// policy and the subject's length-prefixed key parts; never request
	// data.
	Key uint64
	// Subject is the keyed hash of the subject alone (without the policy).
	// A distributed store may use it as a hash tag so that all limits of
	// one subject live together (one Redis Cluster slot). Policies with the
	// same Key parts give equal Subjects; a request whose policies key on
	// different parts (per IP and per principal) carries limits with
	// different Subjects, which a cluster store cannot decide in one slot.
	Subject uint64
	// Policy identifies the policy (a hash of its name and parameters).
	// A store uses it for the overflow bucket of new keys it has no room
	// for.
	Policy uint64
	// Interval is the emission interval in nanoseconds: the time one unit
	// of cost takes to refill (Period / Quota). At least 1.
	Interval int64
	// Burst is how many units may be taken at once from a full bucket.
	// At least 1; Burst*Interval is at most [MaxTolerance].
	Burst int64
}

// MaxTolerance is the largest Burst*Interval (the GCRA tolerance, about
// 36 years) a policy may have. It keeps every timestamp sum far from int64
// overflow.
const MaxTolerance = int64(1) << 60

// Result is the state of one [Limit] after a decision.
type Result struct {
	// Allowed reports whether this limit alone would allow the request.
	Allowed bool
	// Remaining is how many units of cost the limit still allows now
	// (after this request when the whole decision was allowed).
	Remaining int64
	// ResetAfter is the time until the limit is back to a full burst.
	ResetAfter time.Duration
	// RetryAfter is, for a limit that refused, the time until the same
	// request would be allowed by it. Zero for a limit that allowed.
	RetryAfter time.Duration
}

// Store keeps GCRA state and makes decisions. Implementations must be safe
// for concurrent use.
//
// Take decides cost against every limit in limits all or nothing: either
// every limit allows and all of them are charged, or none is charged. It
// writes one [Result] per limit into out (len(out) >= len(limits)) and
// reports whether the request is allowed. A denied request charges nothing,
// so a client hammering a limited key does not push its own retry time
// further out. now is the decision time; a store with its own clock (Redis
// TIME) may use that instead. A cost larger than a limit's burst is refused
// by that limit with RetryAfter 0, since it can never be allowed. The
// [Limiter] validates cost once for every store: it never passes one below
// 1, nor one above the largest Burst of limits plus one (any larger cost
// is refused the same way), so a store need not handle huge costs.
//
// A refusal is never an error: a limit that refuses, for whatever reason the
// store can tell from its state, is reported through out and false. An
// error means the decision could not be made or kept; the [Limiter] then
// applies each policy's [FailMode]. An error wrapping [ErrNotRecorded]
// says the store answered but the charge of an allowing decision could not
// be written (nothing was); FailOpen policies are then decided locally,
// not opened.
type Store interface {
	Take(ctx context.Context, now time.Time, cost int64, limits []Limit, out []Result) (bool, error)
}
