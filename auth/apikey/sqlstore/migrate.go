package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/bulwark-go/bulwark/internal/sqlmigrate"
)

// migrations are applied in order, each once, in one transaction with the
// row recording it (internal/sqlmigrate). Never edit a released migration:
// append a new one.
var migrations = [...]struct {
	sqlite, postgres []string
}{
	1: {
		sqlite: []string{`CREATE TABLE bulwark_api_keys (
			id           TEXT PRIMARY KEY,
			digest       TEXT NOT NULL UNIQUE,
			start        TEXT NOT NULL,
			name         TEXT NOT NULL DEFAULT '',
			owner        TEXT NOT NULL DEFAULT '',
			scopes       TEXT NOT NULL DEFAULT '',
			roles        TEXT NOT NULL DEFAULT '',
			metadata     TEXT NOT NULL DEFAULT '{}',
			tier         TEXT NOT NULL DEFAULT '',
			created_at   INTEGER NOT NULL,
			expires_at   INTEGER,
			revoked_at   INTEGER,
			last_used_at INTEGER,
			replaces     TEXT NOT NULL DEFAULT '',
			replaced_by  TEXT NOT NULL DEFAULT ''
		)`},
		postgres: []string{`CREATE TABLE bulwark_api_keys (
			id           TEXT PRIMARY KEY,
			digest       TEXT NOT NULL UNIQUE,
			start        TEXT NOT NULL,
			name         TEXT NOT NULL DEFAULT '',
			owner        TEXT NOT NULL DEFAULT '',
			scopes       TEXT NOT NULL DEFAULT '',
			roles        TEXT NOT NULL DEFAULT '',
			metadata     TEXT NOT NULL DEFAULT '{}',
			tier         TEXT NOT NULL DEFAULT '',
			created_at   BIGINT NOT NULL,
			expires_at   BIGINT,
			revoked_at   BIGINT,
			last_used_at BIGINT,
			replaces     TEXT NOT NULL DEFAULT '',
			replaced_by  TEXT NOT NULL DEFAULT ''
		)`},
	},
	// 2: changes to a key's state reach other instances at once. On
	// PostgreSQL a trigger NOTIFYs the key id on the channel
	// bulwark_api_keys when it commits; on SQLite triggers append it to a
	// change log (the newest 10 000 kept) that watchers read when PRAGMA
	// data_version says another connection committed. Last-use updates
	// touch neither: only revoked_at, expires_at and replaced_by, and
	// deletions, are changes.
	2: {
		sqlite: []string{
			`CREATE TABLE bulwark_api_keys_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL)`,
			`CREATE TRIGGER bulwark_api_keys_changed AFTER UPDATE OF revoked_at, expires_at, replaced_by ON bulwark_api_keys BEGIN
				INSERT INTO bulwark_api_keys_changes (id) VALUES (OLD.id);
				DELETE FROM bulwark_api_keys_changes WHERE seq <= (SELECT MAX(seq) FROM bulwark_api_keys_changes) - 10000;
			END`,
			`CREATE TRIGGER bulwark_api_keys_deleted AFTER DELETE ON bulwark_api_keys BEGIN
				INSERT INTO bulwark_api_keys_changes (id) VALUES (OLD.id);
				DELETE FROM bulwark_api_keys_changes WHERE seq <= (SELECT MAX(seq) FROM bulwark_api_keys_changes) - 10000;
			END`,
		},
		postgres: []string{
			`CREATE FUNCTION bulwark_api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				PERFORM pg_notify('bulwark_api_keys', OLD.id);
				RETURN NULL;
			END $$`,
			`CREATE TRIGGER bulwark_api_keys_changed AFTER UPDATE OF revoked_at, expires_at, replaced_by OR DELETE ON bulwark_api_keys
				FOR EACH ROW EXECUTE FUNCTION bulwark_api_keys_notify()`,
		},
	},
}

// schema is the store's schema, for internal/sqlmigrate.
var schema = func() sqlmigrate.Schema {
	s := sqlmigrate.Schema{Table: "bulwark_api_keys_schema", Lock: 6453099} // 0x62776b: "bwk"
	for _, m := range migrations {
		s.Migrations = append(s.Migrations, sqlmigrate.Migration{SQLite: m.sqlite, Postgres: m.postgres})
	}
	return s
}()

// SchemaVersion is the schema version this package writes.
const SchemaVersion = len(migrations) - 1

// migrate brings the schema to SchemaVersion.
func migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	if err := sqlmigrate.Run(ctx, db, d == Postgres, schema); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}
