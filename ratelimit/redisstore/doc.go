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
// Decisions made at the same time share round trips: while four calls are
// on the way to Redis, further decisions queue and go together as one
// pipeline when a call returns — each still its own script, decided,
// charged and answered on its own. A lone decision is sent at once.
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
// It needs Redis 6.2 or later (SET … PXAT), or a server that speaks it
// (Valkey, a managed Redis of that version).
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
// A refusal is never a failure: a key Redis holds as limited is refused from
// its state even while Redis refuses writes (refusing writes nothing), and
// a cost beyond the burst, however large, is a 429 "never" (ratelimit's
// Limiter and this store both decide it as the burst plus one).
//
// Redis can also answer and refuse to write the charge: OOM (used memory
// over maxmemory with maxmemory-policy noeviction), MISCONF (writes stopped
// after a failed RDB save), READONLY (the client reached a replica),
// NOREPLICAS (min-replicas-to-write). The script catches that on its first
// write, so nothing was written, and the store returns [ErrWriteRefused],
// which matches ratelimit.ErrNotRecorded. It is not "Redis is down", and a
// client can cause the first of them by flooding Redis with fresh keys, so:
//
//	answer                          FailClosed   FailLocal   FailOpen
//	unreachable, timeout, breaker   503          local       allowed
//	write refused (ErrWriteRefused) 503          local       local
//	limited key, cost over burst    429          429         429
//
// "local" is the instance's own memory store; while Redis keeps refusing
// writes a client can get Redis's remaining burst plus one local burst per
// instance, never an unlimited stream. A refused write does not count
// towards the circuit breaker (Redis answered).
//
// # Redis memory: the settings to run with
//
// Give the limits a Redis of their own (a separate instance; maxmemory is
// per instance) and configure it so:
//
//	maxmemory <bytes>            # always set: without it Redis grows until the
//	                             # kernel kills it, and a restart empties it
//	maxmemory-policy noeviction  # never drop a key to make room
//
// Each key this store writes has a TTL, the time until its limit is back to
// full (PXAT on every write), so Redis holds state only for subjects that have
// spent part of a burst, and an expired key is exactly a fresh one; no TTL
// needs configuring, and nothing else should write under the Prefix. Size
// maxmemory for the keys live at the busiest time: one key per policy per
// subject that made a request within that policy's Period, about 170 bytes
// each on 64-bit Redis 7 (1 million live keys: about 170 MB), with headroom.
//
// Why noeviction: any eviction policy resets the evicted keys to full, so a
// flood of fresh keys would buy evicted clients a fresh burst. allkeys-lru
// and volatile-lru evict a limited client that merely pauses; volatile-ttl
// evicts the keys nearest to full first (those whose TTL is shortest), which
// bounds what a flood wins to their remaining wait but still lets it win
// that, and allkeys-random evicts anything. Under noeviction a full Redis
// refuses writes instead, which the table above answers without lifting a
// limit: limited keys stay limited, fresh keys get FailClosed's 503 or a
// local burst (TestKeyFloodCannotLiftALimit shows it on a real Redis at a
// small maxmemory). Watch used_memory and the ratelimit.FailedLocal and
// FailedClosed outcomes; sustained write refusals mean maxmemory is too
// small or a flood is under way.
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
