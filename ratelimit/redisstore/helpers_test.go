package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/internal/redistest"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// testTimeout is the per-call timeout of tests that expect Redis to answer:
// generous, because -race on two shared cores is slow.
const testTimeout = 5 * time.Second

// singleClient starts a redis-server and returns a client for it.
func singleClient(t testing.TB) (*redistest.Server, *redis.Client) {
	t.Helper()
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1, ContextTimeoutEnabled: true, PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	return srv, c
}

// clusterClient starts a 3-master Redis Cluster and returns a client for it.
func clusterClient(t testing.TB) *redis.ClusterClient {
	t.Helper()
	addrs := redistest.StartCluster(t, 3)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1, ContextTimeoutEnabled: true, PoolSize: 64})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.ForEachMaster(context.Background(), func(ctx context.Context, m *redis.Client) error {
		return m.Ping(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func newStore(t testing.TB, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = testTimeout
	}
	s, err := redisstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeClock is a settable clock for the breaker and the deny cache.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// callCounter is a go-redis hook counting commands sent (pipelines count
// each command): the round trips of a decision; and the round trips
// themselves (a pipeline is one) and the commands of the widest pipeline.
type callCounter struct{ n, trips, widest atomic.Int64 }

func (h *callCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *callCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		h.trips.Add(1)
		return next(ctx, cmd)
	}
}
func (h *callCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := int64(len(cmds))
		h.n.Add(n)
		h.trips.Add(1)
		for {
			w := h.widest.Load()
			if n <= w || h.widest.CompareAndSwap(w, n) {
				break
			}
		}
		return next(ctx, cmds)
	}
}
