package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bulwarkBin is the binary built from the repository by TestMain, or the
// one BULWARK_E2E_BINARY names.
var bulwarkBin string

func TestMain(m *testing.M) {
	if bin := os.Getenv("BULWARK_E2E_BINARY"); bin != "" {
		// A binary built elsewhere: a release, or an older commit to show
		// that a test fails there.
		bulwarkBin = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "bulwark-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bulwarkBin = filepath.Join(dir, "bulwark")
	build := exec.Command("go", "build", "-C", "../..", "-o", bulwarkBin, "./cmd/bulwark")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building bulwark:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of a program the test needs, or skips (fails with
// BULWARK_REQUIRE_REAL=1).
func need(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if os.Getenv("BULWARK_REQUIRE_REAL") == "1" {
		t.Fatalf("%s not installed (BULWARK_REQUIRE_REAL=1)", names[0])
	}
	t.Skipf("%s not installed", names[0])
	return ""
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a loopback port that was free a moment ago, for
// servers that cannot be told to pick one themselves (nginx).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts connections or the process
// exits.
func waitListening(t *testing.T, addr string, exited <-chan struct{}, out *lockedBuffer) bool {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		select {
		case <-exited:
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s never accepted connections:\n%s", addr, out)
	return false
}

// start runs cmd until the test ends, and returns a channel closed when
// it exits.
func start(t *testing.T, cmd *exec.Cmd, out *lockedBuffer) <-chan struct{} {
	t.Helper()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return exited
}

const nginxConf = `
daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 128; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	default_type text/plain;
	server {
		listen 127.0.0.1:%[2]d;
		# Each location says who served the request and how nginx itself
		# resolved the path it got ($uri: decoded, dot-segments removed,
		# slashes merged) next to what it got ($request_uri).
		location /public/  { add_header Access-Control-Allow-Origin * always; add_header Access-Control-Allow-Credentials true always; add_header X-Powered-By nginx-app always;
		                     return 200 "location=public uri=$uri request_uri=$request_uri subject=$http_x_bulwark_subject\n"; }
		location /limited/ { return 200 "location=limited uri=$uri request_uri=$request_uri subject=$http_x_bulwark_subject\n"; }
		location /admin/   { return 200 "location=admin uri=$uri request_uri=$request_uri subject=$http_x_bulwark_subject\n"; }
		location /v1/      { return 200 "location=v1 uri=$uri request_uri=$request_uri subject=$http_x_bulwark_subject\n"; }
		location /         { return 404 "location=none uri=$uri\n"; }
	}
}
`

// startNginx runs nginx on a free loopback port and returns its address.
func startNginx(t *testing.T) string {
	t.Helper()
	bin := need(t, "nginx", "/usr/sbin/nginx")
	for attempt := 0; ; attempt++ {
		dir := t.TempDir()
		port := freePort(t)
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, dir, port), 0o600); err != nil {
			t.Fatal(err)
		}
		out := &lockedBuffer{}
		exited := start(t, exec.Command(bin, "-p", dir, "-c", conf, "-e", "stderr"), out)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if waitListening(t, addr, exited, out) {
			return addr
		}
		if attempt == 2 {
			t.Fatalf("nginx did not start:\n%s", out)
		}
	}
}

const wsgiApp = `
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

def app(environ, start_response):
    seen = {k: v for k, v in environ.items() if k.startswith('HTTP_')}
    seen['PATH_INFO'] = environ.get('PATH_INFO', '')
    seen['REQUEST_METHOD'] = environ['REQUEST_METHOD']
    body = json.dumps(seen).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]

server = make_server('127.0.0.1', 0, app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
`

// startWSGI runs the stdlib WSGI app and returns its address.
func startWSGI(t *testing.T) string {
	t.Helper()
	bin := need(t, "python3")
	script := filepath.Join(t.TempDir(), "app.py")
	if err := os.WriteFile(script, []byte(wsgiApp), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("the WSGI app did not start: %v\n%s", err, stderr)
	}
	return "127.0.0.1:" + strings.TrimSpace(line)
}

// gateway is one running `bulwark serve`.
type gateway struct {
	addr   string
	dir    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
}

var listeningRE = regexp.MustCompile(`listening on http://(127\.0\.0\.1:\d+)`)

// startGateway writes config (a format string given the folder) and runs
// `bulwark serve` with it; keys are created first with `bulwark keys
// create`, one per scope list given, and returned in that order.
func startGateway(t *testing.T, config string, keyScopes ...string) (*gateway, []string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BULWARK_APIKEY_PEPPER=e2e-pepper-e2e-pepper-e2e-pepper-0123456789")
	var keys []string
	for i, scopes := range keyScopes {
		cmd := exec.Command(bulwarkBin, "keys", "create", "-config", cfg, "-name", fmt.Sprintf("k%d", i), "-scopes", scopes, "--json")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("keys create: %v %s", err, out)
		}
		var created struct{ Key string }
		if err := json.Unmarshal(out, &created); err != nil || created.Key == "" {
			t.Fatalf("keys create printed %q: %v", out, err)
		}
		keys = append(keys, created.Key)
	}
	g := &gateway{dir: dir, stderr: &lockedBuffer{}}
	g.cmd = exec.Command(bulwarkBin, "serve", "-config", cfg)
	g.cmd.Env = env
	exited := start(t, g.cmd, g.stderr)
	deadline := time.Now().Add(15 * time.Second)
	for g.addr == "" {
		if m := listeningRE.FindStringSubmatch(g.stderr.String()); m != nil {
			g.addr = m[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("bulwark serve exited:\n%s", g.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulwark serve never listened:\n%s", g.stderr)
		}
	}
	return g, keys
}

// raw sends a request exactly as written (curl --path-as-is) and returns
// the response with its body read.
func raw(t *testing.T, addr, request string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body)
}

// get sends GET target with the headers, one request per connection.
func get(t *testing.T, addr, method, target string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.example\r\nConnection: close\r\n", method, target)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	b.WriteString("\r\n")
	return raw(t, addr, b.String())
}
