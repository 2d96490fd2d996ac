package ratelimit

import (
	"net/http"
	"strconv"
	"sync/atomic"
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
	tightest := 0
	for i := 1; i < d.n; i++ {
		if d.res[i].Remaining < d.res[tightest].Remaining {
			tightest = i
		}
	}
	addField(h, HeaderRateLimit, l.values.get(l, d))
	if l.legacy {
		r := &d.res[tightest]
		h[headerLegacyLim] = []string{strconv.FormatInt(l.policies[d.idx[tightest]].quota, 10)}
		h[headerLegacyRem] = []string{strconv.FormatInt(max(r.Remaining, 0), 10)}
		h[headerLegacyRst] = []string{strconv.FormatInt(ceilSeconds(r.ResetAfter), 10)}
	}
}

// valueCache holds RateLimit field values already built, so that the
// common answers cost no allocation: a value depends only on which
// policies applied and their remaining units and seconds to reset, and a
// busy limiter repeats those few combinations all day. It is a
// direct-mapped table of immutable entries swapped in atomically; a miss
// builds the value (two allocations) and takes the slot. Entries are
// shared read-only by every response: their slice has cap == len, so
// addField copies rather than appends into one.
type valueCache struct {
	slots [valueSlots]atomic.Pointer[valueEntry]
}

const valueSlots = 2048

// valueEntry is one built value and the decision it was built for.
type valueEntry struct {
	n   int
	idx [maxPolicies]uint8
	r   [maxPolicies]int64 // remaining, clamped as written
	t   [maxPolicies]int64 // seconds to reset, rounded up as written
	v   []string
}

// get returns the RateLimit field value for d.
func (c *valueCache) get(l *Limiter, d *Decision) []string {
	var k valueEntry
	k.n = d.n
	hash := uint64(d.n) * 0x9e3779b97f4a7c15 // #nosec G115 -- d.n is 1..8
	for i := 0; i < d.n; i++ {
		k.idx[i] = d.idx[i]
		k.r[i] = sfInt(d.res[i].Remaining)
		k.t[i] = sfInt(ceilSeconds(d.res[i].ResetAfter))
		hash = (hash ^ uint64(k.idx[i])) * 0x100000001b3
		hash = (hash ^ uint64(k.r[i])) * 0x100000001b3 // #nosec G115 -- sfInt clamps to [0, 10^15)
		hash = (hash ^ uint64(k.t[i])) * 0x100000001b3 // #nosec G115 -- sfInt clamps to [0, 10^15)
	}
	slot := &c.slots[hash%valueSlots]
	if e := slot.Load(); e != nil && e.n == k.n && e.idx == k.idx && e.r == k.r && e.t == k.t {
		return e.v
	}
	var buf [512]byte
	b := buf[:0]
	for i := 0; i < d.n; i++ {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendLimitItem(b, l.policies[d.idx[i]].Name, d.res[i].Remaining, d.res[i].ResetAfter)
	}
	e := new(valueEntry) // k itself stays on the stack
	*e = k
	e.v = []string{string(b)}
	slot.Store(e)
	return e.v
}
