package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/bulwark-go/bulwark/internal/reqctx"
)

// ValidRequestID reports whether id may be used as a request ID as it
// arrived: 1 to 64 characters from [A-Za-z0-9._-]. Anything else — a path
// such as "../../etc", a newline, 10 KB — is replaced by a fresh ID.
func ValidRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return true
}

// NewRequestID returns a fresh request ID: 32 lower-case hex digits from
// crypto/rand (128 bits), with nothing about the host in it.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// TraceContext is the W3C Trace Context of a request (the traceparent
// header): the trace it belongs to and the caller's span.
type TraceContext struct {
	TraceID string // 32 lower-case hex digits, not all zero
	SpanID  string // the parent-id: 16 lower-case hex digits, not all zero
	Sampled bool
}

// ParseTraceparent parses a traceparent header value as W3C Trace Context
// level 1 specifies: version 00 exactly 55 characters; a later version at
// least 55 with '-' after the flags; version ff, upper-case hex and
// all-zero IDs refused.
func ParseTraceparent(v string) (TraceContext, bool) {
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return TraceContext{}, false
	}
	ver := v[0:2]
	if !lowerHex(ver) || ver == "ff" || (ver == "00" && len(v) != 55) || (ver != "00" && len(v) > 55 && v[55] != '-') {
		return TraceContext{}, false
	}
	tid, sid, flags := v[3:35], v[36:52], v[53:55]
	if !lowerHex(tid) || !lowerHex(sid) || !lowerHex(flags) || allZero(tid) || allZero(sid) {
		return TraceContext{}, false
	}
	return TraceContext{TraceID: tid, SpanID: sid, Sampled: unhex(flags[1])&1 == 1}, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}

// RequestIDFromContext returns the request ID the auditor's middleware
// assigned to the request ctx belongs to.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	s, ok := reqctx.From(ctx).Audit().(*reqState)
	if !ok || s == nil {
		return "", false
	}
	return s.id, true
}

// TraceFromContext returns the request's W3C trace context, when a valid
// traceparent header arrived.
func TraceFromContext(ctx context.Context) (TraceContext, bool) {
	s, ok := reqctx.From(ctx).Audit().(*reqState)
	if !ok || s == nil || s.trace.TraceID == "" {
		return TraceContext{}, false
	}
	return s.trace, true
}
