// Package changefeed carries news of revocations between the instances of
// a fleet, so that a revoked API key or a logged-out session stops working
// everywhere within a second instead of when caches age out: PostgreSQL
// LISTEN/NOTIFY, SQLite's PRAGMA data_version (polled), and Redis pub/sub.
//
// Each feed runs until its context is done and tells a [Sink] what it
// learns: a change (with its payload, such as a key id), that it lost its
// channel (changes may be missed until it is back: the caller falls back
// to its cache TTL), and that it is live (again). Reconnection is
// automatic, with a capped exponential backoff; a dead connection is found
// by a heartbeat, not only when the next change fails to arrive.
//
// The packages that own the data (auth/apikey/sqlstore,
// auth/apikey/redisfeed, auth/denylist/…) use it; it is internal.
package changefeed

import (
	"context"
	"time"
)

// Sink receives what a feed learns. Its methods are called from the feed's
// goroutine, one at a time, and must not block for long.
type Sink interface {
	// Changed says something changed elsewhere; payload is the feed's (a
	// key id, or "" when the feed cannot say what).
	Changed(payload string)
	// Lost says the channel is down: changes may be missed until Live.
	Lost(err error)
	// Live says the channel is up, for the first time or again: every
	// change from now on is delivered.
	Live()
}

// Defaults shared by the feeds.
const (
	// DefaultHeartbeat is how often an idle channel is checked.
	DefaultHeartbeat = 5 * time.Second
	minBackoff       = 100 * time.Millisecond
	maxBackoff       = 5 * time.Second
)

// backoff waits before the next reconnection attempt and returns false
// when ctx is done first.
type backoff struct{ d time.Duration }

func (b *backoff) wait(ctx context.Context) bool {
	if b.d == 0 {
		b.d = minBackoff
	} else if b.d *= 2; b.d > maxBackoff {
		b.d = maxBackoff
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (b *backoff) reset() { b.d = 0 }
