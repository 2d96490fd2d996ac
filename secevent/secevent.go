package secevent

import (
	"context"
	"log/slog"

	"github.com/bulwark-go/bulwark/internal/reqctx"
)

// Event is one security-relevant occurrence.
type Event struct {
	// Name is the OWASP Logging Vocabulary event name, e.g.
	// [ExcessRateLimitExceeded]. Required.
	Name string
	// Reason says briefly, in fixed wording chosen by the emitting package,
	// why the event happened ("unknown key id", "origin not allowed"). It
	// must not contain secrets or unbounded request input.
	Reason string
	// Attrs are structured details (policy name, key id, origin). Values
	// taken from the request must be bounded by the emitter; recorders cap
	// and escape them again.
	Attrs []slog.Attr
}

// Recorder receives events. Implementations must be safe for concurrent use:
// handlers may emit from several goroutines for one request.
type Recorder interface {
	Record(ctx context.Context, e Event)
}

// RecorderFunc adapts a function to a [Recorder].
type RecorderFunc func(ctx context.Context, e Event)

// Record calls f(ctx, e).
func (f RecorderFunc) Record(ctx context.Context, e Event) { f(ctx, e) }

// NewContext returns a copy of ctx that carries r. Emit on the returned
// context (or any context derived from it) reaches r.
func NewContext(ctx context.Context, r Recorder) context.Context {
	return reqctx.NewContext(ctx, func(s *reqctx.Slots) { s.ForceRecorder(r) })
}

// FromContext returns the recorder installed in ctx, if any.
func FromContext(ctx context.Context) (Recorder, bool) {
	r, ok := reqctx.From(ctx).Recorder().(Recorder)
	return r, ok && r != nil
}

// Emit hands e to the recorder in ctx. Without one it does nothing beyond a
// context lookup. An event with an empty Name is dropped.
func Emit(ctx context.Context, e Event) {
	if e.Name == "" {
		return
	}
	if r, ok := FromContext(ctx); ok {
		r.Record(ctx, e)
	}
}
