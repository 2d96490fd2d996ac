package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwark-go/bulwark/secevent"
)

// Overflow is what an [Async] handler does with a record when its queue is
// full. There is no default: the choice between losing records and slowing
// requests is the operator's.
type Overflow int

const (
	// Block makes the caller wait for room: no record is lost, and a slow
	// sink slows the requests that log.
	Block Overflow = iota + 1
	// Drop discards the record and counts it; the count is reported in a
	// "security.event" record named sys_monitor_disabled as soon as the
	// queue has room again, and at Close. Requests never wait.
	Drop
)

// DefaultQueueSize is the queue length of an [Async] handler.
const DefaultQueueSize = 1024

// AsyncConfig configures an [Async] handler.
type AsyncConfig struct {
	// QueueSize is how many records wait at most. Default
	// [DefaultQueueSize]; at most 1<<20.
	QueueSize int
	// Overflow is the policy when the queue is full: [Block] or [Drop].
	// Required.
	Overflow Overflow
	// Now stamps the drop reports. Default time.Now.
	Now func() time.Time
}

// Async is an slog handler that hands records to a goroutine which writes
// them to the next handler, so that a slow sink does not hold up requests.
// The queue is bounded; what happens when it is full is [AsyncConfig.Overflow].
// Close stops the goroutine after writing everything queued.
type Async struct {
	next     slog.Handler
	q        chan asyncItem
	policy   Overflow
	mu       sync.RWMutex // held for reading while enqueueing; Close takes it to close q
	closed   bool
	done     chan struct{}
	dropped  atomic.Uint64
	reported uint64 // dropped count already reported; worker only
	errs     atomic.Uint64
	now      func() time.Time
}

type asyncItem struct {
	ctx context.Context
	h   slog.Handler
	r   slog.Record
}

// NewAsync checks cfg and starts the delivery goroutine. Call Close to
// stop it.
func NewAsync(next slog.Handler, cfg AsyncConfig) (*Async, error) {
	var errs []error
	if next == nil {
		errs = append(errs, &ConfigError{Field: "next", Reason: "required"})
	}
	size := cfg.QueueSize
	switch {
	case size == 0:
		size = DefaultQueueSize
	case size < 0 || size > 1<<20:
		errs = append(errs, &ConfigError{Field: "QueueSize", Reason: "must be between 1 and 1048576"})
	}
	if cfg.Overflow != Block && cfg.Overflow != Drop {
		errs = append(errs, &ConfigError{Field: "Overflow", Reason: "required: Block or Drop"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a := &Async{next: next, q: make(chan asyncItem, size), policy: cfg.Overflow, done: make(chan struct{}), now: cfg.Now}
	if a.now == nil {
		a.now = time.Now
	}
	go a.run()
	return a, nil
}

// Dropped returns how many records the Drop policy has discarded.
func (a *Async) Dropped() uint64 { return a.dropped.Load() }

// Errors returns how many records the next handler failed to write.
func (a *Async) Errors() uint64 { return a.errs.Load() }

// Enabled, Handle, WithAttrs and WithGroup make Async an slog.Handler.
func (a *Async) Enabled(ctx context.Context, l slog.Level) bool { return a.next.Enabled(ctx, l) }

// Handle queues r for the next handler.
func (a *Async) Handle(ctx context.Context, r slog.Record) error { return a.enqueue(ctx, a.next, r) }

// WithAttrs returns a handler queueing to the same goroutine.
func (a *Async) WithAttrs(as []slog.Attr) slog.Handler {
	return &asyncHandler{a: a, h: a.next.WithAttrs(as)}
}

// WithGroup returns a handler queueing to the same goroutine.
func (a *Async) WithGroup(name string) slog.Handler {
	return &asyncHandler{a: a, h: a.next.WithGroup(name)}
}

type asyncHandler struct {
	a *Async
	h slog.Handler
}

func (h *asyncHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }
func (h *asyncHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.a.enqueue(ctx, h.h, r)
}
func (h *asyncHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &asyncHandler{a: h.a, h: h.h.WithAttrs(as)}
}
func (h *asyncHandler) WithGroup(name string) slog.Handler {
	return &asyncHandler{a: h.a, h: h.h.WithGroup(name)}
}

var (
	_ slog.Handler = (*Async)(nil)
	_ slog.Handler = (*asyncHandler)(nil)
)

func (a *Async) enqueue(ctx context.Context, h slog.Handler, r slog.Record) error {
	it := asyncItem{ctx: context.WithoutCancel(ctx), h: h, r: r.Clone()}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return ErrClosed
	}
	if a.policy == Block {
		a.q <- it
		return nil
	}
	select {
	case a.q <- it:
	default:
		a.dropped.Add(1)
	}
	return nil
}

func (a *Async) run() {
	defer close(a.done)
	for it := range a.q {
		if err := it.h.Handle(it.ctx, it.r); err != nil {
			a.errs.Add(1)
		}
		if len(a.q) < cap(a.q)/2 {
			a.report()
		}
	}
	a.report()
}

// report writes a record of drops not yet reported.
func (a *Async) report() {
	d := a.dropped.Load()
	if d == a.reported {
		return
	}
	n := d - a.reported
	a.reported = d
	rec := slog.NewRecord(a.now().UTC(), slog.LevelError, MsgEvent, 0)
	rec.AddAttrs(slog.String("event.name", secevent.SysMonitorDisabled),
		slog.String("event.reason", "audit queue full: records dropped"),
		slog.Uint64("audit.dropped", n), slog.Uint64("audit.dropped.total", d))
	if err := a.next.Handle(context.Background(), rec); err != nil {
		a.errs.Add(1)
	}
}

// Close stops accepting records, writes those queued and a final drop
// report, and waits for the goroutine to end. Later calls return nil.
func (a *Async) Close() error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.q)
	}
	a.mu.Unlock()
	<-a.done
	return nil
}
