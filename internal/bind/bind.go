package bind

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/canonical"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/internal/token"
)

// Defaults and bounds of [auth.DPoPOptions].
const (
	DefaultProofWindow   = 60 * time.Second
	MaxProofWindow       = 5 * time.Minute
	DefaultNonceLifetime = 5 * time.Minute
	minNonceLifetime     = 10 * time.Second
	maxNonceLifetime     = time.Hour
	minNonceSecret       = 32
)

// asymmetric is every algorithm a proof may be configured to use.
var asymmetric = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "Ed25519": true,
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
}

// Checker holds tokens to their binding. It is safe for concurrent use.
type Checker struct {
	algs       map[string]bool
	algList    string // for the challenge: algs="…"
	window     time.Duration
	replay     auth.ReplayStore
	nonces     *nonces
	origin     func(*http.Request) string
	certHeader string
	trusted    clientip.Trusted
	canon      *canonical.Canonicalizer
	now        func() time.Time
	bufs       sync.Pool // *[]byte: a copy of the access token to hash without allocating
}

// Check reports every problem of the options, each an
// *auth.ConfigError whose field starts with prefix ("DPoP.", "MTLS.").
func Check(d auth.DPoPOptions, m auth.MTLSOptions, dpopPrefix, mtlsPrefix string) []error {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, &auth.ConfigError{Field: field, Value: value, Reason: reason})
	}
	for _, a := range d.Algorithms {
		if !asymmetric[a] {
			bad(dpopPrefix+"Algorithms", a, "not an asymmetric JWS algorithm: a proof is checked with the public key it carries")
		}
	}
	if d.ProofWindow < 0 || d.ProofWindow > MaxProofWindow {
		bad(dpopPrefix+"ProofWindow", d.ProofWindow.String(), "must be between 0 (default 60s) and 5m")
	}
	if len(d.NonceSecret) > 0 && len(d.NonceSecret) < minNonceSecret {
		bad(dpopPrefix+"NonceSecret", "", "must be at least 32 bytes")
	}
	if d.NonceLifetime != 0 && (d.NonceLifetime < minNonceLifetime || d.NonceLifetime > maxNonceLifetime) {
		bad(dpopPrefix+"NonceLifetime", d.NonceLifetime.String(), "must be between 10s and 1h (0 for the default 5m)")
	}
	if d.NonceLifetime != 0 && len(d.NonceSecret) == 0 {
		bad(dpopPrefix+"NonceLifetime", d.NonceLifetime.String(), "has no meaning without NonceSecret")
	}
	if m.CertificateHeader != "" {
		if !token.Valid(m.CertificateHeader) {
			bad(mtlsPrefix+"CertificateHeader", m.CertificateHeader, "not a valid header name")
		}
		if len(m.TrustedProxies) == 0 {
			bad(mtlsPrefix+"TrustedProxies", "", "required with CertificateHeader: only a trusted proxy may say which certificate the client used")
		}
	}
	if _, err := clientip.NewTrusted(m.TrustedProxies); err != nil {
		bad(mtlsPrefix+"TrustedProxies", "", err.Error())
	}
	if len(m.TrustedProxies) > 0 && m.CertificateHeader == "" {
		bad(mtlsPrefix+"TrustedProxies", "", "has no meaning without CertificateHeader")
	}
	return errs
}

// New returns a Checker for options that [Check] accepted. now is the
// clock of proofs and nonces; replay stores it creates by default use it
// too.
func New(d auth.DPoPOptions, m auth.MTLSOptions, now func() time.Time) (*Checker, error) {
	if errs := Check(d, m, "DPoP.", "MTLS."); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if now == nil {
		now = time.Now
	}
	c := &Checker{
		algs:       map[string]bool{},
		window:     d.ProofWindow,
		replay:     d.Replay,
		origin:     d.Origin,
		certHeader: http.CanonicalHeaderKey(m.CertificateHeader),
		now:        now,
	}
	if c.window == 0 {
		c.window = DefaultProofWindow
	}
	algs := d.Algorithms
	if len(algs) == 0 {
		algs = auth.DefaultDPoPAlgorithms
	}
	for _, a := range algs {
		c.algs[a] = true
	}
	c.algList = `algs="` + strings.Join(algs, " ") + `"`
	if c.replay == nil {
		store, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Now: now})
		if err != nil {
			return nil, err
		}
		c.replay = store
	}
	if len(d.NonceSecret) > 0 {
		c.nonces = &nonces{secret: append([]byte(nil), d.NonceSecret...), lifetime: d.NonceLifetime}
		if c.nonces.lifetime == 0 {
			c.nonces.lifetime = DefaultNonceLifetime
		}
	}
	c.trusted, _ = clientip.NewTrusted(m.TrustedProxies) // checked above
	canon, err := canonical.New(canonical.Config{DangerouslyKeepOverrideHeaders: true})
	if err != nil {
		return nil, err
	}
	c.canon = canon
	return c, nil
}

// ChallengeParams is the DPoP challenge's algs="…" parameter.
func (c *Checker) ChallengeParams() string { return c.algList }

// Replay returns the replay store proofs are checked against.
func (c *Checker) Replay() auth.ReplayStore { return c.replay }

// Check holds a verified token, presented with scheme (auth.SchemeBearer
// or auth.SchemeDPoP) on r, to its confirmation cnf and to the policy
// pol, and returns the principal's binding ("", auth.BoundDPoP,
// auth.BoundMTLS, or both). Policy refusals come before any signature is
// checked.
func (c *Checker) Check(ctx context.Context, r *http.Request, scheme, token string, cnf Confirmation, pol auth.BindingPolicy) (string, error) {
	dpop, mtls := cnf.JKT != "", cnf.X5T != ""
	switch {
	case cnf.Other:
		return "", auth.Invalid("token bound by an unsupported confirmation method", nil)
	case scheme == auth.SchemeDPoP && !dpop:
		return "", invalidToken("DPoP scheme for a token not bound to a key")
	case scheme != auth.SchemeDPoP && dpop:
		return "", invalidToken("DPoP-bound token presented as a bearer token")
	}
	switch pol {
	case auth.BindingDPoP:
		if !dpop {
			return "", invalidToken("issuer requires DPoP-bound tokens")
		}
	case auth.BindingMTLS:
		if !mtls {
			return "", auth.Invalid("issuer requires certificate-bound tokens", nil)
		}
	case auth.BindingAny:
		if !dpop && !mtls {
			return "", invalidToken("issuer requires sender-constrained tokens")
		}
	}
	binding := ""
	if mtls {
		if err := c.checkCert(r, cnf.X5T); err != nil {
			return "", auth.Invalid(err.Error(), nil)
		}
		binding = auth.BoundMTLS
	}
	if dpop {
		if err := c.checkProof(ctx, r, token, cnf.JKT); err != nil {
			return "", err
		}
		if binding != "" {
			binding = auth.BoundDPoP + " " + binding
		} else {
			binding = auth.BoundDPoP
		}
	}
	return binding, nil
}

// invalidToken is a refusal of the token that challenges for DPoP.
func invalidToken(reason string) error {
	return &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: reason, Scheme: auth.SchemeDPoP}
}

// invalidProof is a refusal of the proof (RFC 9449 invalid_dpop_proof).
func invalidProof(reason string) error {
	return &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: reason, Scheme: auth.SchemeDPoP, Code: auth.CodeInvalidDPoPProof}
}

// checkProof verifies r's DPoP proof for token and key thumbprint jkt
// (RFC 9449 §4.3, §7.1), and records its jti.
func (c *Checker) checkProof(ctx context.Context, r *http.Request, token, jkt string) error {
	hdr := r.Header["Dpop"]
	switch {
	case len(hdr) == 0:
		return invalidProof("DPoP-bound token without a DPoP proof")
	case len(hdr) > 1:
		return invalidProof("several DPoP headers")
	}
	p, err := parseProof(hdr[0], c.algs)
	if err != nil {
		return invalidProof(err.Error())
	}
	// The cheap checks first: a proof for another key, request or time is
	// refused without a signature check.
	if string(p.key.jkt[:]) != jkt {
		return invalidToken("DPoP proof key does not match the token's cnf.jkt")
	}
	if string(p.htm) != r.Method {
		return invalidProof("DPoP proof htm is not the request's method")
	}
	if !c.htuMatches(p.htu, r) {
		return invalidProof("DPoP proof htu is not the request's URL")
	}
	now := c.now()
	if p.iat.Before(now.Add(-c.window)) {
		return invalidProof("DPoP proof iat too old")
	}
	if p.iat.After(now.Add(c.window)) {
		return invalidProof("DPoP proof iat in the future")
	}
	if !p.hasAth || !c.athMatches(p.ath, token) {
		return invalidProof("DPoP proof ath is not the hash of the access token")
	}
	if c.nonces != nil {
		if !p.hasNonce {
			return c.askNonce("DPoP proof without the server's nonce", now)
		}
		if !c.nonces.valid(string(p.nonce), now) {
			return c.askNonce("DPoP proof with a stale or foreign nonce", now)
		}
	}
	if err := jwsbb.Verify(p.key.key, p.alg, p.signingInput, p.sig); err != nil {
		return invalidProof("DPoP proof bad signature")
	}
	// Last, once everything else holds: only proofs that would have been
	// accepted take room in the replay store.
	err = c.replay.Use(ctx, replayKey(jkt, p.jti), p.iat.Add(c.window))
	switch {
	case errors.Is(err, auth.ErrReplayed):
		return invalidProof("DPoP proof replayed")
	case err != nil:
		return auth.Unavailable("DPoP replay store unavailable", err)
	}
	return nil
}

func (c *Checker) askNonce(reason string, now time.Time) error {
	return &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: reason, Scheme: auth.SchemeDPoP,
		Code: auth.CodeUseDPoPNonce, Nonce: c.nonces.issue(now)}
}

// Nonce returns the nonce to hand a client now, or "" when nonces are off.
func (c *Checker) Nonce() string {
	if c.nonces == nil {
		return ""
	}
	return c.nonces.issue(c.now())
}

// ReplayKey scopes a proof's jti to its key: one client's jti can never
// spoil another's.
func ReplayKey(jkt, jti string) auth.ReplayKey { return replayKey(jkt, []byte(jti)) }

func replayKey(jkt string, jti []byte) auth.ReplayKey {
	// jkt is 43 characters and jti at most maxJTILen: the input fits on
	// the stack.
	var in [64 + maxJTILen]byte
	b := append(append(append(in[:0], jkt...), 0), jti...)
	return sha256.Sum256(b)
}

// athMatches reports whether ath is the hash of the access token,
// base64url(SHA-256(token)) (RFC 9449 §4.2).
func (c *Checker) athMatches(ath []byte, token string) bool {
	if len(ath) != 43 {
		return false
	}
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 2048)
		bp = &b
	}
	b := append((*bp)[:0], token...)
	sum := sha256.Sum256(b)
	if cap(b) <= 64<<10 {
		*bp = b
		c.bufs.Put(bp)
	}
	var want [43]byte
	base64.RawURLEncoding.Encode(want[:], sum[:])
	return string(ath) == string(want[:])
}

// htuMatches reports whether htu names the URL r was sent to, without its
// query and fragment (RFC 9449 §4.3 item 9): scheme and host compared
// case-insensitively with the default port dropped (RFC 3986 §6.2.3), the
// paths compared in the canonical form the gateway routes by
// (percent-encoding normalised, dot-segments removed). A path without a
// canonical form on either side never matches.
func (c *Checker) htuMatches(htu []byte, r *http.Request) bool {
	rp := r.URL.EscapedPath()
	if c.origin == nil && plainHTU(htu, r, rp) {
		// htu is the request's own origin and path, byte for byte, in
		// characters that no parsing reads differently: the comparison
		// below would compare each with itself.
		_, _, err := c.canon.Path(rp)
		return err == nil
	}
	return c.htuMatchesParsed(string(htu), r, rp)
}

// plainHTU reports whether htu is exactly scheme://host/path of r, with a
// host of letters, digits, dots and hyphens (and a port of digits) and a
// path of unreserved characters and slashes only.
func plainHTU(htu []byte, r *http.Request, rp string) bool {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	host := r.Host
	if len(htu) != len(scheme)+len(host)+len(rp) || len(rp) == 0 || rp[0] != '/' ||
		string(htu[:len(scheme)]) != scheme || string(htu[len(scheme):len(scheme)+len(host)]) != host ||
		string(htu[len(scheme)+len(host):]) != rp {
		return false
	}
	port := false
	for i := 0; i < len(host); i++ {
		switch c := host[i]; {
		case c == ':' && !port && i > 0 && i < len(host)-1:
			port = true
		case c >= '0' && c <= '9':
		case !port && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	for i := 0; i < len(rp); i++ {
		switch c := rp[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return false
		}
	}
	return len(host) > 0
}

// htuMatchesParsed is htuMatches for any htu and origin: both are parsed
// as URLs and compared by their parts.
func (c *Checker) htuMatchesParsed(htu string, r *http.Request, rp string) bool {
	u, err := url.Parse(htu)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Opaque != "" {
		return false
	}
	origin := c.requestOrigin(r)
	o, err := url.Parse(origin)
	if err != nil || o.Host == "" {
		return false
	}
	if normScheme(u.Scheme) != normScheme(o.Scheme) || normHost(u) != normHost(o) {
		return false
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	want, _, err := c.canon.Path(p)
	if err != nil {
		return false
	}
	if rp == "" {
		rp = "/"
	}
	got, _, err := c.canon.Path(rp)
	return err == nil && got == want
}

func (c *Checker) requestOrigin(r *http.Request) string {
	if c.origin != nil {
		return c.origin(r)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func normScheme(s string) string { return strings.ToLower(s) }

// normHost is the lower-case host with the scheme's default port
// dropped.
func normHost(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	switch {
	case port == "":
		return host
	case port == "443" && strings.EqualFold(u.Scheme, "https"), port == "80" && strings.EqualFold(u.Scheme, "http"):
		return host
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "\x00" // never equal to anything
	}
	return host + ":" + port
}
