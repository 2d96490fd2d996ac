package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/problem"
)

// The identity headers the upstream may trust, because the proxy removes
// whatever the client sent under these names and writes its own.
const (
	headerSubject    = "X-Bulwark-Subject"
	headerScopes     = "X-Bulwark-Scopes"
	headerAuthMethod = "X-Bulwark-Auth-Method"
	headerRequestID  = "X-Request-ID"
)

// newProxy returns the reverse proxy to upstream.
func newProxy(upstream *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		// Rewrite, not Director: before Rewrite runs, ReverseProxy has
		// removed hop-by-hop headers, the headers the client named in
		// Connection ("Connection: X-Bulwark-Subject" can then remove only
		// the client's copy, never ours), and inbound Forwarded and
		// X-Forwarded-*.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			out := pr.Out.Header
			// Identity spoofing: the client's copies go first, on every route.
			// The credentials bulwark checks go too: the upstream needs the
			// verified identity, not a key it could leak or replay.
			for _, h := range []string{headerSubject, headerScopes, headerAuthMethod, headerRequestID, "Authorization", "X-API-Key"} {
				out.Del(h)
			}
			if p, ok := auth.PrincipalFromContext(pr.In.Context()); ok {
				out.Set(headerSubject, p.Subject)
				out.Set(headerScopes, strings.Join(p.Scopes, " "))
				out.Set(headerAuthMethod, p.Method)
			}
			if id, ok := audit.RequestIDFromContext(pr.In.Context()); ok {
				out.Set(headerRequestID, id)
			}
			// The client as clientip resolved it, never a header the client
			// wrote (pr.SetXForwarded would use the immediate peer).
			out.Set("X-Forwarded-For", clientip.FromRequest(pr.In).String())
			out.Set("X-Forwarded-Host", pr.In.Host)
			proto := "http"
			if pr.In.TLS != nil {
				proto = "https"
			}
			out.Set("X-Forwarded-Proto", proto)
		},
		Transport: &http.Transport{
			Proxy:                 nil, // never send upstream traffic through $HTTP_PROXY
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
		},
		// An upstream failure may carry a stack trace or internal names: the
		// client gets a 502 problem, the operator's log gets the status.
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode >= 500 {
				return &upstreamError{status: resp.StatusCode}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// The audit record of this request has the method, path and 502;
			// the request ID links the two.
			id, _ := audit.RequestIDFromContext(r.Context())
			log.Printf("upstream failed for request %s: %v", id, err)
			problem.Write(w, problem.New(http.StatusBadGateway, "The upstream service failed."))
		},
	}
}

type upstreamError struct{ status int }

func (e *upstreamError) Error() string { return "upstream answered " + http.StatusText(e.status) }

// forwardJSON sends v, encoded again, to the proxy as the request body.
func forwardJSON(proxy http.Handler, w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, problem.New(http.StatusInternalServerError, "The request could not be forwarded."))
		return
	}
	out := r.Clone(r.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	proxy.ServeHTTP(w, out)
}
