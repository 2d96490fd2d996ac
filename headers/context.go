package headers

import (
	"context"
	"crypto/rand"
	"net/http"
	"sync"

	"github.com/bulwark-go/bulwark/internal/reqctx"
)

// state is the per-request record of the middleware: the response writer
// handed to the next handler and the storage for the header values, in one
// allocation; it is found through the request's shared slots
// (internal/reqctx).
type state struct {
	ctx      reqctx.Carrier // the inner layers' context, when st brings the slots
	w        http.ResponseWriter
	h        *Headers
	override *Override
	secure   bool
	applied  bool

	nonceMu sync.Mutex
	nonce   string

	vals [numHdr + 1]string // backing storage for the header value slices
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
	s, ok := reqctx.From(ctx).Headers().(*state)
	return s, ok && s != nil
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
