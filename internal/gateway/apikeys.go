package gateway

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
)

// buildAPIKeys opens the API-key store named by auth.api_keys. A "memory"
// store (the default configuration's) gets a random per-process pepper:
// its keys vanish with the process anyway. Other stores take the pepper
// from the environment or a file (see apikey/cli.FileConfig), never from
// the YAML.
func (g *Gateway) buildAPIKeys(cfg *Config, o Options) (auth.Authenticator, string, error) {
	fc := *cfg.Auth.APIKeys
	fc.BaseDir = cfg.dir
	if fc.Header == "" {
		fc.Header = "X-API-Key"
	}
	if fc.Prefix == "" {
		fc.Prefix = "bwk_live"
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
		g.closers = append(g.closers, func() error { return keys.Close(context.Background()) })
		g.keys = keys
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
	keys, closer, err := fc.Open(context.Background(), store, time.Minute)
	if err != nil {
		return nil, "", err
	}
	g.closers = append(g.closers, closer.Close, func() error { return keys.Close(context.Background()) })
	g.keys = keys
	return keys, fc.Header, nil
}
