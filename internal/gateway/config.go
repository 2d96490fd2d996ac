package gateway

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/internal/duration"
)

// Config is the gateway's YAML configuration. Key names are a contract
// with operators' files: never rename one. Parse and LoadFile read it
// (load.go); check.go holds the checks that need no package.
type Config struct {
	Listen         string             `yaml:"listen"`
	TLS            *TLSConfig         `yaml:"tls"`
	Upstream       string             `yaml:"upstream"` // the short form of services: {default: {targets: [URL]}}
	Services       map[string]Service `yaml:"services"`
	TrustedProxies []string           `yaml:"trusted_proxies"`
	Hosts          []string           `yaml:"hosts"`
	Headers        *HeadersConfig     `yaml:"headers"`
	CORS           *CORSConfig        `yaml:"cors"`
	Auth           AuthConfig         `yaml:"auth"`
	RateLimit      RateLimitConfig    `yaml:"ratelimit"`
	Routes         []Route            `yaml:"routes"`
	Paths          PathsConfig        `yaml:"paths"`
	// ForwardUnderscoreHeaders lists request headers whose names contain
	// "_" that reach the upstream; every other such header is dropped.
	ForwardUnderscoreHeaders []string     `yaml:"forward_underscore_headers"`
	Audit                    AuditConfig  `yaml:"audit"`
	Admin                    *AdminConfig `yaml:"admin"`
	Reload                   ReloadConfig `yaml:"reload"`
	// ShutdownDelay is how long, after SIGTERM, /readyz says 503 while
	// the listeners keep serving (so that load balancers stop sending
	// first), before in-flight requests are drained. Default 5s.
	ShutdownDelay *Duration `yaml:"shutdown_delay"`
	Log           LogConfig `yaml:"log"`

	// dir is the folder of the config file: relative paths resolve there.
	dir string

	// derived are the routes derived from services' OpenAPI documents.
	derived []derivedRoute
	// lines maps a key path ("routes[1].schema") to its line.
	lines map[string]int
	// warnings are findings that do not stop the gateway (a route that
	// can never match).
	warnings []*ConfigError
	// reported are key paths whose problem is already reported (unknown,
	// misspelled or of the wrong type): the checks skip them.
	reported map[string]bool
}

// TLSConfig turns on HTTPS.
type TLSConfig struct {
	CertFile     string      `yaml:"cert_file"`
	KeyFile      string      `yaml:"key_file"`
	ACME         *ACMEConfig `yaml:"acme"`
	ClientCAFile string      `yaml:"client_ca_file"` // mTLS: client certificates must chain to this bundle
}

// ACMEConfig obtains certificates automatically (RFC 8555).
type ACMEConfig struct {
	Domains      []string `yaml:"domains"`
	Email        string   `yaml:"email"`
	CacheDir     string   `yaml:"cache_dir"`
	DirectoryURL string   `yaml:"directory_url"`
}

// Service is one upstream service: the targets requests are balanced
// over, how, and how their health is judged.
type Service struct {
	// Targets are http:// or https:// URLs of scheme, host and port.
	Targets []string `yaml:"targets"`

	// OpenAPI is an OpenAPI 3.0 or 3.1 document (a file, relative to the
	// configuration's directory) describing the service. Without routes
	// naming the service, the gateway derives one route from it: the
	// document's paths and methods are served, every request is checked
	// against its operation, and authentication and scopes come from the
	// operations' security requirements. Routes naming the service
	// inherit the document and may override auth and scopes.
	OpenAPI string `yaml:"openapi"`
	// LB is round_robin (default), least_requests or ip_hash.
	LB       string          `yaml:"lb"`
	Timeouts ServiceTimeouts `yaml:"timeouts"`
	// Retries is how many other targets an idempotent request without a
	// body may try when a target refuses the connection. Default 1.
	Retries *int `yaml:"retries"`
	// EjectAfter consecutive failures (connection errors, timeouts, 502,
	// 503, 504) take a target out of the rotation for EjectFor. Default 5
	// and 30s; 0 turns passive health off.
	EjectAfter *int     `yaml:"eject_after"`
	EjectFor   Duration `yaml:"eject_for"`
	// Health is the optional active health check.
	Health *HealthCheck `yaml:"health"`
	// For https targets: the CA bundle to verify them with (default the
	// system's), a client certificate for mTLS, and the name to verify
	// (default the target's host).
	CAFile         string `yaml:"ca_file"`
	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`
	ServerName     string `yaml:"server_name"`
}

// ServiceTimeouts bound the calls to a service's targets.
type ServiceTimeouts struct {
	Connect        Duration `yaml:"connect"`         // default 5s
	ResponseHeader Duration `yaml:"response_header"` // default 30s; then 504
	Idle           Duration `yaml:"idle"`            // idle keep-alive connections, default 90s
}

// HealthCheck is an active health check: GET path on every target.
type HealthCheck struct {
	Path          string   `yaml:"path"`
	Interval      Duration `yaml:"interval"`       // default 10s
	Timeout       Duration `yaml:"timeout"`        // default 2s
	HealthyStatus []int    `yaml:"healthy_status"` // default [200]
}

// HeadersConfig selects the HTTPS mode: off, api or browser.
type HeadersConfig struct {
	RequireHTTPS string `yaml:"require_https"`
}

// CORSConfig configures cross-origin access. Absent means no CORS headers.
type CORSConfig struct {
	AllowedOrigins   []string `yaml:"allowed_origins"`
	AllowedMethods   []string `yaml:"allowed_methods"`
	AllowedHeaders   []string `yaml:"allowed_headers"`
	AllowCredentials bool     `yaml:"allow_credentials"`
}

// AuthConfig lists the credential kinds the gateway accepts.
type AuthConfig struct {
	JWT     []JWTIssuer     `yaml:"jwt"`
	APIKeys *cli.FileConfig `yaml:"api_keys"` // store, header, prefix; pepper_env/pepper_file for the pepper
	// DPoP, MTLS and DenyList are in binding.go: how DPoP proofs and
	// certificate-bound tokens are checked, and the JWT deny-list that
	// back-channel logout feeds.
	DPoP     *DPoPConfig     `yaml:"dpop"`
	MTLS     *MTLSConfig     `yaml:"mtls"`
	DenyList *DenyListConfig `yaml:"denylist"`
}

// JWTIssuer is one trusted token issuer.
type JWTIssuer struct {
	Issuer     string   `yaml:"issuer"`
	Audience   string   `yaml:"audience"`
	JWKSURL    string   `yaml:"jwks_url"`
	Algorithms []string `yaml:"algorithms"`
	RequireTyp *bool    `yaml:"require_typ"` // default true (RFC 9068 at+jwt)
	// AllowedJWKSHosts lists more hosts the keys may be fetched from (an
	// issuer whose discovery names a jwks_uri elsewhere, as Google's does).
	AllowedJWKSHosts []string `yaml:"allowed_jwks_hosts"`
	// Binding is none (default), dpop, mtls or any: what this issuer's
	// tokens must be bound to (binding.go). A token whose cnf binds it is
	// held to that binding whatever this says.
	Binding string `yaml:"binding"`
	// BackchannelLogout accepts this issuer's OIDC back-channel logout
	// tokens at /backchannel-logout (backchannel.go).
	BackchannelLogout *BackchannelLogoutConfig `yaml:"backchannel_logout"`
}

// RateLimitConfig defines named policies.
type RateLimitConfig struct {
	Store    string            `yaml:"store"` // memory (default) or redis://host:port/db
	Policies []RateLimitPolicy `yaml:"policies"`
	Default  []string          `yaml:"default"`
}

// RateLimitPolicy is limit per period, sustained, with burst at once.
type RateLimitPolicy struct {
	Name   string   `yaml:"name"`
	Key    string   `yaml:"key"` // ip, subject, api_key, route, header:NAME
	Limit  int      `yaml:"limit"`
	Period Duration `yaml:"period"`
	Burst  int      `yaml:"burst"`
}

// Route is one path prefix (on one host, or any) and what it requires.
// The first route that matches a request's host and canonical path wins.
type Route struct {
	Path          string   `yaml:"path"`
	Host          string   `yaml:"host"` // exact, or *.example.com for one label; default any host
	Service       string   `yaml:"service"`
	StripPrefix   bool     `yaml:"strip_prefix"`   // forward the path without the route's prefix
	RewritePrefix string   `yaml:"rewrite_prefix"` // forward it with this prefix instead
	Auth          string   `yaml:"auth"`           // none | required
	Scopes        string   `yaml:"scopes"`
	Methods       []string `yaml:"methods"`
	MaxBody       Size     `yaml:"max_body"`
	JSON          bool     `yaml:"json"`
	Schema        string   `yaml:"schema"`
	// OpenAPI checks the route's requests against an OpenAPI document, as
	// a service's openapi does (default: the service's).
	OpenAPI            string   `yaml:"openapi"`
	RateLimit          []string `yaml:"ratelimit"`
	ForwardCredentials bool     `yaml:"forward_credentials"`
	// Cache "upstream" keeps the upstream's Cache-Control on a route that
	// authenticates; by default one that lets a shared cache store the
	// answer is replaced by "private, no-store".
	Cache string `yaml:"cache"`
	// Binding is none (default), dpop, mtls or any: what the credential
	// on this route must be bound to, beyond what its issuer requires
	// (binding.go).
	Binding string `yaml:"binding"`
}

// PathsConfig says how request paths are made canonical before routing.
type PathsConfig struct {
	MergeSlashes *bool `yaml:"merge_slashes"` // default true: "//" is "/"
}

// AuditConfig says where access records go.
type AuditConfig struct {
	Output      string `yaml:"output"` // stdout (default), stderr or a file path
	HMACKeyFile string `yaml:"hmac_key_file"`
	// Sync is when a chained audit file is flushed to stable storage:
	// every_record, or interval (default: every second) or a duration.
	Sync        string                 `yaml:"sync"`
	Checkpoints *AuditCheckpointConfig `yaml:"checkpoints"`
	Rotate      *AuditRotateConfig     `yaml:"rotate"`
	Aggregate   *AuditAggregateConfig  `yaml:"aggregate"`
}

// AuditCheckpointConfig writes signed checkpoints of the chained audit
// file to a second file.
type AuditCheckpointConfig struct {
	File  string `yaml:"file"`
	Every string `yaml:"every"` // a number of records (default 1000) or a duration (1m)
}

// AuditRotateConfig rotates the chained audit file.
type AuditRotateConfig struct {
	MaxSize Size     `yaml:"max_size"`
	MaxAge  Duration `yaml:"max_age"`
	Keep    int      `yaml:"keep"` // rotated files kept (default all)
}

// AuditAggregateConfig folds floods of identical denials above a rate.
type AuditAggregateConfig struct {
	After string `yaml:"after"` // e.g. 50/s or 600/m, per client, route and event
}

// AdminConfig is the operations listener.
type AdminConfig struct {
	Listen string `yaml:"listen"`
}

// ReloadConfig says what reloads the configuration besides SIGHUP and
// POST /reload on the admin listener.
type ReloadConfig struct {
	Watch bool `yaml:"watch"` // reload when the file changes (checked every second)
}

// LogConfig says how operational messages are logged (standard error).
type LogConfig struct {
	Format string `yaml:"format"` // text (default) or json
	Level  string `yaml:"level"`  // debug, info (default), warn, error
}

// parseLevel reads log.level ("" is info).
func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if s == "" {
		return slog.LevelInfo, nil
	}
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// Duration is a YAML duration in Go's syntax with d for a day: "30s",
// "1m", "1h", "1d", "1d12h" (see internal/duration); never negative.
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := duration.FromYAML(n)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// or returns d, or def when d is zero.
func (d Duration) or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// nodeError reports a bad value as a *yaml.TypeError, which the decoder
// collects and goes on (any other error would stop it at the first
// problem). The line and column let load.go find the key.
func nodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d:%d: %s", n.Line, n.Column, fmt.Sprintf(format, args...))}}
}

// Size is a byte count: 1048576, "512KiB", "1MiB", "10MB".
type Size int64

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$`)

// UnmarshalYAML parses a size.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(n.Value))
	if m == nil {
		return nodeError(n, "invalid size %q (use e.g. 1MiB, 512KiB, 65536)", n.Value)
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return nodeError(n, "invalid size %q", n.Value)
	}
	mult := map[string]int64{"": 1, "B": 1, "KB": 1000, "KiB": 1 << 10, "MB": 1000 * 1000, "MiB": 1 << 20, "GB": 1000 * 1000 * 1000, "GiB": 1 << 30}[m[2]]
	if v > (1<<40)/mult {
		return nodeError(n, "size %q is too large", n.Value)
	}
	*s = Size(v * mult)
	return nil
}

// Path resolves p against the config file's folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// Warnings returns what the checks found that does not stop the gateway,
// such as a route that an earlier one always matches first.
func (c *Config) Warnings() []*ConfigError { return c.warnings }
