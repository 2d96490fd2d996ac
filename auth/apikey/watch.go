package apikey

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// ChangeSink is told of key changes made elsewhere: by another instance,
// or by `bulwark keys` in another process. [Keys] is the sink of its
// [Config.Watch]; its methods are called from the watcher's goroutine.
type ChangeSink interface {
	// Changed says the record of key id changed (revoked, rotated,
	// expired, deleted): what is cached of it is dropped, so the next
	// request reads the store. An empty id means "some key": everything
	// cached is dropped.
	Changed(id string)
	// Lost says the channel is down and changes may be missed until Live:
	// until then what is cached ages out within [Config.CacheTTL], the
	// bound that holds without a channel.
	Lost(err error)
	// Live says the channel is up (first, or again): every change from
	// now on arrives. Whatever is cached is dropped, since changes made
	// while it was down may have been missed.
	Live()
}

// Watcher delivers the changes of a store made elsewhere: sqlstore.Store
// is one (PostgreSQL LISTEN/NOTIFY, SQLite data_version), and so is
// auth/apikey/redisfeed (Redis pub/sub). Watch runs until ctx is done,
// reconnecting by itself, and returns then.
type Watcher interface {
	Watch(ctx context.Context, sink ChangeSink) error
}

// Announcer is told of every change a [Keys] makes, after the store has
// it, for a channel that runs beside the store (Redis pub/sub). Stores
// whose own triggers announce changes (sqlstore) need none.
type Announcer interface {
	Announce(ctx context.Context, id string) error
}

// ErrNotAnnounced means a change is in the store but [Config.Announce]
// failed to tell the other instances: they see it once their cached
// record is [Config.CacheTTL] old. The change itself succeeded.
var ErrNotAnnounced = errors.New("apikey: change stored, but the other instances were not told (they see it within the cache TTL)")

// watch runs cfg.Watch in the background, stopped by Close.
type watch struct {
	cancel context.CancelFunc
	done   chan struct{}
	live   atomic.Bool
	once   sync.Once
}

// sink is what Keys shows its watcher.
type sink struct {
	k  *Keys
	on func(live bool, err error)
}

func (s sink) Changed(id string) {
	if id == "" {
		s.k.cache.forgetAll()
		return
	}
	s.k.cache.forget(id)
}

func (s sink) Lost(err error) {
	s.k.watch.live.Store(false)
	s.k.cache.forgetAll()
	if s.on != nil {
		s.on(false, err)
	}
}

func (s sink) Live() {
	s.k.cache.forgetAll()
	s.k.watch.live.Store(true)
	if s.on != nil {
		s.on(true, nil)
	}
}

func (k *Keys) startWatch(w Watcher, on func(bool, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	k.watch = &watch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(k.watch.done)
		_ = w.Watch(ctx, sink{k: k, on: on})
	}()
}

func (k *Keys) stopWatch() {
	if k.watch == nil {
		return
	}
	k.watch.once.Do(func() {
		k.watch.cancel()
		<-k.watch.done
		k.watch.live.Store(false)
	})
}

// Watching reports whether changes made elsewhere reach this instance at
// once: a [Config.Watch] is set and its channel is up. When false, they
// reach it within [Config.CacheTTL].
func (k *Keys) Watching() bool { return k.watch != nil && k.watch.live.Load() }

// announce tells the other instances that key id changed.
func (k *Keys) announce(ctx context.Context, id string) error {
	if k.announcer == nil {
		return nil
	}
	if err := k.announcer.Announce(ctx, id); err != nil {
		return errors.Join(ErrNotAnnounced, err)
	}
	return nil
}
