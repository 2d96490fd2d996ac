package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/bulwark-go/bulwark/auth"
)

type fetchConfig struct {
	client         *http.Client
	timeout        time.Duration
	maxBytes       int64
	floor, ceiling time.Duration
	unknownKey     time.Duration
	negTTL         time.Duration
	now            func() time.Time
	onFetched      func(issuer string, err error)
}

// maxNegative bounds the per-kid negative cache; when full it is emptied
// (the refresh rate limit still holds).
const maxNegative = 4096

// minFresh is the least time a fetched set counts as fresh, whatever its
// Cache-Control says: a provider answering no-store does not turn a flood
// of random kids into more than one fetch a second.
const minFresh = time.Second

// remoteKeys is the JWKS manager of one issuer: it keeps the last good key
// set, replaces it whole on each successful fetch, and refreshes it in the
// background as Cache-Control says (within floor and ceiling), with one
// fetch in flight at a time whatever the number of waiting requests.
//
// A token naming an unknown kid refreshes the set early, on two budgets.
// The first is a rate limit (one per unknownKey interval), which a flood
// of random kids uses up. The second cannot be used up: once the set is
// older than its own freshness lifetime (Cache-Control max-age, between
// minFresh and unknownKey), the next unknown kid refreshes it, and the
// lifetime starts again. Random kids then only ever cause refreshes that
// would find a genuinely new key, and such a key is accepted within the
// provider's own max-age of its publication. A kid still unknown after a
// refresh is refused from a negative cache until the set is next replaced
// or goes stale.
type remoteKeys struct {
	fc        fetchConfig
	issuer    string
	issuerURL *url.URL
	discovery bool
	allowed   []string // algorithms
	hosts     keyHosts // where keys may come from
	client    *http.Client

	set atomic.Pointer[keySet]

	mu         sync.Mutex
	jwksURL    string               // configured, or found by discovery
	flight     *flight              // the fetch in progress, if any
	negative   map[string]time.Time // kid → refused until
	limiter    *rate.Limiter        // unknown-kid refreshes while the set is fresh
	fresh      time.Duration        // freshness lifetime of the current set
	staleAfter time.Time            // when an unknown kid may refresh whatever the limiter

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

type flight struct {
	done chan struct{}
	err  error
	age  time.Duration // next refresh, from Cache-Control
}

func startRemote(fc fetchConfig, c Issuer) *remoteKeys {
	ctx, cancel := context.WithCancel(context.Background())
	issuerURL, _ := url.Parse(c.Issuer) // checked in cfg.check
	hosts := newKeyHosts(c.Issuer, c.JWKSURL, c.AllowedJWKSHosts)
	r := &remoteKeys{
		fc:        fc,
		issuer:    c.Issuer,
		issuerURL: issuerURL,
		discovery: c.Discovery,
		allowed:   append([]string(nil), c.Algorithms...),
		hosts:     hosts,
		client:    withRedirectRule(fc.client, hosts),
		jwksURL:   c.JWKSURL,
		negative:  map[string]time.Time{},
		limiter:   rate.NewLimiter(rate.Every(fc.unknownKey), 1),
		ctx:       ctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	go r.loop()
	return r
}

func (r *remoteKeys) current() *keySet { return r.set.Load() }

func (r *remoteKeys) close() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// loop refreshes the set in the background until close.
func (r *remoteKeys) loop() {
	defer close(r.done)
	wait := time.Duration(0)
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		f := r.start()
		select {
		case <-r.ctx.Done():
			return
		case <-f.done:
		}
		wait = f.next(r.fc)
		if f.err != nil && r.current() == nil {
			// No keys at all: the issuer's tokens are refused until they
			// come, so probe often (readiness recovers within seconds of the
			// provider, without waiting for traffic).
			wait = min(wait, noKeysRetry)
		}
		t.Reset(wait)
	}
}

// start joins the fetch in flight or starts one.
func (r *remoteKeys) start() *flight {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flight != nil {
		return r.flight
	}
	f := &flight{done: make(chan struct{})}
	r.flight = f
	go r.run(f)
	return f
}

// noKeysRetry is how often a source that never had keys is asked again.
const noKeysRetry = 2 * time.Second

// next is when to refresh again after f.
func (f *flight) next(fc fetchConfig) time.Duration {
	if f.err != nil {
		// Retry sooner than a normal refresh, but never hammer.
		return max(time.Second, fc.floor/4)
	}
	return f.age
}

func (r *remoteKeys) run(f *flight) {
	ctx, cancel := context.WithTimeout(r.ctx, r.fc.timeout)
	defer cancel()
	set, age, err := r.fetch(ctx)
	r.mu.Lock()
	if err == nil {
		r.set.Store(set) // whole-set replacement: a removed key stops working
		clear(r.negative)
		r.fresh = r.fc.unknownKey // without max-age
		if age > 0 {
			r.fresh = min(max(age, minFresh), r.fc.unknownKey)
		}
		r.staleAfter = r.fc.now().Add(r.fresh)
	}
	f.err = err
	f.age = clampAge(age, r.fc)
	r.flight = nil
	r.mu.Unlock()
	if r.fc.onFetched != nil && r.ctx.Err() == nil {
		r.fc.onFetched(r.issuer, err)
	}
	close(f.done)
}

func clampAge(age time.Duration, fc fetchConfig) time.Duration {
	if age <= 0 {
		age = fc.ceiling
	}
	return min(max(age, fc.floor), fc.ceiling)
}

// wait waits for f or ctx.
func wait(ctx context.Context, f *flight) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lookup returns the key for (kid, alg), refreshing the set when the kid
// is unknown and the rate limit allows. It returns the set the key came
// from, so cache entries can tell when the set was replaced.
func (r *remoteKeys) lookup(ctx context.Context, kid, alg string) (*keySet, *verKey, error) {
	set := r.set.Load()
	if k := set.find(kid, alg); k != nil {
		return set, k, nil
	}
	now := r.fc.now()
	r.mu.Lock()
	// Stale: older than its own freshness lifetime. Without a set at all
	// (the provider never answered) only the rate limit applies, so an
	// outage is not hammered.
	stale := set != nil && !now.Before(r.staleAfter)
	if until, ok := r.negative[kid]; ok && set != nil && !stale && now.Before(until) {
		r.mu.Unlock()
		return nil, nil, auth.Invalid("unknown key id", nil)
	}
	f := r.flight
	if f == nil && (r.limiter.AllowN(now, 1) || stale) {
		// A stale refresh spends the rate limit's token when there is one
		// (so the two budgets together refresh at most once per
		// lifetime), and starts a new lifetime even if it fails.
		r.staleAfter = now.Add(r.fresh)
		f = &flight{done: make(chan struct{})}
		r.flight = f
		go r.run(f)
	}
	r.mu.Unlock()

	var ferr error
	if f != nil {
		ferr = wait(ctx, f)
	}
	set = r.set.Load()
	if k := set.find(kid, alg); k != nil {
		return set, k, nil
	}
	if set == nil {
		return nil, nil, auth.Unavailable("no keys from the issuer yet", ferr)
	}
	if f != nil && ferr == nil {
		r.mu.Lock()
		if len(r.negative) >= maxNegative {
			clear(r.negative)
		}
		r.negative[kid] = now.Add(r.fc.negTTL)
		r.mu.Unlock()
	}
	return nil, nil, auth.Invalid("unknown key id", ferr)
}

// fetch runs discovery (once it succeeds it is not repeated) and fetches
// the JWK Set.
func (r *remoteKeys) fetch(ctx context.Context) (*keySet, time.Duration, error) {
	r.mu.Lock()
	u := r.jwksURL
	r.mu.Unlock()
	if u == "" {
		var err error
		if u, err = r.discover(ctx); err != nil {
			return nil, 0, err
		}
		r.mu.Lock()
		r.jwksURL = u
		r.mu.Unlock()
	}
	body, hdr, err := r.get(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	keys, err := keysFromJWKS(body, r.allowed)
	if err != nil {
		return nil, 0, fmt.Errorf("jwt: JWKS from %s: %w", u, err)
	}
	return newKeySet(keys), maxAgeOf(hdr), nil
}

func (r *remoteKeys) discover(ctx context.Context) (string, error) {
	u := strings.TrimSuffix(r.issuer, "/") + "/.well-known/openid-configuration"
	body, _, err := r.get(ctx, u)
	if err != nil {
		return "", err
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return "", fmt.Errorf("jwt: discovery document: %w", err)
	}
	if meta.Issuer != r.issuer {
		// OpenID Connect Discovery §4.3: a mismatch means the document
		// is not this issuer's; using it would let one tenant pose as
		// another.
		return "", errors.New("jwt: discovery document names another issuer")
	}
	if _, err := checkDocumentURL(meta.JWKSURI, r.issuerURL, r.hosts); err != nil {
		return "", fmt.Errorf("jwt: discovery jwks_uri: %w", err)
	}
	return meta.JWKSURI, nil
}

var errTooLarge = errors.New("jwt: response body too large")

func (r *remoteKeys) get(ctx context.Context, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req) // #nosec G704 -- the URL comes from configuration or verified discovery, checked by checkDocumentURL; redirects by withRedirectRule
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("jwt: GET %s: status %d", u, resp.StatusCode)
	}
	if resp.ContentLength > r.fc.maxBytes {
		return nil, nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.fc.maxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > r.fc.maxBytes {
		return nil, nil, errTooLarge
	}
	return body, resp.Header, nil
}

// maxAgeOf reads max-age from Cache-Control; no-store and no-cache count
// as zero (the floor applies).
func maxAgeOf(h http.Header) time.Duration {
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, val, _ := strings.Cut(d, "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return time.Nanosecond
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err == nil && n >= 0 && n < 1<<31 {
					return max(time.Duration(n)*time.Second, time.Nanosecond)
				}
			}
		}
	}
	return 0
}
