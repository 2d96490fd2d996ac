package auth

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// Values of [Principal.Binding]: how the credential was tied to the client
// that presented it. A principal whose Binding is empty presented a bearer
// credential, which works for whoever holds it.
const (
	// BoundDPoP: an access token whose cnf.jkt names a key, presented with
	// a DPoP proof signed by that key (RFC 9449).
	BoundDPoP = "dpop"
	// BoundMTLS: an access token whose cnf.x5t#S256 names the TLS client
	// certificate of the connection (RFC 8705), or a client certificate
	// that is itself the credential.
	BoundMTLS = "mtls"
)

// BindingPolicy is what an issuer, an introspector or a route requires of
// the binding of the tokens it accepts. Whatever the policy, a token that
// carries a confirmation (the cnf claim, RFC 7800) is held to it: a
// DPoP-bound token needs its proof, a certificate-bound token the
// certificate it names, under [BindingNone] too.
type BindingPolicy uint8

// Binding policies.
const (
	// BindingNone accepts bearer tokens as well as bound ones (the
	// default).
	BindingNone BindingPolicy = iota
	// BindingDPoP accepts only DPoP-bound tokens with their proof.
	BindingDPoP
	// BindingMTLS accepts only certificate-bound tokens over the
	// certificate they name.
	BindingMTLS
	// BindingAny accepts tokens bound either way, never bearer tokens.
	BindingAny
)

// ParseBindingPolicy reads a policy as configuration writes it: none (or
// empty), dpop, mtls or any.
func ParseBindingPolicy(s string) (BindingPolicy, error) {
	switch s {
	case "", "none":
		return BindingNone, nil
	case "dpop":
		return BindingDPoP, nil
	case "mtls":
		return BindingMTLS, nil
	case "any":
		return BindingAny, nil
	}
	return BindingNone, errors.New("must be none, dpop, mtls or any")
}

func (b BindingPolicy) String() string {
	switch b {
	case BindingNone:
		return "none"
	case BindingDPoP:
		return "dpop"
	case BindingMTLS:
		return "mtls"
	case BindingAny:
		return "any"
	}
	return "invalid"
}

// Allows reports whether a principal whose [Principal.Binding] is binding
// satisfies b.
func (b BindingPolicy) Allows(binding string) bool {
	switch b {
	case BindingNone:
		return true
	case BindingDPoP:
		return hasBinding(binding, BoundDPoP)
	case BindingMTLS:
		return hasBinding(binding, BoundMTLS)
	case BindingAny:
		return binding != ""
	}
	return false
}

// WantsDPoP reports whether b accepts DPoP-bound tokens as the way to
// satisfy it, so that a refusal should challenge for DPoP.
func (b BindingPolicy) WantsDPoP() bool { return b == BindingDPoP || b == BindingAny }

// hasBinding reports whether the space-separated list binding contains
// one.
func hasBinding(binding, one string) bool {
	for f := range strings.FieldsSeq(binding) {
		if f == one {
			return true
		}
	}
	return false
}

// DPoPOptions configure the verification of DPoP proofs (RFC 9449) where
// access tokens are checked: auth/jwt and auth/introspect. The zero value
// is the safe default.
type DPoPOptions struct {
	// Algorithms are the JWS algorithms a proof may be signed with.
	// Default [DefaultDPoPAlgorithms]. Only asymmetric algorithms exist
	// here: "none" and HMAC cannot be configured, since a proof is checked
	// with the public key it carries.
	Algorithms []string

	// ProofWindow is how far a proof's iat may be from now, in the past or
	// the future. Default 60 s, at most 5 minutes. It is also how long a
	// proof's jti is remembered: a proof is accepted once, and not at all
	// once it is older than the window.
	ProofWindow time.Duration

	// Replay remembers the jti of every accepted proof until its window
	// ends. Default: a [MemoryReplayStore] of [DefaultReplayCapacity]
	// entries of its own, which is right for one instance only: behind a
	// load balancer a proof replayed to another instance would be
	// accepted there. A fleet shares one store (auth/redisreplay).
	Replay ReplayStore

	// NonceSecret, when set, turns on server-provided nonces (RFC 9449
	// §8): a proof must then carry a nonce this server issued within
	// NonceLifetime, and one without is refused with use_dpop_nonce and a
	// fresh nonce in DPoP-Nonce. It limits how far ahead a stolen private
	// key can pre-compute proofs. At least 32 bytes, and the same on every
	// instance (nonces are an HMAC of the time, checked without state).
	// Default none: no nonce asked for.
	NonceSecret []byte
	// NonceLifetime is how long a nonce is accepted. Default 5 minutes,
	// at least 10 s, at most 1 hour.
	NonceLifetime time.Duration

	// Origin returns the scheme, host and port the client addressed
	// ("https://api.example"), which a proof's htu must name together with
	// the request's path. Default: https when the connection is TLS, else
	// http, and the request's Host. Behind a TLS-terminating proxy set it
	// from what that proxy says (and only from a trusted one).
	Origin func(r *http.Request) string
}

// DefaultDPoPAlgorithms are the proof algorithms accepted by default.
var DefaultDPoPAlgorithms = []string{"ES256", "ES384", "EdDSA", "PS256", "RS256"}

// MTLSOptions configure certificate-bound access tokens (RFC 8705). The
// zero value is the safe default: the certificate of the TLS connection.
type MTLSOptions struct {
	// CertificateHeader, when set, is the header in which a
	// TLS-terminating proxy forwards the client certificate it verified,
	// as RFC 9440 Client-Cert writes it (the DER certificate as a
	// structured-field byte sequence, ":BASE64:"). It is read only from
	// requests whose immediate peer is in TrustedProxies; from anyone
	// else it is ignored and the connection's own certificate counts.
	CertificateHeader string
	// TrustedProxies are the proxies whose CertificateHeader is believed.
	// Required with CertificateHeader.
	TrustedProxies []netip.Prefix
}

// ReplayKey identifies a one-time value: a SHA-256 over it and whatever
// scopes it (for DPoP, the proof key's thumbprint and the proof's jti).
type ReplayKey [32]byte

// ErrReplayed means a one-time value was presented again, or that the
// store can no longer vouch that it was not (see [MemoryReplayStore]).
var ErrReplayed = errors.New("auth: one-time value used before")

// ReplayStore remembers one-time values (DPoP proof jti) for as long as
// they could be accepted. Implementations must be safe for concurrent use.
type ReplayStore interface {
	// Use records key as used until until. It returns an error wrapping
	// [ErrReplayed] when key is already recorded and not yet past its
	// time, or when the store cannot rule that out; any other error means
	// the store could not answer (the request is refused with 503).
	Use(ctx context.Context, key ReplayKey, until time.Time) error
}
