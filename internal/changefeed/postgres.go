package changefeed

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgxConn is what the pgx database/sql driver's connections offer: the
// native connection, which LISTEN needs (database/sql has no
// notifications).
type pgxConn interface{ Conn() *pgx.Conn }

// ErrNotPgx means the *sql.DB is not opened with the pgx driver.
var ErrNotPgx = errors.New("changefeed: LISTEN needs a database opened with the pgx driver")

// ListenPostgres holds one connection of db, LISTENs on channel and
// delivers each notification's payload to sink, until ctx is done. It
// returns only then (with nil), or at once with [ErrNotPgx]. Every
// heartbeat without a notification it checks the connection with a query;
// a connection that fails is reported Lost, dropped (never handed back to
// the pool in the LISTEN state) and replaced.
func ListenPostgres(ctx context.Context, db *sql.DB, channel string, heartbeat time.Duration, sink Sink) error {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	ident := pgx.Identifier{channel}.Sanitize()
	var b backoff
	for {
		err := listenOnce(ctx, db, ident, heartbeat, sink, &b)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrNotPgx) {
			return err
		}
		sink.Lost(err)
		if !b.wait(ctx) {
			return nil
		}
	}
}

func listenOnce(ctx context.Context, db *sql.DB, ident string, heartbeat time.Duration, sink Sink, b *backoff) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(pgxConn)
		if !ok {
			return ErrNotPgx
		}
		c := pc.Conn()
		if _, err := c.Exec(ctx, "LISTEN "+ident); err != nil {
			return errors.Join(err, driver.ErrBadConn)
		}
		b.reset()
		sink.Live()
		for {
			wctx, cancel := context.WithTimeout(ctx, heartbeat)
			n, err := c.WaitForNotification(wctx)
			cancel()
			switch {
			case err == nil:
				sink.Changed(n.Payload)
				continue
			case ctx.Err() != nil:
				return errors.Join(ctx.Err(), driver.ErrBadConn) // never back to the pool while listening
			case !errors.Is(err, context.DeadlineExceeded) || c.IsClosed():
				return errors.Join(err, driver.ErrBadConn)
			}
			// Idle for a heartbeat: is the server still there?
			pctx, cancel := context.WithTimeout(ctx, heartbeat)
			_, err = c.Exec(pctx, "SELECT 1")
			cancel()
			if err != nil {
				return errors.Join(err, driver.ErrBadConn)
			}
		}
	})
}
