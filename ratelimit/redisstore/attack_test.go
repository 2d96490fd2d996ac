package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

var failModes = []struct {
	name string
	mode ratelimit.FailMode
}{
	{"FailClosed", ratelimit.FailClosed},
	{"FailLocal", ratelimit.FailLocal},
	{"FailOpen", ratelimit.FailOpen},
}

// TestHugeCostFromQueryIsNeverAllowed: a cost the client chooses
// (?count=) far beyond the burst — up to 2^51 and past it, where the Redis
// script's exact integers end — is a 429 "never" on every store and under
// every failure mode, as on the memory store. It was a store error, which a
// FailOpen policy let through (200 ×10) and a FailClosed one answered 503.
func TestHugeCostFromQueryIsNeverAllowed(t *testing.T) {
	_, c := singleClient(t)
	store := newStore(t, redisstore.Config{Client: c})
	cost := func(r *http.Request) int64 {
		n, _ := strconv.ParseInt(r.URL.Query().Get("count"), 10, 64)
		return n
	}
	for _, fm := range failModes {
		for _, st := range []struct {
			name  string
			store ratelimit.Store
		}{{"redis", store}, {"memory", nil}} {
			t.Run(st.name+"/"+fm.name, func(t *testing.T) {
				l, err := ratelimit.New(ratelimit.Config{
					Store: st.store, HashKey: hashKey, Cost: cost,
					Policies: []ratelimit.Policy{{Name: "items", Quota: 10, Period: time.Hour, OnStoreError: fm.mode, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
				})
				if err != nil {
					t.Fatal(err)
				}
				h := l.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				remote := "192.0.2." + strconv.Itoa(1+int(fm.mode)) + ":1"
				for _, count := range []string{"11", "2251799813685248", "4503599627370496", "9223372036854775807"} {
					for i := range 10 {
						r := httptest.NewRequest(http.MethodGet, "/items?count="+count, nil)
						r.RemoteAddr = remote
						w := httptest.NewRecorder()
						h.ServeHTTP(w, r)
						if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "" {
							t.Fatalf("count=%s, request %d: %d Retry-After=%q, want 429 without Retry-After", count, i, w.Code, w.Header().Get("Retry-After"))
						}
					}
					r := httptest.NewRequest(http.MethodGet, "/items?count="+count, nil)
					r.RemoteAddr = remote
					if _, err := l.Check(r); !errors.Is(err, ratelimit.ErrCostTooHigh) {
						t.Fatalf("Check(count=%s) = %v, want ErrCostTooHigh", count, err)
					}
				}
				// None of it was charged: the whole burst is still there.
				r := httptest.NewRequest(http.MethodGet, "/items?count=10", nil)
				r.RemoteAddr = remote
				if d, err := l.Check(r); err != nil || !d.Allowed {
					t.Fatalf("count=10 after the refusals: %+v, %v; want the full burst", d, err)
				}
			})
		}
	}
}

// redisInfo returns one field of INFO.
func redisInfo(t *testing.T, c *redis.Client, section, field string) string {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return ""
}

func configSet(t *testing.T, c *redis.Client, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := c.ConfigSet(context.Background(), kv[i], kv[i+1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %s: %v", kv[i], kv[i+1], err)
		}
	}
}

// TestRedisAtMaxmemoryCannotFailOpen: a Redis at maxmemory under
// noeviction refuses every write with OOM. The decision that would have
// charged did not happen, so it must not count as "Redis is down": a
// FailOpen policy let a fresh key through 50 of 50 with a burst of 3. Now
// FailOpen and FailLocal policies are decided locally (the burst holds),
// FailClosed ones answer 503, and a key Redis already holds as limited is
// refused by Redis itself, whatever the mode.
func TestRedisAtMaxmemoryCannotFailOpen(t *testing.T) {
	_, c := singleClient(t)
	store := newStore(t, redisstore.Config{Client: c})
	ctx := context.Background()
	limiters := map[ratelimit.FailMode]*ratelimit.Limiter{}
	for _, fm := range failModes {
		l, err := ratelimit.New(ratelimit.Config{
			Store: store, HashKey: hashKey,
			Policies: []ratelimit.Policy{{Name: "p", Quota: 3, Period: time.Hour, OnStoreError: fm.mode, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		limiters[fm.mode] = l
		for range 3 { // the limited key: its burst spent while Redis had room
			if d, err := l.TakeKey(ctx, "limited-"+fm.name, 1); err != nil || !d.Allowed {
				t.Fatalf("%s: filling the limited key: %+v, %v", fm.name, d, err)
			}
		}
	}
	configSet(t, c, "maxmemory-policy", "noeviction", "maxmemory", "1")
	if err := c.Set(ctx, "probe", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("SET at maxmemory: %v, want an OOM error", err)
	}
	for _, fm := range failModes {
		t.Run(fm.name, func(t *testing.T) {
			l := limiters[fm.mode]
			allowed := 0
			for i := range 50 {
				d, err := l.TakeKey(ctx, "fresh-"+fm.name, 1)
				switch {
				case err == nil && d.Allowed:
					allowed++
				case fm.mode == ratelimit.FailClosed && errors.Is(err, ratelimit.ErrUnavailable):
				case fm.mode != ratelimit.FailClosed && errors.Is(err, ratelimit.ErrLimited):
				default:
					t.Fatalf("fresh key, request %d: %+v, %v", i, d, err)
				}
			}
			want := 3
			if fm.mode == ratelimit.FailClosed {
				want = 0
			}
			if allowed != want {
				t.Errorf("fresh key with Redis refusing writes: %d of 50 allowed, want %d (burst 3)", allowed, want)
			}
			for i := range 5 {
				var le *ratelimit.LimitedError
				if _, err := l.TakeKey(ctx, "limited-"+fm.name, 1); !errors.As(err, &le) || le.RetryAfter < 19*time.Minute {
					t.Fatalf("limited key, request %d: %v, want refused by Redis's state (about 20 min to wait)", i, err)
				}
			}
		})
	}
}

// TestKeyFloodCannotLiftALimit runs Redis with the settings the package
// documents (maxmemory set, maxmemory-policy noeviction), at a small
// maxmemory, and floods it with fresh keys until it refuses writes, and
// goes on flooding. No key is evicted, so a client that was limited before
// the flood is still limited during it (a flood cannot buy it a fresh
// burst); a fresh key gets at most its burst from Redis, plus, for
// FailLocal and FailOpen policies, one local burst while Redis refuses
// writes (FailOpen no longer means "no limit" then).
func TestKeyFloodCannotLiftALimit(t *testing.T) {
	_, c := singleClient(t)
	store := newStore(t, redisstore.Config{Client: c})
	ctx := context.Background()
	var notRecorded atomic.Int64
	full := make(chan struct{}) // closed at the 500th refused write
	newLimiter := func(mode ratelimit.FailMode) *ratelimit.Limiter {
		l, err := ratelimit.New(ratelimit.Config{
			Store: store, HashKey: hashKey,
			Policies: []ratelimit.Policy{{Name: "login", Quota: 3, Period: time.Hour, OnStoreError: mode, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
			Hooks: ratelimit.Hooks{OnDecision: func(_ string, o ratelimit.Outcome) {
				if (o == ratelimit.FailedLocal || o == ratelimit.FailedClosed) && notRecorded.Add(1) == 500 {
					close(full)
				}
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	local, closed, open := newLimiter(ratelimit.FailLocal), newLimiter(ratelimit.FailClosed), newLimiter(ratelimit.FailOpen)
	for range 3 {
		if d, err := local.TakeKey(ctx, "victim", 1); err != nil || !d.Allowed {
			t.Fatalf("spending the victim's burst: %+v, %v", d, err)
		}
	}
	used, err := strconv.ParseInt(redisInfo(t, c, "memory", "used_memory"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	configSet(t, c, "maxmemory-policy", "noeviction", "maxmemory", strconv.FormatInt(used+512<<10, 10))

	// The flood: fresh keys from 8 clients at once, until the checks below
	// are done (or 200 000 keys did not fill 512 KiB).
	stop := make(chan struct{})
	gaveUp := make(chan struct{})
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := next.Add(1)
				if k == 200_000 {
					close(gaveUp)
				}
				_, _ = local.TakeKey(ctx, "flood-"+strconv.FormatInt(k, 10), 1)
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	select {
	case <-full:
	case <-gaveUp:
		t.Fatalf("200 000 fresh keys and Redis refused only %d writes: maxmemory not reached", notRecorded.Load())
	}

	for i := range 10 {
		var le *ratelimit.LimitedError
		if _, err := local.TakeKey(ctx, "victim", 1); !errors.As(err, &le) || le.RetryAfter < 19*time.Minute {
			t.Fatalf("victim during the flood, request %d: %v; want still limited by Redis (about 20 min to wait)", i, err)
		}
	}
	for _, tc := range []struct {
		name string
		l    *ratelimit.Limiter
		max  int
	}{{"FailClosed", closed, 3}, {"FailLocal", local, 6}, {"FailOpen", open, 6}} {
		allowed := 0
		for range 20 {
			if d, err := tc.l.TakeKey(ctx, "newcomer-"+tc.name, 1); err == nil && d.Allowed {
				allowed++
			}
		}
		if allowed > tc.max {
			t.Errorf("%s: a fresh key during the flood: %d of 20 allowed, want at most %d (burst 3)", tc.name, allowed, tc.max)
		}
	}
	if ev := redisInfo(t, c, "stats", "evicted_keys"); ev != "0" {
		t.Errorf("evicted_keys = %s under noeviction", ev)
	}
	t.Logf("%d flood keys, %d writes refused, db0: %s", next.Load(), notRecorded.Load(), redisInfo(t, c, "keyspace", "db0"))
}

// TestReplicaRefusingWritesCannotFailOpen: after a failover the client may
// still talk to the old primary, now a replica, which refuses every write
// with READONLY. As with a full Redis, that is an answer: FailOpen
// policies are decided locally (the burst holds) and the store reports
// ErrWriteRefused, which does not open the circuit breaker.
func TestReplicaRefusingWritesCannotFailOpen(t *testing.T) {
	primary, _ := singleClient(t)
	_, c := singleClient(t)
	var mu sync.Mutex
	var storeErrs []error
	store := newStore(t, redisstore.Config{Client: c})
	l, err := ratelimit.New(ratelimit.Config{
		Store: store, HashKey: hashKey,
		Policies: []ratelimit.Policy{{Name: "p", Quota: 3, Period: time.Hour, OnStoreError: ratelimit.FailOpen, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}}},
		Hooks: ratelimit.Hooks{OnStoreLatency: func(_ time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			storeErrs = append(storeErrs, err)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(primary.Addr, ":")
	ctx := context.Background()
	if err := c.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatalf("REPLICAOF: %v", err)
	}
	allowed := 0
	for i := range 20 {
		d, err := l.TakeKey(ctx, "fresh", 1)
		switch {
		case err == nil && d.Allowed:
			allowed++
		case errors.Is(err, ratelimit.ErrLimited):
		default:
			t.Fatalf("request %d to a replica: %+v, %v", i, d, err)
		}
	}
	if allowed != 3 {
		t.Errorf("a fresh key against a replica: %d of 20 allowed, want the local burst of 3", allowed)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(storeErrs) != 20 {
		t.Fatalf("%d store calls for 20 decisions", len(storeErrs))
	}
	for i, err := range storeErrs {
		if !errors.Is(err, redisstore.ErrWriteRefused) || !errors.Is(err, ratelimit.ErrNotRecorded) {
			t.Fatalf("store call %d: %v, want ErrWriteRefused (every call reaches Redis: no open breaker)", i, err)
		}
	}
}
