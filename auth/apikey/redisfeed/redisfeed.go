// Package redisfeed carries API-key changes between the instances of a
// fleet over Redis pub/sub: for stores whose own channel is not available
// (a PostgreSQL behind a transaction-mode pooler, where LISTEN does not
// work; a store of your own), or to keep key changes off the database's
// connections.
//
// A [Feed] is both the [apikey.Watcher] and the [apikey.Announcer] of a
// Keys: every instance, and `bulwark keys`, announces each change it
// makes (PUBLISH of the key id on the channel, one round trip, after the
// store has the change), and every instance subscribes. Pub/sub keeps no
// messages for a subscriber that is away, so a lost subscription drops the
// whole cache when it comes back; until then the cache TTL is the bound.
package redisfeed

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/internal/changefeed"
)

// DefaultChannel is the pub/sub channel of key changes.
const DefaultChannel = "bulwark:api_keys"

// Config configures a [Feed].
type Config struct {
	// Client is the Redis client. Required.
	Client redis.UniversalClient
	// Channel is the pub/sub channel. Default [DefaultChannel]; every
	// instance of one fleet (and its `bulwark keys`) must use the same.
	Channel string
	// Timeout bounds one announcement. Default 2 s.
	Timeout time.Duration
	// Heartbeat is how often an idle subscription is checked with PING.
	// Default 5 s.
	Heartbeat time.Duration
}

// Feed is an [apikey.Watcher] and [apikey.Announcer] on Redis pub/sub.
// It is safe for concurrent use.
type Feed struct {
	client    redis.UniversalClient
	channel   string
	timeout   time.Duration
	heartbeat time.Duration
}

var (
	_ apikey.Watcher   = (*Feed)(nil)
	_ apikey.Announcer = (*Feed)(nil)
)

// New checks cfg and returns a [Feed]. Every problem is reported, joined;
// each is an [*auth.ConfigError].
func New(cfg Config) (*Feed, error) {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, &auth.ConfigError{Field: "redisfeed.Client", Reason: "required"})
	}
	if cfg.Timeout < 0 || cfg.Heartbeat < 0 {
		errs = append(errs, &auth.ConfigError{Field: "redisfeed.Timeout", Reason: "Timeout and Heartbeat must not be negative"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	f := &Feed{client: cfg.Client, channel: cfg.Channel, timeout: cfg.Timeout, heartbeat: cfg.Heartbeat}
	if f.channel == "" {
		f.channel = DefaultChannel
	}
	if f.timeout == 0 {
		f.timeout = 2 * time.Second
	}
	return f, nil
}

// Announce implements [apikey.Announcer]: PUBLISH of the key id.
func (f *Feed) Announce(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return f.client.Publish(ctx, f.channel, id).Err()
}

// Watch implements [apikey.Watcher]: it subscribes to the channel until
// ctx is done, resubscribing by itself.
func (f *Feed) Watch(ctx context.Context, sink apikey.ChangeSink) error {
	return changefeed.SubscribeRedis(ctx, f.client, f.channel, f.heartbeat, sink)
}
