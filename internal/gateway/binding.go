package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/auth/denylist"
	denyredis "github.com/bulwark-go/bulwark/auth/denylist/redisstore"
	denysql "github.com/bulwark-go/bulwark/auth/denylist/sqlstore"
	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/auth/redisreplay"
)

// Sender-constrained tokens and revocation: the YAML of auth.dpop,
// auth.mtls, auth.denylist, auth.jwt[].binding,
// auth.jwt[].backchannel_logout and routes[].binding, their checks, and
// how they reach the JWT verifier. The back-channel logout endpoint and
// the deny-list's admin endpoint are in backchannel.go.

// DPoPConfig is auth.dpop: how DPoP proofs (RFC 9449) are checked.
type DPoPConfig struct {
	// Algorithms proofs may be signed with. Default ES256, ES384, EdDSA,
	// PS256, RS256.
	Algorithms []string `yaml:"algorithms"`
	// ProofWindow is how far a proof's iat may be from now. Default 60s.
	ProofWindow Duration `yaml:"proof_window"`
	// ReplayStore remembers proofs' jti: memory (per instance) or
	// redis://host:port/db, shared by the fleet (a proof replayed to
	// another instance is refused there too). Default: the Redis of
	// ratelimit.store when it is one, else memory.
	ReplayStore string `yaml:"replay_store"`
	// NonceSecretEnv names the environment variable holding the secret
	// (at least 32 bytes, the same on every instance) of server-provided
	// nonces: proofs must then carry a nonce the gateway issued.
	NonceSecretEnv string `yaml:"nonce_secret_env"`
}

// MTLSConfig is auth.mtls: where the client certificate of
// certificate-bound tokens (RFC 8705) comes from.
type MTLSConfig struct {
	// CertificateHeader is the header in which a TLS-terminating proxy
	// listed in trusted_proxies forwards the client certificate (RFC
	// 9440 Client-Cert). Default none: the connection's own certificate
	// (tls.client_ca_file).
	CertificateHeader string `yaml:"certificate_header"`
}

// DenyListConfig is auth.denylist: the JWT deny-list by jti, session and
// subject.
type DenyListConfig struct {
	// Store is memory (default; per instance), sqlite://PATH,
	// postgres://… or redis://…: every instance of a fleet uses the same.
	Store string `yaml:"store"`
	// Retention is how long an entry lives: at least the longest access
	// token lifetime. Default 24h.
	Retention Duration `yaml:"retention"`
	// Resync is how often the store is read when its channel says
	// nothing (the bound while the channel is down). Default 10s.
	Resync Duration `yaml:"resync"`
}

// BackchannelLogoutConfig is auth.jwt[].backchannel_logout.
type BackchannelLogoutConfig struct {
	// ClientIDs are the client ids the provider addresses logout tokens
	// to (their aud). Required.
	ClientIDs []string `yaml:"client_ids"`
}

// checkBinding checks what this file adds to the configuration.
func (c *Config) checkBinding(errs *[]error) {
	for i, j := range c.Auth.JWT {
		key := idx("auth.jwt", i)
		if _, err := auth.ParseBindingPolicy(j.Binding); err != nil {
			c.problem(errs, key+".binding", "%v", err)
		}
		if b := j.BackchannelLogout; b != nil {
			if len(b.ClientIDs) == 0 {
				c.problem(errs, key+".backchannel_logout.client_ids", "required: the client ids the provider sends logout tokens to")
			}
			for k, id := range b.ClientIDs {
				if id == "" {
					c.problem(errs, idx(key+".backchannel_logout.client_ids", k), "empty client id")
				}
			}
		}
	}
	for i, r := range c.Routes {
		key := idx("routes", i)
		pol, err := auth.ParseBindingPolicy(r.Binding)
		switch {
		case err != nil:
			c.problem(errs, key+".binding", "%v", err)
		case pol != auth.BindingNone && r.Auth == "none":
			c.problem(errs, key+".binding", "a binding on an auth: none route would never be checked")
		case (pol == auth.BindingDPoP || pol == auth.BindingAny) && len(c.Auth.JWT) == 0:
			c.problem(errs, key+".binding", "%s needs auth.jwt: only JWT access tokens can be DPoP-bound here", r.Binding)
		case pol == auth.BindingMTLS && len(c.Auth.JWT) == 0 && (c.TLS == nil || c.TLS.ClientCAFile == ""):
			c.problem(errs, key+".binding", "mtls needs auth.jwt or tls.client_ca_file")
		}
	}
	if d := c.Auth.DPoP; d != nil {
		if len(c.Auth.JWT) == 0 {
			c.problem(errs, "auth.dpop", "needs auth.jwt")
		}
		if s := d.ReplayStore; s != "" && s != "memory" && !strings.HasPrefix(s, "redis://") && !strings.HasPrefix(s, "rediss://") {
			c.problem(errs, "auth.dpop.replay_store", "must be memory or redis://host:port/db")
		}
		if d.NonceSecretEnv != "" {
			if v := os.Getenv(d.NonceSecretEnv); len(v) < 32 {
				c.problem(errs, "auth.dpop.nonce_secret_env", "environment variable %s must hold at least 32 bytes", d.NonceSecretEnv)
			}
		}
	}
	if m := c.Auth.MTLS; m != nil {
		if len(c.Auth.JWT) == 0 {
			c.problem(errs, "auth.mtls", "needs auth.jwt")
		}
		if m.CertificateHeader != "" && len(c.TrustedProxies) == 0 {
			c.problem(errs, "auth.mtls.certificate_header", "needs trusted_proxies: only a trusted proxy may say which certificate the client used")
		}
	}
	if d := c.Auth.DenyList; d != nil {
		if len(c.Auth.JWT) == 0 {
			c.problem(errs, "auth.denylist", "needs auth.jwt: it refuses JWT access tokens")
		}
		switch s := d.Store; {
		case s == "", s == "memory", strings.HasPrefix(s, "sqlite://"), strings.HasPrefix(s, "postgres://"),
			strings.HasPrefix(s, "postgresql://"), strings.HasPrefix(s, "redis://"), strings.HasPrefix(s, "rediss://"):
		default:
			c.problem(errs, "auth.denylist.store", "must be memory, sqlite://PATH, postgres://… or redis://…")
		}
		if d.Retention < 0 || time.Duration(d.Retention) > denylist.MaxRetention {
			c.problem(errs, "auth.denylist.retention", "must be between 0 (default 24h) and 90d")
		}
		if d.Resync < 0 || (d.Resync > 0 && time.Duration(d.Resync) < 100*time.Millisecond) {
			c.problem(errs, "auth.denylist.resync", "must be at least 100ms (default 10s)")
		}
	}
	if k := c.Auth.APIKeys; k != nil {
		switch n := k.Notify; {
		case n == "", n == "none", strings.HasPrefix(n, "redis://"), strings.HasPrefix(n, "rediss://"):
		default:
			c.problem(errs, "auth.api_keys.notify", "must be none or redis://… (absent: the store's own channel)")
		}
	}
}

// wantsDenyList reports whether the JWT deny-list is configured, or
// needed by back-channel logout.
func (c *Config) wantsDenyList() bool {
	if c.Auth.DenyList != nil {
		return true
	}
	for _, j := range c.Auth.JWT {
		if j.BackchannelLogout != nil {
			return true
		}
	}
	return false
}

// applyBinding maps auth.jwt[].binding, backchannel_logout, auth.dpop
// and auth.mtls onto the verifier's configuration: what needs no I/O (the
// replay store and the deny-list are set by bindJWT).
func applyBinding(jc *jwt.Config, cfg *Config) {
	for i, j := range cfg.Auth.JWT {
		if i >= len(jc.Issuers) {
			break
		}
		jc.Issuers[i].Binding, _ = auth.ParseBindingPolicy(j.Binding) // checked in checkBinding
		if j.BackchannelLogout != nil {
			jc.Issuers[i].LogoutAudiences = j.BackchannelLogout.ClientIDs
		}
	}
	for _, r := range cfg.Routes {
		if pol, _ := auth.ParseBindingPolicy(r.Binding); pol.WantsDPoP() {
			jc.ChallengeDPoP = true // a 401 there says DPoP algs="…"
		}
	}
	if d := cfg.Auth.DPoP; d != nil {
		jc.DPoP.Algorithms = d.Algorithms
		jc.DPoP.ProofWindow = time.Duration(d.ProofWindow)
		if d.NonceSecretEnv != "" {
			jc.DPoP.NonceSecret = []byte(os.Getenv(d.NonceSecretEnv))
		}
	}
	if m := cfg.Auth.MTLS; m != nil && m.CertificateHeader != "" {
		jc.MTLS.CertificateHeader = m.CertificateHeader
		jc.MTLS.TrustedProxies, _ = parsePrefixes(cfg.TrustedProxies)
	}
}

// replayStoreURL is where DPoP proofs' jti are remembered:
// auth.dpop.replay_store when set; else the Redis of ratelimit.store when
// the gateway has one (the fleet already shares it, and a proof replayed
// to another instance must be refused there too); else memory.
func replayStoreURL(cfg *Config) string {
	if d := cfg.Auth.DPoP; d != nil && d.ReplayStore != "" {
		return d.ReplayStore
	}
	if s := cfg.RateLimit.Store; strings.HasPrefix(s, "redis://") || strings.HasPrefix(s, "rediss://") {
		return s
	}
	return "memory"
}

// jwtFingerprint is the key of the verifier part: everything it is built
// from, the nonce secret and the deny-list included.
func jwtFingerprint(cfg *Config) string {
	nonce := ""
	if d := cfg.Auth.DPoP; d != nil && d.NonceSecretEnv != "" {
		nonce = os.Getenv(d.NonceSecretEnv)
	}
	return fingerprint(cfg.Auth.JWT, cfg.Auth.DPoP, cfg.Auth.MTLS, cfg.Auth.DenyList, cfg.wantsDenyList(),
		cfg.TrustedProxies, cfg.TLS != nil, nonce, replayStoreURL(cfg))
}

// bindJWT gives the verifier what needs I/O or other parts: the shared
// replay store, the deny-list, and the origin proofs' htu are checked
// against (https when the gateway or a trusted proxy says so, and the
// Host the client asked for). It returns what closes with the verifier.
func (g *Gateway) bindJWT(jc *jwt.Config, cfg *Config, o Options, list *denylist.List) (func() error, error) {
	jc.DPoP.Origin = func(r *http.Request) string {
		scheme := "http"
		if (g.secure != nil && g.secure(r)) || r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host
	}
	if list != nil {
		jc.Revoked = list.Revoked
	}
	url := replayStoreURL(cfg)
	if url == "memory" || o.CheckOnly {
		return nil, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("auth.dpop.replay_store: not a valid redis:// URL") // it may hold a password: not echoed
	}
	client := redis.NewClient(opts)
	store, err := redisreplay.New(redisreplay.Config{Client: client, Now: jc.Now})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	jc.DPoP.Replay = store
	g.addDependency(dependency{name: "dpop replay store", check: store.Ping})
	return client.Close, nil
}

// buildDenyList opens the deny-list that auth.denylist names (memory when
// only back-channel logout asks for one), or takes it from the previous
// gateway when its configuration did not change.
func (g *Gateway) buildDenyList(cfg *Config, o Options, prev *parts) (*denylist.List, error) {
	if !cfg.wantsDenyList() {
		return nil, nil
	}
	dc := DenyListConfig{}
	if cfg.Auth.DenyList != nil {
		dc = *cfg.Auth.DenyList
	}
	key := fingerprint(dc, cfg.dir, o.CheckOnly)
	if v, ok := g.parts.take(prev, "denylist", key); ok {
		g.deny = v.(*denylist.List)
		return g.deny, nil
	}
	store := dc.Store
	if o.CheckOnly {
		store = "memory" // nothing is opened by -check
	}
	var (
		s       denylist.Store
		closers []func() error
	)
	switch {
	case store == "" || store == "memory":
		s = denylist.NewMemoryStore(o.Now)
	case strings.HasPrefix(store, "redis://"), strings.HasPrefix(store, "rediss://"):
		opts, err := redis.ParseURL(store)
		if err != nil {
			return nil, errors.New("auth.denylist.store: not a valid redis:// URL")
		}
		client := redis.NewClient(opts)
		closers = append(closers, client.Close)
		if s, err = denyredis.New(denyredis.Config{Client: client, Now: o.Now}); err != nil {
			_ = client.Close()
			return nil, err
		}
	default:
		db, postgres, err := cli.OpenDB(store, cfg.dir)
		if err != nil {
			return nil, fmt.Errorf("auth.denylist.store: %w", err)
		}
		closers = append(closers, db.Close)
		dialect := denysql.SQLite
		if postgres {
			dialect = denysql.Postgres
		}
		if s, err = denysql.New(context.Background(), db, dialect, o.Now); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("auth.denylist.store: %w", err)
		}
	}
	m := g.metrics.revocation
	list, err := denylist.New(denylist.Config{
		Store: s, Retention: time.Duration(dc.Retention), Resync: time.Duration(dc.Resync), Now: o.Now,
		OnWatch: m.onWatch("denylist"),
		OnSync:  func(n int) { m.entries.Set(float64(n)) },
	})
	if err != nil {
		for _, c := range closers {
			_ = c()
		}
		return nil, err
	}
	if !o.CheckOnly {
		// Read it now, so that the first requests are not refused as
		// unjudged; a store that does not answer leaves that to the
		// background (and to readiness).
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = list.Sync(ctx)
		cancel()
	}
	g.parts.add("denylist", key, list, func() error {
		err := list.Close()
		for _, c := range closers {
			err = errors.Join(err, c())
		}
		return err
	})
	g.deny = list
	return list, nil
}

// routeBinding refuses, on a route with a binding, credentials that were
// not bound so.
func routeBinding(authn *auth.Auth, r Route, h http.Handler) http.Handler {
	pol, _ := auth.ParseBindingPolicy(r.Binding) // checked in checkBinding
	return authn.RequireBinding(pol)(h)
}
