// Package clientip finds the address of the client that made a request,
// believing proxy headers only from proxies the operator trusts.
//
// What it protects against: a client choosing its own address. Rate limits,
// audit records and allow-lists keyed on a raw X-Forwarded-For are keyed on
// whatever the attacker typed; chi's RealIP and several rate limiters have
// shipped advisories for exactly that. A [Resolver] reads a forwarding header
// only when the immediate peer (RemoteAddr) is inside one of
// [Config.TrustedProxies], and then walks the header from the right — the
// end the trusted proxies wrote — skipping further trusted hops. The first
// untrusted address is the client. The walk stops at the first entry it
// cannot parse and answers with the last address it trusted, never with an
// address further left, which the attacker controls.
//
// Supported headers: X-Forwarded-For (repeated header lines merged in
// order), RFC 7239 Forwarded (for= with quoted IPv6, ports, "unknown" and
// obfuscated identifiers, which stop the walk), and single-address headers
// written by a trusted proxy such as X-Real-IP or CF-Connecting-IP.
// Addresses are normalized: IPv4-mapped IPv6 becomes IPv4, zones are
// dropped.
//
// What it does not do: it cannot tell whether a trusted proxy was itself
// fooled, and it cannot see through NAT or a VPN; an address is evidence,
// not identity. Rate limits keyed by IPv6 address should aggregate to a
// prefix ([Aggregate]) since one host is handed a whole /64.
//
// Where it sits: first in the stack, so that every later package sees the
// resolved address through [FromRequest]. Without the middleware
// [FromRequest] falls back to RemoteAddr, which is always safe.
package clientip
