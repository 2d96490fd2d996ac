// Package apikey issues, stores and verifies API keys for machine clients,
// with the whole lifecycle: generation, hashing at rest, expiry, rotation
// with an overlap window, revocation and deletion. [Keys] is both the
// lifecycle API and an [auth.Authenticator]; [Keys.Handler] is the
// middleware for an API that accepts keys only.
//
// # Key format
//
// A key looks like
//
//	bwk_live_PZzjiOPtcMGU6wF31wjMNJ1L4zdFkD7Rr4Sj0PX
//
// which splits as
//
//	bwk_live PZzjiOPtcMG U6wF31wjMNJ1L4zdFkD7Rr 4Sj0PX
//	prefix   id (11)     secret (22)            CRC-32 (6)
//
// that is, the configured prefix ([Config.Prefix]: lowercase letters and
// digits in groups joined by '_'), an underscore, then 39 characters of
// base62 (0-9, A-Z, a-z): an 11-character key id and a 22-character secret,
// every character drawn uniformly from crypto/rand (65 + 131 bits), and a
// checksum: CRC-32 (IEEE) of everything before it, as 6 base62 digits, most
// significant first. With an 8-character prefix such as bwk_live a key is
// 48 characters, safe in headers, URLs, shells and double-click selection.
// A secret scanner matches a prefix's keys with
//
//	\bbwk_live_[0-9A-Za-z]{39}\b
//
// and can confirm a hit offline with the checksum ([ParseKey] does both),
// so false positives are rare. [Record.Start] — the prefix and the first 8
// characters (of the non-secret id) — is what people and logs see to tell
// keys apart.
//
// # Verification, and why not bcrypt
//
// In an auth chain, keys may share Authorization: Bearer with JWTs and
// opaque tokens: [Keys] recognizes its keys by their shape (and answers
// auth.ErrNotMine for any other bearer value), so the auth middleware gives
// them to it whatever the order of the chain, and never to an introspection
// endpoint.
//
// [Keys.Authenticate] checks, in order and without allocating: the prefix,
// the exact length, the alphabet and the checksum. A mistyped, truncated,
// extended or random value is refused there, before any store access, so a
// flood of garbage costs a few hundred nanoseconds per request and never
// reaches the database. A key from another environment (another prefix
// with a valid checksum) is refused as such. Only then is the key digested
// and the digest looked up, in a bounded cache in front of the store. The
// record's id is compared with the key's id in constant time; expiry,
// revocation and the end of a rotation overlap are checked on every
// request, cache or not.
//
// Stores keep only a digest: HMAC-SHA256 of the whole key under a
// server-side pepper ([Config.Pepper]), or plain SHA-256 if the operator
// opts out with [Config.InsecureNoPepper]. Lookups are by digest, so no
// comparison is ever made between the presented key and a stored secret,
// and the time a lookup takes does not depend on how many leading
// characters of a guess are right: a guess that shares 38 characters with
// a real key has a digest unrelated to that key's digest.
//
// Password hashes (bcrypt, scrypt, argon2) are deliberately not used. They
// exist to make guessing low-entropy passwords expensive; a key with 131
// bits from a CSPRNG cannot be guessed whatever the hash, and a slow hash
// on the request path costs tens of milliseconds of CPU per request, so an
// attacker sending random keys would get a denial of service for free.
// The pepper gives what a slow hash would: a stolen copy of the store is
// useless for checking keys without it.
//
// # Threat model
//
// Protects against: guessing and brute force (entropy; no oracle in the
// timing); theft of the key store (only peppered digests); keys leaking
// through URLs (refused in query strings unless
// [Config.InsecureQueryParam] allows it, and a well-formed key seen in a
// query string is refused with 400 so the mistake is noticed; its
// non-secret start is not); a test key used in
// production (prefixes); a key that outlives its purpose (expiry, rotation
// with a bounded overlap, revocation); garbage floods reaching the
// database (checksum first); an unreachable store (fail closed with 503).
//
// Does not protect against: a key stolen from the client while valid
// (bind keys to few scopes, short TTLs, and rate-limit per key); a stolen
// store together with the pepper; abuse by the key's legitimate holder;
// floods of well-formed unknown keys (anyone can compute a checksum, and
// unknown digests are not cached, so each costs one store lookup: put a
// per-IP rate limit in front, as the auth package recommends).
// Object-level authorization stays with the handlers.
//
// # Revocation and caching
//
// [Keys.Revoke] (and Rotate, Expire, Delete) takes effect on the next
// request on the instance that made the call, and is final: a lookup that
// was already under way when it ran cannot cache the record it read (a
// generation check), so the old state never comes back.
//
// Other instances sharing the store hear of it through [Config.Watch]: the
// SQL store's own channel (a trigger NOTIFYs the key id on PostgreSQL;
// triggers append it to a change log on SQLite, read when PRAGMA
// data_version says another connection committed, polled ten times a
// second), or Redis pub/sub (auth/apikey/redisfeed, with [Config.Announce]
// on every instance and in `bulwark keys`). The cached record is dropped
// at once, and a lookup under way cannot put it back: on loopback the
// change reaches every instance in milliseconds (see bench/README.md for
// the measured p99). Requests never query the store for that; a cache hit
// stays a map lookup. When the channel is down, [Config.OnWatch] says so
// (the gateway exports it as a metric), the whole cache is dropped when it
// comes back (changes made meanwhile may have been missed), and until
// then [Config.CacheTTL] (default 10s, at most 5m) is the bound: a record
// is never served older than that.
//
// Last-use times are kept in memory and written in batches by a
// background goroutine every [Config.LastUsedInterval]; a request never
// waits for that write, and [Keys.Close] flushes it.
//
// # Security events
//
// Refusals surface through the auth middleware as authn_token_invalid with
// a fixed reason ("bad key checksum", "unknown key", "revoked key"). Using
// a revoked key, or a rotated one past its overlap, also emits
// authn_token_reuse with the key's id and start: a strong sign that the
// key leaked. Create and Rotate emit authn_token_created, Revoke and
// Expire authn_token_revoked, Delete authn_token_delete. No event ever
// contains a key; only its id and start.
//
// # Operating keys
//
//   - One prefix per environment and key kind (bwk_live, bwk_test), and
//     register the pattern above with your secret scanner (GitHub secret
//     scanning custom patterns, gitleaks, trufflehog).
//   - Give keys an expiry and rotate them with an overlap long enough for
//     clients to redeploy: `bulwark keys rotate -overlap 24h ID`.
//   - Rate-limit per key: [Tier] and the principal's subject ("apikey:<id>")
//     are keys for the ratelimit package.
//
// Responding to a leaked key: revoke it at once (`bulwark keys revoke ID`;
// effective everywhere as soon as the channel carries it, within CacheTTL
// at worst), then create a replacement for its
// owner; if the owner needs time, rotate with a short overlap instead of
// revoking, and revoke once they have moved. Search the audit log for
// authn_token_reuse and for the key id to see who used it from where. Do
// not delete the record: a revoked record turns later attempts into
// authn_token_reuse alerts, where a deleted one is merely "unknown key".
//
// Rotating the pepper: generate a new pepper, deploy it as [Config.Pepper]
// with the old one in [Config.PreviousPeppers] (keys made under it keep
// working: a miss under the new pepper is retried under each old one,
// which costs one more store lookup for unknown keys), rotate every key
// made before the change, and drop the old pepper once none remains. If
// the pepper itself leaked together with the store, rotate every key.
//
// # Stores
//
// [MemoryStore] is for tests and single-instance programs. The
// auth/apikey/sqlstore package keeps records in SQLite (embedded; the
// default) or PostgreSQL (fleets), creating and migrating its schema
// itself; every write is one statement or one transaction, so a key is
// never half rotated. auth/apikey/apikeytest is the conformance suite all
// stores pass, and auth/apikey/cli is the `bulwark keys` command.
package apikey
