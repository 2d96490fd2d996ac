// Package sqlstore keeps a deny-list (auth/denylist) in SQLite or
// PostgreSQL through database/sql, for every instance that shares the
// database. The caller opens the *sql.DB with its driver (the pgx driver
// for PostgreSQL, whose LISTEN the channel needs); [New] creates or
// migrates the table bulwark_jwt_denylist.
//
// Each Add is one transaction: on PostgreSQL it takes an advisory lock, so
// that entries commit in the order of their sequence numbers (a reader
// never skips one that commits late), and NOTIFYs the channel
// bulwark_jwt_denylist when it commits; on SQLite writers are serialised
// by the database, and watchers read PRAGMA data_version. Entries past
// their Until are deleted by the next Add.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/internal/changefeed"
	"github.com/bulwark-go/bulwark/internal/sqlmigrate"
)

// Dialect selects the SQL flavour.
type Dialect int

// Supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

// Channel is the PostgreSQL notification channel of new entries.
const Channel = "bulwark_jwt_denylist"

// maxBatch bounds the entries one Since returns.
const maxBatch = 1000

var schema = sqlmigrate.Schema{
	Table: "bulwark_jwt_denylist_schema",
	Lock:  0x62776464, // "bwdd"
	Migrations: []sqlmigrate.Migration{
		{},
		{
			SQLite: []string{
				`CREATE TABLE bulwark_jwt_denylist (
					seq    INTEGER PRIMARY KEY AUTOINCREMENT,
					kind   TEXT NOT NULL,
					issuer TEXT NOT NULL,
					value  TEXT NOT NULL,
					at     INTEGER NOT NULL,
					until  INTEGER NOT NULL
				)`,
				`CREATE INDEX bulwark_jwt_denylist_until ON bulwark_jwt_denylist (until)`,
			},
			Postgres: []string{
				`CREATE TABLE bulwark_jwt_denylist (
					seq    BIGSERIAL PRIMARY KEY,
					kind   TEXT NOT NULL,
					issuer TEXT NOT NULL,
					value  TEXT NOT NULL,
					at     BIGINT NOT NULL,
					until  BIGINT NOT NULL
				)`,
				`CREATE INDEX bulwark_jwt_denylist_until ON bulwark_jwt_denylist (until)`,
			},
		},
	},
}

// Store is a [denylist.Store] and [denylist.Watcher] on a SQL database.
// Safe for concurrent use.
type Store struct {
	db        *sql.DB
	dialect   Dialect
	now       func() time.Time
	insert    string
	prune     string
	since     string
	heartbeat time.Duration
	poll      time.Duration
}

var (
	_ denylist.Store   = (*Store)(nil)
	_ denylist.Watcher = (*Store)(nil)
)

// New migrates db's deny-list table and returns the store. It does not
// take ownership of db. now is the clock entries are pruned by (nil:
// time.Now).
func New(ctx context.Context, db *sql.DB, dialect Dialect, now func() time.Time) (*Store, error) {
	if db == nil {
		return nil, &auth.ConfigError{Field: "db", Reason: "required"}
	}
	if dialect != SQLite && dialect != Postgres {
		return nil, &auth.ConfigError{Field: "Dialect", Value: strconv.Itoa(int(dialect)), Reason: "must be SQLite or Postgres"}
	}
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, dialect: dialect, now: now, heartbeat: changefeed.DefaultHeartbeat, poll: changefeed.DefaultPoll,
		insert: `INSERT INTO bulwark_jwt_denylist (kind, issuer, value, at, until) VALUES (?, ?, ?, ?, ?)`,
		prune:  `DELETE FROM bulwark_jwt_denylist WHERE until <= ?`,
		since:  `SELECT seq, kind, issuer, value, at, until FROM bulwark_jwt_denylist WHERE seq > ? AND until > ? ORDER BY seq LIMIT ` + strconv.Itoa(maxBatch),
	}
	if dialect == Postgres {
		s.insert, s.prune, s.since = sqlmigrate.Numbered(s.insert), sqlmigrate.Numbered(s.prune), sqlmigrate.Numbered(s.since)
	}
	if err := sqlmigrate.Run(ctx, db, dialect == Postgres, schema); err != nil {
		return nil, errors.Join(errors.New("denylist sqlstore: migrate"), err)
	}
	return s, nil
}

// Add implements [denylist.Store] in one transaction.
func (s *Store) Add(ctx context.Context, e denylist.Entry) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.dialect == Postgres {
		// Entries commit in sequence order: a reader that saw entry n has
		// seen every entry before it.
		if _, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schema.Lock); err != nil {
			return err
		}
	}
	if _, err = tx.ExecContext(ctx, s.prune, s.now().UnixMicro()); err != nil {
		return err
	}
	if _, err = tx.ExecContext(ctx, s.insert, e.Kind.String(), e.Issuer, e.Value, e.At.UnixMicro(), e.Until.UnixMicro()); err != nil {
		return err
	}
	if s.dialect == Postgres {
		if _, err = tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, Channel); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Since implements [denylist.Store].
func (s *Store) Since(ctx context.Context, cursor int64) ([]denylist.Entry, int64, error) {
	rows, err := s.db.QueryContext(ctx, s.since, cursor, s.now().UnixMicro())
	if err != nil {
		return nil, cursor, err
	}
	defer func() { _ = rows.Close() }()
	var out []denylist.Entry
	for rows.Next() {
		var (
			kind      string
			at, until int64
			e         denylist.Entry
		)
		if err := rows.Scan(&cursor, &kind, &e.Issuer, &e.Value, &at, &until); err != nil {
			return nil, cursor, err
		}
		k, ok := denylist.ParseKind(kind)
		if !ok {
			continue // written by something else: never deny on what cannot be read
		}
		e.Kind, e.At, e.Until = k, time.UnixMicro(at), time.UnixMicro(until)
		out = append(out, e)
	}
	return out, cursor, rows.Err()
}

// Watch implements [denylist.Watcher]: LISTEN on [Channel] on PostgreSQL,
// PRAGMA data_version on SQLite.
func (s *Store) Watch(ctx context.Context, sink denylist.ChangeSink) error {
	if s.dialect == Postgres {
		return changefeed.ListenPostgres(ctx, s.db, Channel, s.heartbeat, sink)
	}
	return changefeed.PollSQLite(ctx, s.db, s.poll, newest{}, sink)
}

// newest says "something was added" when the newest sequence number grew.
type newest struct{}

func (newest) Start(ctx context.Context, conn *sql.Conn) (int64, error) {
	var seq int64
	err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM bulwark_jwt_denylist`).Scan(&seq)
	return seq, err
}

func (n newest) Since(ctx context.Context, conn *sql.Conn, cursor int64) ([]string, int64, error) {
	seq, err := n.Start(ctx, conn)
	if err != nil || seq == cursor {
		return nil, cursor, err
	}
	return []string{""}, seq, nil
}
