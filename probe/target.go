package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// maxBody is how much of an answer a check reads.
const maxBody = 64 << 10

// errRateLimited is an API that kept answering 429: the answer to the
// attack is not known.
var errRateLimited = errors.New("probe: the API kept answering 429 Too Many Requests: lower the rate (-rate) or raise the API's limit for the probe's address")

// errBudget is a run that has sent MaxRequests.
var errBudget = errors.New("probe: request budget used up (MaxRequests)")

// run is the state of one Run: where requests go, how fast, how many.
type run struct {
	ctx     context.Context
	o       Options
	base    *url.URL
	h       http.Handler
	client  *http.Client
	limiter *rate.Limiter
	max     int64
	sent    atomic.Int64

	canaryOnce sync.Once
	canary     *canary

	errs    []answer // errorAnswers, once per run
	errsErr error
	guard   *response // the protected path without credentials
}

func newRun(o Options) (*run, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	r := &run{o: o, h: o.Handler, ctx: context.Background()}
	target := o.Target
	if target == "" {
		target = "http://api.test"
	}
	r.base, _ = url.Parse(target) // checked
	r.base.Path, r.base.RawQuery = "", ""
	if r.o.APIKeyHeader == "" {
		r.o.APIKeyHeader = "X-API-Key"
	}
	rps := o.Rate
	if rps == 0 && r.h == nil {
		rps = 20
	}
	if rps > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(rps), 1)
	}
	r.max = int64(o.MaxRequests)
	if r.max == 0 {
		r.max = 3000
	}
	r.client = o.Client
	if r.client == nil {
		r.client = &http.Client{
			Timeout: 10 * time.Second,
			// The probe reports what the API answered; a redirect is an
			// answer too.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:             nil, // only the target, never an environment proxy
				DisableKeepAlives: true,
				TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
			},
		}
	}
	return r, nil
}

func (r *run) close() {
	if r.canary != nil {
		r.canary.close()
	}
}

// request is what a check sends. Path is sent exactly as written (curl
// --path-as-is); Header keys are sent exactly as spelled.
type request struct {
	Method string
	Path   string // path and query
	Header map[string]string
	Body   []byte
}

// response is what came back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends req, within the rate and the budget. A 429 is the API pacing
// the probe, not an answer to the attack: do waits as long as its
// Retry-After says (up to 30 s) and sends the request again, twice at
// most; a third 429 (or one without Retry-After) is errRateLimited.
func (r *run) do(req request) (*response, error) {
	for attempt := 0; ; attempt++ {
		res, err := r.send(req)
		if err != nil || res.Status != http.StatusTooManyRequests {
			return res, err
		}
		wait, ok := retryAfter(res.Header)
		if !ok || attempt == 2 {
			return nil, errRateLimited
		}
		t := time.NewTimer(wait)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return nil, r.ctx.Err()
		case <-t.C:
		}
	}
}

// retryAfter reads a Retry-After in seconds, up to 30.
func retryAfter(h http.Header) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After")))
	if err != nil || n < 0 || n > 30 {
		return 0, false
	}
	return time.Duration(n)*time.Second + 50*time.Millisecond, true
}

// send sends req once, within the rate and the budget.
func (r *run) send(req request) (*response, error) {
	if r.sent.Add(1) > r.max {
		return nil, errBudget
	}
	if r.limiter != nil {
		if err := r.limiter.Wait(r.ctx); err != nil {
			return nil, err
		}
	}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	if r.h != nil {
		return r.serve(req)
	}
	u := *r.base
	hr, err := http.NewRequestWithContext(r.ctx, req.Method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	hr.URL.Opaque = req.Path // the request-target as is: no cleaning, no re-escaping
	if req.Body == nil {
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	for k, v := range req.Header {
		if strings.EqualFold(k, "Host") {
			hr.Host = v
			continue
		}
		hr.Header[k] = []string{v} // the spelling as given: X_Forwarded_User stays so
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", "bulwark-probe")
	}
	res, err := r.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxBody))
	return &response{Status: res.StatusCode, Header: res.Header, Body: body}, nil
}

// serve runs req through the handler, parsed as net/http's server parses
// it; a request the server itself would refuse is answered 400, as it
// would be.
func (r *run) serve(req request) (*response, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.Path, r.base.Host)
	for k, v := range req.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	if req.Body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(req.Body))
	}
	b.WriteString("\r\n")
	b.Write(req.Body)
	hr, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		return &response{Status: http.StatusBadRequest, Header: http.Header{}}, nil
	}
	hr.RemoteAddr = "192.0.2.1:40000"
	if r.base.Scheme == "https" {
		hr.TLS = &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true}
	}
	hr = hr.WithContext(r.ctx)
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, hr)
	body := rec.Body.Bytes()
	if len(body) > maxBody {
		body = body[:maxBody]
	}
	return &response{Status: rec.Code, Header: rec.Header(), Body: body}, nil
}

// raw sends bytes exactly as written over a new connection to the target
// and returns what came back, and whether the server closed the
// connection (rather than 3 s passing in silence). Over the network only.
func (r *run) raw(payload string) (out []byte, closed bool, err error) {
	if r.h != nil {
		return nil, false, errors.New("in process")
	}
	if r.sent.Add(1) > r.max {
		return nil, false, errBudget
	}
	if r.limiter != nil {
		if err := r.limiter.Wait(r.ctx); err != nil {
			return nil, false, err
		}
	}
	host := r.base.Host
	if r.base.Port() == "" {
		if r.base.Scheme == "https" {
			host += ":443"
		} else {
			host += ":80"
		}
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	var c net.Conn
	if r.base.Scheme == "https" {
		c, err = tls.DialWithDialer(&d, "tcp", host, &tls.Config{ServerName: r.base.Hostname(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = d.DialContext(r.ctx, "tcp", host)
	}
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, payload); err != nil {
		return nil, false, err
	}
	out, err = io.ReadAll(io.LimitReader(c, maxBody))
	var ne net.Error
	return out, !errors.As(err, &ne) || !ne.Timeout(), nil
}

// path returns a concrete path for p: p itself, or a path under it when
// p is a prefix (ends in /).
func (r *run) path(p string) string {
	if strings.HasSuffix(p, "/") {
		return p + "probe"
	}
	return p
}

// protected is the first protected path, or "".
func (r *run) protected() string {
	if len(r.o.Protected) == 0 {
		return ""
	}
	return r.path(r.o.Protected[0])
}

// credentials returns headers with the valid credential, if any.
func (r *run) credentials() map[string]string {
	switch {
	case r.o.Token != "":
		return map[string]string{"Authorization": "Bearer " + r.o.Token}
	case r.o.APIKey != "":
		return map[string]string{r.o.APIKeyHeader: r.o.APIKey}
	}
	return nil
}

// scrub removes the user's credentials from evidence.
func (r *run) scrub(s string) string {
	for _, secret := range []string{r.o.Token, r.o.APIKey} {
		if len(secret) >= 8 {
			s = strings.ReplaceAll(s, secret, "[credential]")
		}
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// denied reports whether an answer refuses a credential: 401, 403, or a
// 400 or 413/431 for a request malformed or too large. A 404 is not: an
// API that let the forged token through to a missing resource answers it.
func denied(res *response) bool {
	switch res.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusRequestEntityTooLarge, http.StatusRequestHeaderFieldsTooLarge:
		return true
	}
	return false
}

// guarded reports whether the protected path refuses a request without
// credentials (asked once per run): if it does not, the forgery checks
// have nothing to attack, and say so instead of passing or failing.
func (r *run) guarded() (verdict, bool) {
	if r.guard == nil {
		res, err := r.do(request{Path: r.protected()})
		if err != nil {
			return errored(err), false
		}
		r.guard = res
	}
	if !denied(r.guard) {
		return verdict{Errored, fmt.Sprintf("GET %s without credentials answers %s, not 401: nothing to forge a credential for (see authn.required)", r.protected(), summary(r.guard))}, false
	}
	return verdict{}, true
}

// summary is a short description of an answer for evidence.
func summary(res *response) string {
	return fmt.Sprintf("%d %s", res.Status, http.StatusText(res.Status))
}

// canary is a loopback server that records any request: a token that
// points the API at it (jku, x5u) must never make the API call it.
type canary struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func (r *run) canaryURL() string {
	r.canaryOnce.Do(func() {
		c := &canary{}
		c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			c.hits.Add(1)
			w.WriteHeader(http.StatusNotFound)
		}))
		r.canary = c
	})
	return r.canary.srv.URL
}

func (c *canary) close() { c.srv.Close() }

// served reports whether an answer serves the resource: 2xx.
func served(res *response) bool { return res.Status >= 200 && res.Status < 300 }

// nonce is a fresh marker for one check.
func (r *run) nonce() string {
	return strconv.FormatInt(r.sent.Load(), 36) + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}
