// Package sqlstore keeps API key records in a SQL database through
// database/sql: SQLite (modernc.org/sqlite, no cgo) as the embedded
// default, PostgreSQL (github.com/jackc/pgx/v5/stdlib) for fleets. The
// caller opens the *sql.DB with the driver it chose; this package imports
// no driver.
//
// [New] creates the schema, or upgrades it, with versioned migrations
// recorded in the table bulwark_api_keys_schema. Every write is one
// statement or one transaction, so a crash never leaves a key half rotated.
// Times are stored as Unix microseconds (BIGINT), digests as lowercase hex.
//
// For SQLite open the file with a busy timeout, WAL journaling and
// immediate transactions, so that the gateway and the `bulwark keys`
// command can share it:
//
//	file:/var/lib/bulwark/keys.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"

	"github.com/bulwark-go/bulwark/internal/sqlmigrate"
)

// Dialect selects the SQL flavour.
type Dialect int

// Supported dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Store is an [apikey.Store] on a SQL database. Safe for concurrent use.
type Store struct {
	db        *sql.DB
	q         queries
	dialect   Dialect
	poll      time.Duration // SQLite: how often data_version is read
	heartbeat time.Duration // PostgreSQL: how often an idle LISTEN connection is checked
}

var _ apikey.Store = (*Store)(nil)

const columns = `id, digest, start, name, owner, scopes, roles, metadata, tier, created_at, expires_at, revoked_at, last_used_at, replaces, replaced_by`

type queries struct {
	insert, lookup, get, list, rotateOld, exists, revoke, expire, del, touch string
}

// New migrates the schema of db to the current version and returns the
// store. It does not take ownership of db: close it yourself.
func New(ctx context.Context, db *sql.DB, dialect Dialect) (*Store, error) {
	if db == nil {
		return nil, &auth.ConfigError{Field: "db", Reason: "required"}
	}
	if dialect != SQLite && dialect != Postgres {
		return nil, &auth.ConfigError{Field: "Dialect", Value: dialect.String(), Reason: "must be SQLite or Postgres"}
	}
	s := &Store{db: db, q: newQueries(dialect), dialect: dialect, poll: defaultPoll, heartbeat: defaultHeartbeat}
	if err := migrate(ctx, db, dialect); err != nil {
		return nil, err
	}
	return s, nil
}

func newQueries(d Dialect) queries {
	q := queries{
		insert: `INSERT INTO bulwark_api_keys (` + columns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		lookup: `SELECT ` + columns + ` FROM bulwark_api_keys WHERE digest = ?`,
		get:    `SELECT ` + columns + ` FROM bulwark_api_keys WHERE id = ?`,
		list:   `SELECT ` + columns + ` FROM bulwark_api_keys ORDER BY created_at, id`,
		rotateOld: `UPDATE bulwark_api_keys SET replaced_by = ?,
			expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END
			WHERE id = ? AND revoked_at IS NULL AND replaced_by = ''`,
		exists: `SELECT 1 FROM bulwark_api_keys WHERE id = ?`,
		revoke: `UPDATE bulwark_api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		expire: `UPDATE bulwark_api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END WHERE id = ?`,
		del:    `DELETE FROM bulwark_api_keys WHERE id = ?`,
		touch:  `UPDATE bulwark_api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
	}
	if d == Postgres {
		for _, p := range []*string{&q.insert, &q.lookup, &q.get, &q.list, &q.rotateOld, &q.exists, &q.revoke, &q.expire, &q.del, &q.touch} {
			*p = sqlmigrate.Numbered(*p)
		}
	}
	return q
}

func micros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

func args(r *apikey.Record) ([]any, error) {
	md := "{}"
	if len(r.Metadata) > 0 {
		b, err := json.Marshal(r.Metadata)
		if err != nil {
			return nil, err
		}
		md = string(b)
	}
	return []any{
		r.ID, hex.EncodeToString(r.Digest[:]), r.Start, r.Name, r.Owner,
		strings.Join(r.Scopes, " "), strings.Join(r.Roles, " "), md, r.Tier,
		r.CreatedAt.UnixMicro(), micros(r.ExpiresAt), micros(r.RevokedAt), micros(r.LastUsedAt),
		r.Replaces, r.ReplacedBy,
	}, nil
}

type scanner interface{ Scan(dest ...any) error }

func scan(sc scanner) (apikey.Record, error) {
	var (
		r                          apikey.Record
		digest, scopes, roles, md  string
		created                    int64
		expires, revoked, lastUsed sql.NullInt64
	)
	err := sc.Scan(&r.ID, &digest, &r.Start, &r.Name, &r.Owner, &scopes, &roles, &md, &r.Tier,
		&created, &expires, &revoked, &lastUsed, &r.Replaces, &r.ReplacedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return apikey.Record{}, apikey.ErrNotFound
	}
	if err != nil {
		return apikey.Record{}, err
	}
	if n, err := hex.Decode(r.Digest[:], []byte(digest)); err != nil || n != len(r.Digest) {
		return apikey.Record{}, fmt.Errorf("sqlstore: key %s: corrupt digest", r.ID)
	}
	r.Scopes = strings.Fields(scopes)
	r.Roles = strings.Fields(roles)
	if md != "" && md != "{}" {
		if err := json.Unmarshal([]byte(md), &r.Metadata); err != nil {
			return apikey.Record{}, fmt.Errorf("sqlstore: key %s: corrupt metadata", r.ID)
		}
	}
	r.CreatedAt = time.UnixMicro(created).UTC()
	r.ExpiresAt, r.RevokedAt, r.LastUsedAt = fromMicros(expires), fromMicros(revoked), fromMicros(lastUsed)
	return r, nil
}

// Insert implements [apikey.Store].
func (s *Store) Insert(ctx context.Context, rec apikey.Record) error {
	a, err := args(&rec)
	if err != nil {
		return err
	}
	return affected(s.db.ExecContext(ctx, s.q.insert, a...))(apikey.ErrConflict)
}

// affected turns an Exec result into nil, or errNone when no row changed.
func affected(res sql.Result, err error) func(errNone error) error {
	return func(errNone error) error {
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return errNone
		}
		return nil
	}
}

// Lookup implements [apikey.Store].
func (s *Store) Lookup(ctx context.Context, d apikey.Digest) (apikey.Record, error) {
	return scan(s.db.QueryRowContext(ctx, s.q.lookup, hex.EncodeToString(d[:])))
}

// Get implements [apikey.Store].
func (s *Store) Get(ctx context.Context, id string) (apikey.Record, error) {
	return scan(s.db.QueryRowContext(ctx, s.q.get, id))
}

// List implements [apikey.Store].
func (s *Store) List(ctx context.Context) ([]apikey.Record, error) {
	rows, err := s.db.QueryContext(ctx, s.q.list)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []apikey.Record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Rotate implements [apikey.Store] in one transaction.
func (s *Store) Rotate(ctx context.Context, oldID string, oldExpiresAt time.Time, next apikey.Record) (err error) {
	next.Replaces = oldID
	a, err := args(&next)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	exp := oldExpiresAt.UnixMicro()
	if err = affected(tx.ExecContext(ctx, s.q.rotateOld, next.ID, exp, exp, oldID))(apikey.ErrConflict); err != nil {
		if errors.Is(err, apikey.ErrConflict) {
			var one int
			if e := tx.QueryRowContext(ctx, s.q.exists, oldID).Scan(&one); errors.Is(e, sql.ErrNoRows) {
				err = apikey.ErrNotFound
			}
		}
		return err
	}
	if err = affected(tx.ExecContext(ctx, s.q.insert, a...))(apikey.ErrConflict); err != nil {
		return err
	}
	return tx.Commit()
}

// Revoke implements [apikey.Store].
func (s *Store) Revoke(ctx context.Context, id string, t time.Time) error {
	return affected(s.db.ExecContext(ctx, s.q.revoke, t.UnixMicro(), id))(apikey.ErrNotFound)
}

// Expire implements [apikey.Store].
func (s *Store) Expire(ctx context.Context, id string, t time.Time) error {
	return affected(s.db.ExecContext(ctx, s.q.expire, t.UnixMicro(), t.UnixMicro(), id))(apikey.ErrNotFound)
}

// Delete implements [apikey.Store].
func (s *Store) Delete(ctx context.Context, id string) error {
	return affected(s.db.ExecContext(ctx, s.q.del, id))(apikey.ErrNotFound)
}

// TouchLastUsed implements [apikey.Store] in one transaction.
func (s *Store) TouchLastUsed(ctx context.Context, used map[string]time.Time) (err error) {
	if len(used) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	stmt, err := tx.PrepareContext(ctx, s.q.touch)
	if err != nil {
		return err
	}
	defer func() { _ = stmt.Close() }()
	for id, t := range used {
		if _, err = stmt.ExecContext(ctx, t.UnixMicro(), id, t.UnixMicro()); err != nil {
			return err
		}
	}
	return tx.Commit()
}
