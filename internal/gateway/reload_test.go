package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/audit"
)

// running is a Server on free loopback ports, reading its configuration
// from a file the test rewrites.
type running struct {
	srv    *Server
	file   string
	public string // base URL
	admin  string // base URL of the admin listener, if any
	logs   *syncBuffer
	opLog  *syncBuffer
	stop   func()
}

func startServer(t *testing.T, yaml string) *running {
	t.Helper()
	dir := t.TempDir()
	rn := &running{file: filepath.Join(dir, "bulwark.yaml"), logs: &syncBuffer{}, opLog: &syncBuffer{}}
	rn.write(t, yaml)
	srv, err := NewServer(ServerOptions{
		Build:         Options{AuditWriter: rn.logs, Logf: func(f string, a ...any) { fmt.Fprintf(rn.opLog, f+"\n", a...) }},
		Load:          func() (*Config, error) { return LoadFile(rn.file) },
		Watch:         rn.file,
		ShutdownDelay: new(time.Duration),
	})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	rn.srv = srv
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 4)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(pub, adm net.Addr) { addrs <- [2]net.Addr{pub, adm} }) }()
	a := <-addrs
	rn.public = "http://" + a[0].String()
	if a[1] != nil {
		rn.admin = "http://" + a[1].String()
	}
	var once sync.Once
	rn.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(rn.stop)
	return rn
}

func (rn *running) write(t *testing.T, yaml string) {
	t.Helper()
	if err := os.WriteFile(rn.file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (rn *running) get(t *testing.T, path string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", rn.public+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, string(body)
}

func TestReloadSwapsConfiguration(t *testing.T) {
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	conf := func(route, svc string) string {
		return "listen: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\nservices: {a: {targets: [" + a.URL + "]}, b: {targets: [" + b.URL + "]}}\n" +
			"routes: [{path: " + route + ", service: " + svc + ", auth: none}]\n"
	}
	rn := startServer(t, conf("/one/", "a"))
	if code, body := rn.get(t, "/one/x"); code != 200 || body != "a /one/x" {
		t.Fatalf("before: %d %q", code, body)
	}
	rn.write(t, conf("/two/", "b"))
	if err := rn.srv.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if code, body := rn.get(t, "/two/x"); code != 200 || body != "b /two/x" {
		t.Errorf("after the reload: %d %q", code, body)
	}
	if code, _ := rn.get(t, "/one/x"); code != 404 {
		t.Errorf("the old route after the reload: %d, want 404", code)
	}

	// A broken configuration keeps the old one serving, says why, and is
	// counted.
	rn.write(t, "routes: [{path: nope}]\n")
	if err := rn.srv.Reload(); err == nil || !strings.Contains(err.Error(), "routes[0].path") {
		t.Errorf("Reload of a broken file = %v", err)
	}
	if code, _ := rn.get(t, "/two/x"); code != 200 {
		t.Errorf("after a failed reload: %d, want the old configuration", code)
	}
	// POST /reload on the admin listener does the same.
	res, err := http.Post(rn.admin+"/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 422 || !strings.Contains(string(body), "routes[0].path") {
		t.Errorf("POST /reload of a broken file: %d %s", res.StatusCode, body)
	}
	rn.write(t, conf("/three/", "a"))
	if res, err = http.Post(rn.admin+"/reload", "", nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("POST /reload: %v %v", res, err)
	}
	res.Body.Close()
	if code, body := rn.get(t, "/three/x"); code != 200 || body != "a /three/x" {
		t.Errorf("after POST /reload: %d %q", code, body)
	}
	res, err = http.Get(rn.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`bulwark_config_reloads_total{result="error"} 2`, `bulwark_config_reloads_total{result="ok"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(string(metrics), "reload"))
		}
	}
}

// A request in flight finishes on the configuration it started with,
// even when the reload removes its route.
func TestReloadLetsRequestsInFlightFinish(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	rn := startServer(t, "listen: 127.0.0.1:0\nupstream: "+slow.URL+"\nroutes: [{path: /slow/, auth: none}]\n")
	type result struct {
		code int
		body string
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get(rn.public + "/slow/x")
		if err != nil {
			got <- result{-1, err.Error()}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{res.StatusCode, string(b)}
	}()
	<-started
	rn.write(t, "listen: 127.0.0.1:0\nupstream: "+slow.URL+"\nroutes: [{path: /other/, auth: none}]\n")
	if err := rn.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	close(release)
	if r := <-got; r.code != 200 || r.body != "finished" {
		t.Errorf("the request in flight got %d %q, want 200 finished", r.code, r.body)
	}
}

// Rate-limit counters of an unchanged policy, the API keys (and the key
// created in memory) and the JWT verifier survive a reload; a changed
// policy starts afresh.
func TestReloadKeepsStateOfUnchangedParts(t *testing.T) {
	b := newBackend(t, "b", nil)
	conf := func(limit int, extra string) string {
		return fmt.Sprintf(`listen: 127.0.0.1:0
upstream: %s
auth: {api_keys: {store: memory}}
ratelimit:
  policies: [{name: tight, key: ip, limit: %d, period: 1h}]
routes:
  - {path: /v1/, auth: required, ratelimit: [tight]}
%s`, b.URL, limit, extra)
	}
	rn := startServer(t, conf(2, ""))
	key, err := rn.srv.Gateway().CreateDemoKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keysBefore := rn.srv.Gateway().keys
	for i := range 2 {
		if code, _ := rn.get(t, "/v1/x", "X-API-Key", key); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	rn.write(t, conf(2, "  - {path: /v2/, auth: none}\n"))
	if err := rn.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if rn.srv.Gateway().keys != keysBefore {
		t.Errorf("the API keys were rebuilt although auth.api_keys did not change")
	}
	if code, _ := rn.get(t, "/v1/x", "X-API-Key", key); code != 429 {
		t.Errorf("third request after a reload that kept the policy: %d, want 429 (its counter survives)", code)
	}
	rn.write(t, conf(5, "  - {path: /v2/, auth: none}\n"))
	if err := rn.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := rn.get(t, "/v1/x", "X-API-Key", key); code != 200 {
		t.Errorf("after the policy changed: %d, want 200 (a new policy, new counters)", code)
	}
}

// One tamper-evident chain across reloads: no restart, verifiable as one.
func TestReloadContinuesAuditChain(t *testing.T) {
	b := newBackend(t, "b", nil)
	dir := t.TempDir()
	keyHex := hex.EncodeToString(bytes.Repeat([]byte{5}, 32))
	if err := os.WriteFile(filepath.Join(dir, "audit.key"), []byte(keyHex), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "audit.log")
	conf := func(route string) string {
		return "listen: 127.0.0.1:0\nupstream: " + b.URL + "\nroutes: [{path: " + route + ", auth: none}]\naudit: {output: " + logFile + ", hmac_key_file: " + filepath.Join(dir, "audit.key") + "}\n"
	}
	rn := &running{file: filepath.Join(dir, "bulwark.yaml")}
	rn.write(t, conf("/a/"))
	srv, err := NewServer(ServerOptions{Build: Options{Logf: t.Logf}, Load: func() (*Config, error) { return LoadFile(rn.file) }})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Handler(srv)
	for range 3 {
		get(h, "x", "/a/x")
	}
	rn.write(t, conf("/b/"))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		get(h, "x", "/b/x")
	}
	if err := srv.Gateway().Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	key, _ := audit.ParseKey(keyHex)
	res, err := audit.Verify(f, audit.VerifyConfig{Keys: map[string][]byte{"": key}})
	if err != nil || res.Chains != 1 || res.Records < 6 {
		t.Errorf("Verify = %+v, %v; want one intact chain of at least 6 records", res, err)
	}
}

func TestReloadMovesListener(t *testing.T) {
	b := newBackend(t, "b", nil)
	rn := startServer(t, "listen: 127.0.0.1:0\nupstream: "+b.URL+"\nroutes: [{path: /, auth: none}]\n")
	oldBase := rn.public
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	newAddr := ln.Addr().String()
	ln.Close()
	rn.write(t, "listen: "+newAddr+"\nupstream: "+b.URL+"\nroutes: [{path: /, auth: none}]\n")
	if err := rn.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + newAddr + "/x")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("the new listener: %v %v", res, err)
	}
	res.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", strings.TrimPrefix(oldBase, "http://"))
		if err != nil {
			break // the old listener is closed
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the old listener still accepts connections")
		}
		time.Sleep(10 * time.Millisecond) // the old server shuts down in the background
	}
}

func TestReloadOnFileChange(t *testing.T) {
	b := newBackend(t, "b", nil)
	rn := startServer(t, "listen: 127.0.0.1:0\nupstream: "+b.URL+"\nreload: {watch: true}\nroutes: [{path: /one/, auth: none}]\n")
	rn.write(t, "listen: 127.0.0.1:0\nupstream: "+b.URL+"\nreload: {watch: true}\nroutes: [{path: /two/, auth: none}]\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := rn.get(t, "/two/x"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the changed file was not reloaded:\n%s", rn.opLog.b.String())
		}
		time.Sleep(50 * time.Millisecond) // the watcher looks once a second
	}
}

func TestEnvInterpolation(t *testing.T) {
	t.Setenv("BW_UPSTREAM", "http://127.0.0.1:9000")
	t.Setenv("BW_EMPTY", "")
	cfg, err := Parse([]byte(`
upstream: ${BW_UPSTREAM}
ratelimit:
  policies:
    - name: p
      key: ip
      limit: ${BW_LIMIT:-100}
      period: "${BW_PERIOD:-1m}"
      burst: ${BW_EMPTY:-7}
routes: [{path: "/price$$/", auth: none}]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.RateLimit.Policies[0]
	if cfg.Upstream != "http://127.0.0.1:9000" || p.Limit != 100 || time.Duration(p.Period) != time.Minute || p.Burst != 7 || cfg.Routes[0].Path != "/price$/" {
		t.Errorf("decoded %q %+v %q", cfg.Upstream, p, cfg.Routes[0].Path)
	}
	_, err = Parse([]byte("upstream: http://127.0.0.1:9000\nroutes:\n  - {path: /, auth: none}\n  - {path: /x/, auth: none, scopes: \"${BW_UNSET_VARIABLE}\"}\n"), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "line 4: routes[1].scopes: environment variable BW_UNSET_VARIABLE is not set") {
		t.Errorf("an unset variable: %v", err)
	}
}

// A reload that changes the audit file's settings (sync, checkpoints,
// aggregation) ends its chain and starts a linked one in the same file:
// never two writers on one file, and the log verifies as one.
func TestReloadChangesAuditSettings(t *testing.T) {
	b := newBackend(t, "b", nil)
	dir := t.TempDir()
	keyHex := hex.EncodeToString(bytes.Repeat([]byte{5}, 32))
	if err := os.WriteFile(filepath.Join(dir, "audit.key"), []byte(keyHex), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "audit.log")
	conf := func(extra string) string {
		return "listen: 127.0.0.1:0\nupstream: " + b.URL + "\nroutes: [{path: /a/, auth: none}]\naudit: {output: " + logFile +
			", hmac_key_file: " + filepath.Join(dir, "audit.key") + extra + "}\n"
	}
	rn := &running{file: filepath.Join(dir, "bulwark.yaml")}
	rn.write(t, conf(""))
	srv, err := NewServer(ServerOptions{Build: Options{Logf: t.Logf}, Load: func() (*Config, error) { return LoadFile(rn.file) }})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Handler(srv)
	get(h, "x", "/a/x")
	rn.write(t, conf(", sync: every_record, aggregate: {after: 5/s}"))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	get(h, "x", "/a/x")
	if err := srv.Gateway().Close(); err != nil {
		t.Fatal(err)
	}
	key, _ := audit.ParseKey(keyHex)
	res, err := audit.VerifyFiles([]string{logFile}, audit.VerifyConfig{Keys: map[string][]byte{"": key}})
	if err != nil || res.Chains != 2 || len(res.Unclean) != 0 {
		t.Errorf("VerifyFiles = %+v, %v; want two linked, closed chains", res, err)
	}
}
