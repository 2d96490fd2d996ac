// Package ratelimit limits how fast and how much clients may use an API:
// keyed rate limits (GCRA), quotas, in-flight (concurrency) limits and a
// request body limit, with IETF RateLimit headers and bounded memory.
//
// # What it protects against
//
// Unrestricted resource consumption (OWASP API4:2023): one script flooding
// an endpoint, credential stuffing and token guessing against login, and
// scraping. A [Limiter] decides every request against its [Policy] set —
// for example 10 per second with bursts of 20 and 10 000 per day — all or
// nothing: a request refused by one policy is charged to none, and a
// refused request is not charged at all, so hammering a limited key does
// not push its own retry time out, and a client that waits as told by
// Retry-After (rounded up, never earlier than the true wait) succeeds.
//
// The algorithm is GCRA: one timestamp per key, integer nanoseconds,
// overflow-checked, cost-weighted, with no fixed-window edge where twice
// the quota passes. It allows exactly what golang.org/x/time/rate's token
// bucket allows (a differential test shows it on 10 000 random timelines);
// x/time/rate itself serves the process-wide unkeyed [Config.GlobalRate].
//
// # Keys, and why not raw headers
//
// A limit is only as good as its key. Keying on X-Forwarded-For, X-Real-IP
// or any header the client writes lets the client pick a fresh bucket per
// request; several Go limiters have shipped exactly that. [ClientIP] uses
// [clientip.FromRequest]: the address resolved behind the proxies the
// operator trusts, else RemoteAddr. IPv6 clients are aggregated to their
// /64, since a subscriber can rotate through its whole /64. Every policy
// must say what it limits by (there is no silent fallback to one shared
// bucket); key parts are length-prefixed and hashed with a keyed hash
// (SipHash-2-4) before they reach the store, so neither raw request data nor
// attacker-chosen collisions get in, and no response echoes a key.
//
// # Bounded memory
//
// The default [MemoryStore] is a fixed table (32 bytes per key of MaxKeys,
// allocated once): a flood of distinct keys cannot grow it. A key is
// evicted only when its state equals a fresh key's (fully refilled), so
// eviction cannot be gamed to reset a limited key; when nothing can be
// evicted, new keys share one overflow bucket per policy instead of getting
// a fresh burst each. Single-policy decisions on existing keys are
// lock-free (compare-and-swap on the timestamp); multi-policy decisions
// hold the locks of the few shards involved, so that all-or-nothing is
// exact. Neither allocates.
//
// # Where it sits
//
// Place an IP budget before authentication: it protects the authentication
// itself (password checks, token verification, key lookups) from floods
// and guessing. Place per-principal or per-API-key tiers after
// authentication, where [Principal] and [APIKeyID] can read the identity
// (through the small [Identity] interface; this package does not import
// auth). Route-specific limits go inside the router ([Route] reads
// r.Pattern). The clientip middleware goes first of all.
//
// # Responses
//
// A refusal is a 429 problem document naming the violated policy, with
// Retry-After; load shedding (in-flight limits, GlobalRate, a failed store
// with a [FailClosed] policy) is a 503 with Retry-After; a declared body over
// [Config.MaxBodyBytes] is a 413, and a chunked body is cut off at the
// limit by http.MaxBytesReader. Every response a policy applied to, allowed
// or not, carries RateLimit-Policy and RateLimit
// (draft-ietf-httpapi-ratelimit-headers-10, structured fields). Refusals
// emit the secevent excess_rate_limit_exceeded.
//
// The checks run cheapest refusal first, and nothing is charged for a
// request something else refuses: the declared body size and the in-flight
// limits come before the rate policies, and the process-wide GlobalRate is
// charged only for requests the policies allowed (a client hammering past
// its own limit cannot starve everyone else of it). Shadow policies are
// decided last, for allowed requests only, and only record.
//
// # Store failures
//
// What a policy does when its store fails is its [FailMode]. A store
// error is never a refusal in disguise: a cost above the burst is refused
// by the Limiter itself ("never", 429), whatever the store, and a store
// that answers but cannot record a charge ([ErrNotRecorded], Redis full)
// gets FailOpen policies decided locally, not opened, since a client can
// fill a store on purpose.
//
// # What it does not do
//
// It cannot tell many real clients behind one NAT apart, nor one client
// using many addresses beyond a /64 (botnets, proxy pools): combine it with
// authentication and per-principal limits. A memory store limits one
// process; instances behind a load balancer each allow the full rate unless
// they share a [Store] (ratelimit/redisstore).
package ratelimit
