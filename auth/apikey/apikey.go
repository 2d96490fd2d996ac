package apikey

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/secevent"
)

// How a key shows up in the [auth.Principal] it authenticates as.
const (
	// Method is [auth.Principal.Method] for API keys.
	Method = "api_key"
	// Issuer is [auth.Principal.Issuer] for API keys.
	Issuer = "apikey"
	// SubjectPrefix precedes the key id in [auth.Principal.Subject], so a
	// key id can never be mistaken for a token subject of the same text.
	SubjectPrefix = "apikey:"
)

// Keys manages API keys in a [Store] and authenticates requests that carry
// them. It is safe for concurrent use. Call [Keys.Close] when done, to stop
// the last-use writer and flush what it holds.
type Keys struct {
	store      Store
	prefix     string
	header     string // canonical
	bearer     bool   // header is Authorization: expect "Bearer <key>"
	queryParam string
	marker     string // prefix+"_"
	digest     *digester
	previous   []*digester
	cache      *cache
	used       *tracker
	now        func() time.Time
	mw         *auth.Auth
	watch      *watch
	announcer  Announcer
	closeOnce  sync.Once
	closeErr   error
}

var _ auth.Authenticator = (*Keys)(nil)

// New checks cfg and returns the key manager and authenticator. Every
// problem is reported, joined; each is an [*auth.ConfigError].
func New(cfg Config) (*Keys, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Sealer != nil {
		cfg.Store = sealingStore{Store: cfg.Store, s: cfg.Sealer}
	}
	k := &Keys{
		store:      cfg.Store,
		prefix:     cfg.Prefix,
		header:     "Authorization",
		bearer:     true,
		queryParam: cfg.InsecureQueryParam,
		marker:     cfg.Prefix + "_",
		digest:     newDigester(cfg.Pepper),
		now:        cfg.Now,
		announcer:  cfg.Announce,
	}
	if cfg.Header != "" {
		k.header = http.CanonicalHeaderKey(cfg.Header)
		k.bearer = k.header == "Authorization"
	}
	for _, p := range cfg.PreviousPeppers {
		k.previous = append(k.previous, newDigester(p))
	}
	if k.now == nil {
		k.now = time.Now
	}
	ttl, size := cfg.CacheTTL, cfg.CacheSize
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	if size == 0 {
		size = DefaultCacheSize
	}
	k.cache = newCache(size, ttl)
	mw, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{k}, ErrorHandler: cfg.ErrorHandler})
	if err != nil {
		return nil, err
	}
	k.mw = mw
	if cfg.LastUsedInterval >= 0 {
		k.used = newTracker(cfg.Store)
		every := cfg.LastUsedInterval
		if every == 0 {
			every = DefaultLastUsedInterval
		}
		k.used.start(every) // stopped by Close
	}
	if cfg.Watch != nil {
		k.startWatch(cfg.Watch, cfg.OnWatch) // stopped by Close
	}
	return k, nil
}

// Handler returns middleware that accepts only requests with a valid key,
// as [auth.Auth.Handler] with this authenticator alone. To combine API keys
// with other credentials, pass k to [auth.New] instead.
func (k *Keys) Handler(next http.Handler) http.Handler { return k.mw.Handler(next) }

// Close stops the background last-use writer, flushing pending last-use
// times with ctx, and the [Config.Watch] channel. Authentication keeps
// working after Close, without last-use tracking, and with CacheTTL as the
// bound on other instances' changes. It does not close the store.
func (k *Keys) Close(ctx context.Context) error {
	k.closeOnce.Do(func() {
		k.stopWatch()
		k.closeErr = k.used.close(ctx)
	})
	return k.closeErr
}

// Flush writes pending last-use times to the store now.
func (k *Keys) Flush(ctx context.Context) error { return k.used.flush(ctx) }

// Authenticate implements [auth.Authenticator]. It reads the key from the
// configured header (or query parameter, if allowed), answers
// [auth.ErrNotMine] for a bearer token that is not a key (a JWT, an opaque
// token: another authenticator's), refuses malformed
// keys and keys with a bad checksum before any store access, looks the
// digest up (cache first), and refuses unknown, expired, revoked and
// rotated-out keys. The principal has Subject "apikey:<id>", Method
// "api_key" and the key's scopes and roles.
func (k *Keys) Authenticate(r *http.Request) (*auth.Principal, error) {
	key, err := k.extract(r)
	if err != nil {
		return nil, err
	}
	parsed, err := ParseKey(k.prefix, key)
	if err != nil {
		return nil, refusal(err)
	}
	now := k.now()
	d := k.digest.sum(key)
	e := k.cache.get(d, now)
	if e == nil {
		if e, err = k.lookup(r.Context(), key, d, now); err != nil {
			return nil, err
		}
	}
	// The digest matched, so the ids match unless the store is corrupt;
	// compare anyway, in constant time.
	if subtle.ConstantTimeCompare([]byte(e.rec.ID), []byte(parsed.ID)) != 1 {
		return nil, auth.Invalid("key id does not match its record", nil)
	}
	if err := k.usable(r.Context(), &e.rec, now); err != nil {
		return nil, err
	}
	if k.used != nil && e.touch(now) {
		k.used.record(e.rec.ID, now)
	}
	return e.p.Clone(), nil // the caller's own copy: the cached one stays as stored
}

// lookup reads the record for digest d (or, failing that, for the digests
// under previous peppers) and caches it under d.
func (k *Keys) lookup(ctx context.Context, key string, d Digest, now time.Time) (*entry, error) {
	gen := k.cache.generation() // before the read: see cache
	rec, err := k.store.Lookup(ctx, d)
	for i := 0; errors.Is(err, ErrNotFound) && i < len(k.previous); i++ {
		rec, err = k.store.Lookup(ctx, k.previous[i].sum(key))
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errUnknown
	case err != nil:
		return nil, auth.Unavailable("key store unavailable", err)
	}
	e := &entry{rec: rec, p: principal(&rec), at: now}
	k.cache.put(d, e, gen)
	return e, nil
}

// usable refuses revoked, expired and rotated-out keys.
func (k *Keys) usable(ctx context.Context, rec *Record, now time.Time) error {
	switch {
	case !rec.RevokedAt.IsZero(): // whatever the time: clocks of instances differ
		reuse(ctx, rec, "revoked key presented")
		return errRevoked
	case !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt) && rec.ReplacedBy != "":
		reuse(ctx, rec, "rotated-out key presented after its overlap")
		return errRotatedOut
	case !rec.ExpiresAt.IsZero() && !now.Before(rec.ExpiresAt):
		return errExpired
	}
	return nil
}

// reuse reports a credential that was valid once: worth an alert, as it
// may have leaked. Only the id and the start are logged, never the key.
func reuse(ctx context.Context, rec *Record, reason string) {
	secevent.Emit(ctx, secevent.Event{Name: secevent.AuthnTokenReuse, Reason: reason, Attrs: []slog.Attr{
		slog.String("key_id", rec.ID), slog.String("key_start", rec.Start),
	}})
}

func principal(rec *Record) *auth.Principal {
	p := &auth.Principal{
		Subject:   SubjectPrefix + rec.ID,
		Issuer:    Issuer,
		Method:    Method,
		Scopes:    append([]string(nil), rec.Scopes...),
		Roles:     append([]string(nil), rec.Roles...),
		ExpiresAt: rec.ExpiresAt,
		Claims:    map[string]any{"key_id": rec.ID},
	}
	if rec.Name != "" {
		p.Claims["name"] = rec.Name
	}
	if rec.Owner != "" {
		p.Claims["owner"] = rec.Owner
	}
	if rec.Tier != "" {
		p.Claims["tier"] = rec.Tier
	}
	if len(rec.Metadata) > 0 {
		md := make(map[string]any, len(rec.Metadata))
		for k, v := range rec.Metadata {
			md[k] = v
		}
		p.Claims["metadata"] = md
	}
	return p
}

// Tier returns the rate-limit tier of the API key that authenticated the
// request in ctx, if any. Its shape fits ratelimit's key functions.
func Tier(ctx context.Context) (string, bool) {
	p, ok := auth.PrincipalFromContext(ctx)
	if !ok || p.Method != Method {
		return "", false
	}
	t, ok := p.Claims["tier"].(string)
	return t, ok
}

// extract finds the key in the request. It returns an error wrapping
// [auth.ErrNoCredentials] when there is none of this kind.
func (k *Keys) extract(r *http.Request) (string, error) {
	var key string
	found, foreign := false, false
	if vals := r.Header[k.header]; len(vals) > 0 {
		if len(vals) > 1 {
			return "", auth.Malformed("several " + k.header + " headers")
		}
		v := strings.TrimSpace(vals[0])
		if k.bearer {
			scheme, tok, ok := strings.Cut(v, " ")
			tok = strings.TrimLeft(tok, " ")
			switch {
			case !ok || !strings.EqualFold(scheme, "Bearer"):
				// Another scheme: another authenticator's business.
			case strings.HasPrefix(tok, k.marker):
				key, found = tok, true
			case looksLikeKey(tok):
				return "", errWrongPrefix
			default:
				// Any other bearer token (a JWT, say) is not ours, unless
				// a key turns up in the query string.
				foreign = true
			}
		} else {
			key, found = v, true
		}
	}
	if k.queryParam != "" {
		if vals, ok := r.URL.Query()[k.queryParam]; ok {
			if found || len(vals) > 1 {
				return "", auth.Malformed("key in several places")
			}
			key, found = vals[0], true
		}
	} else if k.keyInQuery(r.URL.RawQuery) {
		return "", auth.Malformed("key in query string, which is not allowed")
	}
	switch {
	case found:
		return key, nil
	case foreign:
		return "", errNotKey
	}
	return "", auth.ErrNoCredentials
}

// Recognizes implements [auth.Recognizer]: r carries something shaped like
// an API key where k reads keys (its own prefix, or a well-formed key of
// another prefix, in the configured header or allowed query parameter; a
// key in a query string where none is allowed), or presents keys in a
// malformed way. Any other bearer token is another authenticator's.
func (k *Keys) Recognizes(r *http.Request) bool {
	_, err := k.extract(r)
	return err == nil || !(errors.Is(err, auth.ErrNoCredentials) || errors.Is(err, auth.ErrNotMine))
}

var _ auth.Recognizer = (*Keys)(nil)

// keyInQuery reports whether the raw query carries a well-formed key of
// this prefix, checksum valid, as a whole word (what a secret scanner
// matching \b<prefix>_[0-9A-Za-z]{39}\b flags), even percent-encoded: a
// key that leaked into a URL. Anything else that merely contains the
// prefix — a key's start, a mistyped key — is not a leak. It allocates
// only for queries containing '%'.
func (k *Keys) keyInQuery(q string) bool {
	if q == "" {
		return false
	}
	if strings.IndexByte(q, '%') >= 0 {
		// Decode %XX leniently (a malformed escape is kept as is): this
		// catches honest leaks, and a key hidden any other way is refused
		// anyway, since it is never read from the query.
		b := make([]byte, 0, len(q))
		for i := 0; i < len(q); i++ {
			if q[i] == '%' && i+2 <= len(q)-1 && ishex(q[i+1]) && ishex(q[i+2]) {
				b = append(b, unhex(q[i+1])<<4|unhex(q[i+2]))
				i += 2
				continue
			}
			b = append(b, q[i])
		}
		q = string(b)
	}
	for i := 0; ; {
		j := strings.Index(q[i:], k.marker)
		if j < 0 {
			return false
		}
		at := i + j
		end := at + len(k.marker) + tailLen
		if (at == 0 || !isWordByte(q[at-1])) && end <= len(q) && (end == len(q) || !isWordByte(q[end])) {
			if _, err := ParseKey(k.prefix, q[at:end]); err == nil {
				return true
			}
		}
		i = at + 1
	}
}

// isWordByte reports whether c is a regular-expression word character.
func isWordByte(c byte) bool { return isBase62(c) || c == '_' }

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// The refusals of the request path, built once: refusing a key allocates
// nothing. They are *auth.CredentialError values that nobody modifies.
var (
	errMalformed   error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "malformed key", Err: ErrMalformedKey}
	errChecksum    error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "bad key checksum", Err: ErrChecksum}
	errWrongPrefix error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "key with another prefix", Err: ErrWrongPrefix}
	errUnknown     error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "unknown key", Err: ErrNotFound}
	errRevoked     error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "revoked key", Err: ErrRevoked}
	errExpired     error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "expired key", Err: ErrExpired}
	errRotatedOut  error = &auth.CredentialError{Kind: auth.ErrInvalidToken, Reason: "key replaced by rotation", Err: ErrExpired}
	errNotKey      error = &auth.CredentialError{Kind: auth.ErrNotMine, Reason: "not an API key"}
)

func refusal(parseErr error) error {
	switch parseErr {
	case ErrWrongPrefix:
		return errWrongPrefix
	case ErrChecksum:
		return errChecksum
	}
	return errMalformed
}
