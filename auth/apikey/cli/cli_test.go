package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/cli"
)

const pepperEnv = "BULWARK_TEST_APIKEY_PEPPER"

// writeConfig writes a gateway configuration with other sections around
// auth.api_keys, as the real file has.
func writeConfig(t *testing.T, apiKeys string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "bulwark.yaml")
	body := "listen: 127.0.0.1:8080\nupstream: http://127.0.0.1:9000\nauth:\n  realm: api\n  api_keys:\n" + apiKeys
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errs := run(t, args...)
	if code != 0 {
		t.Fatalf("bulwark keys %s = %d: %s", strings.Join(args, " "), code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("bulwark keys %s printed %q, want one JSON object: %v", strings.Join(args, " "), out, err)
	}
	return m
}

// TestKeysEndToEndSQLite: `bulwark keys` and the gateway share one SQLite
// file: create → use → rotate (flags after the id) → old refused →
// revoke → refused → delete.
func TestKeysEndToEndSQLite(t *testing.T) {
	t.Setenv(pepperEnv, "0123456789abcdef0123456789abcdef-test-pepper\n")
	cfg := writeConfig(t, "    store: sqlite:keys.db\n    prefix: bwk_live\n    header: Authorization\n    pepper_env: "+pepperEnv+"\n    cache_size: -1\n")

	// The gateway: the same section, opened as the serve command would.
	fc, err := cli.LoadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, closer, err := fc.Open(context.Background(), "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	gw := httptest.NewServer(keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		_, _ = io.WriteString(w, p.Subject+" "+p.Method+" "+strings.Join(p.Scopes, ","))
	})))
	t.Cleanup(gw.Close)
	call := func(key string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+"/v1/orders", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := gw.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	created := runJSON(t, "create", "-config", cfg, "-name", "ci", "-scopes", "orders:read orders:write", "-ttl", "720h", "--json")
	key, id := created["key"].(string), created["id"].(string)
	if !strings.HasPrefix(key, "bwk_live_") || id == "" {
		t.Fatalf("create printed %v", created)
	}
	if code, body := call(key); code != 200 || body != "apikey:"+id+" api_key orders:read,orders:write" {
		t.Fatalf("gateway with the new key: %d %q", code, body)
	}

	code, out, _ := run(t, "list", "-config", cfg)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") || strings.Contains(out, key) {
		t.Fatalf("list = %d:\n%s", code, out)
	}

	rotated := runJSON(t, "rotate", "-config", cfg, id, "-overlap", "0s", "--json")
	newKey, newID := rotated["key"].(string), rotated["id"].(string)
	if rotated["replaces"] != id || newID == id || newKey == key {
		t.Fatalf("rotate printed %v", rotated)
	}
	if code, _ := call(key); code != http.StatusUnauthorized {
		t.Errorf("gateway with the rotated-out key: %d, want 401", code)
	}
	if code, body := call(newKey); code != 200 || !strings.HasPrefix(body, "apikey:"+newID+" ") {
		t.Errorf("gateway with the new key: %d %q", code, body)
	}

	revoked := runJSON(t, "revoke", "--json", "-config", cfg, newID)
	if revoked["id"] != newID || revoked["revoked"] != true {
		t.Fatalf("revoke printed %v", revoked)
	}
	if code, _ := call(newKey); code != http.StatusUnauthorized {
		t.Errorf("gateway with the revoked key: %d, want 401", code)
	}

	listed := runJSON(t, "list", "-config", cfg, "--json")
	ks := listed["keys"].([]any)
	if len(ks) != 2 || ks[0].(map[string]any)["status"] != "rotated" || ks[1].(map[string]any)["status"] != "revoked" {
		t.Fatalf("list --json = %v", listed)
	}

	if code, out, _ := run(t, "delete", "-config", cfg, id); code != 0 || !strings.Contains(out, "deleted "+id) {
		t.Fatalf("delete = %d %q", code, out)
	}
	if code, _, errs := run(t, "delete", "-config", cfg, id); code != 1 || !strings.Contains(errs, "no such key") {
		t.Fatalf("delete again = %d %q, want 1 and 'no such key'", code, errs)
	}
	if code, _, errs := run(t, "rotate", "-config", cfg, newID); code != 1 || !strings.Contains(errs, "revoked") {
		t.Fatalf("rotate revoked = %d %q", code, errs)
	}
	// The human-readable create shows the key once, with a warning.
	code, out, _ = run(t, "create", "-config", cfg)
	if code != 0 || !strings.Contains(out, "key:     bwk_live_") || !strings.Contains(out, "only time") {
		t.Fatalf("create (table) = %d %q", code, out)
	}
	// The store override points at another file.
	other := filepath.Join(t.TempDir(), "other.db")
	runJSON(t, "create", "-config", cfg, "-store", "sqlite:"+other, "--json")
	if _, err := os.Stat(other); err != nil {
		t.Errorf("-store was ignored: %v", err)
	}
}

func TestRunUsageErrors(t *testing.T) {
	t.Setenv(pepperEnv, strings.Repeat("p", 40))
	cfg := writeConfig(t, "    store: sqlite:keys.db\n    prefix: bwk_live\n    pepper_env: "+pepperEnv+"\n")
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"no config", []string{"list"}, 2, "-config is required"},
		{"revoke without id", []string{"revoke", "-config", cfg}, 2, "exactly one key id"},
		{"revoke two ids", []string{"revoke", "-config", cfg, "a", "b"}, 2, "exactly one key id"},
		{"create with id", []string{"create", "-config", cfg, "x"}, 2, "unexpected arguments"},
		{"bad flag", []string{"list", "-config", cfg, "-nope"}, 2, "flag provided but not defined"},
		{"bad ttl", []string{"create", "-config", cfg, "-ttl", "soon"}, 2, "invalid value"},
		{"negative ttl", []string{"create", "-config", cfg, "-ttl", "-1d"}, 2, `invalid value "-1d" for flag -ttl: must not be negative`},
		{"overlong overlap", []string{"rotate", "-config", cfg, "-overlap", "200000d", "x"}, 2, "too long (at most 106751d"},
		{"pepper with arguments", []string{"pepper", "x"}, 2, "unexpected arguments"},
		{"help for an unknown command", []string{"help", "frobnicate"}, 2, "unknown command"},
		{"bad scope", []string{"create", "-config", cfg, "-scopes", "a\"b"}, 1, "invalid key specification"},
		{"missing file", []string{"list", "-config", cfg + ".missing"}, 1, "no such file"},
		{"revoke unknown", []string{"revoke", "-config", cfg, "nosuchkey00"}, 1, "no such key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("Run(%q) = %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("BULWARK_APIKEY_PEPPER", "")
	cases := []struct {
		name, section, msg string
	}{
		{"unknown field", "    store: sqlite:k.db\n    prefix: bwk\n    pepper: inline-secret\n", "field pepper not found"},
		{"pepper env unset", "    store: sqlite:k.db\n    prefix: bwk\n    pepper_env: BULWARK_TEST_UNSET_PEPPER\n", "not set"},
		{"no pepper", "    store: sqlite:k.db\n    prefix: bwk\n", "BULWARK_APIKEY_PEPPER"},
		{"pepper and insecure", "    store: sqlite:k.db\n    pepper_env: X\n    insecure_no_pepper: true\n", "contradicts"},
		{"memory store", "    store: memory\n    insecure_no_pepper: true\n", "memory store keeps no keys"},
		{"short pepper file", "    store: sqlite:k.db\n    prefix: bwk\n    pepper_file: PEPPERFILE\n", "at least 32 bytes"},
		{"bad store", "    store: mysql://x\n    prefix: bwk\n    insecure_no_pepper: true\n", "want sqlite://PATH, postgres://… or memory"},
		{"bad prefix", "    store: sqlite:k.db\n    prefix: BAD\n    insecure_no_pepper: true\n", "Prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pf := filepath.Join(t.TempDir(), "pepper")
			if err := os.WriteFile(pf, []byte("short\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := writeConfig(t, strings.ReplaceAll(tc.section, "PEPPERFILE", pf))
			code, _, errs := run(t, "list", "-config", cfg)
			if code != 1 || !strings.Contains(errs, tc.msg) {
				t.Fatalf("list with %s = %d %q, want 1 and %q", tc.name, code, errs, tc.msg)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "x.yaml")
	if err := os.WriteFile(path, []byte("listen: :80\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.LoadFile(path); err == nil || !strings.Contains(err.Error(), "no auth.api_keys") {
		t.Errorf("LoadFile without the section = %v", err)
	}
}

// TestPepperFile: the pepper read from a file, keys read from X-API-Key.
func TestPepperFile(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "pepper")
	if err := os.WriteFile(pf, []byte(strings.Repeat("k", 48)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "keys.db")
	cfg := writeConfig(t, "    store: sqlite:"+db+"\n    prefix: bwk\n    pepper_file: "+pf+"\n    header: X-API-Key\n")
	m := runJSON(t, "create", "-config", cfg, "--json")
	fc, err := cli.LoadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k, c, err := fc.Open(context.Background(), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", m["key"].(string))
	if p, err := k.Authenticate(r); err != nil || p.Subject != apikey.SubjectPrefix+m["id"].(string) {
		t.Fatalf("Authenticate = %v, %v", p, err)
	}
}

// TestGatewayShapedSection: the section as the gateway's configuration
// writes it (store, header, prefix only; sqlite:// URL; the pepper from
// BULWARK_APIKEY_PEPPER) works for both the command and the gateway.
func TestGatewayShapedSection(t *testing.T) {
	t.Setenv(cli.DefaultPepperEnv, strings.Repeat("g", 44))
	dir := t.TempDir()
	cfg := writeConfig(t, "    {store: \"sqlite://"+filepath.Join(dir, "keys.db")+"\", header: X-API-Key, prefix: bwk_live}\n")
	m := runJSON(t, "create", "-config", cfg, "-scopes", "a", "--json")
	fc, err := cli.LoadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k, c, err := fc.Open(context.Background(), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-API-Key", m["key"].(string))
	if p, err := k.Authenticate(r); err != nil || p.Subject != "apikey:"+m["id"].(string) || p.Method != "api_key" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	// The defaults are the gateway's: X-API-Key and bwk_live.
	fc.Header, fc.Prefix = "", ""
	k2, c2, err := fc.Open(context.Background(), "", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c2.Close() }()
	if _, err := k2.Authenticate(r); err != nil {
		t.Fatalf("with default header and prefix, Authenticate = %v", err)
	}
}

// TestRunHelp: help at every level (-h, -help, --help, help [CMD], CMD -h)
// goes to stdout with status 0 and says what the command does, its usage
// and examples; nothing goes to stderr.
func TestRunHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"bulwark keys: create, list", "commands:", "  pepper  print a new random pepper", "examples:"}},
		{[]string{"--help"}, []string{"commands:", "  rotate  replace a key"}},
		{[]string{"-help"}, []string{"commands:"}},
		{[]string{"help"}, []string{"commands:"}},
		{[]string{"help", "create"}, []string{"bulwark keys create: create a key", "usage: bulwark keys create -config FILE", "-ttl duration", "examples:", "-ttl 30d"}},
		{[]string{"-h", "list"}, []string{"bulwark keys list: list the keys", "usage: bulwark keys list"}},
		{[]string{"create", "-h"}, []string{"bulwark keys create:", "-scopes string"}},
		{[]string{"rotate", "--help"}, []string{"bulwark keys rotate:", "(default 1d)"}},
		{[]string{"revoke", "-help"}, []string{"bulwark keys revoke:", "examples:"}},
		{[]string{"delete", "-h"}, []string{"bulwark keys delete:"}},
		{[]string{"pepper", "-h"}, []string{"bulwark keys pepper: print a new random pepper", "openssl", "examples:"}},
	} {
		code, out, errs := run(t, tc.args...)
		if code != 0 || errs != "" {
			t.Errorf("Run(%q) = %d, stderr %q; want 0 and nothing on stderr", tc.args, code, errs)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("Run(%q) stdout lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

// TestPepperIsAcceptedAsItIs: `bulwark keys pepper` prints 32 random bytes
// in base64 (as `openssl rand -base64 32` does), a new one each time, and
// the key store takes that text as its pepper, from the environment with
// the newline a shell keeps, or from a file.
func TestPepperIsAcceptedAsItIs(t *testing.T) {
	code, out, errs := run(t, "pepper")
	if code != 0 || errs != "" {
		t.Fatalf("pepper = %d, %q", code, errs)
	}
	_, again, _ := run(t, "pepper")
	if out == again {
		t.Fatalf("two peppers are the same: %q", out)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(out, "\n"))
	if err != nil || len(raw) != cli.PepperBytes || cli.PepperBytes < apikey.MinPepperLen {
		t.Fatalf("pepper %q: %d bytes, %v; want %d in base64", out, len(raw), err, cli.PepperBytes)
	}
	t.Setenv(pepperEnv, out)
	cfg := writeConfig(t, "    store: sqlite:keys.db\n    pepper_env: "+pepperEnv+"\n")
	if code, _, errs := run(t, "create", "-config", cfg, "-ttl", "30d"); code != 0 {
		t.Fatalf("create with the printed pepper = %d: %s", code, errs)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pepper"), []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := cli.FileConfig{Store: "memory", PepperFile: filepath.Join(dir, "pepper")}
	_, closer, err := fc.Open(context.Background(), "", -1)
	if err != nil {
		t.Fatalf("Open with the printed pepper in a file: %v", err)
	}
	_ = closer.Close()
}

// TestCreateTTLInDays: -ttl takes d, as the YAML does.
func TestCreateTTLInDays(t *testing.T) {
	t.Setenv(pepperEnv, strings.Repeat("p", 40))
	cfg := writeConfig(t, "    store: sqlite:keys.db\n    pepper_env: "+pepperEnv+"\n")
	for _, tc := range []struct {
		ttl  string
		want time.Duration
	}{{"30d", 30 * 24 * time.Hour}, {"1.5d", 36 * time.Hour}, {"1d12h", 36 * time.Hour}} {
		m := runJSON(t, "create", "-config", cfg, "-ttl", tc.ttl, "--json")
		created, err1 := time.Parse(time.RFC3339Nano, m["created_at"].(string))
		expires, err2 := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
		if err1 != nil || err2 != nil || expires.Sub(created) != tc.want {
			t.Errorf("create -ttl %s: created %v, expires %v (%v, %v); want %v later", tc.ttl, created, expires, err1, err2, tc.want)
		}
	}
}
