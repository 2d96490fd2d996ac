// Package gateway is what `bulwark serve` runs: an API gateway built from
// bulwark's public packages and a YAML file. The request path, outermost
// first, is assembled in one place, [Build] (build.go); each concern has
// its file:
//
//   - config.go: the YAML types, whose key names are a contract with
//     operators' files; load.go: reading them (${VAR} interpolation,
//     unknown keys, every problem in one pass with its line and key path);
//     check.go: the checks that need no package (and the warnings, such
//     as a route that can never match).
//   - request.go: the canonical request (path, header hygiene) before
//     anything routes; router.go: host and path matching; routes.go: one
//     route's chain (limits, authentication, authorization, body rules).
//   - service.go: services — targets, passive and active health, retries
//     on connection failure; balance.go: round_robin, least_requests,
//     ip_hash; proxy.go and upstream.go: the reverse proxy and the
//     headers the gateway owns in both directions.
//   - authn.go (JWT, API keys), limits.go (rate limits), auditlog.go (the
//     audit sink), body.go (body rules), redis.go, sealing.go.
//   - openapi.go: routes, methods, validation and security derived from a
//     service's (or a route's) OpenAPI document through validate/openapi,
//     and the checks of those documents (parse, $refs, authenticators).
//   - reload.go: the [Server] — listeners, the gateway serving now, and
//     reloads that swap in a new one; parts.go: what a reload carries over
//     (rate-limit counters, JWKS and API-key caches, the audit chain,
//     service health); admin.go and metrics.go: /healthz, /readyz,
//     /metrics, POST /reload; server.go: the HTTP servers' timeouts.
//   - demo.go: the default configuration and its demo API.
package gateway
