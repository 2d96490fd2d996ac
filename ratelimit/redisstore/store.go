package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/ratelimit"
)

const (
	// maxLimits is how many limits one Take may decide (as the memory
	// store).
	maxLimits = 16
	// maxTauMicros bounds interval*burst in microseconds (2^51), so that
	// every sum in the script stays an exact integer in a Lua double.
	maxTauMicros = int64(1) << 51

	modeCharge = 0
	modePeek   = 1
	modeRefund = 2
)

// Sentinel errors, for errors.Is.
var (
	// ErrCircuitOpen: Redis failed repeatedly and the circuit breaker is
	// open; no call was made.
	ErrCircuitOpen = errors.New("redisstore: circuit breaker open")
	// ErrTimeout: Redis did not answer within Config.Timeout. It also
	// matches context.DeadlineExceeded.
	ErrTimeout = errors.New("redisstore: Redis did not answer within the timeout")
	// ErrBadReply: Redis answered something the store did not expect
	// (another program wrote the store's keys, or a proxy mangled the
	// reply).
	ErrBadReply = errors.New("redisstore: unexpected reply from Redis")
	// ErrWriteRefused: every limit allowed the request, but Redis refused
	// to write the charge: OOM (used memory over maxmemory with
	// maxmemory-policy noeviction), MISCONF, READONLY or NOREPLICAS. Nothing
	// was written. It matches ratelimit.ErrNotRecorded, so the Limiter
	// decides FailOpen and FailLocal policies locally and answers 503 for
	// FailClosed ones: a client flooding Redis with keys until it is full
	// must not switch FailOpen limits off. Redis did answer, so it does not
	// count towards the circuit breaker.
	ErrWriteRefused = fmt.Errorf("redisstore: Redis refused to write the charge: %w", ratelimit.ErrNotRecorded)
)

// Store is a [ratelimit.Store] on Redis: every instance of a fleet that
// uses the same Redis (and the same ratelimit HashKey) shares the same
// limits. Each decision is one Lua script run with EVALSHA, one round trip
// (reloaded on NOSCRIPT), deciding on Redis's clock; concurrent decisions
// share round trips (pipelined, each script still on its own). It is safe
// for concurrent use and holds no background goroutine.
type Store struct {
	client  redis.UniversalClient
	sha     any // the script's SHA-1, boxed once
	prefix  string
	timeout time.Duration
	// group is set for clients that place keys by hash tag on several
	// servers (Cluster, Ring): limits are grouped by subject there.
	group bool
	br    breaker
	deny  *denyCache
	pipe  pipe
	now   func() time.Time
	// callerClock makes the script use Take's now instead of Redis TIME.
	// Only tests set it (export_test.go).
	callerClock bool
}

// New checks cfg and returns a [Store]. Every problem found is returned,
// joined; each is a [*ConfigError].
func New(cfg Config) (*Store, error) {
	if errs := checkConfig(&cfg); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &Store{
		client:  cfg.Client,
		sha:     redis.NewScript(gcraScript).Hash(),
		prefix:  cfg.Prefix,
		timeout: cfg.Timeout,
		now:     cfg.Now,
	}
	switch cfg.Client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		s.group = true
	}
	if s.prefix == "" {
		s.prefix = defaultPrefix
	}
	if s.timeout == 0 {
		s.timeout = defaultTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	threshold := int64(cfg.BreakerThreshold)
	if threshold == 0 {
		threshold = defaultBreakerThreshold
	}
	cooldown := cfg.BreakerCooldown
	if cooldown == 0 {
		cooldown = defaultBreakerCooldown
	}
	s.br = breaker{threshold: threshold, cooldown: int64(cooldown), now: s.now, onChange: cfg.OnBreaker}
	if cfg.DenyCacheKeys > 0 {
		s.deny = newDenyCache(cfg.DenyCacheKeys)
	}
	return s, nil
}

// Take implements [ratelimit.Store]. It decides on Redis's clock: now is
// not used. Intervals are rounded up to whole microseconds (the enforced
// rate is never above the policy's), which changes nothing for a policy
// whose Period/Quota is a whole number of microseconds.
//
// The limits of one subject are decided and charged in one script, all or
// nothing. On a Cluster or Ring, limits of different subjects live on
// different servers: each subject's limits are decided and charged in turn
// and, if one refuses, what was charged is refunded, so the decision is
// still all or nothing (a concurrent request may see the charge during that
// one round trip and be refused, never the reverse).
func (s *Store) Take(ctx context.Context, now time.Time, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) (bool, error) {
	ok, _, err := s.take(ctx, now.UnixMicro(), cost, limits, out)
	return ok, err
}

// take is Take that also returns the Redis time of the decision (µs).
func (s *Store) take(ctx context.Context, nowMicros int64, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) (bool, int64, error) {
	if cost < 1 || len(limits) == 0 || len(limits) > maxLimits || len(out) < len(limits) {
		return false, 0, ratelimit.ErrInvalidTake
	}
	tooBig := false
	var most int64
	for i := range limits {
		l := &limits[i]
		if l.Interval < 1 || l.Burst < 1 || l.Burst > ratelimit.MaxTolerance/l.Interval || l.Burst > maxTauMicros/micros(l.Interval) {
			return false, 0, ratelimit.ErrInvalidTake
		}
		tooBig = tooBig || cost > l.Burst
		most = max(most, l.Burst)
	}
	// Any cost beyond the largest burst is refused alike ("never"), so it
	// is decided as that burst plus one, which the script holds exactly
	// (ratelimit's Limiter already does this for every store).
	cost = min(cost, most+1)
	var started time.Time
	if s.deny != nil {
		started = s.now()
		if !tooBig && s.deny.refuse(started.UnixNano(), cost, limits, out) {
			return false, 0, nil
		}
	}
	probe, ok := s.br.allow()
	if !ok {
		return false, 0, ErrCircuitOpen
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	allowed, redisNow, err := s.decide(cctx, nowMicros, cost, limits, out)
	if err != nil && ctx.Err() == nil && (cctx.Err() == context.DeadlineExceeded || isNetTimeout(err)) {
		// go-redis reports the socket deadline (set from ours) as a net
		// timeout, sometimes before the context's own timer has fired:
		// say what happened in terms callers can match.
		err = fmt.Errorf("%w (%w): %w", ErrTimeout, context.DeadlineExceeded, err)
	}
	cancel()
	if err != nil && ctx.Err() != nil {
		// The caller gave up (client gone): not Redis's fault.
		s.br.abandon(probe)
		return false, 0, err
	}
	// A refused write is an answer: Redis is there, so the breaker does
	// not count it (an open breaker would turn it into ErrCircuitOpen,
	// which FailOpen lets through).
	berr := err
	if errors.Is(err, ErrWriteRefused) {
		berr = nil
	}
	s.br.done(probe, berr)
	if err != nil {
		return false, 0, err
	}
	if s.deny != nil && !allowed {
		s.deny.record(started.UnixNano(), limits, out)
	}
	return allowed, redisNow, nil
}

// decide runs the script once per group of limits.
func (s *Store) decide(ctx context.Context, nowMicros, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) (bool, int64, error) {
	if !s.callerClock {
		nowMicros = 0
	}
	if !s.group || sameSubject(limits) {
		return s.run(ctx, modeCharge, nowMicros, cost, limits, out)
	}
	// Several subjects on a Cluster or Ring: decide subject by subject.
	var (
		idx     [maxLimits]int
		glim    [maxLimits]ratelimit.Limit
		gout    [maxLimits]ratelimit.Result
		charged [maxLimits]bool // by group start
		done    [maxLimits]bool
		starts  []int
	)
	n := 0
	for i := range limits {
		if done[i] {
			continue
		}
		starts = append(starts, n)
		for j := i; j < len(limits); j++ {
			if !done[j] && limits[j].Subject == limits[i].Subject {
				idx[n], glim[n], done[j] = j, limits[j], true
				n++
			}
		}
	}
	starts = append(starts, n)
	allowed := true
	var redisNow int64
	var err error
	for g := 0; g+1 < len(starts); g++ {
		a, b := starts[g], starts[g+1]
		mode := modeCharge
		if !allowed {
			mode = modePeek
		}
		var ok bool
		ok, redisNow, err = s.run(ctx, mode, nowMicros, cost, glim[a:b], gout[a:b])
		if err != nil {
			break
		}
		charged[a] = ok && mode == modeCharge
		allowed = allowed && ok
	}
	if err != nil || !allowed {
		// Undo the charges of the groups that allowed. A refund that fails
		// leaves the charge in place: the limit errs on the strict side.
		for g := 0; g+1 < len(starts); g++ {
			a, b := starts[g], starts[g+1]
			if !charged[a] {
				continue
			}
			// The refund gets its own Timeout: the decision's may be spent,
			// and a client that went away must not keep its charge.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
			_, _, _ = s.run(rctx, modeRefund, nowMicros, cost, glim[a:b], nil)
			cancel()
			for k := a; k < b; k++ {
				gout[k] = uncharged(gout[k], cost, &glim[k])
			}
		}
		if err != nil {
			return false, 0, err
		}
	}
	for k := range n {
		out[idx[k]] = gout[k]
	}
	return allowed, redisNow, nil
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// uncharged turns the result of a charge into the state before it.
func uncharged(r ratelimit.Result, cost int64, l *ratelimit.Limit) ratelimit.Result {
	step := micros(l.Interval) * 1000
	tau := step * l.Burst
	used := max(int64(r.ResetAfter)-cost*step, 0)
	return ratelimit.Result{Allowed: true, Remaining: (tau - used) / step, ResetAfter: time.Duration(used)}
}

func sameSubject(limits []ratelimit.Limit) bool {
	for i := 1; i < len(limits); i++ {
		if limits[i].Subject != limits[0].Subject {
			return false
		}
	}
	return true
}

// micros converts an interval to whole microseconds, rounding up.
func micros(ns int64) int64 { return (ns + 999) / 1000 }

// run calls the script for limits of one subject. out may be nil for a
// refund.
func (s *Store) run(ctx context.Context, mode int, nowMicros, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) (bool, int64, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	vals, err := s.eval(ctx, sc, false, mode, nowMicros, cost, limits)
	if err != nil && isNoScript(err) {
		// The script is not in Redis's cache (a restart, SCRIPT FLUSH, a
		// new replica promoted): EVAL sends it, and caches it again.
		vals, err = s.eval(ctx, sc, true, mode, nowMicros, cost, limits)
	}
	if err != nil {
		if code := refusedCommand(err); code != 0 {
			// Redis refused the whole call before the script ran (a Redis
			// or proxy that checks writes up front): nothing was written.
			return false, 0, fmt.Errorf("%w (%s)", ErrWriteRefused, writeRefusal(code))
		}
		return false, 0, fmt.Errorf("redisstore: %w", err)
	}
	if mode == modeRefund {
		return true, 0, nil
	}
	return decodeReply(vals, mode, cost, limits, out)
}

// decodeReply reads the script's reply to a decision (mode charge or peek)
// into out: the decision, Redis's time, or ErrWriteRefused, or ErrBadReply
// for a reply the script cannot have sent (wrong length, a flag other than
// 0 or 1, a TAT out of range, or a decision the limits' results do not
// give).
func decodeReply(vals []int64, mode int, cost int64, limits []ratelimit.Limit, out []ratelimit.Result) (bool, int64, error) {
	if len(vals) == 3+len(limits) && vals[1] == 2 {
		return false, 0, fmt.Errorf("%w (%s)", ErrWriteRefused, writeRefusal(vals[len(vals)-1]))
	}
	if len(vals) != 2+len(limits) || vals[1] != 0 && vals[1] != 1 {
		return false, 0, ErrBadReply
	}
	charged := vals[1] == 1 && mode == modeCharge
	all := true
	for i := range limits {
		used := vals[2+i]
		if used < 0 || used > maxUsedMicros {
			return false, 0, ErrBadReply
		}
		out[i] = result(used, cost, &limits[i], charged)
		all = all && out[i].Allowed
	}
	if all != (vals[1] == 1) {
		// The script and the store disagree on the decision.
		return false, 0, ErrBadReply
	}
	return all, vals[0], nil
}

// maxUsedMicros bounds how far ahead of now a TAT the script reports can
// be (it refuses stored values at or beyond 2^52 + tau).
const maxUsedMicros = int64(1) << 53

// result is limit l's answer to a request of cost that found its TAT used
// µs ahead of now, worked out as the script decided it: whether the limit
// allows the cost and, if the request was charged, the state after it,
// else the state without it. Integer microseconds throughout, as in the
// script: used is at most 2^53, tau at most 2^51, and cost*interval is
// only formed once cost <= burst, so it is at most tau.
func result(used, cost int64, l *ratelimit.Limit, charged bool) ratelimit.Result {
	interval := micros(l.Interval)
	tau := interval * l.Burst
	r := ratelimit.Result{ResetAfter: time.Duration(used) * time.Microsecond}
	if cost <= l.Burst { // else never: no wait makes it fit
		switch owed := used + cost*interval; {
		case owed > tau:
			r.RetryAfter = time.Duration(owed-tau) * time.Microsecond
		case charged:
			r.Allowed = true
			r.ResetAfter = time.Duration(owed) * time.Microsecond
			used = owed
		default:
			r.Allowed = true
		}
	}
	if used < tau {
		r.Remaining = (tau - used) / interval
	}
	return r
}

// scratch is the per-call storage of a script run: the command's
// arguments point into it (go-redis writes *int64 and []byte without
// converting them), so that a decision boxes nothing.
type scratch struct {
	args [6 + 3*maxLimits]any
	nums [3 + 2*maxLimits]int64
	keys [maxLimits * 48]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// eval sends EVALSHA sha (or EVAL src) for limits and reads the reply as
// integers, without go-redis's generic reply (an interface per value).
func (s *Store) eval(ctx context.Context, sc *scratch, source bool, mode int, nowMicros, cost int64, limits []ratelimit.Limit) ([]int64, error) {
	args := append(sc.args[:0], "evalsha", s.sha, len(limits)) // a small int boxes without allocating
	if source {
		args[0], args[1] = "eval", any(gcraScript)
	}
	kb := sc.keys[:0]
	for i := range limits {
		start := len(kb)
		kb = s.appendKey(kb, &limits[i])
		args = append(args, kb[start:len(kb):len(kb)])
	}
	sc.nums[0], sc.nums[1], sc.nums[2] = int64(mode), cost, nowMicros // sent as decimals: "0", "1", "2" for the mode
	n := 3
	for i := range limits {
		sc.nums[n], sc.nums[n+1] = micros(limits[i].Interval), limits[i].Burst
		n += 2
	}
	for i := range n {
		args = append(args, &sc.nums[i])
	}
	cmd := redis.NewIntSliceCmd(ctx, args...)
	s.process(ctx, cmd)
	return cmd.Result()
}

func isNoScript(err error) bool { return redis.HasErrorPrefix(err, "NOSCRIPT") }

// refusedCommand returns the writeRefusal code of an error reply that
// refuses a write (OOM, MISCONF, READONLY, NOREPLICAS), or 0.
func refusedCommand(err error) int64 {
	for code := int64(refusedOOM); code <= refusedNoReplicas; code++ {
		if redis.HasErrorPrefix(err, refusalPrefix(code)+" ") {
			return code
		}
	}
	return 0
}

// appendKey appends the Redis key of l: the prefix, the subject as the
// Cluster hash tag, and the (policy, subject) key, both as fixed-width hex.
// Keys are hashes: no request data reaches Redis.
func (s *Store) appendKey(b []byte, l *ratelimit.Limit) []byte {
	b = append(b, s.prefix...)
	b = append(b, '{')
	b = appendHex(b, l.Subject)
	b = append(b, '}', ':')
	return appendHex(b, l.Key)
}

func appendHex(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, "0123456789abcdef"[(v>>uint(shift))&0xf])
	}
	return b
}

// KeyOf returns the Redis key the store uses for l, for operators who want
// to inspect or delete a limit's state (redis-cli GET/DEL). Its value is
// the limit's theoretical arrival time in microseconds since the Unix
// epoch; the key expires when the limit is back to full.
func (s *Store) KeyOf(l ratelimit.Limit) string {
	var buf [96]byte
	return string(s.appendKey(buf[:0], &l))
}

// String describes the store for logs, without addresses or secrets.
func (s *Store) String() string {
	return "redisstore(prefix=" + strconv.Quote(s.prefix) + ")"
}

var _ ratelimit.Store = (*Store)(nil)
