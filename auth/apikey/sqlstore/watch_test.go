package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/auth/apikey/sqlstore"
)

// observed passes a watcher's news on, and tells the test.
type observed struct {
	apikey.Watcher
	events chan string
}

func observe(w apikey.Watcher) *observed {
	return &observed{Watcher: w, events: make(chan string, 1024)}
}

func (o *observed) Watch(ctx context.Context, s apikey.ChangeSink) error {
	return o.Watcher.Watch(ctx, observingSink{s, o.events})
}

type observingSink struct {
	apikey.ChangeSink
	events chan string
}

func (o observingSink) send(e string) {
	select {
	case o.events <- e:
	default:
	}
}
func (o observingSink) Changed(id string) { o.ChangeSink.Changed(id); o.send("changed " + id) }
func (o observingSink) Lost(err error)    { o.ChangeSink.Lost(err); o.send("lost") }
func (o observingSink) Live()             { o.ChangeSink.Live(); o.send("live") }

// waitFor reads events until one equals want, for at most 10 s.
func waitFor(t *testing.T, o *observed, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-o.events:
			if e == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q from the watcher within 10s", want)
		}
	}
}

// watchStatus records OnWatch calls.
type watchStatus struct {
	mu    sync.Mutex
	calls []bool
}

func (w *watchStatus) on(live bool, _ error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, live)
}

func (w *watchStatus) get() []bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]bool(nil), w.calls...)
}

// fleet is a gateway-like instance (cache TTL far beyond the test, a
// fixed clock: only the watch can make it see a change) and an operator
// instance on another connection pool of the same database.
func fleet(t *testing.T, gwDB, opDB *sql.DB, d sqlstore.Dialect) (gw, op *apikey.Keys, o *observed, st *watchStatus) {
	t.Helper()
	ctx := context.Background()
	gs, err := sqlstore.New(ctx, gwDB, d)
	if err != nil {
		t.Fatal(err)
	}
	// Checked every 10 ms: the heartbeats between the test's steps must
	// leave the LISTEN connection working.
	sqlstore.SetHeartbeat(gs, 10*time.Millisecond)
	os, err := sqlstore.New(ctx, opDB, d)
	if err != nil {
		t.Fatal(err)
	}
	clock := apikeytest.NewClock()
	o, st = observe(gs), &watchStatus{}
	gw, err = apikey.New(apikey.Config{Store: gs, Prefix: "bwk_test", Pepper: apikeytest.Pepper(), Now: clock.Now,
		CacheTTL: apikey.MaxCacheTTL, LastUsedInterval: -1, Watch: o, OnWatch: st.on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close(context.Background()) })
	op, err = apikey.New(apikey.Config{Store: os, Prefix: "bwk_test", Pepper: apikeytest.Pepper(), Now: clock.Now, LastUsedInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, o, "live")
	return gw, op, o, st
}

func present(k *apikey.Keys, key string) error {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	_, err := k.Authenticate(r)
	return err
}

// testRevokedElsewhereAtOnce: a key revoked, rotated out, expired or
// deleted by another instance is refused by the gateway as soon as the
// store's channel says so, long before its cached record ages out.
func testRevokedElsewhereAtOnce(t *testing.T, gwDB, opDB *sql.DB, d sqlstore.Dialect) {
	gw, op, o, _ := fleet(t, gwDB, opDB, d)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		do   func(id string) error
		want error
	}{
		{"revoke", func(id string) error { return op.Revoke(ctx, id) }, apikey.ErrRevoked},
		{"rotate without overlap", func(id string) error { _, _, err := op.Rotate(ctx, id, 0); return err }, apikey.ErrExpired},
		{"expire", func(id string) error { return op.Expire(ctx, id, time.Time{}) }, apikey.ErrExpired},
		{"delete", func(id string) error { return op.Delete(ctx, id) }, apikey.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, rec, err := op.Create(ctx, apikey.Spec{Name: tc.name})
			if err != nil {
				t.Fatal(err)
			}
			if err := present(gw, key); err != nil {
				t.Fatalf("gateway refused a fresh key: %v", err)
			}
			if err := tc.do(rec.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, o, "changed "+rec.ID)
			if err := present(gw, key); !errors.Is(err, tc.want) {
				t.Fatalf("after %s elsewhere, gateway = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
	if !gw.Watching() {
		t.Error("Watching() = false with the channel up")
	}
}

func TestPostgresRevokedElsewhereAtOnce(t *testing.T) {
	pg := apikeytest.StartPostgres(t)
	url := pg.NewDatabase(t)
	testRevokedElsewhereAtOnce(t, openURL(t, url), openURL(t, url), sqlstore.Postgres)
}

func TestSQLiteRevokedElsewhereAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	testRevokedElsewhereAtOnce(t, openSQLite(t, path), openSQLite(t, path), sqlstore.SQLite)
}

func openURL(t *testing.T, url string) *sql.DB {
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestAttackPostgresListenerKilled: the LISTEN connection is terminated
// (a failover, a DBA's pg_terminate_backend). The loss is reported
// (OnWatch false), a revocation made while it was down is not missed
// (the cache is dropped when the channel is back), and the channel comes
// back by itself.
func TestAttackPostgresListenerKilled(t *testing.T) {
	pg := apikeytest.StartPostgres(t)
	url := pg.NewDatabase(t)
	gwDB, opDB := openURL(t, url), openURL(t, url)
	gw, op, o, st := fleet(t, gwDB, opDB, sqlstore.Postgres)
	ctx := context.Background()
	key, rec, err := op.Create(ctx, apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := present(gw, key); err != nil {
		t.Fatal(err)
	}
	// The revocation commits after the listener is gone, so its NOTIFY
	// reaches no one.
	tx, err := opDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE bulwark_api_keys SET revoked_at = 1 WHERE id = $1`, rec.ID); err != nil {
		t.Fatal(err)
	}
	var killed int
	if err := opDB.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' OR query = 'SELECT 1'`).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminating the listener: %d, %v", killed, err)
	}
	if err := tx.Commit(); err != nil { // its NOTIFY goes to nobody
		t.Fatal(err)
	}
	waitFor(t, o, "lost")
	waitFor(t, o, "live")
	if err := present(gw, key); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("key revoked while the channel was down: gateway = %v, want ErrRevoked", err)
	}
	calls := st.get()
	if len(calls) < 3 || calls[0] != true || !containsBool(calls[1:], false) || calls[len(calls)-1] != true {
		t.Errorf("OnWatch calls = %v, want live, lost, live", calls)
	}
	if !gw.Watching() {
		t.Error("Watching() = false after the channel came back")
	}
}

func containsBool(l []bool, v bool) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}
