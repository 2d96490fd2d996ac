// Package sqlmigrate applies versioned schema migrations to SQLite and
// PostgreSQL, for the SQL stores (auth/apikey/sqlstore,
// auth/denylist/sqlstore): each migration once, in one transaction with
// the row that records it, in a schema table of the store's own.
package sqlmigrate

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Migration is one version's statements, per dialect.
type Migration struct {
	SQLite, Postgres []string
}

// Schema describes a store's schema: its version table, the advisory lock
// that serialises instances starting together on PostgreSQL (on SQLite the
// write lock of the first statement does), and its migrations, index 0
// unused, so that migrations[v] is version v. Never edit a released
// migration: append one.
type Schema struct {
	Table      string
	Lock       int64
	Migrations []Migration
}

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Version is the schema version s writes.
func (s Schema) Version() int { return len(s.Migrations) - 1 }

// Run brings db's schema to s.Version(). A schema newer than that is an
// error: the program must be upgraded.
func Run(ctx context.Context, db *sql.DB, postgres bool, s Schema) (err error) {
	if !tableName.MatchString(s.Table) {
		return fmt.Errorf("sqlmigrate: bad table name %q", s.Table)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if postgres {
		if _, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, s.Lock); err != nil {
			return err
		}
	}
	// #nosec G202 -- the table name is a constant of the calling package, checked above
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+s.Table+` (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return err
	}
	var have int
	// #nosec G202 -- as above
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+s.Table).Scan(&have); err != nil {
		return err
	}
	if have > s.Version() {
		return fmt.Errorf("schema version %d is newer than this program's %d: upgrade the program", have, s.Version())
	}
	for v := have + 1; v <= s.Version(); v++ {
		stmts := s.Migrations[v].SQLite
		ins := `INSERT INTO ` + s.Table + ` (version, applied_at) VALUES (?, CAST(strftime('%s','now') AS INTEGER) * 1000000)` // #nosec G202 -- as above
		if postgres {
			stmts = s.Migrations[v].Postgres
			ins = `INSERT INTO ` + s.Table + ` (version, applied_at) VALUES ($1, (EXTRACT(EPOCH FROM now()) * 1000000)::BIGINT)` // #nosec G202 -- as above
		}
		for _, st := range stmts {
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

// Numbered rewrites a query's ? placeholders as PostgreSQL's $1, $2, …
// (the stores' queries have no '?' inside a literal).
func Numbered(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
