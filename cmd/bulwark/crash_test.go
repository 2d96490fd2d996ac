package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/audit"
)

// childEnv, when set, makes the test binary run `bulwark serve -config`
// with its value instead of the tests: the gateway as a process of its own
// that a test can kill.
const childEnv = "BULWARK_TEST_SERVE_CHILD"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runServe([]string{"-config", cfg}, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

var listeningRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// startChild runs the gateway in a child process and returns its base URL.
func startChild(t *testing.T, cfg string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$") // #nosec G204 G702 -- the test binary itself
	cmd.Env = append(os.Environ(), childEnv+"="+cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				base <- m[1]
				sent = true
			}
		}
	}()
	select {
	case b := <-base:
		return cmd, b
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not start listening")
	}
	return nil, ""
}

// load sends requests from 4 goroutines until stop is closed.
func load(base string, stop <-chan struct{}) (*sync.WaitGroup, *atomic.Int64) {
	var wg sync.WaitGroup
	var n atomic.Int64
	c := &http.Client{Timeout: 2 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(base + "/public/health")
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					n.Add(1)
				}
			}
		}()
	}
	return &wg, &n
}

// Durability: a gateway killed with SIGKILL mid-load and restarted leaves
// a log that `audit verify -allow-open` accepts, naming the unclean end —
// never "TAMPERED" — and that fails without -allow-open.
func TestServeSIGKILLLeavesAnUncleanEndNotTampering(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath, cpPath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit.checkpoints")
	cfg := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte(`listen: 127.0.0.1:0
shutdown_delay: 0s
routes: [{path: /public/, auth: none}]
audit:
  output: audit.log
  hmac_key_file: audit.key
  sync: every_record
  checkpoints: {file: audit.checkpoints, every: 50}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	child, base := startChild(t, cfg)
	stop := make(chan struct{})
	wg, n := load(base, stop)
	for n.Load() < 300 {
		time.Sleep(10 * time.Millisecond) // polling for load to build up
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	close(stop)
	wg.Wait()

	child, base = startChild(t, cfg)
	for range 5 {
		resp, err := http.Get(base + "/public/health")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("gateway after SIGTERM: %v", err)
	}

	code, out, errOut := runCmd("audit", "verify", "-key-file", keyFile, "-checkpoints", cpPath, "-allow-open", logPath)
	if code != 0 || !strings.Contains(out, "unclean end") || !strings.Contains(out, "killed or crashed") || strings.Contains(out, "TAMPERED") {
		t.Fatalf("audit verify -allow-open after SIGKILL = exit %d\nstdout: %s\nstderr: %s\nwant exit 0 naming the unclean end", code, out, errOut)
	}
	code, out, _ = runCmd("audit", "verify", "-key-file", keyFile, "-checkpoints", cpPath, logPath)
	if code != 1 || !strings.Contains(out, "UNCLEAN END") || strings.Contains(out, "TAMPERED") {
		t.Errorf("audit verify without -allow-open = exit %d, %s; want exit 1 with UNCLEAN END, not TAMPERED", code, out)
	}
}

// `audit verify` takes a directory or a glob of rotated files and
// verifies them in order as one chain; a removed or reordered file fails.
func TestAuditVerifyRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "audit.log")
	cpPath := filepath.Join(t.TempDir(), "audit.checkpoints")
	clk := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l, err := audit.OpenFile(logPath, audit.FileConfig{Key: key, MaxSize: 600, Checkpoints: cpPath, Now: func() time.Time { return clk }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		clk = clk.Add(time.Second)
		slog.New(l).Info("http.request", "n", i)
		if old, _ := audit.Rotated(logPath); len(old) == 4 {
			break
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A directory also holds what is not the log: skipped, and said so.
	if err := os.WriteFile(filepath.Join(dir, "NOTES"), []byte("rotated daily\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(cpPath, filepath.Join(dir, "audit.checkpoints")); err != nil {
		t.Fatal(err)
	}
	files, _ := audit.Rotated(logPath)
	files = append(files, logPath)
	v := func(args ...string) []string {
		return append([]string{"audit", "verify", "-key-file", keyFile, "-checkpoints", cpPath}, args...)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"directory", v(dir), 0, "(5 files)"},
		{"directory: the checkpoint file is skipped", v(dir), 0, "audit.checkpoints: skipped: a checkpoint file"},
		{"directory: other files are skipped", v(dir), 0, "NOTES: skipped: not a chained log"},
		{"glob", v(filepath.Join(dir, "audit.log*")), 0, "in 5 chain(s)"},
		{"files in order", v(files...), 0, "intact"},
		{"files reordered", v(files[0], files[2], files[1], files[3], files[4]), 1, "TAMPERED"},
		{"middle file left out", v(files[0], files[1], files[3], files[4]), 1, "TAMPERED"},
		{"current file left out", v(files[:4]...), 1, "TAMPERED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("bulwark %s = exit %d\nstdout: %s\nstderr: %s\nwant exit %d with %q", strings.Join(tc.args, " "), code, out, errOut, tc.code, tc.want)
			}
		})
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from) // #nosec G304 -- test files
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// logrotate's create mode: the file is renamed, then SIGUSR1 makes the
// gateway end its chain in the renamed file and start a linked one at the
// path; both verify as one chain.
func TestServeSIGUSR1ReopensTheAuditFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(cfg, []byte("routes: [{path: /public/, auth: none}]\naudit: {output: audit.log, hmac_key_file: audit.key}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	usr1 := make(chan os.Signal, 1)
	addr := make(chan net.Addr, 1)
	done := make(chan int, 1)
	stderr := &lockedBuffer{}
	go func() {
		done <- serveMain(ctx, serveOptions{configFile: cfg, listen: "127.0.0.1:0", shutdownDelay: new(time.Duration), reopen: usr1,
			listening: func(pub, _ net.Addr) { addr <- pub }}, io.Discard, stderr)
	}()
	base := "http://" + (<-addr).String()
	hit := func() {
		resp, err := http.Get(base + "/public/health")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	hit()
	logPath := filepath.Join(dir, "audit.log")
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	usr1 <- syscall.SIGUSR1
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "reopened the audit file"); {
		if time.Now().After(deadline) || strings.Contains(stderr.String(), "reopening the audit file") {
			t.Fatalf("no reopen after SIGUSR1:\n%s", stderr)
		}
		time.Sleep(5 * time.Millisecond) // polling for the log line
	}
	hit()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited with %d:\n%s", code, stderr)
	}
	code, out, errOut := runCmd("audit", "verify", "-key-file", keyFile, logPath+".1", logPath)
	if code != 0 || !strings.Contains(out, "in 2 chain(s)") {
		t.Errorf("audit verify of the renamed and the new file = exit %d\nstdout: %s\nstderr: %s\nwant intact, 2 chains", code, out, errOut)
	}
}
