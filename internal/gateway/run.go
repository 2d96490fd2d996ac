package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultConfig returns the configuration `bulwark serve` uses without
// -config: loopback only, the demo API, API keys in memory, a per-IP
// limit. It is a YAML file so that it doubles as a starting point.
func DefaultConfig() []byte { return bytes.Clone(defaultYAML) }

// CreateDemoKey creates an API key in the in-memory store of the default
// configuration and returns it. It is shown once, to the operator.
func (g *Gateway) CreateDemoKey(ctx context.Context) (string, error) {
	if g.keys == nil {
		return "", errors.New("no API keys configured")
	}
	key, _, err := g.keys.Create(ctx, apikey.Spec{Name: "demo", Owner: "bulwark serve", Scopes: []string{"demo"}})
	if err != nil {
		return "", err
	}
	return key, nil
}

// APIKeyHeader is the header API keys are read from.
func (g *Gateway) APIKeyHeader() string {
	if g.cfg.Auth.APIKeys == nil || g.cfg.Auth.APIKeys.Header == "" {
		return "X-API-Key"
	}
	return g.cfg.Auth.APIKeys.Header
}

// Listening is called with the public (and admin, if any) address once the
// gateway accepts connections.
type Listening func(public, admin net.Addr)

// Run serves until ctx is done, then drains in-flight requests and
// returns. Plain HTTP is not listened on when TLS is configured.
func (g *Gateway) Run(ctx context.Context, listening Listening) error {
	addr := g.cfg.Listen
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	var tc *tls.Config
	if g.tls != nil {
		tc = g.tls.TLS
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	var adminLn net.Listener
	if g.cfg.Admin != nil {
		if adminLn, err = net.Listen("tcp", g.cfg.Admin.Listen); err != nil {
			_ = ln.Close()
			return fmt.Errorf("admin listen %s: %w", g.cfg.Admin.Listen, err)
		}
	}
	if listening != nil {
		var a net.Addr
		if adminLn != nil {
			a = adminLn.Addr()
		}
		listening(ln.Addr(), a)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = serve(ctx, newHTTPServer(g.handler, tc), ln) })
	if adminLn != nil {
		wg.Go(func() { errs[1] = serve(ctx, newHTTPServer(g.admin, nil), adminLn) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
