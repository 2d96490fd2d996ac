package jwt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/internal/bind"
	"github.com/bulwark-go/bulwark/internal/claims"
)

// Verifier authenticates requests bearing JWT access tokens. It implements
// [auth.Authenticator] and is safe for concurrent use. A Verifier with a
// remote key source runs background refreshes: call [Verifier.Close] when
// done with it.
type Verifier struct {
	issuers    map[string]*issuer
	algs       map[string]bool // union of all allow-lists: a fast refusal of "none" and friends
	extractor  auth.TokenExtractor
	cookie     string
	query      bool
	maxSize    int
	leeway     time.Duration
	cacheTTL   time.Duration
	cache      *tokenCache
	revoked    func(context.Context, TokenID) (bool, error)
	bind       *bind.Checker
	dpopHint   bool // some issuer wants DPoP: 401s challenge for it
	now        func() time.Time
	closeFuncs []func()
	bufs       sync.Pool // *[]byte of cap maxSize, for hashing tokens
}

var _ auth.Authenticator = (*Verifier)(nil)

// issuer is the compiled form of an [Issuer].
type issuer struct {
	name        string
	audiences   []string
	algs        map[string]bool
	static      *keySet
	remote      *remoteKeys
	skipTyp     bool
	allowNoExp  bool
	maxLifetime time.Duration
	required    map[string][]string
	binding     auth.BindingPolicy
	logoutAud   []string
}

func (is *issuer) keys() *keySet {
	if is.static != nil {
		return is.static
	}
	return is.remote.current()
}

// Ready reports whether every issuer has verification keys: static keys,
// or a JWK Set fetched at least once (a last-known-good set counts while
// the provider is down). A readiness probe can use it; it does no I/O.
func (v *Verifier) Ready() error {
	var missing []string
	for name, is := range v.issuers {
		if is.keys() == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("jwt: no keys fetched yet for %s", strings.Join(missing, ", "))
	}
	return nil
}

// IssuerReady reports whether tokens of one issuer can be verified: nil
// once its keys were fetched (a set that has gone stale since still
// verifies). For readiness probes that judge issuers one by one.
func (v *Verifier) IssuerReady(issuer string) error {
	is, ok := v.issuers[issuer]
	switch {
	case !ok:
		return fmt.Errorf("jwt: %s is not a configured issuer", issuer)
	case is.keys() == nil:
		return fmt.Errorf("jwt: no keys fetched yet for %s", issuer)
	}
	return nil
}

// New checks cfg and returns a Verifier. Every problem is reported, joined;
// each is a [*ConfigError]. Remote key sources start fetching in the
// background at once; New itself does no I/O, so a provider that is down
// at start-up delays no one, and requests are answered 503 until its keys
// are had.
func New(cfg Config) (*Verifier, error) {
	if errs := cfg.check(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	v := &Verifier{
		issuers:   make(map[string]*issuer, len(cfg.Issuers)),
		algs:      map[string]bool{},
		extractor: cfg.TokenExtractor,
		cookie:    cfg.Cookie,
		query:     cfg.DangerouslyAllowQueryToken,
		maxSize:   cfg.MaxTokenSize,
		leeway:    orDur(cfg.Leeway, DefaultLeeway),
		cacheTTL:  orDur(cfg.CacheTTL, DefaultCacheTTL),
		revoked:   cfg.Revoked,
		now:       cfg.Now,
	}
	if v.maxSize == 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	if v.now == nil {
		v.now = time.Now
	}
	checker, err := bind.New(cfg.DPoP, cfg.MTLS, v.now)
	if err != nil {
		return nil, err // unreachable: cfg.check reported it
	}
	v.bind = checker
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	fc := fetchConfig{
		client:     cfg.HTTPClient,
		timeout:    orDur(cfg.FetchTimeout, DefaultFetchTimeout),
		maxBytes:   cfg.MaxJWKSSize,
		floor:      orDur(cfg.RefreshFloor, DefaultRefreshFloor),
		ceiling:    orDur(cfg.RefreshCeiling, DefaultRefreshCeiling),
		unknownKey: orDur(cfg.UnknownKeyRefresh, DefaultUnknownKeyRefresh),
		negTTL:     orDur(cfg.NegativeCacheTTL, DefaultNegativeCacheTTL),
		now:        v.now,
		onFetched:  cfg.OnKeysFetched,
	}
	if fc.maxBytes == 0 {
		fc.maxBytes = DefaultMaxJWKSSize
	}
	for _, c := range cfg.Issuers {
		is := &issuer{
			name:        c.Issuer,
			audiences:   append([]string(nil), c.Audiences...),
			algs:        map[string]bool{},
			skipTyp:     c.DangerouslySkipTypeCheck,
			allowNoExp:  c.DangerouslyAllowMissingExp,
			maxLifetime: c.MaxLifetime,
			required:    make(map[string][]string, len(c.RequiredClaims)),
			binding:     c.Binding,
			logoutAud:   append([]string(nil), c.LogoutAudiences...),
		}
		v.dpopHint = v.dpopHint || c.Binding.WantsDPoP() || cfg.ChallengeDPoP
		for _, a := range c.Algorithms {
			is.algs[a] = true
			v.algs[a] = true
		}
		for name, vals := range c.RequiredClaims {
			is.required[name] = append([]string(nil), vals...)
		}
		if len(c.Keys) > 0 {
			keys := make([]*verKey, 0, len(c.Keys))
			for _, k := range c.Keys {
				raw, _ := checkKey(k.Algorithm, k.Key) // checked in cfg.check
				keys = append(keys, &verKey{kid: k.ID, alg: k.Algorithm, key: raw})
			}
			is.static = newKeySet(keys)
		} else {
			is.remote = startRemote(fc, c)
			v.closeFuncs = append(v.closeFuncs, is.remote.close)
		}
		v.issuers[c.Issuer] = is
	}
	return v, nil
}

// Close stops the background key refreshes and waits for them to end. The
// Verifier keeps answering with the keys it has. Close is idempotent.
func (v *Verifier) Close() error {
	for _, f := range v.closeFuncs {
		f()
	}
	return nil
}

// Authenticate extracts the access token from r (Authorization: Bearer
// or DPoP), verifies it, and holds it to its binding: a DPoP proof for a
// DPoP-bound token, the client certificate for a certificate-bound one,
// and the issuer's [Issuer.Binding]. It returns [auth.ErrNoCredentials]
// when r carries no token, [auth.ErrNotMine] when the value is not shaped
// like a JWT (an API key or an opaque token, for another authenticator of
// the chain), and a [*auth.CredentialError] when the token is malformed,
// invalid, not proven, or cannot be judged right now (keys unavailable).
// The principal's Binding says how the token was bound.
func (v *Verifier) Authenticate(r *http.Request) (*auth.Principal, error) {
	scheme, tok, err := v.extract(r)
	if err != nil {
		return nil, err
	}
	p, cnf, is, err := v.verifyToken(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	binding, err := v.bind.Check(r.Context(), r, scheme, tok, cnf, is.binding)
	if err != nil {
		return nil, err
	}
	p.Binding = binding
	return p, nil
}

// Scheme implements [auth.Challenger]: DPoP when an issuer requires
// DPoP-bound tokens, so that a 401 challenges for it too.
func (v *Verifier) Scheme() string {
	if v.dpopHint {
		return auth.SchemeDPoP
	}
	return auth.SchemeBearer
}

// ChallengeParams implements [auth.ParamChallenger]: the algs="…" of the
// DPoP challenge.
func (v *Verifier) ChallengeParams() string {
	if v.dpopHint {
		return v.bind.ChallengeParams()
	}
	return ""
}

var _ auth.ParamChallenger = (*Verifier)(nil)

// Recognizes implements [auth.Recognizer]: r carries a value shaped like a
// JWT (a JOSE compact serialization) where the verifier reads tokens, or
// presents tokens in a malformed way.
func (v *Verifier) Recognizes(r *http.Request) bool {
	_, _, err := v.extract(r)
	return err == nil || !(errors.Is(err, auth.ErrNoCredentials) || errors.Is(err, auth.ErrNotMine))
}

var _ auth.Recognizer = (*Verifier)(nil)

// errNotJWT is the answer for a bearer value of another kind; built once.
var errNotJWT = auth.NotMine("not a compact JWS")

// extract finds the token and the scheme it came with: with the
// configured TokenExtractor (as Bearer), or in the Authorization header
// (scheme Bearer, RFC 6750 §2.1, or DPoP, RFC 9449 §7.1) and the cookie
// and query parameter where configured (as Bearer). A value from the
// extractor, the header or the query that is not shaped like a JWT is
// another authenticator's (the cookie is the verifier's alone).
func (v *Verifier) extract(r *http.Request) (string, string, error) {
	if v.extractor != nil {
		tok, err := v.extractor(r)
		switch {
		case err != nil:
			return "", "", err
		case tok == "":
			return "", "", auth.ErrNoCredentials
		case !claims.IsCompactJOSE(tok):
			return "", "", errNotJWT
		}
		return auth.SchemeBearer, tok, nil
	}
	var tok string
	scheme := auth.SchemeBearer
	found, foreign := 0, false
	switch sch, t, err := auth.AuthorizationToken(r); {
	case err == nil && claims.IsCompactJOSE(t):
		tok, scheme = t, sch
		found++
	case err == nil:
		foreign = true
	case !errors.Is(err, auth.ErrNoCredentials):
		return "", "", err
	}
	if v.cookie != "" {
		n := 0
		for _, c := range r.CookiesNamed(v.cookie) {
			n++
			tok = c.Value
		}
		if n > 1 {
			return "", "", auth.Malformed("several token cookies")
		}
		found += n
	}
	if v.query {
		if q := r.URL.Query()["access_token"]; len(q) > 0 {
			if len(q) > 1 {
				return "", "", auth.Malformed("several access_token parameters")
			}
			if claims.IsCompactJOSE(q[0]) {
				tok = q[0]
				found++
			} else {
				foreign = true
			}
		}
	}
	switch {
	case found == 1:
		return scheme, tok, nil
	case found > 1:
		return "", "", auth.Malformed("token presented in several places")
	case foreign:
		return "", "", errNotJWT
	}
	return "", "", auth.ErrNoCredentials
}

// Verify verifies a token taken from anywhere and returns its principal.
// A token that must be bound to its client (a cnf claim, or an issuer's
// [Issuer.Binding]) cannot be proven without its request, and is refused:
// use [Verifier.Authenticate]. Errors are [*auth.CredentialError]s of kind
// [auth.ErrInvalidToken] or [auth.ErrUnavailable].
func (v *Verifier) Verify(ctx context.Context, tok string) (*auth.Principal, error) {
	p, cnf, is, err := v.verifyToken(ctx, tok)
	if err != nil {
		return nil, err
	}
	if cnf.Bound() || is.binding != auth.BindingNone {
		return nil, auth.Invalid("sender-constrained token verified without its request", nil)
	}
	return p, nil
}

// verifyToken verifies tok (from the cache when it can) and checks it
// against the revocation hook. It returns the caller's own principal, the
// token's confirmation and its issuer.
func (v *Verifier) verifyToken(ctx context.Context, tok string) (*auth.Principal, bind.Confirmation, *issuer, error) {
	now := v.now()
	var sum [32]byte
	if v.cache != nil && len(tok) <= v.maxSize {
		sum = v.hash(tok)
		if e := v.cache.get(sum, now); e != nil && e.set == e.iss.keys() {
			if err := v.checkRevoked(ctx, e.id); err != nil {
				return nil, bind.Confirmation{}, nil, err
			}
			return e.p.Clone(), e.cnf, e.iss, nil // the caller's own copy: the cached one stays as verified
		}
	}
	p, err := v.verify(ctx, tok, now)
	if err != nil {
		return nil, bind.Confirmation{}, nil, err
	}
	if err := v.checkRevoked(ctx, p.id); err != nil {
		return nil, bind.Confirmation{}, nil, err
	}
	if v.cache != nil {
		until := now.Add(v.cacheTTL)
		if !p.exp.IsZero() && p.exp.Before(until) {
			until = p.exp
		}
		v.cache.put(sum, &cacheEntry{p: p.principal, until: until, iss: p.iss, set: p.set, id: p.id, cnf: p.cnf}, now)
		return p.principal.Clone(), p.cnf, p.iss, nil
	}
	return p.principal, p.cnf, p.iss, nil
}

// hash returns SHA-256(tok) without allocating: the string is copied into
// a pooled buffer (sha256.Sum256([]byte(tok)) would allocate per call).
func (v *Verifier) hash(tok string) [32]byte {
	bp, _ := v.bufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < len(tok) {
		b := make([]byte, 0, v.maxSize)
		bp = &b
	}
	b := append((*bp)[:0], tok...)
	sum := sha256.Sum256(b)
	*bp = b
	v.bufs.Put(bp)
	return sum
}

type verified struct {
	principal *auth.Principal
	iss       *issuer
	set       *keySet
	exp       time.Time
	id        TokenID
	cnf       bind.Confirmation
}

func (v *Verifier) checkRevoked(ctx context.Context, id TokenID) error {
	if v.revoked == nil {
		return nil
	}
	revoked, err := v.revoked(ctx, id)
	switch {
	case err != nil:
		return auth.Unavailable("revocation check failed", err)
	case revoked:
		return auth.Invalid("revoked", nil)
	}
	return nil
}

func (v *Verifier) verify(ctx context.Context, tok string, now time.Time) (*verified, error) {
	p, reason, err := parseToken(tok, v.maxSize)
	if err != nil {
		return nil, auth.Invalid(reason, err)
	}
	if !v.algs[p.alg] {
		return nil, auth.Invalid("algorithm not allowed", nil)
	}
	is, ok := v.issuers[p.iss]
	if !ok {
		return nil, auth.Invalid("unknown issuer", nil)
	}
	if !is.algs[p.alg] {
		return nil, auth.Invalid("algorithm not allowed for issuer", nil)
	}
	if !is.skipTyp && (!p.hasTyp || !isATJWT(p.typ)) {
		return nil, auth.Invalid("typ is not at+jwt", nil)
	}
	set, err := v.checkSignature(ctx, is, p)
	if err != nil {
		return nil, err
	}
	out, reason, err := v.checkClaims(is, p.claims, now)
	if err != nil {
		return nil, auth.Invalid(reason, err)
	}
	out.set = set
	return out, nil
}

// checkSignature finds the key by kid in the issuer's set, with the
// key's own algorithm, and verifies p's signature with it. It returns the
// set that verified it.
func (v *Verifier) checkSignature(ctx context.Context, is *issuer, p *parsed) (*keySet, error) {
	var set *keySet
	var k *verKey
	if is.static != nil {
		set = is.static
		k = set.find(p.kid, p.alg)
		if k == nil {
			return nil, auth.Invalid("unknown key id", nil)
		}
	} else {
		var err error
		set, k, err = is.remote.lookup(ctx, p.kid, p.alg)
		if err != nil {
			return nil, err
		}
	}
	if k.alg != p.alg {
		return nil, auth.Invalid("algorithm does not match key", nil)
	}
	if err := jwsbb.Verify(k.key, k.alg, p.signingInput, p.sig); err != nil {
		return nil, auth.Invalid("bad signature", err)
	}
	return set, nil
}

func isATJWT(typ string) bool {
	return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
}

// checkClaims validates the decoded claims and builds the principal from
// the same map.
func (v *Verifier) checkClaims(is *issuer, c map[string]any, now time.Time) (*verified, string, error) {
	aud, ok := claims.StringList(c["aud"], false)
	if !ok || len(aud) == 0 {
		return nil, "missing or invalid aud", ErrClaims
	}
	if !anyIn(aud, is.audiences) {
		return nil, "wrong audience", ErrClaims
	}
	sub, ok := c["sub"].(string)
	if !ok || sub == "" {
		return nil, "missing or invalid sub", ErrClaims
	}
	exp, hasExp, err := numericDate(c, "exp")
	if err != nil {
		return nil, "invalid exp", err
	}
	nbf, hasNbf, err := numericDate(c, "nbf")
	if err != nil {
		return nil, "invalid nbf", err
	}
	iat, hasIat, err := numericDate(c, "iat")
	if err != nil {
		return nil, "invalid iat", err
	}
	switch {
	case !hasExp && !is.allowNoExp:
		return nil, "missing exp", ErrClaims
	case hasExp && !now.Before(exp.Add(v.leeway)):
		return nil, "expired", ErrClaims
	case hasNbf && now.Add(v.leeway).Before(nbf):
		return nil, "not yet valid", ErrClaims
	case hasIat && now.Add(v.leeway).Before(iat):
		return nil, "issued in the future", ErrClaims
	}
	if is.maxLifetime > 0 {
		if !hasIat || !hasExp {
			return nil, "lifetime unknown", ErrClaims
		}
		if exp.Sub(iat) > is.maxLifetime {
			return nil, "lifetime too long", ErrClaims
		}
	}
	for name, want := range is.required {
		got, present := c[name]
		if !present {
			return nil, "required claim missing", ErrClaims
		}
		if len(want) == 0 {
			continue
		}
		vals, ok := claims.StringList(got, false)
		if !ok || !anyIn(vals, want) {
			return nil, "required claim mismatch", ErrClaims
		}
	}
	var scopes []string
	if s, present := c["scope"]; present {
		str, ok := s.(string)
		if !ok {
			return nil, "invalid scope", ErrClaims
		}
		scopes = strings.Fields(str)
	}
	if s, present := c["scp"]; present {
		list, ok := claims.StringList(s, true)
		if !ok {
			return nil, "invalid scp", ErrClaims
		}
		scopes = append(scopes, list...)
	}
	var roles []string
	if r, present := c["roles"]; present {
		list, ok := claims.StringList(r, false)
		if !ok {
			return nil, "invalid roles", ErrClaims
		}
		roles = list
	}
	cnf, err := bind.ParseConfirmation(c)
	if err != nil {
		return nil, "invalid cnf", ErrClaims
	}
	jti, _ := c["jti"].(string)
	sid, _ := c["sid"].(string)
	var issuedAt time.Time
	if hasIat {
		issuedAt = iat
	}
	var exposedExp time.Time
	if hasExp {
		exposedExp = exp
	}
	return &verified{
		principal: &auth.Principal{
			Subject:   sub,
			Issuer:    is.name,
			Method:    Method,
			Scopes:    scopes,
			Roles:     roles,
			Claims:    c,
			ExpiresAt: exposedExp,
		},
		iss: is,
		exp: exposedExp,
		id:  TokenID{Issuer: is.name, Subject: sub, JTI: jti, SID: sid, IssuedAt: issuedAt},
		cnf: cnf,
	}, "", nil
}

func anyIn(have, want []string) bool {
	for _, h := range have {
		if contains(want, h) {
			return true
		}
	}
	return false
}
