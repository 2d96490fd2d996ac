package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Listening is called with the public (and admin, if any) address once the
// gateway accepts connections.
type Listening func(public, admin net.Addr)

// ServerOptions configure a [Server].
type ServerOptions struct {
	// Build is what every gateway is built with (Previous is set by the
	// server).
	Build Options
	// Load reads and checks the configuration: at start and on every
	// reload.
	Load func() (*Config, error)
	// Watch is the configuration file, watched for changes when the
	// configuration says reload: {watch: true}.
	Watch string
	// ShutdownDelay, when set, replaces the configuration's shutdown_delay
	// (tests).
	ShutdownDelay *time.Duration
}

// defaultShutdownDelay is how long /readyz says 503 before the listeners
// drain, when the configuration does not say.
const defaultShutdownDelay = 5 * time.Second

// Server runs gateways: it owns the listeners and serves the current
// gateway, and a reload (SIGHUP through [Server.Reload], POST /reload on
// the admin listener, or a change of the watched file) swaps in a new one
// built from the configuration as it is now — only if it is correct: a
// configuration with problems leaves the old one serving and the problems
// logged and counted. Requests in flight finish on the gateway they
// started with; new ones get the new gateway. No listener is closed unless
// its address changed; the parts whose configuration did not change
// (rate-limit counters, JWKS and API-key caches, the audit chain, service
// health) carry over.
type Server struct {
	so  ServerOptions
	log logger

	mu       sync.Mutex // serializes reloads and listener changes
	cur      atomic.Pointer[generation]
	draining atomic.Bool // after SIGTERM: /readyz says 503
	noDelay  bool        // Gateway.Run: no shutdown_delay unless configured

	ctx           context.Context // Run's, for servers started by a reload
	public, admin *listener
	listening     Listening
	serveWG       sync.WaitGroup
	watchHash     [sha256.Size]byte
	retired       sync.WaitGroup // gateways draining after a reload
}

// generation is one gateway and the requests it is serving.
type generation struct {
	g       *Gateway
	active  atomic.Int64
	retired atomic.Bool
	once    sync.Once
	done    func()
}

func (gen *generation) release() {
	if gen.active.Add(-1) == 0 && gen.retired.Load() {
		gen.close()
	}
}

func (gen *generation) retire() {
	gen.retired.Store(true)
	if gen.active.Load() == 0 {
		gen.close()
	}
}

func (gen *generation) close() {
	gen.once.Do(func() {
		if err := gen.g.Close(); err != nil {
			gen.g.log.errorf("closing the previous configuration: %v", err)
		}
		if gen.done != nil {
			gen.done()
		}
	})
}

// listener is a listening address with its http.Server.
type listener struct {
	addr string
	ln   net.Listener
	srv  *http.Server
}

// NewServer loads the configuration and builds the first gateway.
func NewServer(so ServerOptions) (*Server, error) {
	s := &Server{so: so, log: newLogger(so.Build)}
	s.so.Build.Logger = s.log.Logger
	cfg, err := so.Load()
	if err != nil {
		return nil, err
	}
	o := s.so.Build
	o.Previous = nil
	g, err := Build(cfg, o)
	if err != nil {
		return nil, err
	}
	s.cur.Store(&generation{g: g})
	s.watchHash = fileHash(so.Watch)
	return s, nil
}

// Gateway returns the gateway serving now.
func (s *Server) Gateway() *Gateway { return s.cur.Load().g }

// acquire returns the current generation, counted as serving one more
// request until release.
func (s *Server) acquire() *generation {
	for {
		gen := s.cur.Load()
		gen.active.Add(1)
		if s.cur.Load() == gen {
			return gen
		}
		gen.release() // swapped meanwhile: serve on the new one
	}
}

// ServeHTTP serves r on the current gateway.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gen := s.acquire()
	defer gen.release()
	gen.g.handler.ServeHTTP(w, r)
}

// Reload builds a gateway from the configuration as it is now and, if
// that succeeds, puts it in place of the current one. On failure the
// current gateway keeps serving and the error says why.
func (s *Server) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.reload()
	m := s.Gateway().metrics
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		s.log.Error("reload failed: the previous configuration keeps serving", "problems", errorLines(err))
		return err
	}
	m.reloads.WithLabelValues("ok").Inc()
	s.log.Info("configuration reloaded")
	return nil
}

func (s *Server) reload() error {
	cfg, err := s.so.Load()
	if err != nil {
		return err
	}
	old := s.cur.Load()
	if (cfg.TLS == nil) != (old.g.cfg.TLS == nil) {
		return errors.New("tls: turning HTTPS on or off needs a restart")
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn("configuration warning", "line", w.Line, "key", w.Key, "problem", w.Msg)
	}
	o := s.so.Build
	o.Previous = old.g
	g, err := Build(cfg, o)
	if err != nil {
		return err
	}
	if s.ctx != nil { // running: move listeners whose address changed
		if err := s.moveListeners(cfg); err != nil {
			_ = g.parts.abandon()
			return err
		}
	}
	s.retired.Add(1)
	gen := &generation{g: g}
	old.done = s.retired.Done
	s.cur.Store(gen)
	old.retire()
	return nil
}

// Run serves until ctx is done, then drains in-flight requests and
// returns. Plain HTTP is not listened on when TLS is configured.
func (s *Server) Run(ctx context.Context, listening Listening) error {
	s.mu.Lock()
	s.ctx, s.listening = ctx, listening
	cfg := s.Gateway().cfg
	var err error
	if s.public, err = s.listen(cfg.Listen, "127.0.0.1:8080", s); err != nil {
		s.mu.Unlock()
		return err
	}
	if cfg.Admin != nil {
		if s.admin, err = s.listen(cfg.Admin.Listen, "", s.adminHandler()); err != nil {
			_ = s.public.ln.Close()
			s.mu.Unlock()
			return err
		}
	}
	s.announce()
	if cfg.Reload.Watch && s.so.Watch != "" {
		go s.watch(ctx)
	}
	s.mu.Unlock()

	<-ctx.Done()
	// Draining: /readyz says 503 at once, so that load balancers stop
	// sending; the listeners keep serving for the delay, then the requests
	// in flight finish.
	s.draining.Store(true)
	if d := s.shutdownDelay(); d > 0 {
		s.log.Info("stopping: /readyz answers 503; serving a little longer, then draining", "shutdown_delay", d.String())
		time.Sleep(d) // #nosec -- the operator's shutdown_delay, by design
	}
	s.mu.Lock()
	var wg sync.WaitGroup
	for _, l := range []*listener{s.public, s.admin} {
		if l != nil {
			wg.Go(func() { shutdown(l.srv) })
		}
	}
	wg.Wait()
	s.serveWG.Wait()
	s.mu.Unlock()
	s.retired.Wait()
	if err := s.Gateway().Close(); err != nil {
		s.log.errorf("closing: %v", err)
	}
	return nil
}

// shutdownDelay is the time between SIGTERM and draining.
func (s *Server) shutdownDelay() time.Duration {
	if s.so.ShutdownDelay != nil {
		return *s.so.ShutdownDelay
	}
	if d := s.Gateway().cfg.ShutdownDelay; d != nil {
		return time.Duration(*d)
	}
	if s.noDelay {
		return 0
	}
	return defaultShutdownDelay
}

// listen opens addr (def when empty) and serves h on it.
func (s *Server) listen(addr, def string, h http.Handler) (*listener, error) {
	if addr == "" {
		addr = def
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	var tc *tls.Config
	if h == http.Handler(s) && s.Gateway().tls != nil {
		// The certificates of whichever gateway is serving: a reload that
		// changes them needs no new listener.
		tc = &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return s.Gateway().tls.TLS, nil
			},
			NextProtos: s.Gateway().tls.TLS.NextProtos,
		}
	}
	l := &listener{addr: addr, ln: ln, srv: newHTTPServer(h, tc)}
	s.serveWG.Go(func() {
		var err error
		if tc != nil {
			err = l.srv.ServeTLS(ln, "", "")
		} else {
			err = l.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.errorf("serving %s: %v", addr, err)
		}
	})
	return l, nil
}

func (s *Server) announce() {
	if s.listening == nil {
		return
	}
	var a net.Addr
	if s.admin != nil {
		a = s.admin.ln.Addr()
	}
	s.listening(s.public.ln.Addr(), a)
}

// moveListeners opens the listeners whose address changed in cfg and
// closes the old ones gracefully (their requests finish). It is all or
// nothing: if a new address cannot be opened, nothing changes.
func (s *Server) moveListeners(cfg *Config) error {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	adminAddr := ""
	if cfg.Admin != nil {
		adminAddr = cfg.Admin.Listen
	}
	curAdmin := ""
	if s.admin != nil {
		curAdmin = s.admin.addr
	}
	var newPublic, newAdmin *listener
	var err error
	if listen != s.public.addr {
		if newPublic, err = s.listen(listen, "", s); err != nil {
			return err
		}
	}
	if adminAddr != curAdmin && adminAddr != "" {
		if newAdmin, err = s.listen(adminAddr, "", s.adminHandler()); err != nil {
			if newPublic != nil {
				_ = newPublic.ln.Close()
			}
			return err
		}
	}
	if newPublic != nil {
		old := s.public
		s.public = newPublic
		go shutdown(old.srv)
	}
	if adminAddr != curAdmin {
		if s.admin != nil {
			go shutdown(s.admin.srv)
		}
		s.admin = newAdmin
	}
	if newPublic != nil || adminAddr != curAdmin {
		s.log.infof("listening on %s", s.public.ln.Addr())
		s.announce()
	}
	return nil
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// watch reloads when the configuration file's contents change, checking
// every second.
func (s *Server) watch(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h := fileHash(s.so.Watch)
		if h == s.watchHash {
			continue
		}
		s.watchHash = h
		s.log.Info("the configuration file changed: reloading", "file", s.so.Watch)
		_ = s.Reload()
	}
}

func fileHash(path string) [sha256.Size]byte {
	if path == "" {
		return [sha256.Size]byte{}
	}
	data, _ := os.ReadFile(path) // #nosec G304 -- the operator's configuration file
	return sha256.Sum256(data)
}

// Run serves g until ctx is done, without reloading (see [Server]) and,
// unless the configuration sets shutdown_delay, without a delay before it
// drains.
func (g *Gateway) Run(ctx context.Context, listening Listening) error {
	s := &Server{so: ServerOptions{Build: Options{Logger: g.log.Logger}}, log: g.log, noDelay: true}
	s.cur.Store(&generation{g: g})
	return s.Run(ctx, listening)
}
