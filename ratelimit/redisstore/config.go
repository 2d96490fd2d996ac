package redisstore

import (
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	defaultPrefix           = "bulwark:rl:"
	defaultTimeout          = 5 * time.Millisecond
	defaultBreakerThreshold = 5
	defaultBreakerCooldown  = time.Second
	maxTimeout              = time.Minute
	maxDenyCacheKeys        = 1 << 24
)

// Config configures a [Store]. [New] copies it.
type Config struct {
	// Client is the Redis client: a *redis.Client (one node, or a Sentinel
	// failover client from redis.NewFailoverClient), a *redis.ClusterClient
	// or a *redis.Ring; redis.NewUniversalClient returns one of them.
	// Required.
	//
	// Its options must have ContextTimeoutEnabled set, or go-redis ignores
	// the per-call deadline and a stalled Redis would hold requests for its
	// ReadTimeout (3 s by default); [New] refuses such a client. Set
	// MaxRetries to -1 as well: a rate-limit decision should fail fast to
	// its policy's FailMode, not be retried on the hot path (retries that
	// do happen still end at Timeout).
	Client redis.UniversalClient

	// Prefix starts every key the store writes. Default "bulwark:rl:".
	// Up to 64 printable ASCII characters, without '{' or '}' (they would
	// change the Cluster hash tag). Give instances that must not share
	// limits different prefixes.
	Prefix string

	// Timeout bounds each decision's round trip to Redis. Default 5 ms,
	// at most one minute. When it expires the decision fails and the
	// policy's FailMode applies: choose it together with Timeout.
	Timeout time.Duration

	// BreakerThreshold is how many consecutive failed calls open the
	// circuit breaker. While it is open, Take fails at once with
	// [ErrCircuitOpen] (no round trip, no timeout wait) until
	// BreakerCooldown has passed; then one call probes Redis, and its
	// success closes the circuit. Default 5.
	BreakerThreshold int

	// BreakerCooldown is how long the circuit stays open before a probe.
	// Default 1 s.
	BreakerCooldown time.Duration

	// DenyCacheKeys, when > 0, enables the local deny cache with room for
	// this many limited keys: a key that Redis reported as refusing even a
	// request of cost 1 is refused locally, without a round trip, until the
	// time Redis said it will allow one again. The answer is the one Redis
	// would give (GCRA charges nothing for a refusal, so only time changes
	// a limited key's state), except that a request refused locally reports
	// the other limits of the request as they stood at the last round
	// trip. Default 0: off. At most 2^24.
	DenyCacheKeys int

	// OnBreaker, if set, is called when the circuit opens (true) and when
	// it closes again (false): a metrics hook for "fell back / recovered".
	// It must be fast and safe for concurrent use.
	OnBreaker func(open bool)

	// Now returns the current time for the circuit breaker and the deny
	// cache. The limits themselves always use Redis's clock. Default
	// time.Now.
	Now func() time.Time
}

// ConfigError describes one problem with a [Config]. [New] returns all of
// them joined with errors.Join.
type ConfigError struct {
	Field  string // the Config field, e.g. "Timeout"
	Value  string // the offending value (may be empty)
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("redisstore: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("redisstore: %s %q: %s", e.Field, e.Value, e.Reason)
}

func checkConfig(cfg *Config) []error {
	var errs []error
	switch c := cfg.Client.(type) {
	case nil:
		errs = append(errs, &ConfigError{Field: "Client", Reason: "required"})
	case *redis.Client:
		if !c.Options().ContextTimeoutEnabled {
			errs = append(errs, errNoCtxTimeout())
		}
	case *redis.ClusterClient:
		if !c.Options().ContextTimeoutEnabled {
			errs = append(errs, errNoCtxTimeout())
		}
	case *redis.Ring:
		if !c.Options().ContextTimeoutEnabled {
			errs = append(errs, errNoCtxTimeout())
		}
	}
	if len(cfg.Prefix) > 64 {
		errs = append(errs, &ConfigError{Field: "Prefix", Reason: "at most 64 characters"})
	}
	for i := 0; i < len(cfg.Prefix); i++ {
		if c := cfg.Prefix[i]; c <= ' ' || c > '~' || c == '{' || c == '}' {
			errs = append(errs, &ConfigError{Field: "Prefix", Value: cfg.Prefix, Reason: "printable ASCII without spaces, '{' or '}'"})
			break
		}
	}
	if cfg.Timeout < 0 || cfg.Timeout > maxTimeout {
		errs = append(errs, &ConfigError{Field: "Timeout", Value: cfg.Timeout.String(), Reason: "must be between 0 (default 5ms) and 1m"})
	}
	if cfg.BreakerThreshold < 0 {
		errs = append(errs, &ConfigError{Field: "BreakerThreshold", Value: strconv.Itoa(cfg.BreakerThreshold), Reason: "must not be negative"})
	}
	if cfg.BreakerCooldown < 0 {
		errs = append(errs, &ConfigError{Field: "BreakerCooldown", Value: cfg.BreakerCooldown.String(), Reason: "must not be negative"})
	}
	if cfg.DenyCacheKeys < 0 || cfg.DenyCacheKeys > maxDenyCacheKeys {
		errs = append(errs, &ConfigError{Field: "DenyCacheKeys", Value: strconv.Itoa(cfg.DenyCacheKeys), Reason: "must be between 0 (off) and 2^24"})
	}
	return errs
}

func errNoCtxTimeout() error {
	return &ConfigError{Field: "Client", Reason: "the client's options must set ContextTimeoutEnabled, or Timeout cannot bound a call"}
}
