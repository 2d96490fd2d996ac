package changefeed

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// DefaultPoll is how often SQLite's data_version is read.
const DefaultPoll = 100 * time.Millisecond

// ErrGap means changes were pruned from the log before the feed read
// them.
var ErrGap = errors.New("changefeed: changes were missed")

// Log reads a change log: Start returns the cursor to read after (the
// newest change now), Since the changes after cursor in commit order with
// the new cursor. Since returns [ErrGap] when the log no longer holds the
// change right after cursor.
type Log interface {
	Start(ctx context.Context, conn *sql.Conn) (int64, error)
	Since(ctx context.Context, conn *sql.Conn, cursor int64) (payloads []string, next int64, err error)
}

// PollSQLite holds one connection of db and reads PRAGMA data_version
// every poll: it changes when another connection (another process, or
// another connection of this one) commits to the file. Then it reads the
// log and delivers its payloads to sink, until ctx is done. It returns
// only then. A poll costs one PRAGMA on an open connection, a few
// microseconds, and never a table read unless something was committed.
func PollSQLite(ctx context.Context, db *sql.DB, poll time.Duration, log Log, sink Sink) error {
	if poll <= 0 {
		poll = DefaultPoll
	}
	var b backoff
	for {
		err := pollOnce(ctx, db, poll, log, sink, &b)
		if ctx.Err() != nil {
			return nil
		}
		sink.Lost(err)
		if errors.Is(err, ErrGap) {
			continue // start afresh from the newest change: the caller dropped its cache
		}
		if !b.wait(ctx) {
			return nil
		}
	}
}

func pollOnce(ctx context.Context, db *sql.DB, poll time.Duration, log Log, sink Sink, b *backoff) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	version := func() (int64, error) {
		var v int64
		err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
		return v, err
	}
	seen, err := version()
	if err != nil {
		return err
	}
	cursor, err := log.Start(ctx, conn)
	if err != nil {
		return err
	}
	b.reset()
	sink.Live()
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		v, err := version()
		if err != nil {
			return err
		}
		if v == seen {
			continue
		}
		seen = v
		payloads, next, err := log.Since(ctx, conn, cursor)
		if err != nil {
			return err
		}
		cursor = next
		for _, p := range payloads {
			sink.Changed(p)
		}
	}
}
