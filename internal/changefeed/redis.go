package changefeed

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// SubscribeRedis subscribes to channel and delivers each message's payload
// to sink until ctx is done; it returns only then. Redis pub/sub keeps no
// messages for a subscriber that is away, so every reconnection is
// reported Lost then Live (the caller drops what it cached). An idle
// subscription is checked with PING every heartbeat.
func SubscribeRedis(ctx context.Context, client redis.UniversalClient, channel string, heartbeat time.Duration, sink Sink) error {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	var b backoff
	for {
		err := subscribeOnce(ctx, client, channel, heartbeat, sink, &b)
		if ctx.Err() != nil {
			return nil
		}
		sink.Lost(err)
		if !b.wait(ctx) {
			return nil
		}
	}
}

var errNoPong = errors.New("changefeed: Redis did not answer PING")

func subscribeOnce(ctx context.Context, client redis.UniversalClient, channel string, heartbeat time.Duration, sink Sink, b *backoff) error {
	ps := client.Subscribe(ctx)
	defer func() { _ = ps.Close() }()
	if err := ps.Subscribe(ctx, channel); err != nil {
		return err
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, heartbeat)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var nerr interface{ Timeout() bool }
			if errors.As(err, &nerr) && nerr.Timeout() && !pinged {
				// Idle for a heartbeat: ask for a PONG within the next one.
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				pinged = true
				continue
			}
			if pinged {
				return errors.Join(errNoPong, err)
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.reset()
				sink.Live()
			}
		case *redis.Message:
			sink.Changed(m.Payload)
		case *redis.Pong:
		}
	}
}
