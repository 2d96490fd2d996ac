package ratelimit

import (
	"net/http"
	"net/netip"

	"github.com/bulwark-go/bulwark/clientip"
)

type partKind uint8

const (
	partIP partKind = iota + 1
	partPrincipal
	partAPIKey
	partHeader
	partRoute
	partFunc
)

// maxKeyParts is how many parts one key may have.
const maxKeyParts = 6

// Identity reads an identity of the request: the authenticated principal or
// the id of the API key it presented. It is how ratelimit reads what auth
// put in the request context without importing auth. ok is false when the
// request carries no such identity.
type Identity interface {
	RateLimitID(r *http.Request) (id string, ok bool)
}

// IdentityFunc adapts a function to an [Identity].
type IdentityFunc func(r *http.Request) (string, bool)

// RateLimitID calls f(r).
func (f IdentityFunc) RateLimitID(r *http.Request) (string, bool) { return f(r) }

// KeyPart is one thing a policy limits by. A policy's key is the
// combination of its parts; build parts with [ClientIP], [ClientIPPrefix],
// [Principal], [APIKeyID], [Header], [Route] and [Func].
type KeyPart struct {
	kind     partKind
	ipv6Bits int
	header   string // canonical header name
	id       Identity
	fn       func(*http.Request) (string, bool)
}

// ClientIP keys by the client address from [clientip.FromRequest]: the
// address the clientip middleware resolved behind trusted proxies, else
// RemoteAddr; never a raw X-Forwarded-For. IPv6 addresses are aggregated
// to their /64, since one subscriber is handed a whole /64 and can rotate
// through it.
func ClientIP() KeyPart { return KeyPart{kind: partIP, ipv6Bits: 64} }

// ClientIPPrefix is [ClientIP] with IPv6 addresses aggregated to ipv6Bits
// (1 to 128). IPv4 addresses are keyed as /32.
func ClientIPPrefix(ipv6Bits int) KeyPart { return KeyPart{kind: partIP, ipv6Bits: ipv6Bits} }

// Principal keys by the authenticated principal as src reports it. Place
// the limiter after authentication.
func Principal(src Identity) KeyPart { return KeyPart{kind: partPrincipal, id: src} }

// APIKeyID keys by the id of the API key the request presented (the id,
// never the secret), as src reports it.
func APIKeyID(src Identity) KeyPart { return KeyPart{kind: partAPIKey, id: src} }

// Header keys by the value of a request header. Use it only for a header a
// trusted component sets: a client can write any value into a header and so
// pick a fresh bucket per request.
func Header(name string) KeyPart {
	return KeyPart{kind: partHeader, header: http.CanonicalHeaderKey(name)}
}

// Route keys by the pattern that http.ServeMux matched (r.Pattern), so that
// each route has its own budget. The limiter must run inside the mux.
func Route() KeyPart { return KeyPart{kind: partRoute} }

// Func keys by what fn returns; ok false means the request has no key.
func Func(fn func(r *http.Request) (key string, ok bool)) KeyPart {
	return KeyPart{kind: partFunc, fn: fn}
}

func (p KeyPart) name() string {
	switch p.kind {
	case partIP:
		return "client_ip"
	case partPrincipal:
		return "principal"
	case partAPIKey:
		return "api_key_id"
	case partHeader:
		return "header"
	case partRoute:
		return "route"
	case partFunc:
		return "func"
	}
	return "invalid"
}

// A composite key is hashed as a stream: per part, its kind byte, then
// for each value its length as 8 bytes and its bytes. The length prefixes
// keep part boundaries: ("ab","c") and ("a","bc") are different keys.

// subject computes the keyed hash of a request's key parts. It reports
// the first part that is missing. It allocates nothing unless an Identity
// or Func does.
func subject(sk sipKey, parts []KeyPart, r *http.Request) (uint64, *KeyPart) {
	if len(parts) == 1 && parts[0].kind == partIP {
		// The most common key, hashed without the stream's bookkeeping
		// (the same hash: sumIP).
		a16, bits, ok := ipPart(&parts[0], r)
		if !ok {
			return 0, &parts[0]
		}
		return sk.sumIP(byte(partIP), &a16, bits), nil
	}
	h := sk.state()
	for i := range parts {
		p := &parts[i]
		h.writeByte(byte(p.kind))
		switch p.kind {
		case partIP:
			a16, bits, ok := ipPart(p, r)
			if !ok {
				return 0, p
			}
			h.writeBytes(a16[:])
			h.writeByte(bits)
		case partPrincipal, partAPIKey, partFunc:
			var (
				id string
				ok bool
			)
			if p.fn != nil {
				id, ok = p.fn(r)
			} else {
				id, ok = p.id.RateLimitID(r)
			}
			if !ok {
				return 0, p
			}
			h.writeUint64(uint64(len(id)))
			h.writeString(id)
		case partHeader:
			vs := r.Header[p.header]
			if len(vs) == 0 {
				return 0, p
			}
			h.writeUint64(uint64(len(vs)))
			for _, v := range vs {
				h.writeUint64(uint64(len(v)))
				h.writeString(v)
			}
		case partRoute:
			if r.Pattern == "" {
				return 0, p
			}
			h.writeUint64(uint64(len(r.Pattern)))
			h.writeString(r.Pattern)
		}
	}
	return h.sum(), nil
}

// ipPart is what a ClientIP part hashes: the client address aggregated to
// the part's IPv6 prefix, as 16 bytes, and the prefix length, with the top
// bit set for IPv4 (an IPv4 /32 never equals an IPv6 prefix).
func ipPart(p *KeyPart, r *http.Request) ([16]byte, byte, bool) {
	a := clientip.FromRequest(r)
	if !a.IsValid() {
		return [16]byte{}, 0, false
	}
	pfx := clientip.Aggregate(a, p.ipv6Bits)
	bits := byte(pfx.Bits()) // #nosec G115 -- a prefix length is 0..128
	if pfx.Addr().Is4() {
		bits |= 0x80
	}
	return pfx.Addr().As16(), bits, true
}

// subjectOf hashes an explicit key given to [Limiter.TakeKey].
func subjectOf(sk sipKey, key string) uint64 {
	h := sk.state()
	h.writeByte(byte(partFunc + 1))
	h.writeUint64(uint64(len(key)))
	h.writeString(key)
	return h.sum()
}

// limitKey combines a subject and a policy into the store key. subj is
// the output of a keyed PRF and policy a keyed hash of the policy, so a
// bijective mix of their sum suffices: two (subject, policy) pairs collide
// only if an attacker could choose PRF outputs.
func limitKey(subj, policy uint64) uint64 {
	k := subj + policy*0x9e3779b97f4a7c15
	k ^= k >> 32
	k *= 0xd6e8feb86659fd93
	k ^= k >> 32
	return k
}

// inPrefixes reports whether a is in one of ps (ExemptPrefixes).
func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
