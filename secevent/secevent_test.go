package secevent_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/secevent"
)

type otherKey struct{}

type collector struct {
	mu     sync.Mutex
	events []secevent.Event
}

func (c *collector) Record(_ context.Context, e secevent.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func TestEmit(t *testing.T) {
	tests := []struct {
		name  string
		ctx   func(*collector) context.Context
		event secevent.Event
		want  int
	}{
		{"with recorder", func(c *collector) context.Context {
			return secevent.NewContext(context.Background(), c)
		}, secevent.Event{Name: secevent.AuthzFail}, 1},
		{"derived context keeps the recorder", func(c *collector) context.Context {
			ctx, cancel := context.WithCancel(secevent.NewContext(context.Background(), c))
			t.Cleanup(cancel)
			return context.WithValue(ctx, otherKey{}, 1)
		}, secevent.Event{Name: secevent.AuthzFail}, 1},
		{"without recorder is a no-op", func(*collector) context.Context {
			return context.Background()
		}, secevent.Event{Name: secevent.AuthzFail}, 0},
		{"nil recorder is a no-op", func(*collector) context.Context {
			return secevent.NewContext(context.Background(), nil)
		}, secevent.Event{Name: secevent.AuthzFail}, 0},
		{"unnamed event dropped", func(c *collector) context.Context {
			return secevent.NewContext(context.Background(), c)
		}, secevent.Event{Reason: "no name"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &collector{}
			secevent.Emit(tc.ctx(c), tc.event)
			if len(c.events) != tc.want {
				t.Errorf("recorded %d events, want %d", len(c.events), tc.want)
			}
		})
	}
}

func TestConcurrentEmit(t *testing.T) {
	c := &collector{}
	ctx := secevent.NewContext(context.Background(), c)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				secevent.Emit(ctx, secevent.Event{Name: secevent.ExcessRateLimitExceeded, Attrs: []slog.Attr{slog.String("policy", "burst")}})
			}
		})
	}
	wg.Wait()
	if len(c.events) != 800 {
		t.Errorf("recorded %d events, want 800", len(c.events))
	}
}

func TestEmitWithoutRecorderDoesNotAllocate(t *testing.T) {
	ctx := context.WithValue(context.Background(), otherKey{}, 1)
	e := secevent.Event{Name: secevent.InputValidationFail, Reason: "bad"}
	if n := testing.AllocsPerRun(100, func() { secevent.Emit(ctx, e) }); n != 0 {
		t.Errorf("Emit without a recorder allocates %v times, want 0", n)
	}
}

func BenchmarkEmitNoRecorder(b *testing.B) {
	ctx := context.WithValue(context.Background(), otherKey{}, 1)
	e := secevent.Event{Name: secevent.InputValidationFail, Reason: "bad"}
	b.ReportAllocs()
	for b.Loop() {
		secevent.Emit(ctx, e)
	}
}

type identifyingCollector struct {
	collector
	ids []secevent.Identity
}

func (c *identifyingCollector) Identify(_ context.Context, id secevent.Identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, id)
}

func TestIdentify(t *testing.T) {
	id := secevent.Identity{Subject: "svc-1", Issuer: "https://idp.example", Method: "jwt"}

	ic := &identifyingCollector{}
	secevent.Identify(secevent.NewContext(context.Background(), ic), id)
	if len(ic.ids) != 1 || ic.ids[0] != id {
		t.Errorf("identifying recorder got %v, want [%v]", ic.ids, id)
	}

	// A recorder that does not implement Identifier, and no recorder at
	// all, are both fine.
	c := &collector{}
	secevent.Identify(secevent.NewContext(context.Background(), c), id)
	secevent.Identify(context.Background(), id)
	if len(c.events) != 0 {
		t.Errorf("Identify recorded events on a plain recorder: %v", c.events)
	}
}
