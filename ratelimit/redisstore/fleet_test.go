package redisstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// hashKey is the ratelimit HashKey the instances of a fleet share.
var hashKey = []byte("0123456789abcdef")

// TestFleetRaceSingleNode: two limiter instances with their own clients
// (two goroutine groups, as two processes would be) hammer one key on one
// Redis; together they let through exactly the burst.
func TestFleetRaceSingleNode(t *testing.T) {
	_, c := singleClient(t)
	addr := c.Options().Addr
	fleetRace(t, func() redis.UniversalClient {
		return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true, PoolSize: 32})
	})
}

// TestCluster runs the differential test, the fleet race and the
// cross-slot tests against a real 3-master Redis Cluster.
func TestCluster(t *testing.T) {
	c := clusterClient(t)
	addrs := c.Options().Addrs
	t.Run("Differential", func(t *testing.T) { diffTimelines(t, c) })
	t.Run("FleetRace", func(t *testing.T) {
		fleetRace(t, func() redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1, ContextTimeoutEnabled: true, PoolSize: 32})
		})
	})
	t.Run("KeysInDifferentSlots", func(t *testing.T) { crossSlot(t, c) })
	t.Run("OneRoundTripPerDecision", func(t *testing.T) {
		var h callCounter
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = cc.Close() })
		if err := cc.ForEachShard(context.Background(), func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() }); err != nil {
			t.Fatal(err)
		}
		cc.AddHook(&h)
		oneRoundTrip(t, cc, &h)
	})
}

// fleetRace runs two Limiters (each with its own client and store, the
// same HashKey) from 2×16 goroutines against one Redis: a per-user policy
// (burst 1000) and a policy shared by all users (burst 30), keyed by
// different subjects, so on a Cluster they live in different slots. Exactly
// 30 requests must pass, and the per-user policy must be charged exactly
// for them: the refused requests' charges were refunded.
func fleetRace(t *testing.T, newClient func() redis.UniversalClient) {
	const shared, perUser = 30, 1000
	users := []string{"alice", "bob", "carol"}
	newLimiter := func() *ratelimit.Limiter {
		c := newClient()
		t.Cleanup(func() { _ = c.Close() })
		s := newStore(t, redisstore.Config{Client: c, Prefix: "fleet:"})
		l, err := ratelimit.New(ratelimit.Config{
			Store:   s,
			HashKey: hashKey,
			Policies: []ratelimit.Policy{
				{Name: "user", Quota: perUser, Period: 24 * time.Hour, Key: []ratelimit.KeyPart{ratelimit.Header("X-User")}},
				{Name: "shared", Quota: shared, Period: 24 * time.Hour, Key: []ratelimit.KeyPart{ratelimit.Func(func(*http.Request) (string, bool) { return "all", true })}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	instances := []*ratelimit.Limiter{newLimiter(), newLimiter()}
	var passed atomic.Int64
	var perUserPassed [3]atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, l := range instances {
		for g := range 16 {
			wg.Go(func() {
				for i := range 12 {
					u := (g + i) % len(users)
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.Header.Set("X-User", users[u])
					d, err := l.Check(r)
					switch {
					case err == nil && d.Allowed:
						passed.Add(1)
						perUserPassed[u].Add(1)
					case errors.Is(err, ratelimit.ErrLimited):
					default:
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Check: %v", err)
	}
	if got := passed.Load(); got != shared {
		t.Fatalf("%d requests passed across the fleet, want exactly %d", got, shared)
	}
	// The shared policy is exhausted, so the next request is refused and
	// reports the per-user policy uncharged: exactly what passed was charged.
	for u, name := range users {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-User", name)
		d, err := instances[u%2].Check(r)
		if !errors.Is(err, ratelimit.ErrLimited) {
			t.Fatalf("Check(%s) after the race: %v, want ErrLimited", name, err)
		}
		res := d.Results()
		if len(res) != 2 || res[0].Policy != "user" {
			t.Fatalf("results %+v", res)
		}
		if want := perUser - perUserPassed[u].Load(); res[0].Remaining != want {
			t.Fatalf("user %s: Remaining %d, want %d (%d passed): a refused request stayed charged", name, res[0].Remaining, want, perUserPassed[u].Load())
		}
	}
}

// crossSlot decides limits of two subjects that live in different Cluster
// slots: the decision is all or nothing across them.
func crossSlot(t *testing.T, c *redis.ClusterClient) {
	s := newStore(t, redisstore.Config{Client: c, Prefix: "xslot:"})
	ctx := context.Background()
	a := ratelimit.Limit{Key: 101, Subject: 1, Policy: 1, Interval: int64(time.Hour), Burst: 10}
	b := ratelimit.Limit{Key: 202, Subject: 2, Policy: 2, Interval: int64(time.Hour), Burst: 3}
	ka, kb := s.KeyOf(a), s.KeyOf(b)
	if sa, sb := slotOf(ctx, t, c, ka), slotOf(ctx, t, c, kb); sa == sb {
		t.Fatalf("keys %s and %s share slot %d: the test needs two slots", ka, kb, sa)
	}
	out := make([]ratelimit.Result, 2)
	for i := range 3 {
		ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{a, b}, out)
		if err != nil || !ok {
			t.Fatalf("take %d = %v, %v; want allowed", i, ok, err)
		}
	}
	for i := range 5 {
		ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{a, b}, out)
		if err != nil || ok {
			t.Fatalf("take %d after b's burst = %v, %v; want refused", i, ok, err)
		}
		if !out[0].Allowed || out[0].Remaining != 7 || out[1].Allowed || out[1].RetryAfter <= 0 {
			t.Fatalf("results %+v: want a uncharged with 7 left, b refusing", out)
		}
	}
	// The refunds gave a's key back its TAT and the expiry that goes with
	// it: the first millisecond at or after the TAT.
	tat, err := c.Get(ctx, ka).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if at, err := c.PExpireTime(ctx, ka).Result(); err != nil || at != time.Duration((tat+999)/1000)*time.Millisecond {
		t.Fatalf("a's key expires at %v (%v), TAT %d µs: want %d ms", at, err, tat, (tat+999)/1000)
	}
	// Order reversed: the refusing subject first, nothing to refund.
	ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{b, a}, out)
	if err != nil || ok || out[1].Remaining != 7 {
		t.Fatalf("reversed = %v, %v, %+v", ok, err, out)
	}
	// a alone still has exactly its 7.
	for i := range 7 {
		if ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{a}, out); err != nil || !ok {
			t.Fatalf("a alone, take %d = %v, %v", i, ok, err)
		}
	}
	if ok, _ := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{a}, out); ok {
		t.Fatal("a allowed past its burst")
	}
}

func slotOf(ctx context.Context, t *testing.T, c *redis.ClusterClient, key string) int64 {
	t.Helper()
	n, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
