package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/bulwark-go/bulwark/auth"
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
	// MaxTokenBytes refuses longer tokens without a call. Default 4096.
	MaxTokenBytes int
	// MaxResponseBytes caps the endpoint's answer. Default 64 KiB.
	MaxResponseBytes int64
	// HTTPClient makes the calls. Default: a client with Timeout that does
	// not follow redirects (a redirect would resend the credentials).
	HTTPClient *http.Client

	// JWT, when set, receives tokens shaped like a JWT (three base64url
	// segments) instead of introspecting them.
	JWT auth.Authenticator

	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Introspector is an auth.Authenticator for opaque tokens. It is safe for
// concurrent use.
type Introspector struct {
	cfg    Config
	client *http.Client
	now    func() time.Time
	group  singleflight.Group

	mu    sync.Mutex
	cache map[[32]byte]entry
}

type entry struct {
	p       *auth.Principal // nil for an inactive token
	expires time.Time
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
		cfg.MaxTokenBytes = 4096
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = 64 << 10
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{
			Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Introspector{cfg: cfg, client: client, now: now, cache: make(map[[32]byte]entry)}, nil
}

// Authenticate implements auth.Authenticator.
func (in *Introspector) Authenticate(r *http.Request) (*auth.Principal, error) {
	tok, err := bearerToken(r, in.cfg.MaxTokenBytes)
	if err != nil {
		return nil, err
	}
	if in.cfg.JWT != nil && looksLikeJWT(tok) {
		return in.cfg.JWT.Authenticate(r)
	}
	return in.Introspect(r.Context(), tok)
}

// Introspect returns the principal for an opaque token, from the cache or
// the endpoint.
func (in *Introspector) Introspect(ctx context.Context, token string) (*auth.Principal, error) {
	key := sha256.Sum256([]byte(token))
	now := in.now()
	if p, ok, hit := in.cached(key, now); hit {
		if !ok {
			return nil, auth.Invalid("inactive token (cached)", nil)
		}
		return p, nil
	}
	v, err, _ := in.group.Do(string(key[:]), func() (any, error) {
		// The single-flight call is shared: it must not die with the first
		// caller's context, only with its own timeout.
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.cfg.Timeout)
		defer cancel()
		return in.call(callCtx, key, token)
	})
	if err != nil {
		return nil, err
	}
	return v.(*auth.Principal), nil
}

func (in *Introspector) cached(key [32]byte, now time.Time) (p *auth.Principal, active, hit bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	e, ok := in.cache[key]
	if !ok {
		return nil, false, false
	}
	if !now.Before(e.expires) {
		delete(in.cache, key)
		return nil, false, false
	}
	return e.p, e.p != nil, true
}

func (in *Introspector) store(key [32]byte, p *auth.Principal, until time.Time) {
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
	in.cache[key] = entry{p: p, expires: until}
}

// response is the RFC 7662 §2.2 answer. Unknown members are kept in Claims.
type response struct {
	Active    bool            `json:"active"`
	Scope     string          `json:"scope"`
	ClientID  string          `json:"client_id"`
	Username  string          `json:"username"`
	TokenType string          `json:"token_type"`
	Exp       json.Number     `json:"exp"`
	Nbf       json.Number     `json:"nbf"`
	Sub       string          `json:"sub"`
	Aud       json.RawMessage `json:"aud"`
	Iss       string          `json:"iss"`
}

func (in *Introspector) call(ctx context.Context, key [32]byte, token string) (*auth.Principal, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if in.cfg.AuthMethod == ClientSecretPost {
		form.Set("client_id", in.cfg.ClientID)
		form.Set("client_secret", in.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, auth.Unavailable("cannot build introspection request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.cfg.AuthMethod == ClientSecretBasic {
		// RFC 6749 §2.3.1: form-encode both parts before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	}
	resp, err := in.client.Do(req) // #nosec G704 -- the endpoint is fixed configuration checked by auth.CheckURL, not request input
	if err != nil {
		return nil, auth.Unavailable("introspection endpoint unreachable", scrub(err))
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, auth.Unavailable(fmt.Sprintf("introspection endpoint answered %d", resp.StatusCode), nil)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, in.cfg.MaxResponseBytes+1))
	if err != nil {
		return nil, auth.Unavailable("introspection response unreadable", scrub(err))
	}
	if int64(len(body)) > in.cfg.MaxResponseBytes {
		return nil, auth.Unavailable("introspection response too large", nil)
	}
	var res response
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, auth.Unavailable("introspection response is not a JSON object", nil)
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, auth.Unavailable("introspection response has invalid members", nil)
	}
	now := in.now()
	if !res.Active {
		if in.cfg.NegativeTTL > 0 {
			in.store(key, nil, now.Add(in.cfg.NegativeTTL))
		}
		return nil, auth.Invalid("inactive token", nil)
	}
	p, exp, err := in.principal(&res, claims, now)
	if err != nil {
		return nil, err
	}
	if in.cfg.CacheTTL > 0 {
		until := now.Add(in.cfg.CacheTTL)
		if !exp.IsZero() && exp.Before(until) {
			until = exp
		}
		in.store(key, p, until)
	}
	return p, nil
}

func (in *Introspector) principal(res *response, claims map[string]any, now time.Time) (*auth.Principal, time.Time, error) {
	var exp time.Time
	if res.Exp != "" {
		n, err := res.Exp.Int64()
		if err != nil {
			return nil, exp, auth.Invalid("exp is not an integer", nil)
		}
		exp = time.Unix(n, 0)
		if !now.Before(exp) {
			return nil, exp, auth.Invalid("expired", nil)
		}
	}
	if res.Nbf != "" {
		n, err := res.Nbf.Int64()
		if err != nil || now.Before(time.Unix(n, 0)) {
			return nil, exp, auth.Invalid("not yet valid", nil)
		}
	}
	if res.TokenType != "" && !strings.EqualFold(res.TokenType, "bearer") && !strings.EqualFold(res.TokenType, "access_token") {
		return nil, exp, auth.Invalid("not an access token", nil)
	}
	iss := in.cfg.Issuer
	if res.Iss != "" {
		if in.cfg.Issuer != "" && res.Iss != in.cfg.Issuer {
			return nil, exp, auth.Invalid("wrong issuer", nil)
		}
		iss = res.Iss
	}
	if in.cfg.Audience != "" && !hasAudience(res.Aud, in.cfg.Audience) {
		return nil, exp, auth.Invalid("wrong audience", nil)
	}
	sub := res.Sub
	if sub == "" {
		sub = res.ClientID // client-credentials tokens often have no sub
	}
	if sub == "" {
		return nil, exp, auth.Invalid("no subject", nil)
	}
	p := &auth.Principal{
		Subject:   sub,
		Issuer:    iss,
		Method:    "introspection",
		Scopes:    strings.Fields(res.Scope),
		Claims:    claims,
		ExpiresAt: exp,
	}
	if roles, ok := claims["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				p.Roles = append(p.Roles, s)
			}
		}
	}
	return p, exp, nil
}

func hasAudience(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
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
