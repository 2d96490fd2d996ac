package denylist

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/auth"
)

// Kind is what an entry names.
type Kind uint8

// Kinds of entries.
const (
	// JTI denies one token, by its jti claim.
	JTI Kind = iota + 1
	// Session denies the tokens of one session, by their sid claim.
	Session
	// Subject denies the tokens of a subject issued at or before the
	// entry's At.
	Subject
)

func (k Kind) String() string {
	switch k {
	case JTI:
		return "jti"
	case Session:
		return "sid"
	case Subject:
		return "sub"
	}
	return "invalid"
}

// ParseKind reads a kind as [Kind.String] writes it.
func ParseKind(s string) (Kind, bool) {
	switch s {
	case "jti":
		return JTI, true
	case "sid":
		return Session, true
	case "sub":
		return Subject, true
	}
	return 0, false
}

// Entry is one refusal.
type Entry struct {
	Kind   Kind
	Issuer string // the tokens' iss, exactly
	Value  string // the jti, sid or sub
	// At is when the entry was made (for a back-channel logout, the
	// logout token's iat). A Subject entry denies the tokens issued at or
	// before it. Zero: now.
	At time.Time
	// Until is when the entry is dropped, once every token it could deny
	// has expired. Zero: At plus [Config.Retention].
	Until time.Time
}

// Limits on entries, so that the list stays small.
const (
	maxIssuer = 2048
	maxValue  = 1024
)

// ErrEntry means an entry is not acceptable; the wrapping error says why.
var ErrEntry = errors.New("denylist: invalid entry")

func (e *Entry) check() error {
	switch {
	case e.Kind < JTI || e.Kind > Subject:
		return fmt.Errorf("%w: kind must be jti, sid or sub", ErrEntry)
	case e.Issuer == "" || len(e.Issuer) > maxIssuer:
		return fmt.Errorf("%w: issuer required, at most %d bytes", ErrEntry, maxIssuer)
	case e.Value == "" || len(e.Value) > maxValue:
		return fmt.Errorf("%w: value required, at most %d bytes", ErrEntry, maxValue)
	case !e.Until.IsZero() && !e.Until.After(e.At):
		return fmt.Errorf("%w: until must be after at", ErrEntry)
	}
	return nil
}

// Store keeps entries for the fleet. Implementations must be safe for
// concurrent use.
type Store interface {
	// Add records e (its At and Until set) and drops entries past their
	// Until.
	Add(ctx context.Context, e Entry) error
	// Since returns the entries added after cursor (0: from the first)
	// that are not past their Until, in the order they were added, and
	// the cursor to ask with next. It may return fewer than all; the List
	// asks again at once when it returns any.
	Since(ctx context.Context, cursor int64) ([]Entry, int64, error)
}

// ChangeSink is told that entries were added elsewhere (and when the
// channel that says so is lost and back).
type ChangeSink interface {
	Changed(payload string)
	Lost(err error)
	Live()
}

// Watcher is a [Store] that can tell of entries added elsewhere at once.
// Watch runs until ctx is done, reconnecting by itself.
type Watcher interface {
	Watch(ctx context.Context, sink ChangeSink) error
}

// Defaults of [Config].
const (
	DefaultRetention = 24 * time.Hour
	MaxRetention     = 90 * 24 * time.Hour
	DefaultResync    = 10 * time.Second
)

// Config configures a [List].
type Config struct {
	// Store keeps the entries for the fleet: [NewMemoryStore] for one
	// instance, denylist/sqlstore or denylist/redisstore for many.
	// Required. When it is a [Watcher] its channel is used.
	Store Store
	// Retention is how long an entry lives when it does not say: at least
	// the longest access-token lifetime of the issuers. Default 24 h, at
	// most 90 days.
	Retention time.Duration
	// Resync is how often the store is read when its channel says
	// nothing: the bound on an entry reaching this instance while the
	// channel is down. Default 10 s, at least 100 ms.
	Resync time.Duration
	// OnWatch, when set, is called when the store's channel comes up
	// (live) or goes down (with why). It must not block.
	OnWatch func(live bool, err error)
	// OnSync, when set, is called after each read of the store that found
	// entries, with the number of entries the list now holds (for metrics
	// and tests). It must not block.
	OnSync func(entries int)
	// Now is the clock of At, Until and iat. Default time.Now.
	Now func() time.Time
}

// List is the deny-list of one instance, in memory, kept in step with the
// store in the background until [List.Close]. It is safe for concurrent
// use.
type List struct {
	store     Store
	retention time.Duration
	resync    time.Duration
	now       func() time.Time
	onSync    func(int)

	mu      sync.RWMutex
	entries map[key]span
	n       atomic.Int64 // len(entries), read without the lock

	syncMu sync.Mutex // one read of the store at a time
	cursor int64

	loaded  atomic.Bool
	syncErr atomic.Pointer[error]
	live    atomic.Bool
	wake    chan struct{}
	cancel  context.CancelFunc
	done    sync.WaitGroup
	once    sync.Once
}

type key struct {
	kind       Kind
	iss, value string
}

type span struct{ at, until time.Time }

// New checks cfg and returns a List that reads the store in the
// background at once. Every problem is reported, joined; each is an
// [*auth.ConfigError].
func New(cfg Config) (*List, error) {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, &auth.ConfigError{Field: "denylist." + field, Value: value, Reason: reason})
	}
	if cfg.Store == nil {
		bad("Store", "", "required")
	}
	if cfg.Retention < 0 || cfg.Retention > MaxRetention {
		bad("Retention", cfg.Retention.String(), "must be between 0 (default 24h) and 90 days")
	}
	if cfg.Resync < 0 || (cfg.Resync > 0 && cfg.Resync < 100*time.Millisecond) {
		bad("Resync", cfg.Resync.String(), "must be at least 100ms (0 for the default 10s)")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l := &List{
		store:     cfg.Store,
		retention: cfg.Retention,
		resync:    cfg.Resync,
		now:       cfg.Now,
		onSync:    cfg.OnSync,
		entries:   map[key]span{},
		wake:      make(chan struct{}, 1),
	}
	if l.retention == 0 {
		l.retention = DefaultRetention
	}
	if l.resync == 0 {
		l.resync = DefaultResync
	}
	if l.now == nil {
		l.now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done.Go(func() { l.sync(ctx) })
	if w, ok := cfg.Store.(Watcher); ok {
		l.done.Go(func() { _ = w.Watch(ctx, sink{l, cfg.OnWatch}) })
	}
	return l, nil
}

// Close stops the background work and waits for it. Revoked keeps
// answering with what the list holds.
func (l *List) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.done.Wait()
		l.live.Store(false)
	})
	return nil
}

// errNotLoaded is Revoked's answer until the store was read once.
var errNotLoaded = errors.New("denylist: not read from the store yet")

// Revoked reports whether the token id names is denied. It is the
// signature of auth/jwt's Config.Revoked. It never does I/O; until the
// store was read once it answers an error (the verifier answers 503).
func (l *List) Revoked(_ context.Context, id auth.TokenID) (bool, error) {
	if !l.loaded.Load() {
		return false, errNotLoaded
	}
	if l.n.Load() == 0 {
		return false, nil
	}
	now := l.now()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if id.JTI != "" {
		if s, ok := l.entries[key{JTI, id.Issuer, id.JTI}]; ok && now.Before(s.until) {
			return true, nil
		}
	}
	if id.SID != "" {
		if s, ok := l.entries[key{Session, id.Issuer, id.SID}]; ok && now.Before(s.until) {
			return true, nil
		}
	}
	if s, ok := l.entries[key{Subject, id.Issuer, id.Subject}]; ok && now.Before(s.until) {
		if id.IssuedAt.IsZero() || !id.IssuedAt.After(s.at) {
			return true, nil
		}
	}
	return false, nil
}

// Add records e in the store and, once it is there, here at once; the
// other instances read it when the store's channel tells them (or at
// their next resync). It is the API behind the gateway's back-channel
// logout and admin endpoints.
func (l *List) Add(ctx context.Context, e Entry) error {
	now := l.now()
	if e.At.IsZero() {
		e.At = now
	}
	if e.Until.IsZero() {
		e.Until = e.At.Add(l.retention)
	}
	if err := e.check(); err != nil {
		return err
	}
	if err := l.store.Add(ctx, e); err != nil {
		return err
	}
	l.apply([]Entry{e}, now)
	return nil
}

// apply merges entries into the index, dropping those past their time.
func (l *List) apply(es []Entry, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, s := range l.entries {
		if !now.Before(s.until) {
			delete(l.entries, k)
		}
	}
	for _, e := range es {
		if !now.Before(e.Until) {
			continue
		}
		k := key{e.Kind, e.Issuer, e.Value}
		s := l.entries[k]
		if e.At.After(s.at) {
			s.at = e.At
		}
		if e.Until.After(s.until) {
			s.until = e.Until
		}
		l.entries[k] = s
	}
	l.n.Store(int64(len(l.entries)))
}

// sync reads the store now, when woken, and every resync.
func (l *List) sync(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.wake:
		}
		_ = l.Sync(ctx)
		t.Reset(l.resync)
	}
}

// Sync reads what was added to the store since the list last looked, now:
// the background does it by itself; a program may call it once at start
// so that its first requests are not refused while the list is unread.
func (l *List) Sync(ctx context.Context) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	for {
		es, next, err := l.store.Since(ctx, l.cursor)
		if err != nil {
			if ctx.Err() == nil {
				l.syncErr.Store(&err)
			}
			return err
		}
		l.syncErr.Store(nil)
		l.apply(es, l.now())
		if len(es) > 0 && l.onSync != nil {
			l.onSync(l.Len())
		}
		moved := next != l.cursor
		l.cursor = next
		l.loaded.Store(true)
		if len(es) == 0 || !moved {
			return nil
		}
	}
}

// Ready reports whether the list was read from the store, and whether the
// last read worked: for readiness probes.
func (l *List) Ready() error {
	if !l.loaded.Load() {
		if p := l.syncErr.Load(); p != nil {
			return errors.Join(errNotLoaded, *p)
		}
		return errNotLoaded
	}
	if p := l.syncErr.Load(); p != nil {
		return fmt.Errorf("denylist: the last read failed (entries read before still count): %w", *p)
	}
	return nil
}

// Watching reports whether the store's channel is up: entries added
// elsewhere arrive at once. When false, they arrive within Resync.
func (l *List) Watching() bool { return l.live.Load() }

// Len reports how many entries the list holds.
func (l *List) Len() int { return int(l.n.Load()) }

// sink wakes the sync loop.
type sink struct {
	l  *List
	on func(bool, error)
}

func (s sink) Changed(string) { s.l.poke() }

func (s sink) Lost(err error) {
	s.l.live.Store(false)
	if s.on != nil {
		s.on(false, err)
	}
}

func (s sink) Live() {
	s.l.live.Store(true)
	s.l.poke() // catch up on what was added while it was down
	if s.on != nil {
		s.on(true, nil)
	}
}

func (l *List) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}
