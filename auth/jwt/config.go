package jwt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/internal/bind"
)

// Defaults, documented on the fields that use them.
const (
	DefaultMaxTokenSize      = auth.DefaultMaxTokenSize
	DefaultLeeway            = 60 * time.Second
	DefaultCacheSize         = 10_000
	DefaultCacheTTL          = 5 * time.Minute
	DefaultRefreshFloor      = 5 * time.Minute
	DefaultRefreshCeiling    = time.Hour
	DefaultUnknownKeyRefresh = 30 * time.Second
	DefaultNegativeCacheTTL  = time.Minute
	DefaultFetchTimeout      = 10 * time.Second
	DefaultMaxJWKSSize       = 512 << 10

	maxLeeway       = 5 * time.Minute
	maxTokenSizeCap = auth.MaxTokenSizeLimit
)

// Config configures a [Verifier]. The zero value of every field but
// Issuers is the safe default.
type Config struct {
	// Issuers are the token issuers accepted, each with its own keys,
	// audiences and rules. Required: at least one. A token is judged only
	// by the issuer its "iss" claim names exactly; keys of one issuer never
	// verify a token of another.
	Issuers []Issuer

	// Cookie, when set, is the name of a cookie that may carry the token
	// instead of the Authorization header. Default: none (header only).
	// A request carrying the token in both places is refused as malformed.
	Cookie string

	// DangerouslyAllowQueryToken accepts the token from the access_token
	// query parameter (RFC 6750 §2.3). Off by default: URLs end up in
	// logs, browser history and Referer headers.
	DangerouslyAllowQueryToken bool

	// TokenExtractor, when set, is where the token is read instead of the
	// Authorization header (see [auth.TokenExtractor]); it cannot be
	// combined with Cookie or DangerouslyAllowQueryToken. A value it
	// returns that is not shaped like a JWT is another authenticator's
	// (auth.ErrNotMine), as from the header. Default: [auth.BearerToken].
	TokenExtractor auth.TokenExtractor

	// MaxTokenSize is the largest token accepted, in bytes, checked before
	// any decoding. Default 8 KiB ([auth.DefaultMaxTokenSize], the same as
	// auth/introspect's); at most 64 KiB.
	MaxTokenSize int

	// Leeway is the clock skew tolerated when checking exp, nbf and iat.
	// Default (zero) 60 s; at most 5 minutes. (Exactly none cannot be
	// asked for: two clocks are never exactly in step; 1ns comes close.)
	Leeway time.Duration

	// CacheSize bounds the verified-token cache (entries keyed by the
	// SHA-256 of the token, each kept at most until the token's exp and at
	// most CacheTTL). Default 10 000; negative disables the cache.
	CacheSize int
	// CacheTTL caps how long a verified token is served from the cache.
	// Default 5 minutes.
	CacheTTL time.Duration

	// Revoked, when set, is asked about every accepted token (cached or
	// not) and refuses those it reports revoked: a deny-list by jti or sid.
	// It must be fast and safe for concurrent use. An error from it refuses
	// the request with 503 (fail closed).
	Revoked func(ctx context.Context, t TokenID) (bool, error)

	// RefreshFloor and RefreshCeiling bound the background JWKS refresh
	// interval, which otherwise follows the JWKS response's Cache-Control
	// max-age. Defaults 5 minutes and 1 hour.
	RefreshFloor   time.Duration
	RefreshCeiling time.Duration
	// UnknownKeyRefresh is the minimum interval between JWKS refreshes
	// caused by tokens naming an unknown kid (a key rotation, or a flood of
	// random kids) while the set is fresh. Default 30 s; at least 1 s.
	// Once the set is older than its own Cache-Control max-age (at least
	// 1 s, at most UnknownKeyRefresh), the next unknown kid refreshes it
	// whatever that budget: random kids cannot delay a genuinely new key
	// past the provider's own max-age, nor cause more than one refresh per
	// max-age.
	UnknownKeyRefresh time.Duration
	// NegativeCacheTTL is how long a kid not found after a refresh is
	// refused without asking again. Default 1 minute. A new key set clears it.
	NegativeCacheTTL time.Duration
	// FetchTimeout bounds each discovery or JWKS request. Default 10 s.
	FetchTimeout time.Duration
	// MaxJWKSSize caps discovery and JWKS response bodies. Default 512 KiB.
	MaxJWKSSize int64
	// HTTPClient fetches discovery documents and JWK Sets. Default: a
	// plain client. Whichever is used, the verifier works on a copy that
	// follows a redirect only to a host keys may come from (the issuer's,
	// JWKSURL's, or one in [Issuer.AllowedJWKSHosts]), never from https to
	// http, at most 5 times; the client's own CheckRedirect is asked after
	// that rule, not instead of it.
	HTTPClient *http.Client

	// Now returns the current time, for token times (exp, nbf, iat), the
	// token cache, the negative kid cache and the unknown-kid refresh rate
	// limit. Default time.Now. The background refresh schedule runs on the
	// runtime's timers (tests drive it with testing/synctest).
	Now func() time.Time

	// DPoP configures the verification of DPoP proofs (RFC 9449) for
	// DPoP-bound tokens: allowed algorithms, the iat window, the jti
	// replay store (default one in memory, for a single instance) and
	// optional server nonces. The zero value is the safe default.
	DPoP auth.DPoPOptions
	// MTLS configures where the client certificate of certificate-bound
	// tokens (RFC 8705) comes from: the TLS connection by default, or a
	// header from trusted TLS-terminating proxies.
	MTLS auth.MTLSOptions
	// ChallengeDPoP makes 401s challenge for DPoP (WWW-Authenticate: DPoP
	// algs="…", RFC 9449 §7.1) even when no issuer's Binding wants DPoP:
	// for a program whose routes ask for DPoP-bound tokens themselves
	// ([auth.Auth.RequireBinding]). Default false: DPoP is challenged for
	// when an issuer wants it.
	ChallengeDPoP bool

	// OnKeysFetched, when set, is called after every fetch of an issuer's
	// keys (discovery included) with its outcome (nil on success): for
	// metrics. It must not block. Default none.
	OnKeysFetched func(issuer string, err error)
}

// Issuer describes one trusted token issuer.
type Issuer struct {
	// Issuer is the exact "iss" value (RFC 8414 / OIDC issuer identifier).
	// Required; an https URL, or http on a loopback host.
	Issuer string
	// Audiences are the values of "aud" this API answers to; the token
	// must name at least one. Required.
	Audiences []string
	// Algorithms is the allow-list of JWS algorithms. Required. "none" is
	// not an algorithm here; HS256/384/512 need static [Key]s.
	Algorithms []string

	// Exactly one key source: Keys, JWKSURL or Discovery.
	//
	// Keys are static verification keys.
	Keys []Key
	// JWKSURL is fetched for keys and refreshed in the background. An https
	// URL, or http on a loopback host.
	JWKSURL string
	// Discovery finds the JWKS URL in the issuer's OpenID Connect metadata
	// (Issuer + "/.well-known/openid-configuration"), whose "issuer" must
	// equal Issuer exactly, and whose "jwks_uri" must be https when Issuer
	// is, and on Issuer's host (and port) unless AllowedJWKSHosts lists its
	// host: a discovery document never sends every instance to fetch keys
	// from a cleartext or internal URL.
	Discovery bool
	// AllowedJWKSHosts are hosts other than Issuer's (and JWKSURL's) that
	// keys may come from: where the discovery document's jwks_uri may
	// point, and where key URLs may redirect. Each is a host name or
	// address, with ":port" for a port other than 443. Default none. Some
	// providers need one: Google's issuer is accounts.google.com, its keys
	// are at www.googleapis.com.
	AllowedJWKSHosts []string

	// DangerouslySkipTypeCheck turns off the RFC 9068 rule that the JOSE
	// "typ" be "at+jwt" (or "application/at+jwt"). That rule is what keeps
	// an ID token, signed by the same keys, from being accepted as an
	// access token; turn it off only for a provider that does not send it,
	// and prefer a distinct audience or a RequiredClaims entry then.
	DangerouslySkipTypeCheck bool
	// DangerouslyAllowMissingExp accepts tokens without "exp". Off by
	// default: such a token is valid forever.
	DangerouslyAllowMissingExp bool
	// MaxLifetime, when set, refuses tokens whose exp − iat exceeds it (and
	// tokens without iat).
	MaxLifetime time.Duration
	// RequiredClaims are claims that must be present. With an empty list
	// the claim may hold anything; otherwise a string claim must equal one
	// of the values, or an array claim must contain one.
	RequiredClaims map[string][]string

	// Binding is what this issuer's tokens must be bound to: none (the
	// default: bearer tokens too), dpop (RFC 9449), mtls (RFC 8705) or
	// any of the two. Whatever it says, a token whose cnf claim binds it
	// is held to that binding: a DPoP-bound token needs a valid proof
	// (and is refused as Bearer), a certificate-bound one the client
	// certificate it names, and a cnf of a method this package does not
	// check refuses the token.
	Binding auth.BindingPolicy

	// LogoutAudiences are the client ids this issuer's logout tokens (OIDC
	// Back-Channel Logout 1.0) are addressed to: a logout token's aud
	// must name one of them. Default none: [Verifier.VerifyLogoutToken]
	// refuses every logout token of this issuer.
	LogoutAudiences []string
}

// TokenID identifies an accepted token for the [Config.Revoked] hook: its
// issuer, subject, jti, sid and iat. It is [auth.TokenID], so that a
// deny-list (auth/denylist) plugs into Revoked as it is.
type TokenID = auth.TokenID

// ConfigError is one problem with a [Config]; [New] joins them.
// Check reports every problem of c that [New] would, without starting
// anything (no key fetch): for programs that check a configuration before
// they build, such as `bulwark serve -check`.
func (c Config) Check() error { return errors.Join(c.check()...) }

type ConfigError = auth.ConfigError

func (c *Config) check() []error {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, &ConfigError{Field: "jwt.Config." + field, Value: value, Reason: reason})
	}
	if len(c.Issuers) == 0 {
		bad("Issuers", "", "required: at least one issuer")
	}
	seen := map[string]bool{}
	for i := range c.Issuers {
		is := &c.Issuers[i]
		f := "Issuers[" + strconv.Itoa(i) + "]."
		switch {
		case is.Issuer == "":
			bad(f+"Issuer", "", "required")
		case auth.CheckURL(is.Issuer) != nil:
			bad(f+"Issuer", is.Issuer, auth.CheckURL(is.Issuer).Error())
		case seen[is.Issuer]:
			bad(f+"Issuer", is.Issuer, "listed twice")
		}
		seen[is.Issuer] = true
		if len(is.Audiences) == 0 {
			bad(f+"Audiences", "", "required: tokens for other APIs must not be accepted")
		}
		for _, a := range is.Audiences {
			if a == "" {
				bad(f+"Audiences", "", "empty audience")
			}
		}
		if len(is.Algorithms) == 0 {
			bad(f+"Algorithms", "", "required: an explicit allow-list")
		}
		hmac := false
		for _, a := range is.Algorithms {
			info, ok := algs[a]
			if !ok {
				bad(f+"Algorithms", a, "not a supported signature algorithm")
				continue
			}
			hmac = hmac || info.fam == famHMAC
		}
		sources := 0
		if len(is.Keys) > 0 {
			sources++
		}
		if is.JWKSURL != "" {
			sources++
			if err := auth.CheckURL(is.JWKSURL); err != nil {
				bad(f+"JWKSURL", is.JWKSURL, err.Error())
			}
		}
		if is.Discovery {
			sources++
		}
		if sources != 1 {
			bad(f+"Keys", "", "exactly one of Keys, JWKSURL and Discovery is required")
		}
		for _, h := range is.AllowedJWKSHosts {
			if !validHostEntry(h) {
				bad(f+"AllowedJWKSHosts", h, "must be a host or host:port, without a scheme or path")
			}
		}
		if len(is.AllowedJWKSHosts) > 0 && len(is.Keys) > 0 {
			bad(f+"AllowedJWKSHosts", "", "has no meaning with static Keys")
		}
		if hmac && len(is.Keys) == 0 {
			bad(f+"Algorithms", "", "HMAC algorithms need static Keys: a JWK Set is public")
		}
		ids := map[string]bool{}
		for j, k := range is.Keys {
			kf := f + "Keys[" + strconv.Itoa(j) + "]"
			if ids[k.ID+"\x00"+k.Algorithm] {
				bad(kf+".ID", k.ID, "listed twice for the same algorithm")
			}
			ids[k.ID+"\x00"+k.Algorithm] = true
			if !contains(is.Algorithms, k.Algorithm) {
				bad(kf+".Algorithm", k.Algorithm, "not in the issuer's Algorithms")
				continue
			}
			if _, err := checkKey(k.Algorithm, k.Key); err != nil {
				bad(kf+".Key", "", err.Error())
			}
			if len(is.Keys) > 1 && k.ID == "" {
				bad(kf+".ID", "", "required when an issuer has several keys")
			}
		}
		if is.MaxLifetime < 0 {
			bad(f+"MaxLifetime", is.MaxLifetime.String(), "must not be negative")
		}
		for name := range is.RequiredClaims {
			if name == "" {
				bad(f+"RequiredClaims", "", "empty claim name")
			}
		}
		if is.Binding > auth.BindingAny {
			bad(f+"Binding", is.Binding.String(), "must be BindingNone, BindingDPoP, BindingMTLS or BindingAny")
		}
		for _, a := range is.LogoutAudiences {
			if a == "" {
				bad(f+"LogoutAudiences", "", "empty audience")
			}
		}
	}
	for _, err := range bind.Check(c.DPoP, c.MTLS, "DPoP.", "MTLS.") {
		var ce *ConfigError
		if errors.As(err, &ce) {
			bad(ce.Field, ce.Value, ce.Reason)
		}
	}
	if c.TokenExtractor != nil && (c.Cookie != "" || c.DangerouslyAllowQueryToken) {
		bad("TokenExtractor", "", "replaces the header, the cookie and the query parameter: set it alone")
	}
	if c.Cookie != "" && !validCookieName(c.Cookie) {
		bad("Cookie", c.Cookie, "not a valid cookie name")
	}
	if c.MaxTokenSize < 0 || c.MaxTokenSize > maxTokenSizeCap {
		bad("MaxTokenSize", strconv.Itoa(c.MaxTokenSize), fmt.Sprintf("must be between 1 and %d (0 for the default)", maxTokenSizeCap))
	}
	if c.Leeway < 0 || c.Leeway > maxLeeway {
		bad("Leeway", c.Leeway.String(), "must be between 0 and 5m")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		min  time.Duration
	}{
		{"CacheTTL", c.CacheTTL, 0},
		{"RefreshFloor", c.RefreshFloor, time.Second},
		{"RefreshCeiling", c.RefreshCeiling, time.Second},
		{"UnknownKeyRefresh", c.UnknownKeyRefresh, time.Second},
		{"NegativeCacheTTL", c.NegativeCacheTTL, 0},
		{"FetchTimeout", c.FetchTimeout, 0},
	} {
		if d.v < 0 || (d.v != 0 && d.v < d.min) {
			bad(d.name, d.v.String(), "must be at least "+d.min.String()+" (0 for the default)")
		}
	}
	floor, ceil := orDur(c.RefreshFloor, DefaultRefreshFloor), orDur(c.RefreshCeiling, DefaultRefreshCeiling)
	if floor > ceil {
		bad("RefreshFloor", floor.String(), "greater than RefreshCeiling "+ceil.String())
	}
	if c.MaxJWKSSize < 0 {
		bad("MaxJWKSSize", strconv.FormatInt(c.MaxJWKSSize, 10), "must not be negative")
	}
	return errs
}

func validCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func orDur(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}
