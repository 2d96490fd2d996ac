package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/sqlstore"
)

// ExampleNew keeps keys in a SQLite file; the schema is created on first use.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "sqlstore-example-")
	defer func() { _ = os.RemoveAll(dir) }()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "keys.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		panic(err)
	}
	defer func() { _ = db.Close() }()
	store, err := sqlstore.New(ctx, db, sqlstore.SQLite)
	if err != nil {
		panic(err)
	}
	keys, err := apikey.New(apikey.Config{Store: store, Prefix: "acme_live", Pepper: []byte("load-me-from-a-secret-manager-not-from-source")})
	if err != nil {
		panic(err)
	}
	defer func() { _ = keys.Close(ctx) }()

	_, rec, err := keys.Create(ctx, apikey.Spec{Name: "nightly export"})
	fmt.Println(err, rec.Name)
	list, _ := keys.List(ctx)
	fmt.Println(len(list), list[0].ID == rec.ID)
	// Output:
	// <nil> nightly export
	// 1 true
}
