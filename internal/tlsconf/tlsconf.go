// Package tlsconf builds the gateway's TLS configuration: modern protocol
// settings, certificates reloaded from disk when they are rotated, ACME
// (RFC 8555) through autocert, and optional client-certificate
// authentication.
package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Options configures [New].
type Options struct {
	// CertFile and KeyFile are a PEM certificate chain and key, reloaded
	// when either file changes. Set both, or ACME.
	CertFile, KeyFile string
	// ACME obtains and renews certificates automatically.
	ACME *ACME
	// ClientCAFile, when set, asks clients for a certificate and verifies
	// any presented against this PEM bundle (mutual TLS). A request without
	// one still completes the handshake; authorization decides.
	ClientCAFile string
	// ReloadEvery is the shortest interval between checks of the
	// certificate files. Default 10 s.
	ReloadEvery time.Duration
	// Logf receives reload errors (the old certificate keeps serving).
	Logf func(format string, args ...any)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// ACME configures automatic certificates.
type ACME struct {
	Domains      []string
	Email        string
	CacheDir     string
	DirectoryURL string       // default Let's Encrypt production
	HTTPClient   *http.Client // for the ACME directory (tests trust a private CA)
}

// Config is a built TLS configuration.
type Config struct {
	TLS *tls.Config
	// Manager is the autocert manager when ACME is on; its HTTPHandler
	// answers http-01 challenges on port 80.
	Manager *autocert.Manager
	reload  *reloader
}

// New builds a server TLS configuration: TLS 1.2 minimum (1.3 preferred
// by Go's negotiation), ECDHE with AEAD ciphers only for TLS 1.2, HTTP/2
// offered.
func New(o Options) (*Config, error) {
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{ // TLS 1.2 only; TLS 1.3 suites are not configurable and all sound
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
	c := &Config{TLS: tc}
	switch {
	case o.ACME != nil && (o.CertFile != "" || o.KeyFile != ""):
		return nil, errors.New("tls: set either certificate files or ACME, not both")
	case o.ACME != nil:
		if len(o.ACME.Domains) == 0 || o.ACME.CacheDir == "" {
			return nil, errors.New("tls: acme needs domains and cache_dir")
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(o.ACME.Domains...),
			Cache:      autocert.DirCache(o.ACME.CacheDir),
			Email:      o.ACME.Email,
		}
		if o.ACME.DirectoryURL != "" || o.ACME.HTTPClient != nil {
			m.Client = &acme.Client{DirectoryURL: o.ACME.DirectoryURL, HTTPClient: o.ACME.HTTPClient}
		}
		c.Manager = m
		tc.GetCertificate = m.GetCertificate
		tc.NextProtos = append(tc.NextProtos, acme.ALPNProto) // tls-alpn-01 challenges
	case o.CertFile != "" && o.KeyFile != "":
		r := &reloader{certFile: o.CertFile, keyFile: o.KeyFile, every: o.ReloadEvery, logf: o.Logf, now: o.Now}
		if r.every == 0 {
			r.every = 10 * time.Second
		}
		if r.now == nil {
			r.now = time.Now
		}
		if err := r.load(); err != nil {
			return nil, err
		}
		c.reload = r
		tc.GetCertificate = r.getCertificate
	default:
		return nil, errors.New("tls: needs cert_file and key_file, or acme")
	}
	if o.ClientCAFile != "" {
		pem, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("tls: client CA bundle holds no PEM certificate")
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// Reload checks the certificate files now (it normally happens on
// handshakes, at most every ReloadEvery). It returns the load error, if
// any; the previous certificate keeps serving.
func (c *Config) Reload() error {
	if c.reload == nil {
		return nil
	}
	return c.reload.load()
}

// reloader serves a certificate from files and reloads it when they change.
type reloader struct {
	certFile, keyFile string
	every             time.Duration
	logf              func(string, ...any)
	now               func() time.Time

	mu      sync.RWMutex
	cert    *tls.Certificate
	certPEM []byte
	keyPEM  []byte
	checked time.Time
	lastErr string
}

func (r *reloader) load() error {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return r.fail(fmt.Errorf("tls: reading certificate: %w", err))
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return r.fail(fmt.Errorf("tls: reading key: %w", err))
	}
	r.mu.RLock()
	same := bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM)
	r.mu.RUnlock()
	if same {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// A half-written file (the cert replaced before the key) fails here;
		// the next check picks up the finished pair.
		return r.fail(errors.New("tls: certificate and key do not form a valid pair; keeping the previous certificate"))
	}
	r.mu.Lock()
	r.cert, r.certPEM, r.keyPEM, r.lastErr = &cert, certPEM, keyPEM, ""
	r.mu.Unlock()
	return nil
}

func (r *reloader) fail(err error) error {
	r.mu.Lock()
	first := r.lastErr != err.Error()
	r.lastErr = err.Error()
	serving := r.cert != nil
	r.mu.Unlock()
	if first && serving && r.logf != nil {
		r.logf("%v", err)
	}
	return err
}

func (r *reloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := r.now()
	r.mu.RLock()
	due := now.Sub(r.checked) >= r.every
	r.mu.RUnlock()
	if due {
		r.mu.Lock()
		r.checked = now
		r.mu.Unlock()
		_ = r.load() // errors are logged; the old certificate keeps serving
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}
