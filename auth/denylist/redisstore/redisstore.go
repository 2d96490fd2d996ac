// Package redisstore keeps a deny-list (auth/denylist) in Redis for every
// instance that shares it, and tells them of new entries over pub/sub.
//
// Entries live in two sorted sets under one hash tag (so that Redis
// Cluster keeps them on one node): one by sequence number, which readers
// follow, and one by expiry. Each Add is one Lua script, one round trip:
// it drops the entries past their time, numbers the new one, stores it
// and PUBLISHes its number. Pub/sub keeps nothing for a subscriber that is
// away, so a reconnected List reads everything since its cursor; the
// sequence, not the message, is what it trusts; and a new epoch (Redis lost
// its data, and numbers start again) makes readers read everything again.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/internal/changefeed"
)

// DefaultPrefix starts every key; its braces are the Cluster hash tag.
const DefaultPrefix = "{bulwark:denylist}:"

// maxBatch bounds the entries one Since returns.
const maxBatch = 1000

// Config configures a [Store].
type Config struct {
	// Client is the Redis client. Required.
	Client redis.UniversalClient
	// Prefix starts every key, and names the pub/sub channel. Default
	// [DefaultPrefix].
	Prefix string
	// Timeout bounds one call. Default 2 s.
	Timeout time.Duration
	// Heartbeat is how often an idle subscription is checked. Default 5 s.
	Heartbeat time.Duration
	// Now is the clock entries expire by. Default time.Now.
	Now func() time.Time
}

// Store is a [denylist.Store] and [denylist.Watcher] on Redis. Safe for
// concurrent use.
type Store struct {
	client                         redis.UniversalClient
	seq, log, until, epoch, notify string
	timeout, heartbeat             time.Duration
	now                            func() time.Time

	mu        sync.Mutex
	lastEpoch string // the epoch the List's cursor belongs to
}

var (
	_ denylist.Store   = (*Store)(nil)
	_ denylist.Watcher = (*Store)(nil)
)

// New checks cfg and returns a [Store].
func New(cfg Config) (*Store, error) {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, &auth.ConfigError{Field: "redisstore.Client", Reason: "required"})
	}
	if cfg.Timeout < 0 || cfg.Heartbeat < 0 {
		errs = append(errs, &auth.ConfigError{Field: "redisstore.Timeout", Reason: "Timeout and Heartbeat must not be negative"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := cfg.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	s := &Store{client: cfg.Client, seq: p + "seq", log: p + "log", until: p + "until", epoch: p + "epoch", notify: p + "added",
		timeout: cfg.Timeout, heartbeat: cfg.Heartbeat, now: cfg.Now}
	if s.timeout == 0 {
		s.timeout = 2 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// add drops the entries past their time, numbers the new one, stores it
// by number and by expiry, and announces its number.
var add = redis.NewScript(`
redis.call('SET', KEYS[4], ARGV[5], 'NX')
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
for _, m in ipairs(old) do redis.call('ZREM', KEYS[2], m) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[1])
local seq = redis.call('INCR', KEYS[1])
local m = seq .. ' ' .. ARGV[2]
redis.call('ZADD', KEYS[2], seq, m)
redis.call('ZADD', KEYS[3], ARGV[3], m)
redis.call('PUBLISH', ARGV[4], seq)
return seq
`)

// record is an entry as stored.
type record struct {
	K string `json:"k"`
	I string `json:"i"`
	V string `json:"v"`
	A int64  `json:"a"` // Unix ms
	U int64  `json:"u"` // Unix ms
}

// Add implements [denylist.Store] in one round trip.
func (s *Store) Add(ctx context.Context, e denylist.Entry) error {
	b, err := json.Marshal(record{K: e.Kind.String(), I: e.Issuer, V: e.Value, A: e.At.UnixMilli(), U: e.Until.UnixMilli()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	return add.Run(ctx, s.client, []string{s.seq, s.log, s.until, s.epoch},
		s.now().UnixMilli(), string(b), e.Until.UnixMilli(), s.notify, base64.RawURLEncoding.EncodeToString(nonce[:])).Err()
}

// Since implements [denylist.Store].
func (s *Store) Since(ctx context.Context, cursor int64) ([]denylist.Entry, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// The epoch first: the first Add into an empty Redis makes a new one,
	// so a changed epoch means Redis lost its data (a restart without
	// persistence, a failover to a stale replica) and numbers started
	// again: everything is read again.
	epoch, err := s.client.Get(ctx, s.epoch).Result()
	switch {
	case errors.Is(err, redis.Nil):
		epoch = ""
	case err != nil:
		return nil, cursor, err
	}
	s.mu.Lock()
	if epoch != s.lastEpoch {
		s.lastEpoch, cursor = epoch, 0
	}
	s.mu.Unlock()
	members, err := s.client.ZRangeByScore(ctx, s.log, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(cursor, 10), Max: "+inf", Count: maxBatch,
	}).Result()
	if err != nil {
		return nil, cursor, err
	}
	now := s.now()
	var out []denylist.Entry
	for _, m := range members {
		num, body, ok := strings.Cut(m, " ")
		seq, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil {
			continue // not ours: never deny on what cannot be read
		}
		cursor = max(cursor, seq)
		var r record
		if json.Unmarshal([]byte(body), &r) != nil {
			continue
		}
		k, ok := denylist.ParseKind(r.K)
		until := time.UnixMilli(r.U)
		if !ok || !now.Before(until) {
			continue
		}
		out = append(out, denylist.Entry{Kind: k, Issuer: r.I, Value: r.V, At: time.UnixMilli(r.A), Until: until})
	}
	return out, cursor, nil
}

// Watch implements [denylist.Watcher] by subscribing to the channel the
// Add script publishes on.
func (s *Store) Watch(ctx context.Context, sink denylist.ChangeSink) error {
	return changefeed.SubscribeRedis(ctx, s.client, s.notify, s.heartbeat, sink)
}
