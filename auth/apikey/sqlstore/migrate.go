package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are applied in order, each once, in one transaction with the
// row recording it. Never edit a released migration: append a new one.
var migrations = [...]struct {
	sqlite, postgres string
}{
	1: {
		sqlite: `CREATE TABLE bulwark_api_keys (
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
		)`,
		postgres: `CREATE TABLE bulwark_api_keys (
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
		)`,
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
		if _, err = tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("version %d: %w", v, err)
		}
		if _, err = tx.ExecContext(ctx, ins, v); err != nil {
			return err
		}
	}
	return tx.Commit()
}
