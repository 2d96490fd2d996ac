package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/auth/jwt"
	"github.com/bulwark-go/bulwark/internal/tlsconf"
)

// buildAuth builds the authenticators: JWT issuers, API keys, client
// certificates. The JWT verifier (its JWKS cache) and the API keys (their
// cache) are taken from the previous gateway when their configuration did
// not change.
func (g *Gateway) buildAuth(cfg *Config, o Options, prev *parts) (*auth.Auth, string, error) {
	var list []auth.Authenticator
	var errs []error
	if len(cfg.Auth.JWT) > 0 {
		v, err := g.buildJWT(cfg, o, prev)
		if err != nil {
			errs = append(errs, err)
		} else {
			list = append(list, v)
			for _, j := range cfg.Auth.JWT {
				name := "jwks " + j.Issuer
				g.addDependency(dependency{name: name, check: func(context.Context) error { return v.IssuerReady(j.Issuer) }})
				g.authDeps = append(g.authDeps, name)
			}
		}
	}
	header := ""
	if cfg.Auth.APIKeys != nil {
		keys, h, err := g.buildAPIKeys(cfg, o, prev)
		if err != nil {
			errs = append(errs, err)
		} else {
			list = append(list, keys)
			g.keys, header = keys, h
			g.addDependency(dependency{name: "api keys", check: apiKeysReachable(keys)})
			g.authDeps = append(g.authDeps, "api keys")
		}
	}
	if g.tls != nil && cfg.TLS.ClientCAFile != "" {
		list = append(list, tlsconf.ClientCertAuthenticator{})
		g.addDependency(dependency{name: "client certificates", check: func(context.Context) error { return nil }})
		g.authDeps = append(g.authDeps, "client certificates")
	}
	if len(errs) > 0 {
		return nil, "", errors.Join(errs...)
	}
	if len(list) == 0 {
		return nil, "", nil // no route may require auth; config.check made sure
	}
	a, err := auth.New(auth.Config{Authenticators: list})
	return a, header, err
}

func (g *Gateway) buildJWT(cfg *Config, o Options, prev *parts) (*jwt.Verifier, error) {
	list, err := g.buildDenyList(cfg, o, prev) // binding.go
	if err != nil {
		return nil, err
	}
	if list != nil {
		g.addDependency(dependency{name: "denylist", check: func(context.Context) error { return list.Ready() }})
	}
	key := jwtFingerprint(cfg)
	if v, ok := g.parts.take(prev, "jwt", key); ok {
		g.jwt = v.(*jwt.Verifier)
		return g.jwt, nil
	}
	jc := jwtConfig(cfg, o.Now)
	closeBound, err := g.bindJWT(&jc, cfg, o, list)
	if err != nil {
		return nil, err
	}
	m := g.metrics
	jc.OnKeysFetched = func(issuer string, err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.jwks.WithLabelValues(issuer, result).Inc()
	}
	v, err := jwt.New(jc)
	if err != nil {
		if closeBound != nil {
			_ = closeBound()
		}
		return nil, err
	}
	g.parts.add("jwt", key, v, func() error {
		err := v.Close()
		if closeBound != nil {
			err = errors.Join(err, closeBound())
		}
		return err
	})
	g.jwt = v
	return v, nil
}

// jwtConfig maps auth.jwt.
func jwtConfig(cfg *Config, now func() time.Time) jwt.Config {
	jc := jwt.Config{Now: now}
	for _, j := range cfg.Auth.JWT {
		iss := jwt.Issuer{
			Issuer:     j.Issuer,
			Audiences:  []string{j.Audience},
			Algorithms: j.Algorithms,
			JWKSURL:    j.JWKSURL,
			Discovery:  j.JWKSURL == "",
			// require_typ: false is the operator's explicit choice for a
			// provider that does not send typ at+jwt.
			DangerouslySkipTypeCheck: j.RequireTyp != nil && !*j.RequireTyp,
			AllowedJWKSHosts:         j.AllowedJWKSHosts,
		}
		if len(iss.Algorithms) == 0 {
			iss.Algorithms = []string{"RS256", "ES256", "EdDSA"}
		}
		jc.Issuers = append(jc.Issuers, iss)
	}
	applyBinding(&jc, cfg) // binding.go
	return jc
}

// buildAPIKeys opens the API-key store named by auth.api_keys. A "memory"
// store (the default configuration's) gets a random per-process pepper:
// its keys vanish with the process anyway. Other stores take the pepper
// from the environment or a file (see apikey/cli.FileConfig), never from
// the YAML.
func (g *Gateway) buildAPIKeys(cfg *Config, o Options, prev *parts) (*apikey.Keys, string, error) {
	fc := *cfg.Auth.APIKeys
	fc.BaseDir = cfg.dir
	if fc.Header == "" {
		fc.Header = "X-API-Key"
	}
	if fc.Prefix == "" {
		fc.Prefix = "bwk_live"
	}
	key := apiKeysFingerprint(fc, o.CheckOnly)
	if v, ok := g.parts.take(prev, "apikeys", key); ok {
		return v.(*apikey.Keys), fc.Header, nil
	}
	if fc.Store == "" || fc.Store == "memory" {
		pepper := make([]byte, 32)
		_, _ = rand.Read(pepper)
		keys, err := apikey.New(apikey.Config{
			Store: apikey.NewMemoryStore(), Prefix: fc.Prefix, Pepper: pepper, Header: fc.Header, Now: o.Now,
		})
		if err != nil {
			return nil, "", err
		}
		g.parts.add("apikeys", key, keys, func() error { return keys.Close(context.Background()) })
		return keys, fc.Header, nil
	}
	if fc.SealKeysEnv != "" || fc.SealKeysFile != "" {
		s, err := SealerFor(fc)
		if err != nil {
			return nil, "", fmt.Errorf("api_keys seal keys: %w", err)
		}
		fc.Sealer = s
	}
	store := "" // the configured one
	if o.CheckOnly {
		store = "memory" // the pepper, prefix and header are still checked
	}
	if !o.CheckOnly {
		// Revocations made elsewhere reach this instance at once (binding.go).
		fc.Watch, fc.OnWatch = true, g.metrics.revocation.onWatch("api_keys")
	} else {
		fc.Notify = "none"
	}
	keys, closer, err := fc.Open(context.Background(), store, time.Minute)
	if err != nil {
		return nil, "", err
	}
	g.parts.add("apikeys", key, keys, closer.Close)
	return keys, fc.Header, nil
}

// apiKeysFingerprint covers what the API keys are built from: the
// section, and the pepper and seal keys wherever they are kept.
func apiKeysFingerprint(fc cli.FileConfig, checkOnly bool) string {
	pepperEnv := fc.PepperEnv
	if pepperEnv == "" && fc.PepperFile == "" {
		pepperEnv = "BULWARK_APIKEY_PEPPER"
	}
	return fingerprint(fc, checkOnly, os.Getenv(pepperEnv), os.Getenv(fc.SealKeysEnv),
		fileContent(pathIn(fc.BaseDir, fc.PepperFile)), fileContent(pathIn(fc.BaseDir, fc.SealKeysFile)))
}
