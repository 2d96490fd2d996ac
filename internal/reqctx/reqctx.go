// Package reqctx is the one piece of request-scoped state that clientip,
// audit, secevent and headers share, so that a stack of them copies the
// request once instead of once per layer (each r.WithContext is a copy of
// the whole http.Request). It imports none of them, and each of them still
// works alone: the first layer of a request attaches the slots (a
// [Carrier] in its own per-request state, or [NewContext]), the later ones
// fill theirs in.
//
// The slots are shared by every layer of the request, so a slot is filled
// once: a layer that finds its slot taken (two resolvers, two auditors
// stacked) does what context values do, and gives its inner layers a copy
// of the slots with its own value, leaving the outer layers' view alone. Every slot is read and claimed atomically: a handler
// still running after an outer layer gave up on it (http.TimeoutHandler)
// races with nothing.
package reqctx

import (
	"context"
	"net/netip"
	"sync/atomic"
)

// Slots is the state of one request.
type Slots struct {
	addr                     cell[netip.Addr]
	recorder, audit, headers cell[any]
}

// cell is a slot: claimed once, then ready. The value is written between
// the two and read only after ready, so a reader never sees it half
// written and nothing is boxed.
type cell[T any] struct {
	claimed, ready atomic.Bool
	v              T
}

func (c *cell[T]) set(v T) bool {
	if !c.claimed.CompareAndSwap(false, true) {
		return false
	}
	c.v = v
	c.ready.Store(true)
	return true
}

func (c *cell[T]) get() (T, bool) {
	if !c.ready.Load() {
		var zero T
		return zero, false
	}
	return c.v, true
}

func (c *cell[T]) force(v T) {
	c.v = v
	c.claimed.Store(true)
	c.ready.Store(true)
}

func (c *cell[T]) copyTo(d *cell[T]) {
	if v, ok := c.get(); ok {
		d.force(v)
	}
}

type key struct{}

// From returns the slots of ctx, or nil.
func From(ctx context.Context) *Slots {
	s, _ := ctx.Value(key{}).(*Slots)
	return s
}

func (s *Slots) copyInto(c *Slots) {
	if s != nil {
		s.addr.copyTo(&c.addr)
		s.recorder.copyTo(&c.recorder)
		s.audit.copyTo(&c.audit)
		s.headers.copyTo(&c.headers)
	}
}

// Carrier is a context that carries its own slots. A layer embeds one in
// its per-request state, so that giving its inner layers new slots costs
// no allocation beyond that state and the request copy.
type Carrier struct {
	context.Context
	Slots
}

// Init makes c the context parent with slots holding the values of from
// (from may be nil). c is not yet shared: its Force methods set its slots.
func (c *Carrier) Init(parent context.Context, from *Slots) {
	c.Context = parent
	from.copyInto(&c.Slots)
}

// Value returns c's slots for the slots' key, and defers to the parent for
// every other key.
func (c *Carrier) Value(k any) any {
	if _, ok := k.(key); ok {
		return &c.Slots
	}
	return c.Context.Value(k)
}

// NewContext returns a context over parent whose slots hold the values of
// parent's and then set's: one allocation.
func NewContext(parent context.Context, set func(*Slots)) context.Context {
	c := new(Carrier)
	c.Init(parent, From(parent))
	set(&c.Slots)
	return c
}

// SetAddr fills the client-address slot; false when it was taken.
func (s *Slots) SetAddr(a netip.Addr) bool { return s.addr.set(a) }

// Addr returns the client address, if set.
func (s *Slots) Addr() (netip.Addr, bool) {
	if s == nil {
		return netip.Addr{}, false
	}
	return s.addr.get()
}

// SetRecorder fills the security-event recorder slot; false when taken.
func (s *Slots) SetRecorder(r any) bool { return s.recorder.set(r) }

// Recorder returns the recorder slot's value, or nil.
func (s *Slots) Recorder() any { return s.value(func(s *Slots) *cell[any] { return &s.recorder }) }

// SetAudit fills audit's slot; false when taken.
func (s *Slots) SetAudit(v any) bool { return s.audit.set(v) }

// Audit returns audit's slot, or nil.
func (s *Slots) Audit() any { return s.value(func(s *Slots) *cell[any] { return &s.audit }) }

// SetHeaders fills headers' slot; false when taken.
func (s *Slots) SetHeaders(v any) bool { return s.headers.set(v) }

// Headers returns headers' slot, or nil.
func (s *Slots) Headers() any { return s.value(func(s *Slots) *cell[any] { return &s.headers }) }

func (s *Slots) value(c func(*Slots) *cell[any]) any {
	if s == nil {
		return nil
	}
	v, _ := c(s).get()
	return v
}

// ForceAddr, ForceRecorder, ForceAudit and ForceHeaders set a slot of
// slots not yet shared (a Carrier being prepared).
func (s *Slots) ForceAddr(a netip.Addr) { s.addr.force(a) }

// ForceRecorder: see ForceAddr.
func (s *Slots) ForceRecorder(r any) { s.recorder.force(r) }

// ForceAudit: see ForceAddr.
func (s *Slots) ForceAudit(v any) { s.audit.force(v) }

// ForceHeaders: see ForceAddr.
func (s *Slots) ForceHeaders(v any) { s.headers.force(v) }
