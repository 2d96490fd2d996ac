package apikey

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/problem"
)

// Defaults and bounds of [Config].
const (
	DefaultCacheTTL         = 10 * time.Second
	MaxCacheTTL             = 5 * time.Minute
	DefaultCacheSize        = 10000
	DefaultLastUsedInterval = time.Minute
	// MinPepperLen is the shortest accepted pepper, in bytes.
	MinPepperLen = 32
)

// Config configures [Keys]. The zero value of every optional field is the
// safe default.
type Config struct {
	// Store keeps the key records. Required: [NewMemoryStore] or a SQL
	// store from auth/apikey/sqlstore.
	Store Store

	// Prefix starts every key, before '_' ("bwk_live", "acme_test"):
	// lowercase letters and digits in groups separated by single '_', at
	// most 32 characters. Required. Use one prefix per environment so a
	// test key is refused in production, and so secret scanners can tell
	// them apart.
	Prefix string

	// Pepper is the server-side secret under which keys are digested
	// (HMAC-SHA256) before they are stored or looked up; at least 32
	// random bytes, kept outside the key store (environment, secret
	// manager). A stolen database is then useless without it. Required
	// unless InsecureNoPepper is set.
	Pepper []byte

	// PreviousPeppers are retired peppers still accepted for keys created
	// under them (looked up after Pepper misses). See "Rotating the
	// pepper" in the package documentation. Default none.
	PreviousPeppers [][]byte

	// InsecureNoPepper stores plain SHA-256 digests of keys when Pepper is
	// empty. Keys are still not recoverable from their digests, but anyone
	// holding a copy of the store can check a guessed or leaked key offline.
	// Default false: a missing Pepper is an error.
	InsecureNoPepper bool

	// Header is where clients send the key. Default "Authorization", as
	// "Authorization: Bearer <key>". Any other name (commonly "X-API-Key")
	// carries the bare key.
	Header string

	// InsecureQueryParam, when set, also accepts the key in this query
	// parameter. Keys in URLs end up in access logs, proxy logs, browser
	// history and Referer headers. Default "": never, and a request whose
	// query string carries a well-formed key of Prefix (checksum valid, as
	// a whole word, however percent-encoded) is refused with 400 so the
	// leak is noticed. A key's non-secret start, or a mistyped key, in a
	// URL is not refused.
	InsecureQueryParam string

	// CacheTTL is how long a looked-up record is served from memory. It
	// bounds how long a key revoked on another instance stays usable here
	// when no Watch channel says so sooner (on this instance revocation is
	// immediate). Default 10s, at most 5m.
	CacheTTL time.Duration

	// CacheSize bounds the number of cached records. Default 10000;
	// negative disables the cache (every request reaches the store).
	CacheSize int

	// LastUsedInterval is how often last-use times are written to the
	// store, in one batch, by a background goroutine stopped by
	// [Keys.Close]. Requests never wait for it. Default 1m; negative turns
	// last-use tracking off.
	LastUsedInterval time.Duration

	// Now returns the current time. Default time.Now.
	Now func() time.Time

	// ErrorHandler writes refusals for [Keys.Handler]. Default
	// [problem.WriteError].
	ErrorHandler problem.ErrorHandler

	// Watch, when set, tells this instance at once of keys revoked,
	// rotated, expired or deleted elsewhere (another instance, `bulwark
	// keys`), run in the background until [Keys.Close]: a SQL store
	// (sqlstore.Store: PostgreSQL LISTEN/NOTIFY, SQLite data_version) or
	// auth/apikey/redisfeed. Requests still never wait for the store on a
	// cache hit; while the channel is down, CacheTTL is the bound.
	// Default none: other instances' changes reach this one within
	// CacheTTL.
	Watch Watcher
	// Announce, when set, is told of every change this instance makes, for
	// a channel beside the store (redisfeed). Default none.
	Announce Announcer
	// OnWatch, when set, is called when the Watch channel comes up
	// (live) or goes down (with why): for metrics and logs. It must not
	// block.
	OnWatch func(live bool, err error)

	// Sealer, when set, encrypts each record's Owner and Metadata values
	// at rest (see [Sealer]); the seal package's Keyring is one. Default
	// nil: stored in clear. Records written without a Sealer cannot be read
	// with one, and the other way round: turn it on before creating keys,
	// or re-create them.
	Sealer Sealer
}

func (c *Config) check() error {
	var errs []error
	add := func(field, value, reason string) {
		errs = append(errs, &auth.ConfigError{Field: field, Value: value, Reason: reason})
	}
	if c.Store == nil {
		add("Store", "", "required")
	}
	if c.Prefix == "" {
		add("Prefix", "", "required")
	} else if err := validPrefix(c.Prefix); err != nil {
		add("Prefix", c.Prefix, err.Error())
	}
	switch {
	case len(c.Pepper) == 0 && !c.InsecureNoPepper:
		add("Pepper", "", "required: without it the store holds plain SHA-256 digests that anyone with a copy can check keys against; set InsecureNoPepper to accept that")
	case len(c.Pepper) > 0 && c.InsecureNoPepper:
		add("InsecureNoPepper", "true", "contradicts Pepper being set")
	case len(c.Pepper) > 0 && len(c.Pepper) < MinPepperLen:
		add("Pepper", "", "must be at least "+strconv.Itoa(MinPepperLen)+" bytes")
	}
	for i, p := range c.PreviousPeppers {
		if len(p) < MinPepperLen {
			add("PreviousPeppers", "", "entry "+strconv.Itoa(i)+" must be at least "+strconv.Itoa(MinPepperLen)+" bytes")
		}
	}
	if len(c.PreviousPeppers) > 0 && len(c.Pepper) == 0 {
		add("PreviousPeppers", "", "need a current Pepper")
	}
	if c.Header != "" && !isToken(c.Header) {
		add("Header", c.Header, "not a valid header name")
	}
	switch http.CanonicalHeaderKey(c.Header) {
	case "Cookie", "Host", "Content-Type", "Content-Length", "Proxy-Authorization":
		add("Header", c.Header, "cannot carry an API key")
	}
	if c.InsecureQueryParam != "" && !isToken(c.InsecureQueryParam) {
		add("InsecureQueryParam", c.InsecureQueryParam, "must be a token such as api_key")
	}
	if c.CacheTTL < 0 || c.CacheTTL > MaxCacheTTL {
		add("CacheTTL", c.CacheTTL.String(), "must be between 0 (default 10s) and 5m: it bounds how long a revoked key stays usable on other instances")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

func isToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
