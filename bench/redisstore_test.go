package bench

import (
	"context"
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	ulule "github.com/ulule/limiter/v3"
	ululeredis "github.com/ulule/limiter/v3/drivers/store/redis"

	"github.com/bulwark-go/bulwark/internal/redistest"
	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// Redis-backed limiters on one real redis-server started for the run
// (loopback), all configured alike: 1e6 per second per key with a burst of
// 1e6, over 1024 keys, so every decision is an allowed one (the path that
// writes). httprate-redis is not included: the module proxy here does not
// serve it.
const (
	rrRate = 1_000_000
	rrKeys = 1024
)

// rrCounter counts the commands a client sends: round trips per decision.
type rrCounter struct{ n atomic.Int64 }

func (h *rrCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *rrCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h *rrCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

type rrDecider struct {
	name string
	new  func(b *testing.B, c *redis.Client) func(ctx context.Context, key int) error
}

var rrKeyNames = func() []string {
	k := make([]string, rrKeys)
	for i := range k {
		k[i] = "client-" + strconv.Itoa(i)
	}
	return k
}()

func rrDeciders() []rrDecider {
	return []rrDecider{
		{"PING", func(b *testing.B, c *redis.Client) func(context.Context, int) error {
			return func(ctx context.Context, _ int) error { return c.Ping(ctx).Err() }
		}},
		{"EVALSHA-noop", func(b *testing.B, c *redis.Client) func(context.Context, int) error {
			// The floor of any one-script store: a script that does nothing.
			noop := redis.NewScript("return 1")
			return func(ctx context.Context, key int) error {
				return noop.Run(ctx, c, []string{rrKeyNames[key]}, 0, 1, 0, 1, rrRate).Err()
			}
		}},
		{"GCRA-floor", func(b *testing.B, c *redis.Client) func(context.Context, int) error {
			// The least any exact GCRA on Redis's clock must do in its
			// script: read the clock, read the state, write it with a TTL.
			// No arithmetic, no checks, a one-number reply.
			floor := redis.NewScript("local t = redis.call('TIME') local r = redis.call('GET', KEYS[1]) " +
				"redis.call('SET', KEYS[1], '1780000000000000', 'PX', 1000) return 1")
			return func(ctx context.Context, key int) error {
				return floor.Run(ctx, c, []string{rrKeyNames[key]}, 0, 1, 0, 1, rrRate).Err()
			}
		}},
		{"bulwark", func(b *testing.B, c *redis.Client) func(context.Context, int) error {
			s, err := redisstore.New(redisstore.Config{Client: c, Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			lim := ratelimit.Limit{Policy: 1, Interval: int64(time.Second) / rrRate, Burst: rrRate}
			return func(ctx context.Context, key int) error {
				l := lim
				l.Key, l.Subject = uint64(key)+1, uint64(key)+1
				var out [1]ratelimit.Result
				ok, err := s.Take(ctx, time.Time{}, 1, []ratelimit.Limit{l}, out[:])
				if err == nil && !ok {
					b.Fatal("bulwark refused")
				}
				return err
			}
		}},
		{"redis_rate", func(b *testing.B, c *redis.Client) func(context.Context, int) error {
			l := redis_rate.NewLimiter(c)
			lim := redis_rate.Limit{Rate: rrRate, Burst: rrRate, Period: time.Second}
			return func(ctx context.Context, key int) error {
				res, err := l.Allow(ctx, rrKeyNames[key], lim)
				if err == nil && res.Allowed == 0 {
					b.Fatal("redis_rate refused")
				}
				return err
			}
		}},
		{"ulule", func(b *testing.B, c *redis.Client) func(context.Context, int) error {
			st, err := ululeredis.NewStore(c)
			if err != nil {
				b.Fatal(err)
			}
			l := ulule.New(st, ulule.Rate{Period: time.Second, Limit: rrRate})
			return func(ctx context.Context, key int) error {
				res, err := l.Get(ctx, rrKeyNames[key])
				if err == nil && res.Reached {
					b.Fatal("ulule refused")
				}
				return err
			}
		}},
	}
}

func rrServer(b *testing.B) string {
	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Skip("redis-server not installed")
	}
	return redistest.Start(b)
}

// BenchmarkRedisStore measures one decision against a real Redis, serially
// (latency; compare with PING) and from 32 goroutines (throughput,
// reported as decisions/s), with the commands sent per decision
// (roundtrips/op).
func BenchmarkRedisStore(b *testing.B) {
	addr := rrServer(b)
	for _, mode := range []string{"serial", "parallel32"} {
		for _, d := range rrDeciders() {
			b.Run(d.name+"/"+mode, func(b *testing.B) {
				c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 64})
				defer func() { _ = c.Close() }()
				decide := d.new(b, c)
				ctx := context.Background()
				rrWarm(b, decide)
				var h rrCounter
				c.AddHook(&h)
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				if mode == "serial" {
					k := 0
					for b.Loop() {
						if err := decide(ctx, k); err != nil {
							b.Fatal(err)
						}
						k = (k + 1) % rrKeys
					}
				} else {
					b.SetParallelism((32 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					var next atomic.Int64
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := decide(ctx, int(next.Add(1)%rrKeys)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(h.n.Load())/float64(b.N), "roundtrips/op")
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
			})
		}
	}
}

// BenchmarkRedisStoreMiddleware is the whole ratelimit middleware (keying,
// decision on Redis, RateLimit headers) over the bare handler.
func BenchmarkRedisStoreMiddleware(b *testing.B) {
	addr := rrServer(b)
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	s, err := redisstore.New(redisstore.Config{Client: c, Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	l, err := ratelimit.New(ratelimit.Config{
		Store: s,
		Policies: []ratelimit.Policy{
			{Name: "per-ip", Quota: rrRate, Period: time.Second, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	var h http.Handler = l.Handler(jsonHandler)
	serve(b, h, newRequest())
}

// rrWarm decides every key once from 32 goroutines: scripts loaded,
// connections dialled (their handshakes are not the decisions' round
// trips).
func rrWarm(b *testing.B, decide func(context.Context, int) error) {
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for k := g; k < rrKeys; k += 32 {
				if err := decide(context.Background(), k); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// rrPairedDeciders starts one client per decider on addr, each warmed up
// (rrWarm).
func rrPairedDeciders(b *testing.B, addr string) ([]string, []func(context.Context, int) error) {
	var names []string
	var fns []func(context.Context, int) error
	for _, d := range rrDeciders() {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1, PoolSize: 64})
		b.Cleanup(func() { _ = c.Close() })
		decide := d.new(b, c)
		rrWarm(b, decide)
		names = append(names, d.name)
		fns = append(fns, decide)
	}
	return names, fns
}

// medianRatio is the median over rounds of a[r]/b[r].
func medianRatio(a, b []float64) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	slices.Sort(r)
	return r[len(r)/2]
}

// BenchmarkRedisStorePaired is BenchmarkRedisStore's serial latency
// measured the way the targets are stated: every decider in turn, 200
// decisions each, round after round (run it with -benchtime 30x or more
// rounds), so that what the machine does meanwhile hits all alike; it
// reports each decider's median µs per decision and the medians of the
// per-round ratios. GCRA-floor is the least an exact GCRA script on
// Redis's clock does (TIME, GET, SET, nothing else).
func BenchmarkRedisStorePaired(b *testing.B) {
	addr := rrServer(b)
	names, fns := rrPairedDeciders(b, addr)
	const batch = 200
	samples := make([][]float64, len(fns))
	ctx := context.Background()
	k := 0
	for b.Loop() {
		for i, decide := range fns {
			start := time.Now()
			for range batch {
				if err := decide(ctx, k); err != nil {
					b.Fatal(err)
				}
				k = (k + 1) % rrKeys
			}
			samples[i] = append(samples[i], float64(time.Since(start).Microseconds())/batch)
		}
	}
	at := func(name string) []float64 { return samples[slices.Index(names, name)] }
	for i, name := range names {
		m := slices.Clone(samples[i])
		slices.Sort(m)
		b.ReportMetric(m[len(m)/2], name+"-µs")
	}
	for _, name := range []string{"GCRA-floor", "bulwark", "redis_rate", "ulule"} {
		b.ReportMetric(medianRatio(at(name), at("EVALSHA-noop")), name+"/noop")
	}
	b.ReportMetric(medianRatio(at("bulwark"), at("GCRA-floor")), "bulwark/floor")
}

// BenchmarkRedisStoreParallelPaired is throughput from 32 goroutines,
// every decider in turn for 6 400 decisions, round after round (-benchtime
// 20x or more rounds): each decider's median decisions/s and the medians
// of the per-round ratios.
func BenchmarkRedisStoreParallelPaired(b *testing.B) {
	addr := rrServer(b)
	names, fns := rrPairedDeciders(b, addr)
	const per, goroutines = 200, 32
	samples := make([][]float64, len(fns))
	ctx := context.Background()
	for b.Loop() {
		for i, decide := range fns {
			var wg sync.WaitGroup
			start := time.Now()
			for g := range goroutines {
				wg.Go(func() {
					for n := range per {
						if err := decide(ctx, (g*per+n)%rrKeys); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			samples[i] = append(samples[i], goroutines*per/time.Since(start).Seconds())
		}
	}
	at := func(name string) []float64 { return samples[slices.Index(names, name)] }
	for i, name := range names {
		m := slices.Clone(samples[i])
		slices.Sort(m)
		b.ReportMetric(m[len(m)/2], name+"-decisions/s")
	}
	for _, name := range []string{"redis_rate", "ulule", "EVALSHA-noop"} {
		b.ReportMetric(medianRatio(at("bulwark"), at(name)), "bulwark/"+name)
	}
}
