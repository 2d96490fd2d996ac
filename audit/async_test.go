package audit_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

// gate is a handler that holds every record until released, so that the
// async queue fills deterministically.
type gate struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
	mu      sync.Mutex
	recs    []slog.Record
}

func newGate() *gate { return &gate{release: make(chan struct{}), entered: make(chan struct{})} }

func (g *gate) Enabled(context.Context, slog.Level) bool { return true }
func (g *gate) Handle(_ context.Context, r slog.Record) error {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	g.mu.Lock()
	defer g.mu.Unlock()
	g.recs = append(g.recs, r)
	return nil
}
func (g *gate) WithAttrs([]slog.Attr) slog.Handler { return g }
func (g *gate) WithGroup(string) slog.Handler      { return g }

func TestAsyncDropCountsAndReports(t *testing.T) {
	g := newGate()
	a, err := audit.NewAsync(g, audit.AsyncConfig{QueueSize: 2, Overflow: audit.Drop})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(a)
	log.Info("first") // taken by the worker, which blocks in the gate
	<-g.entered
	for range 7 { // 2 fit in the queue, 5 are dropped
		log.Info("more")
	}
	if got := a.Dropped(); got != 5 {
		t.Errorf("Dropped() = %d, want 5", got)
	}
	close(g.release)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if len(g.recs) != 4 {
		t.Fatalf("delivered %d records, want 3 and a drop report", len(g.recs))
	}
	last := g.recs[3]
	attrs := map[string]string{}
	last.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if last.Message != audit.MsgEvent || attrs["event.name"] != "sys_monitor_disabled" || attrs["audit.dropped"] != "5" {
		t.Errorf("drop report = %s %v, want a sys_monitor_disabled event counting 5", last.Message, attrs)
	}
	if err := log.Handler().Handle(t.Context(), slog.Record{}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Handle after Close = %v, want ErrClosed", err)
	}
}

func TestAsyncBlockLosesNothing(t *testing.T) {
	buf := &syncBuffer{}
	a, err := audit.NewAsync(jsonHandler(buf), audit.AsyncConfig{QueueSize: 1, Overflow: audit.Block})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(a).With("svc", "x")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				log.Info("r")
			}
		})
	}
	wg.Wait()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(records(t, buf.Bytes())); n != 400 || a.Dropped() != 0 {
		t.Errorf("delivered %d records, dropped %d; want 400 and 0", n, a.Dropped())
	}
}

func TestAsyncConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   audit.AsyncConfig
		field string
	}{
		{"overflow policy required", audit.AsyncConfig{}, "Overflow"},
		{"queue size", audit.AsyncConfig{Overflow: audit.Drop, QueueSize: -1}, "QueueSize"},
	} {
		_, err := audit.NewAsync(slog.DiscardHandler, tc.cfg)
		var ce *audit.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("NewAsync(%s) = %v, want a *ConfigError for %s", tc.name, err, tc.field)
		}
	}
}

type failingWriter struct{ fail bool }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// A record the sink failed to write is counted, not silently lost.
func TestHandlerErrorsCounted(t *testing.T) {
	fw := &failingWriter{}
	ch, err := audit.NewChain(fw, audit.ChainConfig{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(audit.Config{Handler: ch})
	if err != nil {
		t.Fatal(err)
	}
	fw.fail = true
	a.Record(t.Context(), secevent.Event{Name: secevent.SysShutdown})
	if got := a.Stats().HandlerErrors; got != 1 {
		t.Errorf("Stats().HandlerErrors = %d, want 1", got)
	}
}
