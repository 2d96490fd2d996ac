package apikey

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// tracker batches last-use times in memory; a background goroutine (or
// [Keys.Flush]) writes them to the store. Recording never waits for I/O.
type tracker struct {
	store   Store
	mu      sync.Mutex
	pending map[string]time.Time
	flushMu sync.Mutex // one flush at a time
	closed  atomic.Bool

	stop chan struct{}
	done chan struct{}
}

func newTracker(s Store) *tracker {
	return &tracker{store: s, pending: make(map[string]time.Time)}
}

func (t *tracker) record(id string, at time.Time) {
	if t == nil || t.closed.Load() {
		return
	}
	t.mu.Lock()
	if prev, ok := t.pending[id]; !ok || at.After(prev) {
		t.pending[id] = at
	}
	t.mu.Unlock()
}

func (t *tracker) flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.Lock()
	batch := t.pending
	if len(batch) == 0 {
		t.mu.Unlock()
		return nil
	}
	t.pending = make(map[string]time.Time, len(batch))
	t.mu.Unlock()
	if err := t.store.TouchLastUsed(ctx, batch); err != nil {
		// Put the batch back so the next flush retries it.
		t.mu.Lock()
		for id, at := range batch {
			if prev, ok := t.pending[id]; !ok || at.After(prev) {
				t.pending[id] = at
			}
		}
		t.mu.Unlock()
		return err
	}
	return nil
}

func (t *tracker) start(every time.Duration) {
	t.stop = make(chan struct{})
	t.done = make(chan struct{})
	go func() {
		defer close(t.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), every)
				_ = t.flush(ctx) // retried on the next tick
				cancel()
			}
		}
	}()
}

func (t *tracker) close(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.closed.Store(true)
	if t.stop != nil {
		close(t.stop)
		<-t.done
		t.stop = nil
	}
	return t.flush(ctx)
}
