package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFull(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "orders.schema.json"), []byte(`{"type":"object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `
listen: 127.0.0.1:8080
upstream: http://127.0.0.1:9000
trusted_proxies: [10.0.0.0/8, 192.0.2.1]
hosts: [api.example.com]
headers: {require_https: api}
cors: {allowed_origins: [https://app.example.com], allowed_methods: [GET, POST], allowed_headers: [Content-Type], allow_credentials: false}
auth:
  jwt: [{issuer: https://idp.example.com, audience: orders, jwks_url: https://idp.example.com/jwks, algorithms: [RS256, ES256, EdDSA], require_typ: true}]
  api_keys: {store: "sqlite:///var/lib/bulwark/keys.db", header: X-API-Key, prefix: bwk_live}
ratelimit:
  store: memory
  policies: [{name: per-ip, key: ip, limit: 100, period: 1m, burst: 20}, {name: daily, key: subject, limit: 10000, period: 1d}]
  default: [per-ip]
routes:
  - {path: /public/, auth: none}
  - {path: /v1/, auth: required, scopes: "orders:read", methods: [GET, POST], max_body: 1MiB, json: true, schema: orders.schema.json, ratelimit: [per-ip, daily]}
audit: {output: stdout}
admin: {listen: 127.0.0.1:9090}
`
	cfg, err := Parse([]byte(src), dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.Routes[1].MaxBody != 1<<20 || time.Duration(cfg.RateLimit.Policies[1].Period) != 24*time.Hour ||
		cfg.Auth.APIKeys.Prefix != "bwk_live" || *cfg.Auth.JWT[0].RequireTyp != true {
		t.Errorf("decoded %+v", cfg)
	}
	if got := cfg.Path("orders.schema.json"); got != filepath.Join(dir, "orders.schema.json") {
		t.Errorf("Path = %q", got)
	}
}

func TestParseEmpty(t *testing.T) {
	_, err := Parse(nil, ".")
	if err == nil || !strings.Contains(err.Error(), "routes: required") {
		t.Errorf("empty config: %v, want routes required", err)
	}
	if _, err := Parse([]byte("routes: [{path: /, auth: none}]\n"), "."); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

// Every kind of error, reported together, each with its line.
func TestParseEveryError(t *testing.T) {
	src := `listen: nowhere
bogus: 1
upstream: ftp://x
trusted_proxies: [10.0.0.0/33]
tls: {cert_file: missing.pem}
headers: {require_https: sometimes}
cors: {allowed_origins: []}
auth:
  jwt: [{issuer: http://idp.example.com, jwks_url: http://idp.example.com/jwks}]
  api_keys: {store: "mysql://x"}
ratelimit:
  store: memcached://x
  policies:
    - {name: per-ip, key: ip, limit: 0, period: 1m}
    - {name: per-ip, key: cookie, limit: 10, period: soon, burst: -1}
  default: [nope]
routes:
  - {path: v1, auth: maybe, methods: [GET, BREW], max_body: 1 lightyear, schema: missing.json, ratelimit: [unknown], typo: 1}
admin: {listen: "9090"}
`
	_, err := Parse([]byte(src), t.TempDir())
	if err == nil {
		t.Fatal("Parse accepted a broken config")
	}
	want := []string{
		"line 1: listen",
		"line 2: bogus: unknown key",
		"line 3: upstream",
		"line 4: trusted_proxies[0]",
		"line 5: tls: cert_file and key_file go together",
		"line 5: tls.cert_file",
		"line 6: headers.require_https",
		"line 7: cors.allowed_origins",
		"line 9: auth.jwt[0].issuer",
		"line 9: auth.jwt[0].audience",
		"line 9: auth.jwt[0].jwks_url",
		"line 10: auth.api_keys.store",
		"line 12: ratelimit.store",
		"line 14: ratelimit.policies[0].limit",
		"line 15: ratelimit.policies[1].name",
		"line 15: ratelimit.policies[1].key",
		"line 15: ratelimit.policies[1].burst",
		`line 15: ratelimit.policies[1].period: "soon": not a duration`,
		"line 16: ratelimit.default[0]",
		"line 18: routes[0].typo: unknown key",
		"invalid size \"1 lightyear\"",
		"line 18: routes[0].path",
		"line 18: routes[0].auth",
		"line 18: routes[0].methods[1]",
		"line 18: routes[0].schema: cannot read",
		"line 18: routes[0].schema: needs json: true",
		"line 18: routes[0].ratelimit[0]",
		"line 19: admin.listen",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("errors are not *ConfigError: %v", err)
	}
}

func TestParseSyntaxError(t *testing.T) {
	_, err := Parse([]byte("listen: [unclosed\n"), ".")
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("syntax error = %v, want a message with a line", err)
	}
}

// A configuration with ten mistakes, of every kind (unknown key, wrong
// type, a bad value the gateway knows, one only a package knows), gets ten
// problems in one run, each with its line and key path, in line order,
// without follow-on errors and without Go API names.
func TestTenMistakesTenLines(t *testing.T) {
	src := `listen: 127.0.0.1:8080
admin: {listen: 127.0.0.1:8080}
upstrem: http://127.0.0.1:9000
cors:
  allowed_origins: [https://app.example.com, "https://*.com"]
auth:
  jwt:
    - {issuer: https://idp.example.com, audience: orders, algorithms: [RS256, HS256]}
ratelimit:
  policies:
    - {name: per-ip, key: ip, limit: lots, period: 1m}
    - {name: fast, key: ip, limit: 1000000, period: 1ms}
routes:
  - {path: /v1/, auth: required, methods: [GET, FETCH]}
  - {path: /v2/, auth: sometimes}
  - {path: /v3/, auth: none, scopes: admin}
log: {format: xml}
`
	_, err := Parse([]byte(src), t.TempDir())
	if err == nil {
		t.Fatal("Parse accepted ten mistakes")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"line 2: admin.listen: 127.0.0.1:8080 clashes with listen",
		"line 3: upstrem: unknown key (did you mean upstream?)",
		`line 5: cors.allowed_origins[1]: "https://*.com"`,
		"line 8: auth.jwt[0].algorithms[1]: HS256 is an HMAC algorithm",
		`line 11: ratelimit.policies[0].limit: "lots" is not a whole number`,
		`line 12: ratelimit.policies[1].period: "1ms": must be a whole number of seconds`,
		`line 14: routes[0].methods[1]: "FETCH" is not one of`,
		"line 15: routes[1].auth: must be required or none",
		"line 16: routes[2].scopes: scopes on an auth: none route would never be checked",
		"line 17: log.format: must be text or json",
	}
	if len(lines) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want it to start with %q", i+1, at(lines, i), w)
		}
	}
	for _, bad := range []string{"Origins", "Issuers", "Quota", "jwt.Config", "cors: cors:", "no authenticator"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("problems name %q, a Go API name or a follow-on:\n%s", bad, err)
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// TestDurationsTakeDays: every duration of the file, the API-key section's
// cache_ttl included, takes what the command-line flags take (d for a day,
// fractions, combinations), and a negative or overlong one is refused at
// its line and key.
func TestDurationsTakeDays(t *testing.T) {
	src := `upstream: http://127.0.0.1:9000
shutdown_delay: 0.5d
auth:
  api_keys: {store: memory, cache_ttl: 1d12h}
ratelimit:
  policies: [{name: daily, key: ip, limit: 10, period: 1.5d}]
routes: [{path: /, auth: none}]
`
	cfg, err := Parse([]byte(src), t.TempDir())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"shutdown_delay", time.Duration(*cfg.ShutdownDelay), 12 * time.Hour},
		{"auth.api_keys.cache_ttl", time.Duration(cfg.Auth.APIKeys.CacheTTL), 36 * time.Hour},
		{"ratelimit.policies[0].period", time.Duration(cfg.RateLimit.Policies[0].Period), 36 * time.Hour},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	bad := `upstream: http://127.0.0.1:9000
shutdown_delay: -5s
auth:
  api_keys: {store: memory, cache_ttl: 200000d}
ratelimit:
  policies: [{name: daily, key: ip, limit: 10, period: 1w}]
routes: [{path: /, auth: none}]
`
	_, err = Parse([]byte(bad), t.TempDir())
	if err == nil {
		t.Fatal("Parse accepted negative, overlong and unknown-unit durations")
	}
	for _, w := range []string{
		`line 2: shutdown_delay: "-5s": must not be negative`,
		`line 4: auth.api_keys.cache_ttl: "200000d": too long (at most 106751d`,
		`line 6: ratelimit.policies[0].period: "1w": not a duration (use e.g. 90s, 15m, 12h, 30d or 1d12h)`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
}
