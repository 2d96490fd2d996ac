package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// policy is a validated [Policy] with what New precomputes.
type policy struct {
	Policy
	id       uint64
	interval int64
	burst    int64
	quota    int64
	window   int64
}

// Limiter enforces rate, in-flight and body-size limits. It is safe for
// concurrent use.
type Limiter struct {
	policies     []policy
	enforced     []int // indexes of non-shadow policies
	shadow       []int // indexes of shadow policies
	policyHeader []string
	values       valueCache // RateLimit field values already built
	anyLocal     bool

	store    Store
	local    *MemoryStore // for FailLocal; nil when unused
	sk       sipKey
	cost     func(*http.Request) int64
	exempt   func(*http.Request) bool
	exemptIP []netip.Prefix
	legacy   bool
	global   *rate.Limiter
	inflight *inflight
	maxBody  int64
	retry    string // OverloadRetryAfter in seconds
	now      func() time.Time
	errh     problem.ErrorHandler
	hooks    Hooks
}

// PolicyResult is one policy's part of a [Decision].
type PolicyResult struct {
	Policy string
	Result
}

// Decision is the outcome of [Limiter.Check]: whether the request is
// allowed and the state of every policy that applied, in configuration
// order. Shadow policies and policies skipped (Optional without a key,
// FailOpen on a store error) are not listed.
type Decision struct {
	Allowed bool
	n       int
	lim     *Limiter
	idx     [maxPolicies]uint8
	res     [maxPolicies]Result
}

// Results returns the state of the policies that applied. It allocates;
// the middleware does not call it.
func (d *Decision) Results() []PolicyResult {
	out := make([]PolicyResult, d.n)
	for i := range out {
		out[i] = PolicyResult{Policy: d.lim.policies[d.idx[i]].Name, Result: d.res[i]}
	}
	return out
}

// New checks cfg and returns a [Limiter]. Every problem found is returned,
// joined; each is a [*ConfigError].
func New(cfg Config) (*Limiter, error) {
	var errs []error
	l := &Limiter{
		cost:    cfg.Cost,
		exempt:  cfg.Exempt,
		legacy:  cfg.LegacyHeaders,
		maxBody: cfg.MaxBodyBytes,
		now:     cfg.Now,
		errh:    problem.Or(cfg.ErrorHandler),
		hooks:   cfg.Hooks,
		store:   cfg.Store,
	}
	if l.now == nil {
		l.now = monotonicNow
	}
	switch len(cfg.HashKey) {
	case 0:
		var k [16]byte
		_, _ = rand.Read(k[:]) // crypto/rand.Read never fails (Go 1.24+)
		l.sk = sipKey{binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint64(k[8:])}
	case 16:
		l.sk = sipKey{binary.LittleEndian.Uint64(cfg.HashKey[:8]), binary.LittleEndian.Uint64(cfg.HashKey[8:])}
	default:
		errs = append(errs, &ConfigError{Field: "HashKey", Reason: "must be 16 bytes or empty"})
	}
	if len(cfg.Policies) > maxPolicies {
		errs = append(errs, &ConfigError{Field: "Policies", Reason: "at most " + strconv.Itoa(maxPolicies) + " policies"})
	}
	if len(cfg.Policies) == 0 && cfg.MaxInFlight == 0 && cfg.MaxInFlightPerKey == 0 && cfg.MaxBodyBytes == 0 && cfg.GlobalRate == 0 {
		errs = append(errs, &ConfigError{Field: "Policies", Reason: "required: a limiter with no limit would allow everything"})
	}
	seen := map[string]bool{}
	var hdr []byte
	for i, p := range cfg.Policies {
		f := "Policies[" + strconv.Itoa(i) + "]"
		if !validName(p.Name) {
			errs = append(errs, &ConfigError{Field: f + ".Name", Value: p.Name, Reason: "1 to 64 characters from A-Z a-z 0-9 _ - ."})
		} else if seen[p.Name] {
			errs = append(errs, &ConfigError{Field: f + ".Name", Value: p.Name, Reason: "duplicate policy name"})
		}
		seen[p.Name] = true
		pp := policy{Policy: p, quota: p.Quota, burst: p.Burst}
		pp.Key = append([]KeyPart(nil), p.Key...)
		if pp.burst == 0 {
			pp.burst = p.Quota
		}
		switch {
		case p.Quota < 1:
			errs = append(errs, &ConfigError{Field: f + ".Quota", Value: strconv.FormatInt(p.Quota, 10), Reason: "must be at least 1"})
		case p.Period < time.Second || p.Period%time.Second != 0:
			errs = append(errs, &ConfigError{Field: f + ".Period", Value: p.Period.String(), Reason: "must be a whole number of seconds, at least 1s"})
		case pp.burst < 1:
			errs = append(errs, &ConfigError{Field: f + ".Burst", Value: strconv.FormatInt(p.Burst, 10), Reason: "must be at least 1"})
		case int64(p.Period)/p.Quota < 1:
			errs = append(errs, &ConfigError{Field: f + ".Quota", Value: strconv.FormatInt(p.Quota, 10), Reason: "more than one per nanosecond"})
		default:
			// Rounded up: the enforced rate is never above the stated one.
			pp.interval = (int64(p.Period) + p.Quota - 1) / p.Quota
			pp.window = int64(p.Period / time.Second)
			if pp.burst > MaxTolerance/pp.interval {
				errs = append(errs, &ConfigError{Field: f + ".Burst", Value: strconv.FormatInt(pp.burst, 10), Reason: "burst times interval exceeds 2^60 ns"})
			}
		}
		if p.OnStoreError > FailOpen {
			errs = append(errs, &ConfigError{Field: f + ".OnStoreError", Reason: "unknown FailMode"})
		}
		errs = append(errs, checkParts(f+".Key", p.Key)...)
		var idb [2*binary.MaxVarintLen64 + 64]byte
		n := binary.PutVarint(idb[:], pp.interval)
		n += binary.PutVarint(idb[n:], pp.burst)
		pp.id = l.sk.sum64(idb[:n+copy(idb[n:], p.Name)])
		if p.Shadow {
			l.shadow = append(l.shadow, i)
		} else {
			l.enforced = append(l.enforced, i)
			if len(hdr) > 0 {
				hdr = append(hdr, ", "...)
			}
			hdr = appendPolicyItem(hdr, p.Name, pp.quota, pp.window)
		}
		// FailLocal needs a local store; so does FailOpen beside a shared
		// store, for the answers that say the charge was not recorded.
		l.anyLocal = l.anyLocal || p.OnStoreError == FailLocal || (p.OnStoreError == FailOpen && cfg.Store != nil)
		l.policies = append(l.policies, pp)
	}
	l.policyHeader = []string{string(hdr)}
	ps, err := newPrefixes("ExemptPrefixes", cfg.ExemptPrefixes)
	if err != nil {
		errs = append(errs, err)
	}
	l.exemptIP = ps
	if cfg.GlobalRate < 0 || cfg.GlobalBurst < 0 {
		errs = append(errs, &ConfigError{Field: "GlobalRate", Reason: "must not be negative"})
	} else if cfg.GlobalRate > 0 {
		b := cfg.GlobalBurst
		if b == 0 {
			b = int(cfg.GlobalRate)
			if rate.Limit(b) < cfg.GlobalRate {
				b++
			}
		}
		l.global = rate.NewLimiter(cfg.GlobalRate, b)
	}
	if cfg.MaxInFlight < 0 || cfg.MaxInFlightPerKey < 0 || cfg.MaxBodyBytes < 0 || cfg.OverloadRetryAfter < 0 {
		errs = append(errs, &ConfigError{Field: "MaxInFlight", Reason: "limits must not be negative"})
	}
	if cfg.MaxInFlightPerKey > 0 {
		errs = append(errs, checkParts("InFlightKey", cfg.InFlightKey)...)
	} else if len(cfg.InFlightKey) > 0 {
		errs = append(errs, &ConfigError{Field: "InFlightKey", Reason: "set without MaxInFlightPerKey"})
	}
	if cfg.MaxInFlight > 0 || cfg.MaxInFlightPerKey > 0 {
		l.inflight = newInflight(cfg.MaxInFlight, cfg.MaxInFlightPerKey, append([]KeyPart(nil), cfg.InFlightKey...))
	}
	ra := cfg.OverloadRetryAfter
	if ra == 0 {
		ra = time.Second
	}
	l.retry = strconv.FormatInt(max(ceilSeconds(ra), 1), 10)
	if len(l.policies) > 0 && l.store == nil {
		ms, err := NewMemoryStore(cfg.Memory)
		if err != nil {
			errs = append(errs, err)
		}
		l.store = ms
	}
	if l.anyLocal {
		// The local store is a store of its own, even beside a memory
		// store (which fails only when it is full or contended).
		ms, err := NewMemoryStore(cfg.Memory)
		if err == nil {
			l.local = ms
		} else if cfg.Store != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

func (l *Limiter) costOf(r *http.Request) int64 {
	if l.cost == nil {
		return 1
	}
	return max(l.cost(r), 1)
}

// Check decides the rate policies for r and charges them when all allow.
// It returns a [*LimitedError] when a policy refuses, an
// [*UnavailableError] when the store failed and a policy fails closed, and
// a [*MissingKeyError] when a required key cannot be formed. Exemptions are
// not applied here; [Limiter.Handler] applies them.
func (l *Limiter) Check(r *http.Request) (Decision, error) {
	var d Decision
	err := l.check(r, l.now(), &d)
	return d, err
}

// TakeKey decides cost units for the caller-chosen key against every
// policy (their Key parts are ignored): the decision without HTTP.
func (l *Limiter) TakeKey(ctx context.Context, key string, cost int64) (Decision, error) {
	var d Decision
	subj := subjectOf(l.sk, key)
	var subjects [maxPolicies]uint64
	for i := range l.policies {
		subjects[i] = subj
	}
	err := l.decide(ctx, l.now(), max(cost, 1), &subjects, &d)
	return d, err
}

func (l *Limiter) check(r *http.Request, now time.Time, d *Decision) error {
	var subjects [maxPolicies]uint64
	for i := range l.policies {
		p := &l.policies[i]
		s, missing := subject(l.sk, p.Key, r)
		if missing != nil {
			if p.Optional || p.Shadow {
				subjects[i] = 0 // does not apply; a dry run never refuses
				continue
			}
			return &MissingKeyError{Policy: p.Name, Part: missing.name(), Deployment: missing.kind == partIP || missing.kind == partRoute}
		}
		subjects[i] = storeKey(s) // never 0
	}
	return l.decide(r.Context(), now, l.costOf(r), &subjects, d)
}

// decide runs the store for the enforced policies whose subject is
// non-zero, then, when they allowed, the shadow policies.
func (l *Limiter) decide(ctx context.Context, now time.Time, cost int64, subjects *[maxPolicies]uint64, d *Decision) error {
	var limits [maxPolicies]Limit
	n := 0
	for _, i := range l.enforced {
		if subjects[i] == 0 {
			continue
		}
		p := &l.policies[i]
		limits[n] = Limit{Key: limitKey(subjects[i], p.id), Subject: subjects[i], Policy: p.id, Interval: p.interval, Burst: p.burst}
		d.idx[n] = uint8(i) // #nosec G115 -- i < maxPolicies (8)
		n++
	}
	d.n, d.lim = n, l
	d.Allowed = true
	if n > 0 {
		out := d.res[:n]
		c := clampCost(cost, limits[:n])
		allowed, err := l.take(ctx, l.store, now, c, limits[:n], out)
		if err != nil {
			err = l.storeFailed(ctx, now, c, limits[:n], out, d, err)
		} else {
			err = l.finish(ctx, allowed, out, d)
		}
		if err != nil {
			return err
		}
	}
	// A shadow policy asks "what if it were enforced too": a request the
	// enforced policies refused would have been charged to none of them,
	// so it is not charged to the shadow policies either, and whatever
	// they say only records.
	if len(l.shadow) > 0 && d.Allowed {
		l.runShadow(ctx, now, cost, subjects)
	}
	return nil
}

// clampCost is the one validation of cost for every store: a cost above a
// limit's burst can never be allowed, so any cost beyond the largest burst
// is decided as that burst plus one (refused by every limit, "never"). No
// store sees a cost it cannot represent (2^51 units and more were a Redis
// error, which a FailOpen policy let through).
func clampCost(cost int64, limits []Limit) int64 {
	var most int64
	for i := range limits {
		most = max(most, limits[i].Burst)
	}
	return min(max(cost, 1), most+1)
}

func (l *Limiter) take(ctx context.Context, s Store, now time.Time, cost int64, limits []Limit, out []Result) (ok bool, err error) {
	var start time.Time
	if l.hooks.OnStoreLatency != nil {
		start = l.now()
	}
	if ms, isMem := s.(*MemoryStore); isMem {
		ok, err = ms.Take(ctx, now, cost, limits, out) // direct call: nothing escapes
	} else {
		// Another store may keep the slices: give it its own copies, so
		// the caller's arrays stay on the stack.
		lc := append([]Limit(nil), limits...)
		oc := make([]Result, len(out))
		ok, err = s.Take(ctx, now, cost, lc, oc)
		copy(out, oc)
	}
	if l.hooks.OnStoreLatency != nil {
		l.hooks.OnStoreLatency(l.now().Sub(start), err)
	}
	return ok, err
}

// finish fills d from the store results and builds the refusal.
func (l *Limiter) finish(ctx context.Context, allowed bool, out []Result, d *Decision) error {
	var lim *LimitedError
	for i := range out {
		p := &l.policies[d.idx[i]]
		o := Allowed
		if !allowed {
			o = Denied
			if !out[i].Allowed {
				switch {
				case lim == nil:
					lim = &LimitedError{Policy: p.Name, RetryAfter: out[i].RetryAfter, Never: out[i].RetryAfter == 0}
				case out[i].RetryAfter == 0:
					lim.Never = true
				default:
					lim.RetryAfter = max(lim.RetryAfter, out[i].RetryAfter)
				}
			}
		}
		if l.hooks.OnDecision != nil {
			l.hooks.OnDecision(p.Name, o)
		}
	}
	if allowed {
		return nil
	}
	d.Allowed = false
	if lim.Never {
		lim.RetryAfter = 0
	}
	secevent.Emit(ctx, secevent.Event{
		Name:   secevent.ExcessRateLimitExceeded,
		Reason: "rate limit exceeded",
		Attrs:  []slog.Attr{slog.String("policy", lim.Policy), slog.Int64("retry_after_s", ceilSeconds(lim.RetryAfter))},
	})
	return lim
}

// storeFailed applies each policy's FailMode after a store error. An
// error that says the store answered but could not record the charge
// ([ErrNotRecorded]) is one a client can cause (a key flood filling Redis):
// FailOpen policies are then decided locally like FailLocal ones, never
// opened.
func (l *Limiter) storeFailed(ctx context.Context, now time.Time, cost int64, limits []Limit, out []Result, d *Decision, err error) error {
	n := len(limits)
	notRecorded := errors.Is(err, ErrNotRecorded)
	for i := 0; i < n; i++ {
		if p := &l.policies[d.idx[i]]; p.OnStoreError == FailClosed || l.local == nil && (p.OnStoreError == FailLocal || notRecorded) {
			for j := 0; j < n; j++ {
				l.outcome(l.policies[d.idx[j]].Name, FailedClosed)
			}
			d.Allowed, d.n = false, 0
			return &UnavailableError{Policy: p.Name, Err: err}
		}
	}
	// Keep the FailLocal policies; FailOpen ones no longer apply, unless
	// the store said the charge was not recorded.
	k := 0
	for i := 0; i < n; i++ {
		p := &l.policies[d.idx[i]]
		if p.OnStoreError == FailOpen && !notRecorded {
			l.outcome(p.Name, FailedOpen)
			continue
		}
		l.outcome(p.Name, FailedLocal)
		limits[k], d.idx[k] = limits[i], d.idx[i]
		k++
	}
	d.n = k
	if k == 0 {
		return nil
	}
	allowed, lerr := l.local.Take(ctx, now, cost, limits[:k], out[:k])
	if lerr != nil {
		d.Allowed, d.n = false, 0
		return &UnavailableError{Policy: l.policies[d.idx[0]].Name, Err: errors.Join(err, lerr)}
	}
	return l.finish(ctx, allowed, out[:k], d)
}

func (l *Limiter) outcome(name string, o Outcome) {
	if l.hooks.OnDecision != nil {
		l.hooks.OnDecision(name, o)
	}
}

// runShadow decides the shadow policies on their own, for a request the
// enforced policies allowed, and reports what they would have refused. It
// changes nothing in the answer.
func (l *Limiter) runShadow(ctx context.Context, now time.Time, cost int64, subjects *[maxPolicies]uint64) {
	var limits [maxPolicies]Limit
	var out [maxPolicies]Result
	var idx [maxPolicies]int
	n := 0
	for _, i := range l.shadow {
		if subjects[i] == 0 {
			continue
		}
		p := &l.policies[i]
		limits[n] = Limit{Key: limitKey(subjects[i], p.id), Subject: subjects[i], Policy: p.id, Interval: p.interval, Burst: p.burst}
		idx[n] = i
		n++
	}
	if n == 0 {
		return
	}
	allowed, err := l.take(ctx, l.store, now, clampCost(cost, limits[:n]), limits[:n], out[:n])
	if err != nil {
		return // a dry run has nothing to fail
	}
	for i := 0; i < n; i++ {
		name := l.policies[idx[i]].Name
		if allowed || out[i].Allowed {
			l.outcome(name, Allowed)
			continue
		}
		l.outcome(name, ShadowDenied)
		secevent.Emit(ctx, secevent.Event{
			Name:   secevent.ExcessRateLimitExceeded,
			Reason: "rate limit exceeded (shadow policy: not enforced)",
			Attrs:  []slog.Attr{slog.String("policy", name), slog.Bool("shadow", true)},
		})
	}
}

// Handler returns middleware that applies, in order:
//
//  1. MaxBodyBytes to the declared Content-Length (413), and the in-flight
//     limits (503): refusals that cost nothing, decided before anything is
//     charged, so a refused request spends no one's budget;
//  2. the rate policies (429, with RateLimit headers on every response a
//     policy applied to);
//  3. the process-wide GlobalRate (503), charged only for requests the
//     policies allowed, so one client's 429s cannot drain it for everyone.
//     It is checked before the policies too, without charging, so that
//     load shedding does not spend the clients' budgets; a request that
//     loses the last global token to a concurrent one between the two
//     checks is shed after its policies were charged (the strict side).
//
// Refusals go to the ErrorHandler. The body of an allowed request is held
// to MaxBodyBytes by [http.MaxBytesReader].
func (l *Limiter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.maxBody > 0 && r.ContentLength > l.maxBody {
			secevent.Emit(r.Context(), secevent.Event{Name: secevent.InputValidationFail, Reason: "request body too large"})
			l.errh(w, r, &BodyTooLargeError{Limit: l.maxBody})
			return
		}
		if l.inflight != nil {
			key, cause := l.inflight.acquire(l.sk, r)
			if cause != "" {
				l.overload(w, r, cause)
				return
			}
			defer l.inflight.release(key)
		}
		now := l.now()
		if l.global != nil && l.global.TokensAt(now) < 1 {
			l.overload(w, r, "global_rate")
			return
		}
		if len(l.policies) > 0 && !l.isExempt(r) {
			var d Decision
			err := l.check(r, now, &d)
			l.writeHeaders(w.Header(), &d)
			if err != nil {
				var le *LimitedError
				if errors.As(err, &le) && le.RetryAfter > 0 {
					w.Header()[headerRetryAfter] = []string{strconv.FormatInt(ceilSeconds(le.RetryAfter), 10)}
				} else if errors.Is(err, ErrUnavailable) {
					w.Header()[headerRetryAfter] = []string{l.retry}
				}
				l.errh(w, r, err)
				return
			}
		}
		if l.global != nil && !l.global.AllowN(now, 1) {
			l.overload(w, r, "global_rate")
			return
		}
		if l.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
			r = r.WithContext(r.Context()) // a copy: the caller's request is not changed
			r.Body = http.MaxBytesReader(w, r.Body, l.maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

func (l *Limiter) overload(w http.ResponseWriter, r *http.Request, cause string) {
	w.Header()[headerRetryAfter] = []string{l.retry}
	secevent.Emit(r.Context(), secevent.Event{Name: secevent.ExcessRateLimitExceeded, Reason: "server capacity exceeded", Attrs: []slog.Attr{slog.String("cause", cause)}})
	l.errh(w, r, &OverloadError{Cause: cause})
}

func (l *Limiter) isExempt(r *http.Request) bool {
	if l.exempt != nil && l.exempt(r) {
		return true
	}
	return len(l.exemptIP) > 0 && inPrefixes(clientip.FromRequest(r), l.exemptIP)
}

// clockStart is the wall time when the package was loaded, with its
// monotonic reading: the one origin of every default clock in the process.
var clockStart = time.Now()

// monotonicNow is the default clock: the wall time at clockStart plus the
// monotonic time since. A step of the wall clock (NTP, an operator, a
// resumed VM) neither refills nor drains a limit, every Limiter of the
// process reads the same timeline (they may share a store), and a reading
// is one clock read where time.Now is two.
func monotonicNow() time.Time { return clockStart.Add(time.Since(clockStart)) }
