package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/auth/apikey/sqlstore"
)

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func newSQLiteStore(t *testing.T) apikey.Store {
	t.Helper()
	db := openSQLite(t, filepath.Join(t.TempDir(), "keys.db"))
	s, err := sqlstore.New(context.Background(), db, sqlstore.SQLite)
	if err != nil {
		t.Fatalf("sqlstore.New: %v", err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	apikeytest.TestStore(t, newSQLiteStore)
}

// openPostgres opens a fresh database on pg, closed when t ends.
func openPostgres(t *testing.T, pg *apikeytest.Postgres) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestPostgresConformance(t *testing.T) {
	pg := apikeytest.StartPostgres(t)
	apikeytest.TestStore(t, func(t *testing.T) apikey.Store {
		s, err := sqlstore.New(context.Background(), openPostgres(t, pg), sqlstore.Postgres)
		if err != nil {
			t.Fatalf("sqlstore.New: %v", err)
		}
		return s
	})
	t.Run("Migrations", func(t *testing.T) { testMigrations(t, openPostgres(t, pg), sqlstore.Postgres) })
	t.Run("TwoInstances", func(t *testing.T) {
		db := openPostgres(t, pg)
		testTwoInstances(t, db, db, sqlstore.Postgres)
	})
}

func TestSQLiteMigrations(t *testing.T) {
	testMigrations(t, openSQLite(t, filepath.Join(t.TempDir(), "keys.db")), sqlstore.SQLite)
}

// testMigrations: New is idempotent, records the version, and refuses a
// schema newer than it knows.
func testMigrations(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
	ctx := context.Background()
	for i := range 2 {
		if _, err := sqlstore.New(ctx, db, d); err != nil {
			t.Fatalf("New #%d: %v", i+1, err)
		}
	}
	var v int
	if err := db.QueryRowContext(ctx, "SELECT MAX(version) FROM bulwark_api_keys_schema").Scan(&v); err != nil || v != sqlstore.SchemaVersion {
		t.Fatalf("schema version = %d, %v; want %d", v, err, sqlstore.SchemaVersion)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO bulwark_api_keys_schema (version, applied_at) VALUES (999, 0)"); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.New(ctx, db, d); err == nil {
		t.Fatal("New on a schema from a newer version = nil error, want refusal")
	}
}

func TestNewRejectsBadArguments(t *testing.T) {
	db := openSQLite(t, filepath.Join(t.TempDir(), "keys.db"))
	if _, err := sqlstore.New(context.Background(), nil, sqlstore.SQLite); err == nil {
		t.Error("New(nil db) = nil error")
	}
	if _, err := sqlstore.New(context.Background(), db, sqlstore.Dialect(0)); err == nil {
		t.Error("New(dialect 0) = nil error")
	}
}

// TestSQLiteTwoInstances: a gateway and an operator tool on the same file.
func TestSQLiteTwoInstances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	testTwoInstances(t, openSQLite(t, path), openSQLite(t, path), sqlstore.SQLite)
}

// testTwoInstances: a key revoked on one instance is refused by another
// once that instance's cache entry is older than CacheTTL.
func testTwoInstances(t *testing.T, db1, db2 *sql.DB, d sqlstore.Dialect) {
	ctx := context.Background()
	clock := apikeytest.NewClock()
	var keys [2]*apikey.Keys
	for i, db := range []*sql.DB{db1, db2} {
		s, err := sqlstore.New(ctx, db, d)
		if err != nil {
			t.Fatal(err)
		}
		keys[i], err = apikey.New(apikey.Config{Store: s, Prefix: "bwk_test", Pepper: apikeytest.Pepper(),
			Now: clock.Now, CacheTTL: 10 * time.Second, LastUsedInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
	}
	gateway, operator := keys[0], keys[1]
	key, rec, err := operator.Create(ctx, apikey.Spec{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	do := func() error {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		_, err := gateway.Authenticate(r)
		return err
	}
	if err := do(); err != nil {
		t.Fatalf("gateway refused a key created by the operator: %v", err)
	}
	if err := operator.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Second)
	if err := do(); err != nil {
		t.Fatalf("within CacheTTL the gateway's cached record is used: got %v, want nil (the documented bound)", err)
	}
	clock.Advance(time.Second)
	if err := do(); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("after CacheTTL, Authenticate(revoked elsewhere) = %v, want ErrRevoked", err)
	}
}
