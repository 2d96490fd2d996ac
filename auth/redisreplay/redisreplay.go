// Package redisreplay is an [auth.ReplayStore] on Redis: every instance
// of a fleet that uses the same Redis refuses a DPoP proof (or any other
// one-time value) that any of them accepted before.
//
// Each check is one round trip, SET key 1 NX PX ttl, where ttl is what is
// left of the value's time (for a DPoP proof, until its iat window ends):
// Redis forgets the value when it could no longer be accepted anyway, so
// the store holds at most the proofs of one window. Keys are the prefix
// and the base64url of the value's SHA-256 (never the jti itself), and
// work on a single node, a replica set's primary and Redis Cluster.
//
// An unreachable Redis, or one that refuses the write (maxmemory reached
// with noeviction, a read-only replica), is an error that is not
// [auth.ErrReplayed]: the verifiers then refuse the request with 503
// rather than accept a proof they cannot record (fail closed).
package redisreplay

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth"
)

// DefaultPrefix starts every key.
const DefaultPrefix = "bulwark:replay:"

// DefaultTimeout bounds one check.
const DefaultTimeout = 250 * time.Millisecond

// Config configures a [Store].
type Config struct {
	// Client is the Redis client (single node, Sentinel or Cluster).
	// Required.
	Client redis.UniversalClient
	// Prefix starts every key. Default [DefaultPrefix].
	Prefix string
	// Timeout bounds one check, on top of the caller's context. Default
	// [DefaultTimeout].
	Timeout time.Duration
	// Now is the clock values' times are judged by: the one the proofs'
	// times are judged by. Default time.Now.
	Now func() time.Time
}

// Store is an [auth.ReplayStore] on Redis. It is safe for concurrent use
// and holds no goroutine.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
}

var _ auth.ReplayStore = (*Store)(nil)

// New checks cfg and returns a [Store]. Every problem is reported,
// joined; each is an [*auth.ConfigError].
func New(cfg Config) (*Store, error) {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, &auth.ConfigError{Field: "redisreplay.Client", Reason: "required"})
	}
	if cfg.Timeout < 0 {
		errs = append(errs, &auth.ConfigError{Field: "redisreplay.Timeout", Value: cfg.Timeout.String(), Reason: "must not be negative"})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Store{client: cfg.Client, prefix: cfg.Prefix, timeout: cfg.Timeout, now: cfg.Now}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// ErrUnavailable means Redis did not record the value: it did not answer,
// or refused the write. It is not [auth.ErrReplayed].
var ErrUnavailable = errors.New("redisreplay: Redis did not record the value")

// Use implements [auth.ReplayStore] in one round trip.
func (s *Store) Use(ctx context.Context, key auth.ReplayKey, until time.Time) error {
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return nil // its time has ended: nothing left to refuse
	}
	ttl = ttl.Truncate(time.Millisecond) + time.Millisecond // never shorter than asked
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var b [43]byte
	base64.RawURLEncoding.Encode(b[:], key[:])
	ok, err := s.client.SetNX(ctx, s.prefix+string(b[:]), 1, ttl).Result()
	switch {
	case err != nil:
		return errors.Join(ErrUnavailable, err)
	case !ok:
		return auth.ErrReplayed
	}
	return nil
}

// Ping checks that Redis answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx).Err() }
