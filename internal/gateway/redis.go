package gateway

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/ratelimit/redisstore"
)

// newRedisStore connects the shared rate-limit store named by a
// redis://[user:password@]host:port/db (or rediss:// for TLS) URL. It
// returns the store, its closer and a readiness check (PING).
func newRedisStore(u string) (ratelimit.Store, func() error, func(context.Context) error, error) {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return nil, nil, nil, errors.New("ratelimit.store: not a valid redis:// URL") // the URL may hold a password: not echoed
	}
	opts.ContextTimeoutEnabled = true // redisstore bounds each decision with a context timeout
	client := redis.NewClient(opts)
	store, err := redisstore.New(redisstore.Config{Client: client})
	if err != nil {
		_ = client.Close()
		return nil, nil, nil, err
	}
	ping := func(ctx context.Context) error { return client.Ping(ctx).Err() }
	return store, client.Close, ping, nil
}
