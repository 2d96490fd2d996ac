package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bulwark-go/bulwark/auth/apikey/cli"
)

// Config is the gateway's YAML configuration. Key names are a contract
// with operators' files: never rename one.
type Config struct {
	Listen         string          `yaml:"listen"`
	TLS            *TLSConfig      `yaml:"tls"`
	Upstream       string          `yaml:"upstream"`
	TrustedProxies []string        `yaml:"trusted_proxies"`
	Hosts          []string        `yaml:"hosts"`
	Headers        *HeadersConfig  `yaml:"headers"`
	CORS           *CORSConfig     `yaml:"cors"`
	Auth           AuthConfig      `yaml:"auth"`
	RateLimit      RateLimitConfig `yaml:"ratelimit"`
	Routes         []Route         `yaml:"routes"`
	Paths          PathsConfig     `yaml:"paths"`
	// ForwardUnderscoreHeaders lists request headers whose names contain
	// "_" that reach the upstream; every other such header is dropped.
	ForwardUnderscoreHeaders []string     `yaml:"forward_underscore_headers"`
	Audit                    AuditConfig  `yaml:"audit"`
	Admin                    *AdminConfig `yaml:"admin"`

	// dir is the folder of the config file: relative paths resolve there.
	dir string
	// lines maps a dotted key path ("routes.1.schema") to its line.
	lines map[string]int
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
}

// JWTIssuer is one trusted token issuer.
type JWTIssuer struct {
	Issuer     string   `yaml:"issuer"`
	Audience   string   `yaml:"audience"`
	JWKSURL    string   `yaml:"jwks_url"`
	Algorithms []string `yaml:"algorithms"`
	RequireTyp *bool    `yaml:"require_typ"` // default true (RFC 9068 at+jwt)
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

// Route is one path prefix and what it requires. First match wins.
type Route struct {
	Path               string   `yaml:"path"`
	Auth               string   `yaml:"auth"` // none | required
	Scopes             string   `yaml:"scopes"`
	Methods            []string `yaml:"methods"`
	MaxBody            Size     `yaml:"max_body"`
	JSON               bool     `yaml:"json"`
	Schema             string   `yaml:"schema"`
	RateLimit          []string `yaml:"ratelimit"`
	ForwardCredentials bool     `yaml:"forward_credentials"`
	// Cache "upstream" keeps the upstream's Cache-Control on a route that
	// authenticates; by default one that lets a shared cache store the
	// answer is replaced by "private, no-store".
	Cache string `yaml:"cache"`
}

// PathsConfig says how request paths are made canonical before routing.
type PathsConfig struct {
	MergeSlashes *bool `yaml:"merge_slashes"` // default true: "//" is "/"
}

// AuditConfig says where access records go.
type AuditConfig struct {
	Output      string `yaml:"output"` // stdout (default), stderr or a file path
	HMACKeyFile string `yaml:"hmac_key_file"`
}

// AdminConfig is the operations listener.
type AdminConfig struct {
	Listen string `yaml:"listen"`
}

// Duration is a YAML duration: "1m", "30s", "1h", or "1d" for a day.
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	s := strings.TrimSpace(n.Value)
	if v, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(v)
		if err != nil || days <= 0 || days > 366 {
			return nodeError(n, "invalid duration %q", s)
		}
		*d = Duration(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return nodeError(n, "invalid duration %q (use e.g. 1s, 1m, 1h, 1d)", s)
	}
	*d = Duration(v)
	return nil
}

// nodeError reports a bad value as a *yaml.TypeError, which the decoder
// collects and goes on (any other error would stop it at the first
// problem).
func nodeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
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

// ConfigError is one problem in the configuration, with its line.
type ConfigError struct {
	Line int    // 0 when unknown
	Key  string // dotted path, e.g. "routes.1.methods"
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Key, e.Msg)
}

// LoadFile reads and checks a configuration file.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the operator names the config file
	if err != nil {
		return nil, err
	}
	return Parse(data, filepath.Dir(path))
}

// Parse decodes and checks a configuration. Relative paths resolve against
// dir. Every problem found is returned, joined, each a [*ConfigError] with
// its line number.
func Parse(data []byte, dir string) (*Config, error) {
	var cfg Config
	cfg.dir = dir
	cfg.lines = map[string]int{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ConfigError{Key: "config", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(root.Content) > 0 {
		indexLines(root.Content[0], "", cfg.lines)
	}
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				errs = append(errs, typeError(m))
			}
		} else {
			return nil, &ConfigError{Key: "config", Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		}
	}
	errs = append(errs, cfg.check()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
}

var typeErrRE = regexp.MustCompile(`^line (\d+): (.*)$`)
var unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

func typeError(m string) error {
	sm := typeErrRE.FindStringSubmatch(m)
	if sm == nil {
		return &ConfigError{Key: "config", Msg: m}
	}
	line, _ := strconv.Atoi(sm[1])
	msg := sm[2]
	if u := unknownRE.FindStringSubmatch(msg); u != nil {
		return &ConfigError{Line: line, Key: u[1], Msg: "unknown key"}
	}
	msg = strings.Replace(msg, "cannot unmarshal !!str", "cannot read text", 1)
	return &ConfigError{Line: line, Key: "value", Msg: msg}
}

func indexLines(n *yaml.Node, prefix string, out map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = n.Content[i].Line
			indexLines(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := prefix + "." + strconv.Itoa(i)
			out[p] = c.Line
			indexLines(c, p, out)
		}
	}
}

// problem records a semantic problem at key.
func (c *Config) problem(errs *[]error, key, format string, args ...any) {
	line := c.lines[key]
	for k := key; line == 0 && strings.Contains(k, "."); { // fall back to the nearest parent
		k = k[:strings.LastIndexByte(k, '.')]
		line = c.lines[k]
	}
	*errs = append(*errs, &ConfigError{Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// Path resolves p against the config file's folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

var (
	routeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	policyName   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
)

// check finds every semantic problem that can be found without building
// the packages; the packages' own New functions find the rest.
func (c *Config) check() []error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			c.problem(&errs, "listen", "must be host:port, e.g. 127.0.0.1:8080")
		}
	}
	if c.Upstream != "" {
		u, err := url.Parse(c.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			c.problem(&errs, "upstream", "must be an http(s) URL without credentials, e.g. http://127.0.0.1:9000")
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				c.problem(&errs, "trusted_proxies."+strconv.Itoa(i), "%q is not an address or CIDR prefix", p)
			}
		}
	}
	if c.TLS != nil {
		c.checkTLS(&errs)
	}
	if c.Headers != nil {
		switch c.Headers.RequireHTTPS {
		case "", "off", "api", "browser":
		default:
			c.problem(&errs, "headers.require_https", "must be off, api or browser")
		}
	}
	if c.CORS != nil && len(c.CORS.AllowedOrigins) == 0 {
		c.problem(&errs, "cors.allowed_origins", "required when cors is present: an empty list would allow no one (remove cors to send no CORS headers)")
	}
	for i, j := range c.Auth.JWT {
		key := "auth.jwt." + strconv.Itoa(i)
		if j.Issuer == "" {
			c.problem(&errs, key+".issuer", "required")
		} else if err := checkHTTPS(j.Issuer); err != nil {
			c.problem(&errs, key+".issuer", "%v", err)
		}
		if j.Audience == "" {
			c.problem(&errs, key+".audience", "required: without it a token for any other API of this issuer would be accepted")
		}
		if j.JWKSURL != "" {
			if err := checkHTTPS(j.JWKSURL); err != nil {
				c.problem(&errs, key+".jwks_url", "%v", err)
			}
		}
	}
	if k := c.Auth.APIKeys; k != nil && k.Store != "" && k.Store != "memory" &&
		!strings.HasPrefix(k.Store, "sqlite://") && !strings.HasPrefix(k.Store, "postgres://") && !strings.HasPrefix(k.Store, "postgresql://") {
		c.problem(&errs, "auth.api_keys.store", "must be memory, sqlite://PATH or postgres://…")
	}
	policies := map[string]bool{}
	for i, p := range c.RateLimit.Policies {
		key := "ratelimit.policies." + strconv.Itoa(i)
		if !policyName.MatchString(p.Name) {
			c.problem(&errs, key+".name", "must be a short lower-case name")
		} else if policies[p.Name] {
			c.problem(&errs, key+".name", "%q is defined twice", p.Name)
		}
		policies[p.Name] = true
		switch {
		case p.Key == "ip", p.Key == "subject", p.Key == "api_key", p.Key == "route":
		case strings.HasPrefix(p.Key, "header:") && len(p.Key) > len("header:"):
		default:
			c.problem(&errs, key+".key", "must be ip, subject, api_key, route or header:NAME")
		}
		if p.Limit <= 0 {
			c.problem(&errs, key+".limit", "must be positive")
		}
		if p.Period <= 0 {
			c.problem(&errs, key+".period", "required, e.g. 1m")
		}
		if p.Burst < 0 {
			c.problem(&errs, key+".burst", "must not be negative (default: limit)")
		}
	}
	if s := c.RateLimit.Store; s != "" && s != "memory" && !strings.HasPrefix(s, "redis://") && !strings.HasPrefix(s, "rediss://") {
		c.problem(&errs, "ratelimit.store", "must be memory or redis://host:port/db")
	}
	for i, name := range c.RateLimit.Default {
		if !policies[name] {
			c.problem(&errs, "ratelimit.default."+strconv.Itoa(i), "no policy named %q", name)
		}
	}
	if len(c.Routes) == 0 {
		c.problem(&errs, "routes", "required: every path not under a route gets 404, so a gateway without routes serves nothing")
	}
	for i, r := range c.Routes {
		c.checkRoute(&errs, i, r, policies)
	}
	for i, h := range c.ForwardUnderscoreHeaders {
		if !strings.Contains(h, "_") {
			c.problem(&errs, "forward_underscore_headers."+strconv.Itoa(i), "%q has no underscore: only headers with one are dropped", h)
		} else if isGatewayHeader(h) {
			c.problem(&errs, "forward_underscore_headers."+strconv.Itoa(i), "%q reads as a header the gateway owns (CGI, WSGI, Rack and PHP read _ as -)", h)
		}
	}
	if c.Admin != nil {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			c.problem(&errs, "admin.listen", "must be host:port, e.g. 127.0.0.1:9090")
		}
	}
	return errs
}

func (c *Config) checkTLS(errs *[]error) {
	t := c.TLS
	files := t.CertFile != "" || t.KeyFile != ""
	switch {
	case files && t.ACME != nil:
		c.problem(errs, "tls", "set either cert_file/key_file or acme, not both")
	case files && (t.CertFile == "" || t.KeyFile == ""):
		c.problem(errs, "tls", "cert_file and key_file go together")
	case !files && t.ACME == nil:
		c.problem(errs, "tls", "needs cert_file and key_file, or acme")
	}
	for _, f := range []struct{ key, path string }{{"tls.cert_file", t.CertFile}, {"tls.key_file", t.KeyFile}, {"tls.client_ca_file", t.ClientCAFile}} {
		if f.path != "" {
			if _, err := os.Stat(c.Path(f.path)); err != nil {
				c.problem(errs, f.key, "cannot read %s", f.path)
			}
		}
	}
	if a := t.ACME; a != nil {
		if len(a.Domains) == 0 {
			c.problem(errs, "tls.acme.domains", "required")
		}
		for i, d := range a.Domains {
			if !strings.Contains(d, ".") || strings.ContainsAny(d, "/:* ") {
				c.problem(errs, "tls.acme.domains."+strconv.Itoa(i), "%q is not a fully qualified host name", d)
			}
		}
		if a.CacheDir == "" {
			c.problem(errs, "tls.acme.cache_dir", "required: without a cache every restart asks for a new certificate and hits rate limits")
		}
		if a.DirectoryURL != "" {
			if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" {
				c.problem(errs, "tls.acme.directory_url", "must be an https URL")
			}
		}
	}
}

func (c *Config) checkRoute(errs *[]error, i int, r Route, policies map[string]bool) {
	key := "routes." + strconv.Itoa(i)
	if !strings.HasPrefix(r.Path, "/") {
		c.problem(errs, key+".path", "must start with /")
	} else if _, canon, err := canonicalPath(r.Path); err != nil || canon != r.Path {
		// Requests are matched in canonical form; any other route path
		// could never match.
		c.problem(errs, key+".path", "must be a canonical path (no dot-segments, repeated slashes or escapes)")
	}
	switch r.Auth {
	case "", "required", "none":
	default:
		c.problem(errs, key+".auth", "must be required or none")
	}
	if r.Auth == "none" && r.Scopes != "" {
		c.problem(errs, key+".scopes", "scopes on an auth: none route would never be checked")
	}
	if r.Auth != "none" && len(c.Auth.JWT) == 0 && c.Auth.APIKeys == nil {
		c.problem(errs, key+".auth", "requires authentication but auth configures no jwt or api_keys")
	}
	for j, m := range r.Methods {
		if !slices.Contains(routeMethods, m) {
			c.problem(errs, key+".methods."+strconv.Itoa(j), "%q is not one of %s", m, strings.Join(routeMethods, ", "))
		}
	}
	switch r.Cache {
	case "", "upstream":
	default:
		c.problem(errs, key+".cache", "must be upstream (keep the upstream's Cache-Control) or absent")
	}
	if r.MaxBody < 0 {
		c.problem(errs, key+".max_body", "must not be negative")
	}
	if r.Schema != "" {
		if _, err := os.Stat(c.Path(r.Schema)); err != nil {
			c.problem(errs, key+".schema", "cannot read %s", r.Schema)
		}
		if !r.JSON {
			c.problem(errs, key+".schema", "needs json: true")
		}
	}
	for j, name := range r.RateLimit {
		if !policies[name] {
			c.problem(errs, key+".ratelimit."+strconv.Itoa(j), "no policy named %q", name)
		}
	}
}

func checkHTTPS(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); u.Scheme == "http" && (host == "localhost" || (err == nil && a.IsLoopback())) {
		return nil
	}
	return errors.New("must be https (http only on loopback)")
}
