package gateway

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// upstreamWriter is the ResponseWriter the reverse proxy writes to. The
// upstream's headers land in a map of their own and are merged into the
// response only when a status is written, without the headers the gateway
// owns:
//   - Access-Control-*: CORS is the gateway's (without cors configured,
//     there are none at all), so an upstream can neither widen it nor
//     double the gateway's Access-Control-Allow-Origin;
//   - X-Request-ID, when the audit layer already set the gateway's;
//   - on routes that authenticate, a Cache-Control that lets a shared
//     cache store the answer (anything without private or no-store) is
//     replaced by "private, no-store", unless the route says cache:
//     upstream — a cache in front of the gateway cannot tell that an
//     X-API-Key request was authenticated.
//
// Interim (1xx) responses are filtered the same way and leave nothing
// behind: httputil's ReverseProxy clears the header map after each one,
// which would otherwise erase what the gateway's own layers had set.
// Trailers, written after the status, go to the response directly; the
// headers middleware strips fingerprints from them.
type upstreamWriter struct {
	w       http.ResponseWriter
	hdr     http.Header
	final   bool
	private bool
	body    *clientBody   // the request body, when there is one
	req     *http.Request // for the events of a client fault
	discard bool          // the upstream's answer was replaced: drop its body
}

var _ http.ResponseWriter = (*upstreamWriter)(nil)

func (u *upstreamWriter) Header() http.Header {
	if u.final {
		return u.w.Header()
	}
	if u.hdr == nil {
		u.hdr = make(http.Header)
	}
	return u.hdr
}

func (u *upstreamWriter) WriteHeader(code int) {
	if u.final {
		u.w.WriteHeader(code) // a superfluous call: net/http says so
		return
	}
	dst := u.w.Header()
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		saved := make(map[string][]string, len(u.hdr))
		for k, v := range u.hdr {
			if u.owned(k, dst) {
				continue
			}
			old := dst[k]
			saved[k] = old
			dst[k] = append(old[:len(old):len(old)], v...)
		}
		u.w.WriteHeader(code)
		for k, old := range saved {
			if old == nil {
				delete(dst, k)
			} else {
				dst[k] = old
			}
		}
		return
	}
	u.final = true
	if u.body != nil {
		if err := u.body.failure(); err != nil {
			// The upstream answered a request whose body the client botched
			// (it did not wait for the body): the answer is the client's
			// fault, as when the failure comes first.
			u.discard = true
			clientBodyFailed(u.w, u.req, err)
			return
		}
	}
	for k, v := range u.hdr {
		if u.owned(k, dst) {
			continue
		}
		if u.private && k == "Cache-Control" && sharedCacheable(v) {
			v = []string{"private, no-store"}
		}
		if old := dst[k]; len(old) > 0 {
			dst[k] = append(old[:len(old):len(old)], v...)
		} else {
			dst[k] = v // the private map's own slice: nothing else holds it
		}
	}
	u.w.WriteHeader(code)
}

// owned reports whether the upstream's header k is dropped.
func (u *upstreamWriter) owned(k string, dst http.Header) bool {
	const acPrefix = "access-control-"
	if len(k) >= len(acPrefix) && strings.EqualFold(k[:len(acPrefix)], acPrefix) {
		return true
	}
	return strings.EqualFold(k, HeaderRequestID) && len(dst.Values(HeaderRequestID)) > 0
}

func (u *upstreamWriter) Write(p []byte) (int, error) {
	if !u.final {
		u.WriteHeader(http.StatusOK)
	}
	if u.discard {
		return len(p), nil
	}
	return u.w.Write(p)
}

// Unwrap gives http.ResponseController the writer beneath (Flush, Hijack
// for upgrades, deadlines).
func (u *upstreamWriter) Unwrap() http.ResponseWriter { return u.w }

// sharedCacheable reports whether a Cache-Control lets a shared cache
// store the response: whenever it says neither private nor no-store.
func sharedCacheable(values []string) bool {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(d), "=")
			if strings.EqualFold(name, "private") || strings.EqualFold(name, "no-store") {
				return false
			}
		}
	}
	return true
}

// clientBody is the request body as the proxy reads it, remembering a
// failure to read it: that is the client's fault (bad chunked framing, a
// client that stopped sending), never the upstream's.
type clientBody struct {
	io.ReadCloser
	head []byte // read by prime, not yet handed on
	eof  bool
	buf  [512]byte

	mu  sync.Mutex
	err error
}

// prime reads the start of the body before anything is sent upstream, so
// that a body whose framing is broken from the start (a chunked body
// beginning "zz") is refused whatever the upstream would have done: an
// upstream that answers without reading the body could otherwise answer
// first.
func (b *clientBody) prime() error {
	n, err := b.ReadCloser.Read(b.buf[:])
	b.head = b.buf[:n]
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.fail(err)
		return err
	}
	return nil
}

func (b *clientBody) Read(p []byte) (int, error) {
	if len(b.head) > 0 {
		n := copy(p, b.head)
		b.head = b.head[n:]
		return n, nil
	}
	if b.eof {
		return 0, io.EOF
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.fail(err)
	}
	return n, err
}

func (b *clientBody) fail(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

func (b *clientBody) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// clientBodyFailed answers a request whose body could not be read: 413
// over the size limit, 408 when the client stopped sending, 400 for a
// malformed or truncated body. The audit record gets the event; the
// operator's log is for the gateway's and the upstream's faults.
func clientBodyFailed(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		problem.Write(w, problem.ContentTooLarge("The request body is too large."))
		return
	}
	var ne net.Error
	d := problem.BadRequest("The request body could not be read.")
	reason := "malformed request body"
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		d = problem.New(http.StatusRequestTimeout, "The request body did not arrive in time.")
		reason = "request body timed out"
	case errors.Is(err, io.ErrUnexpectedEOF):
		reason = "request body ended early"
	}
	secevent.Emit(r.Context(), secevent.Event{
		Name: secevent.InputValidationFail, Reason: reason,
		Attrs: []slog.Attr{slog.Int("status", d.Status)},
	})
	problem.Write(w, d)
}
