package sqlstore

import (
	"context"
	"database/sql"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/internal/changefeed"
)

// Channel is the PostgreSQL notification channel on which the store's
// trigger announces the id of every key whose state changed.
const Channel = "bulwark_api_keys"

var _ apikey.Watcher = (*Store)(nil)

// Watch implements [apikey.Watcher]: it tells sink of every key revoked,
// rotated, expired or deleted in the database by anyone (another
// instance, `bulwark keys`), until ctx is done. On PostgreSQL it holds
// one connection in LISTEN on [Channel] (the pgx driver is required); on
// SQLite it holds one connection and reads PRAGMA data_version ten times
// a second, reading the change log only when another connection
// committed. Neither adds anything to the request path.
func (s *Store) Watch(ctx context.Context, sink apikey.ChangeSink) error {
	if s.dialect == Postgres {
		return changefeed.ListenPostgres(ctx, s.db, Channel, s.heartbeat, sink)
	}
	return changefeed.PollSQLite(ctx, s.db, s.poll, changeLog{}, sink)
}

// changeLog reads bulwark_api_keys_changes.
type changeLog struct{}

func (changeLog) Start(ctx context.Context, conn *sql.Conn) (int64, error) {
	var seq int64
	err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM bulwark_api_keys_changes`).Scan(&seq)
	return seq, err
}

func (changeLog) Since(ctx context.Context, conn *sql.Conn, cursor int64) ([]string, int64, error) {
	var oldest sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT MIN(seq) FROM bulwark_api_keys_changes`).Scan(&oldest); err != nil {
		return nil, cursor, err
	}
	if oldest.Valid && oldest.Int64 > cursor+1 {
		return nil, cursor, changefeed.ErrGap // pruned before it was read
	}
	rows, err := conn.QueryContext(ctx, `SELECT seq, id FROM bulwark_api_keys_changes WHERE seq > ? ORDER BY seq`, cursor)
	if err != nil {
		return nil, cursor, err
	}
	defer func() { _ = rows.Close() }()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&cursor, &id); err != nil {
			return nil, cursor, err
		}
		ids = append(ids, id)
	}
	return ids, cursor, rows.Err()
}

// Defaults of the watch, replaced in tests.
const (
	defaultPoll      = changefeed.DefaultPoll
	defaultHeartbeat = changefeed.DefaultHeartbeat
)
