package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
)

// Redaction defaults and limits.
const (
	// DefaultMaxLen caps every string the audit log writes, in bytes.
	DefaultMaxLen = 512
	// maxMaxLen bounds [RedactConfig.MaxLen].
	maxMaxLen = 64 << 10
	// maxDepth and maxItems bound the walk over nested values.
	maxDepth = 8
	maxItems = 64
	// Redacted replaces a secret when no pseudonym key is configured.
	Redacted = "[REDACTED]"
	// MinKeyLen is the minimum length of every HMAC key: pseudonyms and
	// the chain.
	MinKeyLen = 32
)

// DefaultRedactHeaders returns the header names whose values are never
// logged. [RedactConfig.Headers] adds to them.
func DefaultRedactHeaders() []string {
	return []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-API-Key",
		"X-Auth-Token", "X-CSRF-Token", "X-Amz-Security-Token"}
}

// DefaultRedactQueryParams returns the query parameters whose values are
// never logged: OpenTelemetry's list for url.query plus common bearer
// parameters. [RedactConfig.QueryParams] adds to them.
func DefaultRedactQueryParams() []string {
	return []string{"sig", "Signature", "AWSAccessKeyId", "X-Goog-Signature", "X-Amz-Signature",
		"X-Amz-Credential", "token", "access_token", "refresh_token", "id_token", "api_key", "code", "client_secret"}
}

// DefaultRedactFields returns the JSON field and attribute names whose
// values are never logged, including common session cookie names (so that
// "sid=…" is caught in free text too). [RedactConfig.Fields] adds to them.
func DefaultRedactFields() []string {
	return []string{"password", "passwd", "pwd", "passphrase", "secret", "client_secret", "token", "access_token",
		"refresh_token", "id_token", "api_key", "apikey", "private_key", "authorization", "cookie", "session",
		"session_id", "sid", "jsessionid", "phpsessid", "connect.sid", "csrf_token", "xsrf_token", "credentials", "otp", "pin", "ssn", "card_number", "cvv"}
}

// RedactConfig configures a [Redactor]. The zero value redacts the default
// names and caps strings at [DefaultMaxLen].
type RedactConfig struct {
	// Headers, QueryParams and Fields add names to the defaults
	// ([DefaultRedactHeaders], [DefaultRedactQueryParams],
	// [DefaultRedactFields]). Names match case-insensitively and ignoring
	// '-', '_' and '.', so "api_key" also covers "apiKey" and "API-Key".
	// Every name in any of the three lists is redacted wherever it appears
	// as a header, a query parameter, a JSON field or an attribute key.
	Headers, QueryParams, Fields []string

	// PseudonymKey, when set (at least [MinKeyLen] bytes), replaces each
	// secret by "hmac:" and 24 hex digits of HMAC-SHA256(key, secret)
	// instead of [Redacted]: the same credential correlates across records
	// without being recoverable from them. Keep the key as secret as the
	// credentials: with it, a guessed credential can be confirmed.
	PseudonymKey []byte

	// MaxLen caps every string value, in bytes. Default [DefaultMaxLen];
	// at most 65536.
	MaxLen int
}

// Redactor removes secrets from values before they are logged and escapes
// control and bidirectional characters. It is safe for concurrent use.
type Redactor struct {
	names  map[string]struct{}
	key    []byte
	maxLen int
}

// NewRedactor checks cfg and returns a [Redactor]. Every problem found is
// returned, joined; each is a [*ConfigError].
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	r, errs := newRedactor(cfg, "")
	return r, errors.Join(errs...)
}

func newRedactor(cfg RedactConfig, prefix string) (*Redactor, []error) {
	var errs []error
	r := &Redactor{names: make(map[string]struct{}), maxLen: cfg.MaxLen}
	lists := [][]string{DefaultRedactHeaders(), DefaultRedactQueryParams(), DefaultRedactFields()}
	for _, l := range []struct {
		field string
		names []string
	}{{"Headers", cfg.Headers}, {"QueryParams", cfg.QueryParams}, {"Fields", cfg.Fields}} {
		for _, n := range l.names {
			if normalizeName(n) == "" || len(n) > 256 {
				errs = append(errs, &ConfigError{Field: prefix + l.field, Value: n, Reason: "not a usable name"})
			}
		}
		lists = append(lists, l.names)
	}
	for _, l := range lists {
		for _, n := range l {
			if k := normalizeName(n); k != "" {
				r.names[k] = struct{}{}
			}
		}
	}
	switch {
	case cfg.PseudonymKey == nil:
	case len(cfg.PseudonymKey) < MinKeyLen:
		errs = append(errs, &ConfigError{Field: prefix + "PseudonymKey", Reason: "shorter than 32 bytes"})
	default:
		r.key = append([]byte(nil), cfg.PseudonymKey...)
	}
	switch {
	case cfg.MaxLen == 0:
		r.maxLen = DefaultMaxLen
	case cfg.MaxLen < 16 || cfg.MaxLen > maxMaxLen:
		errs = append(errs, &ConfigError{Field: prefix + "MaxLen", Reason: "must be between 16 and 65536"})
	}
	return r, errs
}

// normalizeName lower-cases n and drops '-', '_', '.' and spaces.
func normalizeName(n string) string {
	var b strings.Builder
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// sensitive reports whether values named name are secrets. It does not
// allocate for names up to 64 bytes.
func (r *Redactor) sensitive(name string) bool {
	if len(name) > 64 {
		return false
	}
	var buf [64]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	_, ok := r.names[string(buf[:n])]
	return ok
}

// Sensitive reports whether values named name (a header, query parameter,
// JSON field or attribute key) are redacted.
func (r *Redactor) Sensitive(name string) bool { return r.sensitive(name) }

// hide returns what replaces the secret s: [Redacted], or its pseudonym
// when a key is configured.
func (r *Redactor) hide(s string) string {
	if r.key == nil || s == "" {
		return Redacted
	}
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(s))
	sum := m.Sum(nil)
	return "hmac:" + hex.EncodeToString(sum[:12])
}

// String escapes control and bidirectional characters in s and caps its
// length. It does not look for secrets: use it for values known to hold
// none (a path, a user agent).
func (r *Redactor) String(s string) string { return sanitize(s, r.maxLen) }

// Text is [Redactor.String] for free text that may carry a credential — an
// error string, a message: it first replaces credentials it recognizes
// (after "Bearer ", in URL userinfo, after a sensitive name and '=' or ':').
func (r *Redactor) Text(s string) string { return sanitize(r.scrub(s), r.maxLen) }

// Query returns the raw query string q with the values of sensitive
// parameters replaced, escaped and capped. Parameter order and encoding are
// kept.
func (r *Redactor) Query(q string) string {
	if q == "" {
		return ""
	}
	var b strings.Builder
	for first := true; q != ""; first = false {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		if !first {
			b.WriteByte('&')
		}
		name, _, hasValue := strings.Cut(pair, "=")
		if hasValue && r.sensitive(unescapeName(name)) {
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(r.hide(pair[len(name)+1:]))
			continue
		}
		b.WriteString(pair)
		if b.Len() > r.maxLen {
			break
		}
	}
	return sanitize(b.String(), r.maxLen)
}

// unescapeName undoes %XX and '+' in a query parameter name so that
// "api%5Fkey" is recognised as "api_key". Malformed escapes stay as they
// are.
func unescapeName(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func ishex(c byte) bool {
	return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// Handler returns an slog handler that redacts every record on its way to
// next: the message as [Redactor.Text], and every attribute, including
// those added with WithAttrs, through [Redactor.Attr]. Use it for an
// application's own loggers so that they follow the audit log's rules.
func (r *Redactor) Handler(next slog.Handler) slog.Handler {
	return &redactHandler{r: r, next: next}
}

type redactHandler struct {
	r    *Redactor
	next slog.Handler
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.r.Attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.r.Attr(a)
	}
	return &redactHandler{r: h.r, next: h.next.WithAttrs(red)}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{r: h.r, next: h.next.WithGroup(h.r.String(name))}
}

var _ slog.Handler = (*redactHandler)(nil)
