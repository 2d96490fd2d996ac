package headers

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"
)

// ctxKey finds the request's [state] in a context.
type ctxKey struct{}

// state is the per-request record of the middleware: it is the request's
// context (the parent context plus itself as a value), the response writer
// handed to the next handler, and the storage for the header values, all in
// one allocation.
type state struct {
	context.Context // the request's original context

	w        http.ResponseWriter
	h        *Headers
	override *Override
	secure   bool
	applied  bool

	nonceMu sync.Mutex
	nonce   string

	vals [numHdr + 1]string // backing storage for the header value slices
}

// Value returns the state itself for ctxKey and defers to the parent
// context for every other key.
func (s *state) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return s
	}
	return s.Context.Value(key)
}

// Nonce returns the request's CSP nonce, creating it on first use.
func (s *state) Nonce() string {
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	if s.nonce == "" {
		s.nonce = rand.Text() // 128 bits, base32: valid in a CSP nonce-source
	}
	return s.nonce
}

func stateFrom(ctx context.Context) (*state, bool) {
	s, ok := ctx.Value(ctxKey{}).(*state)
	return s, ok
}

// Nonce returns the per-request CSP nonce for ctx, a request context inside
// the [Headers.Handler] middleware: 128 random bits, the same value for
// every call during one request, and the value [NonceSource] becomes in the
// HTML profile's Content-Security-Policy. Write it into the nonce attribute
// of the page's <script> and <style> elements. It is created on first use,
// so responses that never need one pay nothing; an HTML response gets one
// in its policy whether or not the handler asked.
//
// Outside the middleware Nonce returns "", which matches no policy: the
// page's scripts are blocked rather than allowed.
func Nonce(ctx context.Context) string {
	if s, ok := stateFrom(ctx); ok {
		return s.Nonce()
	}
	return ""
}
