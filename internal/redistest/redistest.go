// Package redistest starts real redis-server processes for tests: a single
// node ([Start], [StartServer]) or a Redis Cluster of masters
// ([StartCluster]), on free loopback ports, with persistence off, in
// t.TempDir(), stopped in t.Cleanup.
//
// When redis-server (or, for a cluster, redis-cli) is not installed the
// test is skipped, unless the environment variable BULWARK_REQUIRE_REAL=1
// is set (as .ci/run does): then the test fails.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 20 * time.Second

// Server is one redis-server process. Stop and Restart let a test take it
// away and bring it back on the same address.
type Server struct {
	// Addr is the server's "127.0.0.1:port".
	Addr string

	t    testing.TB
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Require returns the path of the named binary, skipping the test when it
// is missing, or failing it when BULWARK_REQUIRE_REAL=1.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("BULWARK_REQUIRE_REAL") == "1" {
		t.Fatalf("%s is required (BULWARK_REQUIRE_REAL=1) but not installed: %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}

// Start starts a single redis-server and returns its address.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr
}

// StartServer starts a single redis-server and returns it, for tests that
// stop and restart it.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := Require(t, "redis-server")
	var lastErr error
	for range 5 {
		port, err := freePort(false)
		if err != nil {
			lastErr = err
			continue
		}
		dir := t.TempDir()
		s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), t: t, dir: dir, args: serverArgs(port, dir)}
		if lastErr = s.start(bin); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: cannot start redis-server: %v", lastErr)
	return nil
}

// StartCluster starts a Redis Cluster of n masters (no replicas), created
// with redis-cli --cluster create, and returns their addresses once the
// cluster reports state ok on every node.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	bin := Require(t, "redis-server")
	cli := Require(t, "redis-cli")
	if n < 3 {
		t.Fatalf("redistest: a Redis Cluster needs at least 3 masters, not %d", n)
	}
	addrs := make([]string, 0, n)
	for len(addrs) < n {
		var err error
		var s *Server
		for range 5 {
			var port int
			if port, err = freePort(true); err != nil {
				continue
			}
			dir := t.TempDir()
			args := append(serverArgs(port, dir), "--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--cluster-node-timeout", "5000")
			s = &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), t: t, dir: dir, args: args}
			if err = s.start(bin); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("redistest: cannot start cluster node: %v", err)
		}
		t.Cleanup(s.Stop)
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput() // #nosec G204 -- fixed binary, loopback addresses we chose
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1})
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				_ = c.Close()
				t.Fatalf("redistest: cluster node %s not ready: %v %q", a, err, info)
			}
			time.Sleep(20 * time.Millisecond) // polling for server readiness
		}
		_ = c.Close()
	}
	return addrs
}

func serverArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--logfile", filepath.Join(dir, "redis.log"),
		"--daemonize", "no", "--protected-mode", "yes",
	}
}

func (s *Server) start(bin string) error {
	cmd := exec.Command(bin, s.args...) // #nosec G204 -- the machine's redis-server with arguments we built
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: time.Second})
	defer func() { _ = c.Close() }()
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log")) // #nosec G304 -- our temp dir
			return fmt.Errorf("redis-server exited: %v: %s", err, tail(log))
		default:
		}
		if err := c.Ping(ctx).Err(); err == nil {
			break
		} else if ctx.Err() != nil {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on %s not ready: %w", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond) // polling for server readiness
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	// Reap the process when it dies; Stop waits for this.
	go func() {
		<-exited
		s.mu.Lock()
		if s.cmd == cmd {
			s.cmd = nil
		}
		s.mu.Unlock()
	}()
	return nil
}

// Stop kills the server (SIGKILL, as a crash would) and waits until its
// port is closed. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		gone := s.cmd != cmd
		s.mu.Unlock()
		if gone {
			return
		}
		time.Sleep(5 * time.Millisecond) // waiting for the process to be reaped
	}
	s.t.Errorf("redistest: redis-server on %s did not exit", s.Addr)
}

// Restart starts the server again on the same address, with an empty
// dataset (persistence is off). It fails the test if it cannot.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	bin := Require(s.t, "redis-server")
	var err error
	for range 50 { // the port may linger briefly after the kill
		if err = s.start(bin); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restart %s: %v", s.Addr, err)
}

// freePort finds a loopback port that is free now; with bus, port+10000
// (the cluster bus) must be free too.
func freePort(bus bool) (int, error) {
	if !bus {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer func() { _ = l.Close() }()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	for range 100 {
		port := 20000 + rand.IntN(30000) // #nosec G404 -- a port number, not a secret
		l1, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		_ = l1.Close()
		if err != nil {
			continue
		}
		_ = l2.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
