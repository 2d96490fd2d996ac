package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/canonical"
)

// The canonical request: what routing, rate limits, authorization, the
// audit record and the upstream all see. The path is made canonical before
// anything else reads it (a path with no canonical form is refused), and
// request headers the upstream would read differently from the gateway are
// dropped. See package canonical for the rules.

// identityHeaders are the request headers the gateway writes for the
// upstream. A client's copy, in any spelling, is removed and reported.
var identityHeaders = []string{HeaderSubject, HeaderScopes, HeaderAuthMethod}

// forwardingHeaders are the other request headers through which an
// upstream may learn who the client is or how it connected. The gateway
// tells the upstream in X-Forwarded-For, -Host and -Proto, which it writes
// itself; a client's copy of any of these would contradict them.
var forwardingHeaders = []string{
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Fastly-Client-Ip", "X-Cluster-Client-Ip",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Scheme", "X-Forwarded-Ssl",
	"X-Forwarded-Path", "X-Original-Host", "Front-End-Https", "X-Url-Scheme",
}

// isGatewayHeader reports whether a header name reads (case-insensitively,
// "_" as "-") as one the gateway owns toward the upstream.
func isGatewayHeader(name string) bool {
	n := strings.ReplaceAll(name, "_", "-")
	for _, list := range [][]string{identityHeaders, canonical.ProxyIdentityHeaders(), forwardingHeaders, canonical.OverrideHeaders(),
		{HeaderRequestID, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "Authorization"}} {
		for _, h := range list {
			if strings.EqualFold(n, h) {
				return true
			}
		}
	}
	return false
}

// newCanonicalizer builds the canonical-request rules from the
// configuration.
func newCanonicalizer(cfg *Config) (*canonical.Canonicalizer, error) {
	merge := cfg.Paths.MergeSlashes == nil || *cfg.Paths.MergeSlashes
	return canonical.New(canonical.Config{
		KeepRepeatedSlashes: !merge,
		UnderscoreHeaders:   cfg.ForwardUnderscoreHeaders,
		StripHeaders:        slices.Concat(identityHeaders, canonical.ProxyIdentityHeaders()),
	})
}

type refusalKey struct{}

// refusal returns why the request's path was refused, if it was.
func refusal(ctx context.Context) error {
	err, _ := ctx.Value(refusalKey{}).(error)
	return err
}

// canonicalFront makes the path canonical before audit sees the request,
// so the audit record, metrics, routing and the upstream all use one path,
// and closes the connection after a chunked request (see
// canonical.CloseIfChunked).
// A path that has none goes through refused instead: an audited chain of
// its own, whose record shows the path as it arrived.
func canonicalFront(c *canonical.Canonicalizer, accepted, refused http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		canonical.CloseIfChunked(w, r)
		r2, err := c.RequestPath(r)
		if err != nil {
			refused.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), refusalKey{}, err)))
			return
		}
		accepted.ServeHTTP(w, r2)
	})
}

// refuser answers a request canonicalFront refused: a 400 problem and an
// input_validation_fail event, inside the audit layer.
func refuser(c *canonical.Canonicalizer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.Refuse(w, r, refusal(r.Context()))
	})
}

// headerHygiene drops the request headers the upstream must never see
// from the client. It sits inside audit, so that a spoofed identity header
// is recorded.
func headerHygiene(c *canonical.Canonicalizer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, c.RequestHeaders(r))
	})
}

// canonicalPath is the canonical form of a path with the default rules,
// for checking configured route paths.
func canonicalPath(p string) (escaped, decoded string, err error) {
	c, err := canonical.New(canonical.Config{})
	if err != nil {
		return "", "", err
	}
	return c.Path(p)
}
