package redisstore_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// events records the metrics hooks of a test.
type events struct {
	mu       sync.Mutex
	outcomes map[string][]ratelimit.Outcome
	storeErr []error
	breaker  []bool
}

func (e *events) hooks() ratelimit.Hooks {
	return ratelimit.Hooks{
		OnDecision: func(p string, o ratelimit.Outcome) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.outcomes[p] = append(e.outcomes[p], o)
		},
		OnStoreLatency: func(_ time.Duration, err error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.storeErr = append(e.storeErr, err)
		},
	}
}

func (e *events) onBreaker(open bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.breaker = append(e.breaker, open)
}

func (e *events) last(policy string) ratelimit.Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.outcomes[policy]
	return o[len(o)-1]
}

// TestRedisKilledMidRun: three limiters share a Redis store, with a policy
// that fails closed, one that fails open and one that falls back to a local
// limit. Redis is killed mid-run: every request is still answered, each by
// its policy; the breaker opens so calls stop reaching for Redis; no
// goroutine leaks. Redis restarts (empty): after the cooldown a probe
// closes the breaker and decisions come from Redis again.
func TestRedisKilledMidRun(t *testing.T) {
	srv, c := singleClient(t)
	clock := newFakeClock()
	ev := &events{outcomes: map[string][]ratelimit.Outcome{}}
	store := newStore(t, redisstore.Config{Client: c, Timeout: time.Second, BreakerThreshold: 5, BreakerCooldown: time.Second, Now: clock.Now, OnBreaker: ev.onBreaker})
	limiter := func(name string, mode ratelimit.FailMode) *ratelimit.Limiter {
		l, err := ratelimit.New(ratelimit.Config{
			Store: store, HashKey: hashKey, Hooks: ev.hooks(),
			Policies: []ratelimit.Policy{{Name: name, Quota: 5, Period: time.Hour, OnStoreError: mode, Key: []ratelimit.KeyPart{ratelimit.Route()}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	closed, open, local := limiter("closed", ratelimit.FailClosed), limiter("open", ratelimit.FailOpen), limiter("local", ratelimit.FailLocal)
	ctx := context.Background()
	for _, l := range []*ratelimit.Limiter{closed, open, local} {
		for range 2 {
			if d, err := l.TakeKey(ctx, "k", 1); err != nil || !d.Allowed {
				t.Fatalf("with Redis up: %+v, %v", d, err)
			}
		}
	}
	goroutines := runtime.NumGoroutine()

	srv.Stop()
	localAllowed := 0
	for i := range 30 {
		if d, err := closed.TakeKey(ctx, "k", 1); !errors.Is(err, ratelimit.ErrUnavailable) || d.Allowed {
			t.Fatalf("FailClosed, request %d with Redis down: %+v, %v; want ErrUnavailable", i, d, err)
		}
		if d, err := open.TakeKey(ctx, "k", 1); err != nil || !d.Allowed || len(d.Results()) != 0 {
			t.Fatalf("FailOpen, request %d with Redis down: %+v, %v; want allowed, unlimited", i, d, err)
		}
		d, err := local.TakeKey(ctx, "k", 1)
		switch {
		case err == nil && d.Allowed:
			localAllowed++
		case errors.Is(err, ratelimit.ErrLimited):
		default:
			t.Fatalf("FailLocal, request %d: %+v, %v", i, d, err)
		}
	}
	// The local fallback enforces the policy alone: a fresh burst of 5.
	if localAllowed != 5 {
		t.Fatalf("FailLocal allowed %d of 30 with Redis down, want the local burst of 5", localAllowed)
	}
	if o := ev.last("closed"); o != ratelimit.FailedClosed {
		t.Fatalf("closed outcome %v, want FailedClosed", o)
	}
	if o := ev.last("open"); o != ratelimit.FailedOpen {
		t.Fatalf("open outcome %v, want FailedOpen", o)
	}
	ev.mu.Lock()
	breaker := append([]bool(nil), ev.breaker...)
	lastErr := ev.storeErr[len(ev.storeErr)-1]
	ev.mu.Unlock()
	if len(breaker) != 1 || !breaker[0] {
		t.Fatalf("breaker transitions %v, want one opening", breaker)
	}
	if !errors.Is(lastErr, redisstore.ErrCircuitOpen) {
		t.Fatalf("store error after 90 failures: %v, want ErrCircuitOpen", lastErr)
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Fatalf("%d goroutines after 90 failed decisions, %d before: a leak", g, goroutines)
	}

	srv.Restart()
	// Still open until the cooldown has passed: no call, the policy applies.
	if _, err := closed.TakeKey(ctx, "k", 1); !errors.Is(err, redisstore.ErrCircuitOpen) {
		t.Fatalf("before the cooldown: %v, want ErrCircuitOpen", err)
	}
	clock.Advance(time.Second)
	d, err := closed.TakeKey(ctx, "k", 1)
	if err != nil || !d.Allowed || d.Results()[0].Remaining != 4 {
		t.Fatalf("after restart and cooldown: %+v, %v; want allowed by Redis (fresh: 4 left)", d, err)
	}
	ev.mu.Lock()
	breaker = append([]bool(nil), ev.breaker...)
	ev.mu.Unlock()
	if len(breaker) != 2 || breaker[1] {
		t.Fatalf("breaker transitions %v, want open then closed", breaker)
	}
	if d, err := local.TakeKey(ctx, "k", 1); err != nil || !d.Allowed || d.Results()[0].Remaining != 4 {
		t.Fatalf("local policy after recovery: %+v, %v; want decided by Redis again", d, err)
	}
	if o := ev.last("local"); o != ratelimit.Allowed {
		t.Fatalf("local outcome after recovery %v, want Allowed (not FailedLocal)", o)
	}
}

// TestRedisSlow: Redis stops answering scripts (CLIENT PAUSE WRITE); each decision ends
// at the store's Timeout with ErrTimeout (context.DeadlineExceeded) instead of waiting
// for Redis, and decisions resume when Redis does.
func TestRedisSlow(t *testing.T) {
	srv, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c, Timeout: 100 * time.Millisecond, BreakerThreshold: 100})
	ctx := context.Background()
	l := []ratelimit.Limit{{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Second), Burst: 10}}
	out := make([]ratelimit.Result, 1)
	if ok, err := s.Take(ctx, time.Now(), 1, l, out); !ok || err != nil {
		t.Fatalf("Take = %v, %v", ok, err)
	}
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ok, err := s.Take(ctx, time.Now(), 1, l, out)
		if ok || !errors.Is(err, redisstore.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Take %d on a paused Redis = %v, %v; want ErrTimeout and context.DeadlineExceeded", i, ok, err)
		}
	}
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	ok, err := s.Take(ctx, time.Now(), 1, l, out)
	if !ok || err != nil {
		t.Fatalf("Take after UNPAUSE = %v, %v", ok, err)
	}
}

// TestBreakerStopsCalls: once open, the breaker sends nothing to Redis
// until the cooldown; a failed probe re-opens it for another cooldown; a
// successful one closes it.
func TestBreakerStopsCalls(t *testing.T) {
	srv, c := singleClient(t)
	var h callCounter
	c.AddHook(&h)
	clock := newFakeClock()
	var transitions []bool
	s := newStore(t, redisstore.Config{Client: c, BreakerThreshold: 3, BreakerCooldown: 5 * time.Second, Now: clock.Now,
		OnBreaker: func(open bool) { transitions = append(transitions, open) }})
	ctx := context.Background()
	l := []ratelimit.Limit{{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Second), Burst: 10}}
	out := make([]ratelimit.Result, 1)
	take := func() error { _, err := s.Take(ctx, time.Now(), 1, l, out); return err }
	if err := take(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for i := range 3 {
		if err := take(); err == nil || errors.Is(err, redisstore.ErrCircuitOpen) {
			t.Fatalf("failure %d: %v, want a Redis error", i, err)
		}
	}
	calls := h.n.Load()
	for range 10 {
		if err := take(); !errors.Is(err, redisstore.ErrCircuitOpen) {
			t.Fatalf("open breaker: %v, want ErrCircuitOpen", err)
		}
	}
	if h.n.Load() != calls {
		t.Fatalf("open breaker sent %d commands", h.n.Load()-calls)
	}
	clock.Advance(5 * time.Second)
	if err := take(); err == nil || errors.Is(err, redisstore.ErrCircuitOpen) {
		t.Fatalf("probe with Redis down: %v, want a Redis error", err)
	}
	if h.n.Load() != calls+1 {
		t.Fatalf("probe sent %d commands, want 1", h.n.Load()-calls)
	}
	if err := take(); !errors.Is(err, redisstore.ErrCircuitOpen) {
		t.Fatalf("after a failed probe: %v, want ErrCircuitOpen", err)
	}
	srv.Restart()
	clock.Advance(5 * time.Second)
	if err := take(); err != nil {
		t.Fatalf("probe with Redis back: %v", err)
	}
	if err := take(); err != nil {
		t.Fatalf("closed again: %v", err)
	}
	if len(transitions) != 2 || !transitions[0] || transitions[1] {
		t.Fatalf("breaker transitions %v, want [true false]", transitions)
	}
}

// TestCallerCancelDoesNotOpenBreaker: a request whose client went away is
// not a Redis failure.
func TestCallerCancelDoesNotOpenBreaker(t *testing.T) {
	_, c := singleClient(t)
	opened := false
	s := newStore(t, redisstore.Config{Client: c, BreakerThreshold: 1, OnBreaker: func(bool) { opened = true }})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := []ratelimit.Limit{{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Second), Burst: 10}}
	for range 5 {
		if _, err := s.Take(ctx, time.Now(), 1, l, make([]ratelimit.Result, 1)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Take with a cancelled context: %v", err)
		}
	}
	if opened {
		t.Fatal("breaker opened on cancelled callers")
	}
	if _, err := s.Take(context.Background(), time.Now(), 1, l, make([]ratelimit.Result, 1)); err != nil {
		t.Fatal(err)
	}
}

// TestRedisKilledUnderLoad: Redis is killed and restarted while 8
// goroutines keep deciding through a FailLocal policy: no request fails or
// hangs across the kill (in-flight calls included), decisions fall back to
// the local store, and return to Redis after the restart.
func TestRedisKilledUnderLoad(t *testing.T) {
	srv, c := singleClient(t)
	clock := newFakeClock()
	stop := make(chan struct{})
	stopAll := sync.OnceFunc(func() { close(stop) })
	defer stopAll() // on failure too: no worker stays blocked
	store := newStore(t, redisstore.Config{Client: c, Timeout: time.Second, BreakerCooldown: time.Second, Now: clock.Now})
	// Events: "redis" for a decision Redis made, "local" for one made by
	// the fallback store.
	events := make(chan string)
	send := func(e string) {
		select {
		case events <- e:
		case <-stop:
		}
	}
	l, err := ratelimit.New(ratelimit.Config{
		Store: store, HashKey: hashKey,
		Hooks: ratelimit.Hooks{
			OnStoreLatency: func(_ time.Duration, err error) {
				if err == nil {
					send("redis")
				}
			},
			OnDecision: func(_ string, o ratelimit.Outcome) {
				if o == ratelimit.FailedLocal {
					send("local")
				}
			},
		},
		Policies: []ratelimit.Policy{{Name: "api", Quota: 1_000_000, Period: time.Hour, OnStoreError: ratelimit.FailLocal, Key: []ratelimit.KeyPart{ratelimit.Route()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d, err := l.TakeKey(context.Background(), "k"+string(rune('a'+g)), 1); err != nil || !d.Allowed {
					errs <- err
					return
				}
			}
		})
	}
	await := func(want string, n int) {
		t.Helper()
		for seen := 0; seen < n; {
			select {
			case e := <-events:
				if e == want {
					seen++
				}
			case err := <-errs:
				t.Fatalf("a request failed: %v", err)
			}
		}
	}
	await("redis", 100)
	srv.Stop()
	await("local", 100)
	srv.Restart()
	clock.Advance(time.Second)
	await("redis", 100)
	stopAll()
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("a request failed: %v", err)
	default:
	}
}
