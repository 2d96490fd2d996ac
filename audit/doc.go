// Package audit writes bulwark's access and security-event log: one
// structured record per request, on log/slog, correlated by request ID,
// redacted, and optionally tamper-evident.
//
// # Where it sits
//
// Put [Auditor.Handler] outside every protection whose decisions it should
// record and inside clientip, so that client.address is the resolved client:
//
//	clientip → audit → headers → cors → ratelimit → auth → validate → app
//
// Feature packages report what they refuse or notice with secevent.Emit and
// name the caller with secevent.Identify; the auditor's per-request recorder
// collects both into the request's record, so audit imports none of them.
// Outside requests (key rotation, a JWKS refresh failure, a store fallback)
// install the [Auditor] itself as the recorder of a background context, or
// call [Auditor.Record]: the event becomes a "security.event" record in the
// same stream, under the same OWASP Logging Vocabulary names, so one alert
// rule covers both.
//
// # What is logged
//
// Each request record ("msg":"http.request") carries, with OpenTelemetry
// semantic-convention names: the time in UTC; request_id; http.request.method
// (unknown methods as "_OTHER" plus http.request.method_original);
// url.path; url.query with sensitive parameters redacted; http.route (the
// ServeMux pattern, or [Config.Route] for chi and others);
// http.response.status_code; http.response.body.size;
// http.server.request.duration_ns (integer nanoseconds: OpenTelemetry's
// metric of that name is in seconds, but a float costs slog's JSON handler
// a trip through encoding/json); client.address;
// user_agent.original (capped at 256 bytes); trace_id and span_id from a
// valid W3C traceparent; user.id, bulwark.authn.method and
// bulwark.authn.issuer when an auth package identified the caller;
// http.request.header.<name> for the headers named in [Config.LogHeaders];
// and events, the events emitted during the request (name, reason,
// attributes; at most [Config.MaxEvents], the rest counted). The level is
// INFO, WARN when the request carried a security event, ERROR for 5xx and
// panics.
//
// Request IDs: an inbound X-Request-ID is used only when it matches
// ^[A-Za-z0-9._-]{1,64}$ (so "../../etc", a newline or 10 KB are replaced);
// otherwise a fresh 128-bit random ID, with nothing about the host in it.
// The ID is echoed in the response header and available from
// [RequestIDFromContext] for the application's own logs and error pages.
//
// # What is never logged
//
// Values of the headers Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, X-API-Key (and the others in [DefaultRedactHeaders]); query
// parameters sig, Signature, AWSAccessKeyId, X-Goog-Signature, token,
// access_token, api_key and the rest of [DefaultRedactQueryParams]; URL
// userinfo; cookie values; JSON fields and attribute keys such as password,
// secret, token, api_key ([DefaultRedactFields]) at any depth, in
// http.Header, url.Values, maps, structs (by their JSON encoding), JSON text
// and []byte; credentials recognizable in free text and error strings
// ("Bearer …", "password=…", "https://user:pass@…"). Configured names add to
// these lists. With [RedactConfig.PseudonymKey] a secret is replaced by a
// keyed HMAC pseudonym instead, so the same credential correlates across
// records without being recoverable. Request and response bodies are never
// logged by the auditor. Every string is capped ([RedactConfig.MaxLen],
// default 512 bytes) and control characters, ANSI escapes, invalid UTF-8
// and bidirectional and other format characters are escaped as visible text
// (\x1b, \u202e), so a record is one line and safe to view in a terminal.
//
// Free-text scrubbing is a second line of defence: a secret in an error
// string without a recognizable marker (a bare token in prose) cannot be
// found. Emitters must keep secrets out of Reason and Attrs, as secevent
// requires.
//
// # Floods
//
// By default every request has a record of its own. With
// [Config.FloodAfter] (denials per second), a denial (status ≥ 400 with a
// security event) of a key — same first event, status, route pattern and
// client (IPv6 by /64) — is still written on its own while the key stays
// within that rate; beyond it, it is folded into one "audit.aggregate"
// record with aggregate.count, aggregate.first_request_id,
// aggregate.last_request_id, up to 100 aggregate.request_ids and up to 8
// aggregate.reasons, written when the key falls back under the rate, after
// [Config.FloodInterval], or at [Auditor.Close]. The table is bounded by
// [Config.FloodMaxKeys]. An attacker then adds at most FloodAfter records
// per second per key, plus the aggregates.
//
// # Tamper evidence
//
// [NewChain] is an slog handler that writes JSON lines, each ending in
// chain.id, chain.kid, chain.seq and chain.mac = HMAC-SHA256(key, previous
// MAC ‖ the line up to the MAC). A chain begins with an "audit.chain.start"
// record and [Chain.Close] ends it with "audit.chain.end". A chain that
// continues another ([ChainConfig.Prev]: after a restart, a rotation, a
// reopen) names the other's last record in its start record
// (chain.prev.id, chain.prev.seq, chain.prev.mac), so that segments are
// linked: removing or reordering one breaks the link. Checkpoints (the
// latest sequence number and MAC, at the start of every chain, every N
// records and at Close) go to a second sink the log's host cannot rewrite:
// plain lines ([ChainConfig.Checkpoints]) or, better, signed records of a
// checkpoint chain of their own ([ChainConfig.CheckpointChain],
// "audit.checkpoint"), so that a removed checkpoint shows too.
//
// [Verify], [VerifyFiles] and `bulwark audit verify [-key-file F | -key-env
// NAME] [-checkpoints F] [-allow-open] FILE|DIR|GLOB...` report the first
// altered, inserted, removed or reordered record with its file and line
// (a [*TamperError], exit status 1, "TAMPERED"). A chain that stopped
// without its end record — the writer was killed (SIGKILL, OOM), crashed
// or lost power, or is still writing — is an unclean end, not tampering:
// listed in [VerifyResult.Unclean], accepted with [VerifyConfig.AllowOpen]
// (-allow-open), and otherwise an [*UncleanError] ([ErrUnclean], exit
// status 1, "UNCLEAN END"). A record torn by the crash is part of the
// unclean end when the next chain links past it. Without checkpoints a
// truncated tail looks like an unclean end; with them, every checkpointed
// record from the log's first checkpointed chain on must be present, so a
// removed file or segment and a truncated tail are tampering. Checkpoints of
// chains older than the first file given are skipped: deleting the oldest
// rotated files is what rotation does.
//
// Whoever holds the key can rewrite the whole chain, and the checkpoint
// chain (MACed with the same key); keep it in a secret store, not beside
// the log, and keep the checkpoints elsewhere too. To rotate the key,
// Close the chain and start a new one with the new Key and a new KeyID (in
// the same file or a new one); [VerifyConfig.Keys] maps each key ID to its
// key.
//
// # Files: durability, rotation, reopening
//
// [OpenFile] is the chained log in a file, as `bulwark serve` writes it:
// every record is written to the file (one write) before Handle returns,
// so a killed process loses none; it is flushed to stable storage every
// [FileConfig.SyncInterval] (default [DefaultSyncInterval], one second: a
// power loss loses at most that) or, with [FileConfig.SyncEveryRecord],
// before Handle returns. On open it reads the last record of the existing
// file and links the new chain to it. It rotates by size and age
// (path → path.<UTC time>, keeping [FileConfig.Keep]), reopens its path on
// [File.Reopen] (logrotate's create mode, then SIGUSR1), writes signed
// checkpoints to [FileConfig.Checkpoints] by count and by time, and keeps
// every segment linked: the rotated files and the current one verify as
// one chain with [VerifyFiles] (or `bulwark audit verify DIR`).
//
// # Delivery
//
// Records are written synchronously by default: the request waits for its
// record. [NewAsync] queues them for a goroutine instead, in a bounded
// queue whose overflow policy must be chosen: [Block] (nothing lost, a slow
// sink slows requests) or [Drop] (counted, and reported as a
// sys_monitor_disabled event as soon as there is room). Compose:
//
//	chain, _ := audit.NewChain(file, audit.ChainConfig{Key: key, Checkpoints: remote})
//	async, _ := audit.NewAsync(chain, audit.AsyncConfig{Overflow: audit.Block})
//	aud, _ := audit.New(audit.Config{Handler: async})
//	// shutdown: aud.Close(); async.Close(); chain.Close()
//
// # Shipping to a SIEM
//
// Records are JSON lines with stable OpenTelemetry names, so they need no
// parsing rules: write them to a file or stdout and let the collector tail
// it (OpenTelemetry Collector filelog receiver with the json_parser
// operator, Fluent Bit's tail input with the json parser, Vector's file
// source with parse_json, or the Splunk/Elastic agents). Alert on
// events[].name and event.name (the OWASP vocabulary:
// authn_token_invalid, authz_fail, excess_rate_limit_exceeded,
// malicious_cors, …), on audit.aggregate counts, and on
// sys_monitor_disabled (records dropped). Join with traces on trace_id.
// Keep the chained file as the evidence copy and verify it before an
// investigation relies on it; forward the checkpoint stream to a different
// system than the log. For syslog transport wrap a syslog writer in
// slog.NewJSONHandler (one record per message).
package audit
