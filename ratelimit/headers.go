package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// Header names (draft-ietf-httpapi-ratelimit-headers-10), in canonical form.
const (
	HeaderPolicy     = "Ratelimit-Policy"
	HeaderRateLimit  = "Ratelimit"
	headerRetryAfter = "Retry-After"
	headerLegacyLim  = "X-Ratelimit-Limit"
	headerLegacyRem  = "X-Ratelimit-Remaining"
	headerLegacyRst  = "X-Ratelimit-Reset"
)

// ceilSeconds rounds d up to whole seconds: a client told to wait that long
// never retries before the true wait is over. Negative durations are 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// appendPolicyItem appends one RateLimit-Policy list member: the policy name
// as a structured-field String with q (quota) and w (window, seconds)
// parameters (RFC 9651). Names are restricted by [New] to characters that
// need no escaping; others are escaped anyway.
func appendPolicyItem(b []byte, name string, quota, window int64) []byte {
	b = appendSFString(b, name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, sfInt(quota), 10)
	b = append(b, ";w="...)
	return strconv.AppendInt(b, sfInt(window), 10)
}

// appendLimitItem appends one RateLimit list member: the policy name with r
// (remaining quota units) and t (seconds until the quota is fully
// restored, rounded up).
func appendLimitItem(b []byte, name string, remaining int64, reset time.Duration) []byte {
	b = appendSFString(b, name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, sfInt(remaining), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, sfInt(ceilSeconds(reset)), 10)
}

// sfMaxInt is the largest RFC 9651 Integer (15 digits).
const sfMaxInt = 999_999_999_999_999

// sfInt clamps v to a non-negative structured-field Integer.
func sfInt(v int64) int64 { return min(max(v, 0), sfMaxInt) }

// appendSFString appends s as an RFC 9651 String: printable ASCII only,
// with '"' and '\' escaped; other bytes are dropped.
func appendSFString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c <= 0x7e:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// addField sets header name to v, or, when an outer limiter already set
// it (an IP budget before authentication, a principal tier after it), adds
// v as a further field line: RateLimit and RateLimit-Policy are RFC 9651
// lists, and lines of a list combine into one list. The existing slice is
// never written into (it may be another limiter's shared, precomputed one).
func addField(h http.Header, name string, v []string) {
	old := h[name]
	if len(old) == 0 {
		h[name] = v
		return
	}
	h[name] = append(old[:len(old):len(old)], v...)
}

// writeHeaders sets the RateLimit headers for the policies that applied.
func (l *Limiter) writeHeaders(h http.Header, d *Decision) {
	if d.n == 0 {
		return
	}
	if d.n == len(l.enforced) {
		// Precomputed in New and shared by every response, read-only:
		// its cap equals its len, so a later Add copies instead of
		// writing into it.
		addField(h, HeaderPolicy, l.policyHeader)
	} else {
		var buf [512]byte
		b := buf[:0]
		for i := 0; i < d.n; i++ {
			if i > 0 {
				b = append(b, ", "...)
			}
			p := l.policies[d.idx[i]]
			b = appendPolicyItem(b, p.Name, p.quota, p.window)
		}
		addField(h, HeaderPolicy, []string{string(b)})
	}
	var buf [512]byte
	b := buf[:0]
	tightest := 0
	for i := 0; i < d.n; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		r := &d.res[i]
		b = appendLimitItem(b, l.policies[d.idx[i]].Name, r.Remaining, r.ResetAfter)
		if r.Remaining < d.res[tightest].Remaining {
			tightest = i
		}
	}
	addField(h, HeaderRateLimit, []string{string(b)})
	if l.legacy {
		r := &d.res[tightest]
		h[headerLegacyLim] = []string{strconv.FormatInt(l.policies[d.idx[tightest]].quota, 10)}
		h[headerLegacyRem] = []string{strconv.FormatInt(max(r.Remaining, 0), 10)}
		h[headerLegacyRst] = []string{strconv.FormatInt(ceilSeconds(r.ResetAfter), 10)}
	}
}
