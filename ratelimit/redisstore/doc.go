// Package redisstore shares ratelimit's limits across a fleet through
// Redis or Redis Cluster: a [ratelimit.Store] that makes the decisions the
// memory store makes, for every instance at once.
//
// # What it protects against
//
// Limits kept in each process multiply by the number of instances behind
// the load balancer: ten instances with "100 per minute" each let a client
// make 1 000. With a [Store] as ratelimit.Config.Store, every instance
// charges the same GCRA state in Redis, so the fleet enforces the stated
// limit once. It does not make Redis a security boundary: whoever can
// write to the Redis can reset every limit, so keep it private
// (authentication, TLS, a network only the fleet reaches).
//
// # How a decision is made
//
// Each decision is one Lua script run by EVALSHA (reloaded automatically
// after NOSCRIPT, e.g. after SCRIPT FLUSH or a restart): one round trip.
// The script reads Redis's clock (TIME), so the fleet shares one clock and
// an instance whose clock is wrong cannot hand out extra capacity. It
// runs GCRA in integer microseconds, exactly as ratelimit's memory store
// does in nanoseconds: every policy of the request is decided in the same
// script and either all are charged or none is, and a refusal charges
// nothing. Intervals are rounded up to whole microseconds, so a policy whose
// Period/Quota is not a whole number of microseconds is enforced very
// slightly below its stated rate, never above. Each key's TTL is the time
// until its limit is back to full, so Redis holds state only for clients
// that are actually limited and an expired key is exactly a fresh one.
//
// Keys are "<Prefix>{<subject>}:<limit>", both parts hex hashes that
// ratelimit computes with its HashKey: no request data reaches Redis. The
// subject is the Cluster hash tag, so the policies of one subject (a client
// IP, a principal) live in one slot and one script decides them.
//
// # Consistency model: what two instances can and cannot overshoot
//
// Single node, Sentinel, or a Cluster when a request's policies share a
// subject: Redis runs scripts one at a time, so decisions are
// linearizable. However many instances send however many concurrent
// requests, the number allowed is exactly what one memory store would
// allow on Redis's clock: no overshoot at all.
//
// A Cluster (or Ring) when a request's policies have different subjects
// (say a per-IP and a per-principal policy): their keys live in different
// slots, which no script can span. The store then decides subject by
// subject, charging as it goes, and if a later subject refuses it refunds
// the charges already made. A limit is still never exceeded (every charge
// is checked against the state in Redis), and a refused request is charged
// nothing once its refund lands; but during that round trip another request
// may see the pending charge and be refused where a single script would
// have allowed it. The error is on the strict side, bounded by the number
// of requests in flight, and such a decision costs one round trip per
// subject (plus one refund).
//
// Failover: replication is asynchronous. If the primary dies, a promoted
// replica may lack the last few milliseconds of charges, and a restarted
// Redis without persistence has none: the limits start over full. That is
// the overshoot a fleet can see: at most one burst per key per failover.
//
// While Redis is unreachable no instance knows what the others did: see
// the failure policy below.
//
// # Failures and choosing the failure policy
//
// Each call is bounded by Config.Timeout (default 5 ms; the client must
// have ContextTimeoutEnabled, which [New] checks). Configure the client
// with MaxRetries: -1 and DialerRetries: 1 so that a decision is not
// retried on the hot path. After Config.BreakerThreshold consecutive
// failures the circuit breaker opens: calls fail at once with
// [ErrCircuitOpen] for Config.BreakerCooldown, then a single probe tests
// Redis and closes the breaker when it answers. Config.OnBreaker reports
// the transitions and ratelimit's Hooks.OnStoreLatency every call's
// latency and error.
//
// What a failed call means for the request is each policy's
// ratelimit.Policy.OnStoreError:
//
//   - ratelimit.FailClosed (the default): 503. Choose it where letting
//     requests through unlimited is worse than refusing them: login and
//     password-reset endpoints (credential stuffing), expensive or paid
//     operations.
//   - ratelimit.FailLocal: each instance enforces the policy alone with a
//     memory store until Redis is back. The fleet then allows up to N times
//     the limit (N instances), but every single client is still limited.
//     Usually the right choice for general API traffic.
//   - ratelimit.FailOpen: the policy does not apply while Redis is down.
//     Only for limits that protect nothing critical (fair-use quotas,
//     analytics), never for authentication endpoints.
//
// When Redis is back (the next successful probe) every policy is decided
// by Redis again; what instances allowed locally meanwhile is not charged
// to Redis.
//
// # Local deny cache
//
// With Config.DenyCacheKeys > 0, an instance remembers, for keys Redis
// refused, when the limit will allow a request again, and refuses a client
// that keeps hammering such a key without asking Redis. This is exact, not
// an approximation: GCRA charges nothing for a refusal, so only time changes
// a limited key's state, and the remembered time is measured from before
// the request was sent, so the cache never refuses past the moment Redis
// would allow. (The one exception is the refund of the multi-subject
// Cluster decision above, which can make a key allowable a round trip
// earlier than remembered.)
//
// # Where it sits
//
// It is a backend for ratelimit.Limiter, which does the keying, headers,
// events and failure policies; redisstore only keeps state. Instances that
// share limits must share ratelimit.Config.HashKey and this Prefix.
package redisstore
