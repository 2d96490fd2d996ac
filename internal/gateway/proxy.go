package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/problem"
)

// Identity headers the gateway sends upstream. Any copy arriving from the
// client is removed first, so the upstream can trust them — provided only
// the gateway can reach it.
const (
	HeaderSubject    = "X-Bulwark-Subject"
	HeaderScopes     = "X-Bulwark-Scopes"
	HeaderAuthMethod = "X-Bulwark-Auth-Method"
	HeaderRequestID  = "X-Request-ID"
)

// keyRequestID is [HeaderRequestID] as an http.Header keys it; the other
// identity headers are spelled canonically already.
const keyRequestID = "X-Request-Id"

// routeInfo travels in the request context from the router to the proxy.
type routeInfo struct {
	authenticates      bool
	forwardCredentials bool
	cacheUpstream      bool // cache: upstream keeps the upstream's Cache-Control
	service            string
	// strip_prefix and rewrite_prefix: the route's prefix is replaced by
	// replace (decoded) / replaceEsc (escaped) on the way upstream.
	rewrite                     bool
	prefix, replace, replaceEsc string
}

type routeKey struct{}

func withRoute(ctx context.Context, ri *routeInfo) context.Context {
	return context.WithValue(ctx, routeKey{}, ri)
}

func routeFrom(ctx context.Context) *routeInfo {
	ri, _ := ctx.Value(routeKey{}).(*routeInfo)
	if ri == nil {
		return &routeInfo{authenticates: true} // unknown: strip credentials
	}
	return ri
}

// proxyOptions configures the reverse proxy.
type proxyOptions struct {
	upstream        *url.URL
	apiKeyHeader    string                               // removed with Authorization unless forwarded
	requestID       func(context.Context) (string, bool) // the audit request ID, when audit runs
	isHTTPS         func(*http.Request) bool
	log             logger
	responseTimeout time.Duration
	transport       http.RoundTripper // for tests; default a tuned http.Transport
}

// newProxy returns the forwarding handler: httputil's ReverseProxy
// between a request body that tells the client's faults from the
// upstream's, and a ResponseWriter through which the gateway keeps the
// response headers it owns.
func newProxy(o proxyOptions) http.Handler {
	rp := newReverseProxy(o)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := routeFrom(r.Context())
		uw := &upstreamWriter{w: w, private: ri.authenticates && !ri.cacheUpstream, req: r}
		if r.Body != nil && r.Body != http.NoBody {
			r2 := r.WithContext(r.Context()) // a shallow copy
			uw.body = &clientBody{ReadCloser: r.Body}
			if err := uw.body.prime(); err != nil {
				clientBodyFailed(w, r, err)
				return
			}
			r2.Body = uw.body
			r = r2
		}
		rp.ServeHTTP(uw, r)
	})
}

func newReverseProxy(o proxyOptions) *httputil.ReverseProxy {
	tr := o.transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 nil, // never route upstream traffic through an environment proxy
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: o.responseTimeout,
			ForceAttemptHTTP2:     true,
		}
	}
	// The request headers the gateway owns toward the upstream, and the
	// client's credentials, by canonical name.
	owned := map[string]bool{}
	for _, h := range slices.Concat([]string{HeaderSubject, HeaderScopes, HeaderAuthMethod, HeaderRequestID}, forwardingHeaders) {
		owned[http.CanonicalHeaderKey(h)] = true
	}
	credentials := map[string]bool{"Authorization": true}
	if o.apiKeyHeader != "" {
		credentials[http.CanonicalHeaderKey(o.apiKeyHeader)] = true
	}
	return &httputil.ReverseProxy{
		Transport:  tr,
		BufferPool: &bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			// ReverseProxy has already dropped hop-by-hop headers, those named
			// in Connection (so "Connection: X-Bulwark-Subject" removes only
			// the client's copy), and inbound Forwarded/X-Forwarded-*.
			pr.SetURL(o.upstream)
			ri := routeFrom(pr.In.Context())
			if ri.rewrite {
				rewritePrefix(pr.Out.URL, ri)
			}
			// The canonical request has already lost the identity and
			// override headers in every spelling, and every header with "_"
			// in its name. One pass over the request's headers (a handful)
			// instead of a Del per name the gateway owns (some twenty).
			out := pr.Out.Header
			dropCreds := ri.authenticates && !ri.forwardCredentials
			for k := range out {
				if owned[k] || (dropCreds && credentials[k]) {
					delete(out, k)
				}
			}
			// The map is keyed by canonical names (the keys below are), as
			// Set would write them; the values share one array, each capped
			// at its own length so that an append elsewhere copies.
			vals := make([]string, 0, 7)
			set := func(k, v string) {
				vals = append(vals, v)
				out[k] = vals[len(vals)-1 : len(vals) : len(vals)]
			}
			if p, ok := auth.PrincipalFromContext(pr.In.Context()); ok {
				set(HeaderSubject, p.Subject)
				set(HeaderScopes, strings.Join(p.Scopes, " "))
				set(HeaderAuthMethod, p.Method)
			}
			if o.requestID != nil {
				if id, ok := o.requestID(pr.In.Context()); ok {
					set(keyRequestID, id)
				}
			}
			// The client as clientip resolved it (never a client-written
			// header), the host it asked for, and how it reached us.
			if a := clientip.FromRequest(pr.In); a.IsValid() {
				set("X-Forwarded-For", a.String())
			}
			set("X-Forwarded-Host", pr.In.Host)
			proto := "http"
			if o.isHTTPS != nil && o.isHTTPS(pr.In) {
				proto = "https"
			}
			set("X-Forwarded-Proto", proto)
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode < 500 {
				return nil
			}
			// An upstream failure may carry a stack trace or internal names:
			// answer with a problem instead, keeping only Retry-After.
			if o.log.Logger != nil {
				o.log.Warn("upstream answered with a server error", "service", routeFrom(resp.Request.Context()).service,
					"status", resp.StatusCode, "method", otelMethod(resp.Request.Method), "path", boundedPath(resp.Request.URL.Path))
			}
			drainClose(resp.Body)
			status := http.StatusBadGateway
			if resp.StatusCode == http.StatusServiceUnavailable {
				status = http.StatusServiceUnavailable
			}
			body, _ := problem.New(status, "The upstream service failed.").MarshalJSON()
			retry := resp.Header.Get("Retry-After")
			resp.Header = http.Header{
				"Content-Type":           {problem.MediaType},
				"X-Content-Type-Options": {"nosniff"},
				"Cache-Control":          {"no-store"},
				"Content-Length":         {strconv.Itoa(len(body))},
			}
			if retry != "" && status == http.StatusServiceUnavailable {
				resp.Header.Set("Retry-After", retry)
			}
			resp.StatusCode = status
			resp.Status = ""
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Trailer = nil
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if uw, ok := w.(*upstreamWriter); ok && uw.body != nil {
				if berr := uw.body.failure(); berr != nil {
					clientBodyFailed(w, r, berr) // the client's fault, not the upstream's
					return
				}
			}
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client went away; nobody to answer
			}
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				problem.Write(w, problem.ContentTooLarge("The request body is too large."))
				return
			}
			if o.log.Logger != nil {
				o.log.Warn("upstream error", "service", routeFrom(r.Context()).service,
					"method", otelMethod(r.Method), "path", boundedPath(r.URL.Path), "error", scrubURL(err).Error())
			}
			var ne net.Error
			switch {
			case errors.Is(err, errNoTarget):
				problem.Write(w, problem.ServiceUnavailable("No target of the upstream service is available."))
			case errors.As(err, &ne) && ne.Timeout():
				problem.Write(w, problem.New(http.StatusGatewayTimeout, "The upstream service did not answer in time."))
			default:
				problem.Write(w, problem.New(http.StatusBadGateway, "The upstream service did not answer."))
			}
		},
	}
}

// bufferPool lends the reverse proxy the buffers it copies response
// bodies through. Without one, httputil allocates 32 KiB per request:
// more than everything else the gateway allocates for a small answer
// together, and the garbage collector's work grows with it. A buffer
// holds only bytes already sent to some client, and only as far as each
// read filled it; nothing of it is ever sent again.
type bufferPool struct{ p sync.Pool }

var _ httputil.BufferPool = (*bufferPool)(nil)

const proxyBufferSize = 32 << 10 // httputil's own size

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, proxyBufferSize)
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) != proxyBufferSize {
		return
	}
	buf = buf[:proxyBufferSize]
	b.p.Put(&buf)
}

// scrubURL drops the URL from transport errors (it may hold a query with
// secrets) and keeps the cause.
func scrubURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// drainClose reads a little of a body so the connection can be reused,
// then closes it.
func drainClose(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
	_ = rc.Close()
}

// rewritePrefix replaces the route's prefix of the canonical path u with
// the route's replacement, keeping Path and RawPath consistent. The rest
// of the path is canonical already, and so is the result.
func rewritePrefix(u *url.URL, ri *routeInfo) {
	if !strings.HasPrefix(u.Path, ri.prefix) {
		return // cannot happen: the route matched this path
	}
	esc := u.EscapedPath()
	dec := ri.replace + u.Path[len(ri.prefix):]
	rawEsc := ri.replaceEsc + escapedSuffix(esc, len(ri.prefix))
	if dec == "" {
		dec, rawEsc = "/", "/"
	}
	u.Path, u.RawPath = dec, ""
	if rawEsc != dec {
		u.RawPath = rawEsc
	}
}

// escapedSuffix returns what follows the first n decoded bytes of the
// escaped path esc.
func escapedSuffix(esc string, n int) string {
	i := 0
	for ; n > 0 && i < len(esc); n-- {
		if esc[i] == '%' {
			i += 3
		} else {
			i++
		}
	}
	return esc[min(i, len(esc)):]
}

// boundedPath caps a path for the operational log.
func boundedPath(p string) string {
	if len(p) > 256 {
		return p[:256] + "…"
	}
	return p
}
