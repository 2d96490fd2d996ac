package redisstore

import (
	"context"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// UseCallerClock makes s decide at the time passed to Take instead of
// Redis TIME, so that tests can replay timelines spanning hours.
func UseCallerClock(s *Store) { s.callerClock = true }

// TakeRedisTime is Take on Redis's clock that also returns the Redis time
// of the decision, in microseconds.
func TakeRedisTime(ctx context.Context, s *Store, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) (bool, int64, error) {
	return s.take(ctx, 0, cost, limits, out)
}

// ScriptSource returns the Lua source, to check Redis's script cache.
func ScriptSource() string { return gcraScript }
