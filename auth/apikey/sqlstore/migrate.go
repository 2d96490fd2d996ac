package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, in one transaction with the
// row recording it. Never edit a released migration: append a new one.
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

// SchemaVersion is the schema version this package writes.
const SchemaVersion = len(migrations) - 1

// migrate brings the schema to SchemaVersion. On PostgreSQL an advisory
// lock serialises instances starting together; on SQLite the write lock
// taken by the first statement does.
func migrate(ctx context.Context, db *sql.DB, d Dialect) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			err = fmt.Errorf("sqlstore: migrate: %w", err)
		}
	}()
	if d == Postgres {
		// 0x62776b: "bwk".
		if _, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(6453099)`); err != nil {
			return err
		}
	}
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bulwark_api_keys_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	var have int
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM bulwark_api_keys_schema`).Scan(&have); err != nil {
		return err
	}
	if have > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this program's %d: upgrade the program", have, SchemaVersion)
	}
	for v := have + 1; v <= SchemaVersion; v++ {
		stmt := migrations[v].sqlite
		ins := `INSERT INTO bulwark_api_keys_schema (version, applied_at) VALUES (?, CAST(strftime('%s','now') AS INTEGER) * 1000000)`
		if d == Postgres {
			stmt = migrations[v].postgres
			ins = `INSERT INTO bulwark_api_keys_schema (version, applied_at) VALUES ($1, (EXTRACT(EPOCH FROM now()) * 1000000)::BIGINT)`
		}
		for _, st := range stmt {
			if _, err = tx.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("version %d: %w", v, err)
			}
		}
		if _, err = tx.ExecContext(ctx, ins, v); err != nil {
			return err
		}
	}
	return tx.Commit()
}
