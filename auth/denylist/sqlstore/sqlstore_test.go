package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/auth/denylist/sqlstore"
)

const iss = "https://idp.example"

func open(t *testing.T, driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// instance is one gateway's deny-list on its own connection pool.
type instance struct {
	list   *denylist.List
	synced chan int
	live   chan bool
}

func newInstance(t *testing.T, db *sql.DB, d sqlstore.Dialect) *instance {
	t.Helper()
	s, err := sqlstore.New(context.Background(), db, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{synced: make(chan int, 64), live: make(chan bool, 64)}
	in.list, err = denylist.New(denylist.Config{Store: s, Resync: time.Hour, // only the channel can bring news in time
		OnSync:  func(n int) { in.synced <- n },
		OnWatch: func(live bool, _ error) { in.live <- live }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.list.Close() })
	if err := in.list.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.live:
	case <-time.After(10 * time.Second):
		t.Fatal("the channel never came up")
	}
	return in
}

// testLogoutReachesTheFleet: a session logged out on one instance is
// refused on the other as soon as the database's channel tells it, with
// the resync an hour away.
func testLogoutReachesTheFleet(t *testing.T, a, b *sql.DB, d sqlstore.Dialect) {
	ia, ib := newInstance(t, a, d), newInstance(t, b, d)
	id := auth.TokenID{Issuer: iss, Subject: "alice", SID: "s-1", IssuedAt: time.Now().Add(-time.Minute)}
	if err := ia.list.Add(context.Background(), denylist.Entry{Kind: denylist.Session, Issuer: iss, Value: "s-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ib.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("the other instance never read the new entry")
	}
	if got, err := ib.list.Revoked(context.Background(), id); !got || err != nil {
		t.Fatalf("other instance: Revoked = %v, %v; want denied", got, err)
	}
	if !ib.list.Watching() {
		t.Error("Watching() = false with the channel up")
	}
	// An entry past its time is pruned by the next Add and never read.
	if err := ia.list.Add(context.Background(), denylist.Entry{Kind: denylist.JTI, Issuer: iss, Value: "old",
		At: time.Now().Add(-2 * time.Hour), Until: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := ib.list.Revoked(context.Background(), auth.TokenID{Issuer: iss, JTI: "old"}); got {
		t.Error("an expired entry denies")
	}
}

func TestPostgresLogoutReachesTheFleet(t *testing.T) {
	pg := apikeytest.StartPostgres(t)
	url := pg.NewDatabase(t)
	testLogoutReachesTheFleet(t, open(t, "pgx", url), open(t, "pgx", url), sqlstore.Postgres)
}

func TestSQLiteLogoutReachesTheFleet(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "deny.db") + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
	testLogoutReachesTheFleet(t, open(t, "sqlite", dsn), open(t, "sqlite", dsn), sqlstore.SQLite)
}

func TestNewRefusesBadArguments(t *testing.T) {
	if _, err := sqlstore.New(context.Background(), nil, sqlstore.SQLite, nil); err == nil {
		t.Error("nil db accepted")
	}
}
