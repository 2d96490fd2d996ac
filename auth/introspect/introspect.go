package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/internal/bind"
	"github.com/bulwark-go/bulwark/internal/claims"
)

// Client authentication methods to the introspection endpoint (RFC 7662
// §2.1 requires the resource server to authenticate).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
)

// Config configures an [Introspector].
type Config struct {
	// Endpoint is the introspection endpoint URL. Required; https, or http
	// on a loopback host.
	Endpoint string
	// ClientID and ClientSecret authenticate this resource server to the
	// endpoint. Required.
	ClientID, ClientSecret string
	// AuthMethod is ClientSecretBasic (default) or ClientSecretPost.
	AuthMethod string

	// Issuer, when set, must equal the "iss" of every active answer that
	// has one; it also becomes Principal.Issuer. Optional.
	Issuer string
	// Audience, when set, must be among the "aud" values of every active
	// answer: a token issued for another resource is refused. Optional but
	// recommended when the authorization server serves several APIs.
	Audience string

	// CacheTTL is the longest an active answer is reused; it is also
	// capped by the token's "exp". Default 60 s; negative disables caching
	// of active answers.
	CacheTTL time.Duration
	// NegativeTTL is how long an inactive answer is reused. Default 10 s;
	// negative disables it.
	NegativeTTL time.Duration
	// MaxCacheEntries bounds the cache. Default 10 000.
	MaxCacheEntries int

	// Timeout bounds one call to the endpoint. Default 5 s.
	Timeout time.Duration
	// MaxTokenBytes refuses longer tokens without a call. Default 8 KiB
	// ([auth.DefaultMaxTokenSize], the JWT verifier's default too); at
	// most 64 KiB. A token shaped like a JWT and handed to [Config.JWT] is
	// judged by that verifier's limit instead.
	MaxTokenBytes int
	// MaxResponseBytes caps the endpoint's answer. Default 64 KiB.
	MaxResponseBytes int64
	// HTTPClient makes the calls. Default: a client with Timeout. Whichever
	// is used, the introspector works on a copy that never follows a
	// redirect (it would resend the token and the client credentials): the
	// client's own CheckRedirect is replaced, and a redirect answer is a
	// failure (503).
	HTTPClient *http.Client

	// JWT, when set, receives tokens shaped like a JWT (three base64url
	// segments) instead of introspecting them.
	JWT auth.Authenticator

	// TokenExtractor, when set, is where the token is read instead of the
	// Authorization header (see [auth.TokenExtractor]), as a bearer token.
	// Default: the Authorization header, scheme Bearer or DPoP
	// ([auth.AuthorizationToken]).
	TokenExtractor auth.TokenExtractor

	// Binding is what the tokens must be bound to: none (the default:
	// bearer tokens too), dpop (RFC 9449), mtls (RFC 8705) or any.
	// Whatever it says, a token whose answer carries cnf (jkt, or
	// x5t#S256) is held to it: a DPoP proof signed by that key, or the
	// client certificate it names; a cnf of another method refuses it.
	Binding auth.BindingPolicy
	// DPoP configures the verification of DPoP proofs (see
	// [auth.DPoPOptions]; the replay store defaults to one in memory, for
	// a single instance).
	DPoP auth.DPoPOptions
	// MTLS configures where the client certificate comes from (see
	// [auth.MTLSOptions]).
	MTLS auth.MTLSOptions

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Introspector is an auth.Authenticator for opaque tokens. It is safe for
// concurrent use.
type Introspector struct {
	cfg     Config
	extract auth.TokenExtractor
	bind    *bind.Checker
	client  *http.Client
	now     func() time.Time
	group   singleflight.Group

	mu    sync.Mutex
	cache map[[32]byte]entry
}

type entry struct {
	p       *auth.Principal // nil for an inactive token
	cnf     bind.Confirmation
	expires time.Time
}

// answer is an active token's principal and what it is bound to.
type answer struct {
	p   *auth.Principal
	cnf bind.Confirmation
}

var _ auth.Authenticator = (*Introspector)(nil)

// New checks cfg and returns an [Introspector]. Every problem is reported,
// joined; each is an [*auth.ConfigError].
func New(cfg Config) (*Introspector, error) {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, &auth.ConfigError{Field: "introspect." + field, Value: value, Reason: reason})
	}
	if cfg.Endpoint == "" {
		bad("Endpoint", "", "required")
	} else if err := auth.CheckURL(cfg.Endpoint); err != nil {
		bad("Endpoint", cfg.Endpoint, err.Error())
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		bad("ClientID", "", "ClientID and ClientSecret are required: RFC 7662 endpoints must not answer anonymous callers")
	}
	switch cfg.AuthMethod {
	case "":
		cfg.AuthMethod = ClientSecretBasic
	case ClientSecretBasic, ClientSecretPost:
	default:
		bad("AuthMethod", cfg.AuthMethod, "must be client_secret_basic or client_secret_post")
	}
	if cfg.Issuer != "" {
		if err := auth.CheckURL(cfg.Issuer); err != nil {
			bad("Issuer", cfg.Issuer, err.Error())
		}
	}
	if cfg.MaxCacheEntries < 0 || cfg.MaxTokenBytes < 0 || cfg.MaxResponseBytes < 0 || cfg.Timeout < 0 {
		bad("limits", "", "MaxCacheEntries, MaxTokenBytes, MaxResponseBytes and Timeout must not be negative")
	}
	if cfg.MaxTokenBytes > auth.MaxTokenSizeLimit {
		bad("MaxTokenBytes", strconv.Itoa(cfg.MaxTokenBytes), "must be at most "+strconv.Itoa(auth.MaxTokenSizeLimit))
	}
	if cfg.Binding > auth.BindingAny {
		bad("Binding", cfg.Binding.String(), "must be BindingNone, BindingDPoP, BindingMTLS or BindingAny")
	}
	for _, err := range bind.Check(cfg.DPoP, cfg.MTLS, "DPoP.", "MTLS.") {
		var ce *auth.ConfigError
		if errors.As(err, &ce) {
			bad(ce.Field, ce.Value, ce.Reason)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 60 * time.Second
	}
	if cfg.NegativeTTL == 0 {
		cfg.NegativeTTL = 10 * time.Second
	}
	if cfg.MaxCacheEntries == 0 {
		cfg.MaxCacheEntries = 10000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxTokenBytes == 0 {
		cfg.MaxTokenBytes = auth.DefaultMaxTokenSize
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	// Never follow a redirect: it would resend the token and the client
	// credentials. A caller's client is copied and gets the same rule.
	client := &http.Client{Timeout: cfg.Timeout}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	checker, err := bind.New(cfg.DPoP, cfg.MTLS, now)
	if err != nil {
		return nil, err // unreachable: checked above
	}
	return &Introspector{cfg: cfg, extract: cfg.TokenExtractor, bind: checker, client: client, now: now, cache: make(map[[32]byte]entry)}, nil
}

// Authenticate implements auth.Authenticator: it introspects the token
// (Authorization: Bearer or DPoP) and holds it to its binding (see
// [Config.Binding]); the principal's Binding says how it was bound.
func (in *Introspector) Authenticate(r *http.Request) (*auth.Principal, error) {
	scheme, tok, err := auth.SchemeBearer, "", error(nil)
	if in.extract != nil {
		tok, err = in.extract(r)
	} else {
		scheme, tok, err = auth.AuthorizationToken(r)
	}
	switch {
	case err != nil:
		return nil, err
	case tok == "":
		return nil, auth.ErrNoCredentials
	}
	// A JWT is the JWT verifier's, whatever its size: it never leaves the
	// process, and the size limit it is judged by is the verifier's.
	if in.cfg.JWT != nil && claims.IsCompactJOSE(tok) {
		return in.cfg.JWT.Authenticate(r)
	}
	if !isToken68(tok) {
		return nil, auth.Invalid("token is not token68", nil)
	}
	a, err := in.introspect(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	binding, err := in.bind.Check(r.Context(), r, scheme, tok, a.cnf, in.cfg.Binding)
	if err != nil {
		return nil, err
	}
	a.p.Binding = binding
	return a.p, nil
}

// Scheme implements [auth.Challenger]: DPoP when [Config.Binding] asks for
// DPoP-bound tokens, so that a 401 challenges for it too.
func (in *Introspector) Scheme() string {
	if in.cfg.Binding.WantsDPoP() {
		return auth.SchemeDPoP
	}
	return auth.SchemeBearer
}

// ChallengeParams implements [auth.ParamChallenger]: the DPoP challenge's
// algs="…".
func (in *Introspector) ChallengeParams() string {
	if in.cfg.Binding.WantsDPoP() {
		return in.bind.ChallengeParams()
	}
	return ""
}

var _ auth.ParamChallenger = (*Introspector)(nil)

// Introspect returns the principal for an opaque token, from the cache or
// the endpoint. A token longer than [Config.MaxTokenBytes] is refused
// without a call. A token that must be bound to its client (a cnf in the
// answer, or [Config.Binding]) cannot be proven without its request and is
// refused: use [Introspector.Authenticate].
func (in *Introspector) Introspect(ctx context.Context, token string) (*auth.Principal, error) {
	a, err := in.introspect(ctx, token)
	if err != nil {
		return nil, err
	}
	if a.cnf.Bound() || in.cfg.Binding != auth.BindingNone {
		return nil, auth.Invalid("sender-constrained token introspected without its request", nil)
	}
	return a.p, nil
}

// introspect returns the caller's own copy of an active token's principal
// and its confirmation, from the cache or the endpoint.
func (in *Introspector) introspect(ctx context.Context, token string) (answer, error) {
	if len(token) > in.cfg.MaxTokenBytes {
		return answer{}, auth.Invalid("token too long", nil)
	}
	key := sha256.Sum256([]byte(token))
	now := in.now()
	if e, hit := in.cached(key, now); hit {
		if e.p == nil {
			return answer{}, auth.Invalid("inactive token (cached)", nil)
		}
		return answer{p: e.p.Clone(), cnf: e.cnf}, nil // the caller's own copy: the cached one stays as answered
	}
	v, err, _ := in.group.Do(string(key[:]), func() (any, error) {
		// The single-flight call is shared: it must not die with the first
		// caller's context, only with its own timeout.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.cfg.Timeout)
		defer cancel()
		return in.call(callCtx, key, token)
	})
	if err != nil {
		return answer{}, err
	}
	// The answer is shared by every caller of the flight, and cached.
	a := v.(answer)
	return answer{p: a.p.Clone(), cnf: a.cnf}, nil
}

func (in *Introspector) cached(key [32]byte, now time.Time) (e entry, hit bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	e, ok := in.cache[key]
	if !ok {
		return entry{}, false
	}
	if !now.Before(e.expires) {
		delete(in.cache, key)
		return entry{}, false
	}
	return e, true
}

func (in *Introspector) store(key [32]byte, e entry, until time.Time) {
	if !until.After(in.now()) {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.cache) >= in.cfg.MaxCacheEntries {
		now := in.now()
		for k, e := range in.cache { // drop expired entries first
			if !now.Before(e.expires) {
				delete(in.cache, k)
			}
		}
		for k := range in.cache { // then arbitrary ones (map order is random)
			if len(in.cache) < in.cfg.MaxCacheEntries {
				break
			}
			delete(in.cache, k)
		}
	}
	e.expires = until
	in.cache[key] = e
}

func (in *Introspector) call(ctx context.Context, key [32]byte, token string) (answer, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if in.cfg.AuthMethod == ClientSecretPost {
		form.Set("client_id", in.cfg.ClientID)
		form.Set("client_secret", in.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return answer{}, auth.Unavailable("cannot build introspection request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.cfg.AuthMethod == ClientSecretBasic {
		// RFC 6749 §2.3.1: form-encode both parts before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	}
	resp, err := in.client.Do(req) // #nosec G704 -- the endpoint is fixed configuration checked by auth.CheckURL, not request input
	if err != nil {
		return answer{}, auth.Unavailable("introspection endpoint unreachable", scrub(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return answer{}, auth.Unavailable(fmt.Sprintf("introspection endpoint answered %d", resp.StatusCode), nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, in.cfg.MaxResponseBytes+1))
	if err != nil {
		return answer{}, auth.Unavailable("introspection response unreadable", scrub(err))
	}
	if int64(len(body)) > in.cfg.MaxResponseBytes {
		return answer{}, auth.Unavailable("introspection response too large", nil)
	}
	// One strict decode: duplicate and case-variant members are refused,
	// and the map that was checked is the one the principal is built from
	// and handlers get as Claims.
	c, err := claims.Decode(body)
	if err != nil {
		return answer{}, auth.Unavailable("introspection response is not a strict JSON object", err)
	}
	active, err := boolMember(c, "active")
	if err != nil {
		return answer{}, err
	}
	now := in.now()
	if !active {
		if in.cfg.NegativeTTL > 0 {
			in.store(key, entry{}, now.Add(in.cfg.NegativeTTL))
		}
		return answer{}, auth.Invalid("inactive token", nil)
	}
	p, exp, err := in.principal(c, now)
	if err != nil {
		return answer{}, err
	}
	cnf, err := bind.ParseConfirmation(c)
	if err != nil {
		return answer{}, errMember
	}
	if in.cfg.CacheTTL > 0 {
		until := now.Add(in.cfg.CacheTTL)
		if !exp.IsZero() && exp.Before(until) {
			until = exp
		}
		in.store(key, entry{p: p, cnf: cnf}, until)
	}
	return answer{p: p, cnf: cnf}, nil
}

// errMember refuses an answer whose RFC 7662 member has the wrong type: the
// endpoint is at fault, not the token, so it is not cached.
var errMember = auth.Unavailable("introspection response has invalid members", nil)

func boolMember(c map[string]any, name string) (bool, error) {
	v, present := c[name]
	if !present {
		return false, nil // RFC 7662 requires active; without it, not active
	}
	b, ok := v.(bool)
	if !ok {
		return false, errMember
	}
	return b, nil
}

// strMember reads an optional string member.
func strMember(c map[string]any, name string) (string, error) {
	v, present := c[name]
	if !present {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errMember
	}
	return s, nil
}

func (in *Introspector) principal(c map[string]any, now time.Time) (*auth.Principal, time.Time, error) {
	var str [6]string // scope, client_id, token_type, sub, iss, username
	for i, name := range [...]string{"scope", "client_id", "token_type", "sub", "iss", "username"} {
		var err error
		if str[i], err = strMember(c, name); err != nil {
			return nil, time.Time{}, err
		}
	}
	scope, clientID, tokenType, sub, iss := str[0], str[1], str[2], str[3], str[4]
	var exp time.Time
	if v, present := c["exp"]; present {
		var ok bool
		if exp, ok = claims.NumericDate(v); !ok {
			return nil, exp, auth.Invalid("invalid exp", nil)
		}
		if !now.Before(exp) {
			return nil, exp, auth.Invalid("expired", nil)
		}
	}
	if v, present := c["nbf"]; present {
		nbf, ok := claims.NumericDate(v)
		if !ok || now.Before(nbf) {
			return nil, exp, auth.Invalid("not yet valid", nil)
		}
	}
	if tokenType != "" && !strings.EqualFold(tokenType, "bearer") && !strings.EqualFold(tokenType, "access_token") && !strings.EqualFold(tokenType, "DPoP") {
		return nil, exp, auth.Invalid("not an access token", nil)
	}
	if iss != "" {
		if in.cfg.Issuer != "" && iss != in.cfg.Issuer {
			return nil, exp, auth.Invalid("wrong issuer", nil)
		}
	} else {
		iss = in.cfg.Issuer
	}
	if in.cfg.Audience != "" {
		aud, ok := claims.StringList(c["aud"], false)
		if !ok || !slices.Contains(aud, in.cfg.Audience) {
			return nil, exp, auth.Invalid("wrong audience", nil)
		}
	}
	if sub == "" {
		sub = clientID // client-credentials tokens often have no sub
	}
	if sub == "" {
		return nil, exp, auth.Invalid("no subject", nil)
	}
	p := &auth.Principal{
		Subject:   sub,
		Issuer:    iss,
		Method:    "introspection",
		Scopes:    strings.Fields(scope),
		Claims:    c,
		ExpiresAt: exp,
	}
	if r, present := c["roles"]; present {
		roles, ok := claims.StringList(r, false)
		if !ok {
			return nil, exp, auth.Invalid("invalid roles", nil)
		}
		p.Roles = roles
	}
	return p, exp, nil
}

// scrub removes the request URL from transport errors: *url.Error carries
// it, and while the token is in the body, not the URL, the log should not
// depend on that.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// CacheLen returns the number of cached answers, for tests and metrics.
func (in *Introspector) CacheLen() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.cache)
}
