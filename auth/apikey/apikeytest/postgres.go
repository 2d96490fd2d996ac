//go:build unix

package apikeytest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for NewDatabase
)

// Postgres is a throwaway PostgreSQL server started from the machine's
// binaries on a free loopback port, in a temporary directory, with trust
// authentication for the postgres user.
type Postgres struct {
	port int
	n    atomic.Int64
}

// PostgresBinDir returns the directory of the machine's initdb and
// postgres: Debian's versioned /usr/lib/postgresql/N/bin (off PATH;
// the newest), or initdb's directory on PATH. It is "" when there is none.
func PostgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// StartPostgres starts a server and stops it when tb ends. Without the
// binaries it skips tb, or fails it when BULWARK_REQUIRE_REAL=1 (as
// .ci/run sets). As root it runs the server as the postgres user, which
// PostgreSQL requires.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	bin := PostgresBinDir()
	if bin == "" {
		if os.Getenv("BULWARK_REQUIRE_REAL") == "1" {
			tb.Fatal("PostgreSQL binaries (initdb, postgres) not found and BULWARK_REQUIRE_REAL=1: apt-get install postgresql")
		}
		tb.Skip("PostgreSQL binaries not found; install Debian's postgresql package to run this")
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatalf("running as root and no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not tb.TempDir: its parent is private to root, and the server must
	// own its directory.
	dir, err := os.MkdirTemp("", "bulwark-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...) // #nosec G204 -- fixed binaries of the local PostgreSQL installation
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=" + dir}
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		tb.Fatal(err)
	}
	srv := command("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50")
	stderr, err := srv.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	// Ready when the server says so. Its log is read to the end so that it
	// never blocks on a full pipe.
	ready := make(chan struct{})
	var last atomic.Value
	last.Store("")
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			last.Store(sc.Text())
			if !signalled && strings.Contains(sc.Text(), "ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	tb.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		<-exited
	})
	select {
	case <-ready:
	case err := <-exited:
		tb.Fatalf("postgres exited before it was ready: %v (last log line: %v)", err, last.Load())
	case <-time.After(60 * time.Second):
		tb.Fatalf("postgres not ready after 60s (last log line: %v)", last.Load())
	}
	return &Postgres{port: port}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the connection URL of database db on the server.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// NewDatabase creates a fresh, empty database and returns its URL.
func (p *Postgres) NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin, err := sql.Open("pgx", p.URL("postgres"))
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	name := "t" + strconv.FormatInt(p.n.Add(1), 10)
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("CREATE DATABASE: %v", err)
	}
	return p.URL(name)
}
