package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

func TestNewConfigErrors(t *testing.T) {
	ok := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	noCtx := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	noCtxCluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { _, _, _ = ok.Close(), noCtx.Close(), noCtxCluster.Close() })
	tests := []struct {
		name   string
		cfg    redisstore.Config
		fields []string
	}{
		{"valid", redisstore.Config{Client: ok}, nil},
		{"valid full", redisstore.Config{Client: ok, Prefix: "app:rl:", Timeout: 20 * time.Millisecond, BreakerThreshold: 3, BreakerCooldown: time.Second, DenyCacheKeys: 1000}, nil},
		{"no client", redisstore.Config{}, []string{"Client"}},
		{"client ignores context deadlines", redisstore.Config{Client: noCtx}, []string{"Client"}},
		{"cluster client ignores context deadlines", redisstore.Config{Client: noCtxCluster}, []string{"Client"}},
		{"hash tag in prefix", redisstore.Config{Client: ok, Prefix: "a{b}:"}, []string{"Prefix"}},
		{"space in prefix", redisstore.Config{Client: ok, Prefix: "a b"}, []string{"Prefix"}},
		{"long prefix", redisstore.Config{Client: ok, Prefix: strings.Repeat("p", 65)}, []string{"Prefix"}},
		{"negative timeout", redisstore.Config{Client: ok, Timeout: -1}, []string{"Timeout"}},
		{"huge timeout", redisstore.Config{Client: ok, Timeout: time.Hour}, []string{"Timeout"}},
		{"negative breaker", redisstore.Config{Client: ok, BreakerThreshold: -1, BreakerCooldown: -time.Second}, []string{"BreakerThreshold", "BreakerCooldown"}},
		{"deny cache too big", redisstore.Config{Client: ok, DenyCacheKeys: 1 << 25}, []string{"DenyCacheKeys"}},
		{"everything wrong", redisstore.Config{Prefix: "{", Timeout: -1, DenyCacheKeys: -1}, []string{"Client", "Prefix", "Timeout", "DenyCacheKeys"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redisstore.New(tc.cfg)
			if len(tc.fields) == 0 {
				if err != nil || s == nil {
					t.Fatalf("New() = %v, %v; want a store", s, err)
				}
				return
			}
			if s != nil || err == nil {
				t.Fatalf("New() = %v, %v; want errors for %v", s, err, tc.fields)
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *redisstore.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("error %v is not a *ConfigError", e)
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("New() errors for fields %v, want %v", got, tc.fields)
			}
		})
	}
}

func TestTakeInvalid(t *testing.T) {
	_, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c})
	good := ratelimit.Limit{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Second), Burst: 5}
	out := make([]ratelimit.Result, 20)
	tests := []struct {
		name   string
		cost   int64
		limits []ratelimit.Limit
		out    []ratelimit.Result
	}{
		{"zero cost", 0, []ratelimit.Limit{good}, out},
		{"no limits", 1, nil, out},
		{"too many limits", 1, make([]ratelimit.Limit, 17), out},
		{"out too short", 1, []ratelimit.Limit{good, good}, out[:1]},
		{"zero interval", 1, []ratelimit.Limit{{Key: 1, Interval: 0, Burst: 1}}, out},
		{"zero burst", 1, []ratelimit.Limit{{Key: 1, Interval: 1, Burst: 0}}, out},
		{"tolerance overflow", 1, []ratelimit.Limit{{Key: 1, Interval: 1 << 40, Burst: 1 << 30}}, out},
		{"tolerance beyond Lua's exact integers", 1, []ratelimit.Limit{{Key: 1, Interval: 1, Burst: 1 << 59}}, out},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := s.Take(context.Background(), time.Now(), tc.cost, tc.limits, tc.out)
			if ok || !errors.Is(err, ratelimit.ErrInvalidTake) {
				t.Fatalf("Take() = %v, %v; want ErrInvalidTake", ok, err)
			}
		})
	}
}

// TestCostLargerThanBurst: refused by Redis with RetryAfter 0 (never), and
// nothing charged.
func TestCostLargerThanBurst(t *testing.T) {
	_, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c})
	l := []ratelimit.Limit{{Key: 9, Subject: 9, Policy: 1, Interval: int64(time.Minute), Burst: 5}}
	out := make([]ratelimit.Result, 1)
	ok, err := s.Take(context.Background(), time.Now(), 6, l, out)
	if err != nil || ok || out[0].Allowed || out[0].RetryAfter != 0 || out[0].Remaining != 5 {
		t.Fatalf("Take(cost 6, burst 5) = %v, %v, %+v; want refused, RetryAfter 0, 5 remaining", ok, err, out[0])
	}
	ok, err = s.Take(context.Background(), time.Now(), 5, l, out)
	if err != nil || !ok || out[0].Remaining != 0 {
		t.Fatalf("Take(cost 5) = %v, %v, %+v; want the full burst", ok, err, out[0])
	}
}

// TestTTLIsTimeUntilFull: the key expires when the limit is back to full,
// so Redis holds state only for limits that are not.
func TestTTLIsTimeUntilFull(t *testing.T) {
	_, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c})
	ctx := context.Background()
	l := ratelimit.Limit{Key: 5, Subject: 6, Policy: 1, Interval: int64(10 * time.Second), Burst: 10}
	out := make([]ratelimit.Result, 1)
	for range 3 {
		if ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{l}, out); !ok || err != nil {
			t.Fatalf("Take = %v, %v", ok, err)
		}
	}
	ttl, err := c.PTTL(ctx, s.KeyOf(l)).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Three charges of 10 s each: full again in (just under) 30 s. PTTL
	// counts from Redis's clock truncated to the millisecond, so it can
	// read up to 1 ms more.
	if ttl <= 29*time.Second || ttl > 30*time.Second+time.Millisecond || out[0].ResetAfter > 30*time.Second || out[0].ResetAfter <= 29*time.Second {
		t.Fatalf("PTTL = %v, ResetAfter = %v; want both just under 30s", ttl, out[0].ResetAfter)
	}
	// Exactly: the key expires at the first millisecond at or after its
	// TAT, when the limit is full again.
	tat, err := c.Get(ctx, s.KeyOf(l)).Int64()
	if err != nil {
		t.Fatal(err)
	}
	at, err := c.PExpireTime(ctx, s.KeyOf(l)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := (tat + 999) / 1000; at != time.Duration(want)*time.Millisecond {
		t.Fatalf("expires at %v ms, TAT %d µs: want %d ms", at.Milliseconds(), tat, want)
	}
	if key := s.KeyOf(l); !strings.HasPrefix(key, "bulwark:rl:{0000000000000006}:") {
		t.Fatalf("KeyOf = %q: want the default prefix and the subject as hash tag", key)
	}
}

// TestCorruptState: a value that is not a GCRA timestamp is an error,
// never a decision.
func TestCorruptState(t *testing.T) {
	_, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c})
	ctx := context.Background()
	l := ratelimit.Limit{Key: 1, Subject: 2, Policy: 1, Interval: int64(time.Second), Burst: 1}
	for _, v := range []string{"garbage", "-5", "1e300", "12.5"} {
		if err := c.Set(ctx, s.KeyOf(l), v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		ok, err := s.Take(ctx, time.Now(), 1, []ratelimit.Limit{l}, make([]ratelimit.Result, 1))
		if ok || err == nil {
			t.Fatalf("Take with state %q = %v, %v; want an error", v, ok, err)
		}
	}
}

// TestOneRoundTripPerDecision counts the commands the client sends (a
// hook) and Redis receives (INFO commandstats, where the commands a script
// runs inside Redis are listed too): one EVALSHA per decision, nothing
// else.
func TestOneRoundTripPerDecision(t *testing.T) {
	_, c := singleClient(t)
	var h callCounter
	c.AddHook(&h)
	oneRoundTrip(t, c, &h)
}

func oneRoundTrip(t *testing.T, c redis.UniversalClient, h *callCounter) {
	ctx := context.Background()
	s := newStore(t, redisstore.Config{Client: c, Prefix: "rt:"})
	out := make([]ratelimit.Result, 3)
	limits := []ratelimit.Limit{
		{Key: 1, Subject: 42, Policy: 1, Interval: int64(time.Millisecond), Burst: 100},
		{Key: 2, Subject: 42, Policy: 2, Interval: int64(time.Second), Burst: 1000},
		{Key: 3, Subject: 42, Policy: 3, Interval: int64(time.Hour), Burst: 100000},
	}
	if _, err := s.Take(ctx, time.Now(), 1, limits, out); err != nil { // loads the script
		t.Fatal(err)
	}
	resetStats(ctx, t, c)
	before := h.n.Load()
	const n = 200
	for range n {
		if _, err := s.Take(ctx, time.Now(), 1, limits, out); err != nil {
			t.Fatal(err)
		}
	}
	if got := h.n.Load() - before; got != n {
		t.Fatalf("client sent %d commands for %d decisions, want %d", got, n, n)
	}
	stats := commandStats(ctx, t, c)
	if stats["evalsha"] != n {
		t.Fatalf("Redis ran %d EVALSHA for %d decisions (stats %v)", stats["evalsha"], n, stats)
	}
	for cmd, calls := range stats {
		switch cmd {
		case "evalsha", "time", "get", "set", "del":
			continue // the script and the commands it runs inside Redis
		}
		if calls > 0 {
			t.Fatalf("Redis ran %d %s besides the scripts: more than one round trip per decision", calls, cmd)
		}
	}
}

// forEachNode runs f on the single node or on every Cluster master.
func forEachNode(ctx context.Context, t *testing.T, c redis.UniversalClient, f func(*redis.Client)) {
	t.Helper()
	switch c := c.(type) {
	case *redis.Client:
		f(c)
	case *redis.ClusterClient:
		if err := c.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error { f(m); return nil }); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unexpected client %T", c)
	}
}

func resetStats(ctx context.Context, t *testing.T, c redis.UniversalClient) {
	forEachNode(ctx, t, c, func(m *redis.Client) {
		if err := m.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	})
}

// commandStats sums INFO commandstats calls over the nodes, leaving out
// the commands of the measurement and of cluster housekeeping.
func commandStats(ctx context.Context, t *testing.T, c redis.UniversalClient) map[string]int64 {
	stats := map[string]int64{}
	forEachNode(ctx, t, c, func(m *redis.Client) {
		info, err := m.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok || !strings.HasPrefix(name, "cmdstat_") {
				continue
			}
			name = strings.TrimPrefix(name, "cmdstat_")
			if name == "info" || name == "ping" || strings.HasPrefix(name, "config") || strings.HasPrefix(name, "cluster") || name == "command|docs" || name == "hello" || name == "client|setinfo" {
				continue
			}
			calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
			n, err := strconv.ParseInt(calls, 10, 64)
			if err != nil {
				t.Fatalf("commandstats line %q: %v", line, err)
			}
			stats[name] += n
		}
	})
	return stats
}

// TestScriptFlushed: SCRIPT FLUSH empties Redis's script cache; the next
// decision gets NOSCRIPT, reloads the script and decides on the same state.
func TestScriptFlushed(t *testing.T) {
	_, c := singleClient(t)
	s := newStore(t, redisstore.Config{Client: c})
	ctx := context.Background()
	l := []ratelimit.Limit{{Key: 77, Subject: 7, Policy: 1, Interval: int64(time.Hour), Burst: 3}}
	out := make([]ratelimit.Result, 1)
	for i := range 2 {
		if ok, err := s.Take(ctx, time.Now(), 1, l, out); !ok || err != nil {
			t.Fatalf("take %d = %v, %v", i, ok, err)
		}
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ok, err := s.Take(ctx, time.Now(), 1, l, out)
	if !ok || err != nil || out[0].Remaining != 0 {
		t.Fatalf("take after SCRIPT FLUSH = %v, %v, %+v; want the third unit", ok, err, out[0])
	}
	if ok, err := s.Take(ctx, time.Now(), 1, l, out); ok || err != nil {
		t.Fatalf("fourth take = %v, %v; want refused", ok, err)
	}
	exists, err := c.ScriptExists(ctx, redis.NewScript(redisstore.ScriptSource()).Hash()).Result()
	if err != nil || !exists[0] {
		t.Fatalf("script not reloaded: %v %v", exists, err)
	}
}
