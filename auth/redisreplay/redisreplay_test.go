package redisreplay_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/redisreplay"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

// counter counts the commands sent to Redis.
type counter struct{ n atomic.Int64 }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" && cmd.Name() != "client" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func key(s string) auth.ReplayKey { return sha256.Sum256([]byte(s)) }

// TestAttackReplayToAnotherInstance: two instances, each with its own
// client, share one Redis: a value one accepted is refused by the other,
// in one round trip each, and Redis forgets it when its time ends.
func TestAttackReplayToAnotherInstance(t *testing.T) {
	addr := redistest.Start(t)
	var hits counter
	stores := make([]*redisreplay.Store, 2)
	clients := make([]*redis.Client, 2)
	for i := range stores {
		clients[i] = redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = clients[i].Close() })
		clients[i].AddHook(&hits)
		s, err := redisreplay.New(redisreplay.Config{Client: clients[i]})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
	}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if err := stores[0].Use(ctx, key("proof-1"), until); err != nil {
		t.Fatalf("first use = %v", err)
	}
	if n := hits.n.Load(); n != 1 {
		t.Errorf("one check sent %d commands, want 1", n)
	}
	if err := stores[1].Use(ctx, key("proof-1"), until); !errors.Is(err, auth.ErrReplayed) {
		t.Fatalf("replay to the other instance = %v, want ErrReplayed", err)
	}
	k := key("proof-1")
	ttl, err := clients[0].PTTL(ctx, redisreplay.DefaultPrefix+base64.RawURLEncoding.EncodeToString(k[:])).Result()
	if err != nil || ttl <= 55*time.Second || ttl > time.Minute+time.Millisecond {
		t.Errorf("the value's TTL in Redis = %v, %v; want what is left of its minute", ttl, err)
	}
	// A value whose time has ended takes no room.
	if err := stores[0].Use(ctx, key("old"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := clients[0].DBSize(ctx).Result(); n != 1 {
		t.Errorf("DBSIZE = %d, want 1", n)
	}

	// Concurrent uses of one value across both instances: exactly one wins.
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if stores[i%2].Use(ctx, key("raced"), until) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent uses of one value won, want 1", wins.Load())
	}
}

// TestRedisDownFailsClosed: without Redis nothing is recorded, and the
// answer is an error that is not ErrReplayed (the verifiers answer 503).
func TestRedisDownFailsClosed(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	s, err := redisreplay.New(redisreplay.Config{Client: c, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	err = s.Use(context.Background(), key("x"), time.Now().Add(time.Minute))
	if err == nil || errors.Is(err, auth.ErrReplayed) || !errors.Is(err, redisreplay.ErrUnavailable) {
		t.Fatalf("Use with Redis down = %v, want ErrUnavailable", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := redisreplay.New(redisreplay.Config{Timeout: -1}); err == nil {
		t.Fatal("New without a client = nil error")
	}
}
