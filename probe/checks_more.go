package probe

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// spoofedIPHeaders are the headers a limit keyed on them lets a client
// rotate to get a fresh allowance per request.
var spoofedIPHeaders = []string{"X-Forwarded-For", "X-Real-IP", "Forwarded", "True-Client-IP", "CF-Connecting-IP", "X-Client-IP"}

var rateLimitChecks = []*Check{
	{ID: "ratelimit.signalled", Category: "ratelimit", Title: "API answers say nothing of a rate limit", Severity: Low, OWASP: owaspRes, CWE: 770,
		Sends: "a request to an API path", Expects: "RateLimit (IETF httpapi), RateLimit-Remaining or X-RateLimit-Remaining",
		run: func(r *run) verdict {
			if len(r.o.Public) == 0 && len(r.o.Protected) == 0 {
				return na("needs an API path (-protected or -public)")
			}
			p, cred := r.apiPath()
			res, err := r.do(request{Path: p, Header: cred})
			if err != nil {
				return errored(err)
			}
			if _, ok := remaining(res.Header); !ok {
				return fail("GET %s (%s) has no rate-limit header: a client cannot pace itself, and the limit (if any) cannot be checked", p, summary(res))
			}
			return pass("signalled")
		}},
	{ID: "ratelimit.client-ip-spoofing", Category: "ratelimit", Title: "a rate limit escaped by rotating client-IP headers", Severity: High, OWASP: owaspRes, CWE: 348,
		Sends:   "requests with a new X-Forwarded-For, X-Real-IP, Forwarded, True-Client-IP, CF-Connecting-IP and X-Client-IP address each",
		Expects: "the remaining allowance falls as it does without them: the limit is keyed on the connection, or on those headers only from trusted proxies",
		run: func(r *run) verdict {
			p, cred := r.apiPath()
			const n = 6
			var plain, spoofed []int
			for i := range n {
				res, err := r.do(request{Path: p, Header: cred})
				if err != nil {
					return errored(err)
				}
				left, ok := remaining(res.Header)
				if !ok {
					return na("GET %s sends no rate-limit header, so the allowance cannot be followed", p)
				}
				plain = append(plain, left)
				hdr := map[string]string{}
				for k, v := range cred {
					hdr[k] = v
				}
				ip := fmt.Sprintf("203.0.113.%d", 10+i)
				for _, h := range spoofedIPHeaders {
					hdr[h] = ip
				}
				hdr["Forwarded"] = "for=" + ip
				if res, err = r.do(request{Path: p, Header: hdr}); err != nil {
					return errored(err)
				}
				if left, ok = remaining(res.Header); !ok {
					return fail("with spoofed client-IP headers the rate-limit header disappears (%s)", summary(res))
				}
				spoofed = append(spoofed, left)
			}
			if plain[n-1] >= plain[0] {
				return na("the allowance does not fall (%v): the limit refills faster than the probe sends", plain)
			}
			// One bucket: each spoofed request has at most what the plain
			// one before it left. A bucket per spoofed address: more.
			for i := range n {
				if spoofed[i] < plain[i] {
					return pass("one allowance whatever the headers (%d → %d)", plain[0], spoofed[n-1])
				}
			}
			return fail("the allowance went %v for the client and %v with a new client IP in the headers each time: each spoofed address gets its own limit", plain, spoofed)
		}},
}

// apiPath is the path rate limits are most likely on: the protected one
// with credentials, else any.
func (r *run) apiPath() (string, map[string]string) {
	if r.protected() != "" && r.credentials() != nil {
		return r.protected(), r.credentials()
	}
	return r.somePath(), nil
}

var remainingRE = regexp.MustCompile(`;\s*r=([0-9]+)`)

// remaining is the smallest remaining allowance an answer announces.
func remaining(h http.Header) (int, bool) {
	best, found := 0, false
	note := func(n int) {
		if !found || n < best {
			best, found = n, true
		}
	}
	for _, v := range h.Values("RateLimit") {
		for _, m := range remainingRE.FindAllStringSubmatch(v, -1) {
			n, _ := strconv.Atoi(m[1])
			note(n)
		}
	}
	for _, k := range []string{"RateLimit-Remaining", "X-RateLimit-Remaining"} {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Get(k))); err == nil {
			note(n)
		}
	}
	return best, found
}

var smugglingChecks = []*Check{
	{ID: "smuggling.duplicate-content-length", Category: "smuggling", Title: "two different Content-Length headers", Severity: High, OWASP: owaspMisc, CWE: 444,
		Sends: "POST with Content-Length: 4 and Content-Length: 38 over a raw connection", Expects: "400 (RFC 9112 §6.3)",
		run: func(r *run) verdict {
			return r.smuggle("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\nContent-Length: 38\r\n\r\nprobGET /probe-smuggled HTTP/1.1\r\nHost: %[2]s\r\n\r\n", true)
		}},
	{ID: "smuggling.cl-te", Category: "smuggling", Title: "Content-Length and Transfer-Encoding together (CL.TE)", Severity: High, OWASP: owaspMisc, CWE: 444,
		Sends:   "POST with Content-Length: 4 and Transfer-Encoding: chunked, a zero chunk, then a second request on the same connection",
		Expects: "400, or one answer and the connection closed: RFC 9112 §6.1 — a server that reads the chunked body MUST close the connection after answering, so that a hop that read Content-Length cannot have a second request smuggled through",
		run: func(r *run) verdict {
			return r.smuggle("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /probe-smuggled HTTP/1.1\r\nHost: %[2]s\r\n\r\n", false)
		}},
	{ID: "smuggling.te-cl", Category: "smuggling", Title: "Transfer-Encoding with a longer Content-Length (TE.CL)", Severity: High, OWASP: owaspMisc, CWE: 444,
		Sends: "POST with Transfer-Encoding: chunked and a Content-Length that covers a second request", Expects: "400, or one answer and the connection closed",
		run: func(r *run) verdict {
			return r.smuggle("POST %s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\nContent-Length: 44\r\n\r\n0\r\n\r\nGET /probe-smuggled HTTP/1.1\r\nHost: %[2]s\r\n\r\n", false)
		}},
	{ID: "smuggling.te-obfuscated", Category: "smuggling", Title: "an obfuscated Transfer-Encoding", Severity: High, OWASP: owaspMisc, CWE: 444,
		Sends: `POST with Transfer-Encoding: "xchunked", "chunked, identity" and with a space before the colon`, Expects: "400 or 501 for each",
		run: func(r *run) verdict {
			for _, te := range []string{"Transfer-Encoding: xchunked", "Transfer-Encoding: chunked, identity", "Transfer-Encoding : chunked"} {
				if v := r.smuggle("POST %s HTTP/1.1\r\nHost: %s\r\n"+te+"\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /probe-smuggled HTTP/1.1\r\nHost: %[2]s\r\n\r\n", true); v.status != Pass {
					v.evidence = te + ": " + v.evidence
					return v
				}
			}
			return pass("all refused")
		}},
}

// unsafePath is where a check may send a POST: a public path, or a
// protected one only with AllowUnsafe; else a path no API has.
func (r *run) unsafePath() string {
	switch {
	case len(r.o.Public) > 0:
		return r.path(r.o.Public[0])
	case r.o.AllowUnsafe && r.protected() != "":
		return r.protected()
	}
	return "/probe-smuggling"
}

var statusLineRE = regexp.MustCompile(`(?m)^HTTP/1\.[01] ([0-9]{3})`)

// smuggle sends the payload (formatted with the path and host) and judges
// what came back: mustRefuse wants a 4xx/5xx first answer; otherwise one
// answer and a closed connection also pass.
func (r *run) smuggle(format string, mustRefuse bool) verdict {
	if r.h != nil {
		return na("needs the network: in process the server's own request parser is not in the path")
	}
	out, closed, err := r.raw(fmt.Sprintf(format, r.unsafePath(), r.base.Host))
	if err != nil {
		return errored(err)
	}
	answers := statusLineRE.FindAllSubmatch(out, -1)
	if len(answers) == 0 {
		if closed {
			return pass("the connection was closed without an answer")
		}
		return fail("no answer in 3 s, and the connection stayed open: the server waits for a body it framed another way")
	}
	first, _ := strconv.Atoi(string(answers[0][1]))
	switch {
	case first == 400 || first == 501 || first == 411 || first == 413:
		return pass("%d", first)
	case mustRefuse:
		return fail("answered %d where 400 is right", first)
	case len(answers) > 1:
		return fail("answered %d and then the request smuggled after the body, on the same connection (%d answers)", first, len(answers))
	case !closed:
		return fail("answered %d and kept the connection open: RFC 9112 §6.1 says close it", first)
	}
	return pass("one answer (%d), then the connection closed", first)
}

var inputChecks = []*Check{
	inputCheck("input.duplicate-keys", "duplicate JSON member names", High, 436,
		`{"role":"user","role":"admin"}`, "a body with one member twice (two parsers, two values)"),
	inputCheck("input.case-variant-keys", "JSON member names that differ only in case", Medium, 436,
		`{"role":"user","ROLE":"admin"}`, "a body with role and ROLE (Go's encoding/json matches either)"),
	inputCheck("input.invalid-utf8", "invalid UTF-8 in a JSON string", Medium, 176,
		"{\"name\":\"\xff\xfe\"}", "a body with bytes that are not UTF-8"),
	inputCheck("input.trailing-data", "data after the JSON value", Medium, 20,
		`{"name":"probe"}{"role":"admin"}`, "a body with a second JSON value after the first"),
	inputCheck("input.depth-bomb", "deeply nested JSON", Medium, 674,
		strings.Repeat("[", 20000)+strings.Repeat("]", 20000), "a body of 20,000 nested arrays"),
	inputCheck("input.width-bomb", "JSON with very many members", Low, 770,
		widthBomb(6000), "a body with 6,000 members (under 64 KB)"),
	{ID: "input.content-type", Category: "input", Title: "a JSON body under another content type", Severity: Medium, OWASP: owaspMisc, CWE: 436,
		Sends: "a JSON body as text/plain (what a cross-site form can send without a preflight)", Expects: "415 (or 400)",
		run: func(r *run) verdict {
			return r.refuseBody(map[string]string{"Content-Type": "text/plain"}, []byte(`{"name":"probe"}`))
		}},
	{ID: "input.oversize-body", Category: "input", Title: "a body far larger than an API takes", Severity: Medium, OWASP: owaspRes, CWE: 770,
		Sends: "a 2 MiB JSON body", Expects: "413 (or 400), without a server error",
		run: func(r *run) verdict {
			return r.refuseBody(nil, []byte(`{"name":"`+strings.Repeat("A", 2<<20)+`"}`))
		}},
}

func inputCheck(id, title string, sev Severity, cwe int, body, sends string) *Check {
	return &Check{ID: id, Category: "input", Title: title, Severity: sev, OWASP: owaspProp, CWE: cwe,
		Sends: sends + ", POSTed to the JSON path", Expects: "400 (or 413, 415, 422), without a server error",
		run: func(r *run) verdict { return r.refuseBody(nil, []byte(body)) }}
}

func widthBomb(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s":0`, strconv.FormatInt(int64(i), 36))
	}
	b.WriteByte('}')
	return b.String()
}

// refuseBody POSTs a valid JSON body, which must not be refused as input
// (so that the path takes JSON), and then body, which must be.
func (r *run) refuseBody(hdr map[string]string, body []byte) verdict {
	if r.o.JSONPath == "" {
		return na("needs a path that takes a JSON body (-json-path)")
	}
	mk := func(b []byte, extra map[string]string) request {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range r.credentials() {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return request{Method: http.MethodPost, Path: r.o.JSONPath, Header: h, Body: b}
	}
	base, err := r.do(mk([]byte(`{}`), nil))
	if err != nil {
		return errored(err)
	}
	if base.Status == http.StatusNotFound || base.Status == http.StatusMethodNotAllowed || base.Status == http.StatusUnauthorized || base.Status == http.StatusForbidden {
		return verdict{Errored, fmt.Sprintf("POST %s with {} answers %s: give a path that takes JSON, with credentials", r.o.JSONPath, summary(base))}
	}
	res, err := r.do(mk(body, hdr))
	if err != nil {
		if len(body) > 1<<20 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
			return pass("the connection was closed while the body was sent")
		}
		return errored(err)
	}
	switch {
	case res.Status >= 500:
		return fail("%s: the API failed on it", summary(res))
	case served(res):
		return fail("accepted: %s", summary(res))
	}
	return pass("%s", summary(res))
}

// leakPatterns are what an error answer must not carry.
var leakPatterns = []struct {
	what string
	re   *regexp.Regexp
}{
	{"a Go stack trace", regexp.MustCompile(`goroutine [0-9]+ \[|panic: |\.go:[0-9]+`)},
	{"a Python traceback", regexp.MustCompile(`Traceback \(most recent call last\)|File "[^"]+", line [0-9]+`)},
	{"a Java or .NET stack trace", regexp.MustCompile(`\tat [a-z]+\.[a-zA-Z.$]+\(|System\.[A-Za-z]+Exception|java\.lang\.`)},
	{"a Node.js stack trace", regexp.MustCompile(`at [A-Za-z.<>]+ \(/[^)]+:[0-9]+:[0-9]+\)`)},
	{"a database error", regexp.MustCompile(`SQLSTATE|ORA-[0-9]{5}|syntax error at or near|sqlite3\.|pq: `)},
	{"a PHP error", regexp.MustCompile(`(Fatal error|Warning|Notice)</b>: |on line <b>[0-9]+`)},
}

var (
	internalAddrRE = regexp.MustCompile(`\b(10\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|172\.(1[6-9]|2[0-9]|3[01])\.[0-9]{1,3}\.[0-9]{1,3}|192\.168\.[0-9]{1,3}\.[0-9]{1,3}|127\.0\.0\.1:[0-9]+|localhost:[0-9]+|\[?::1\]?:[0-9]+)\b`)
	bodyVersionRE  = regexp.MustCompile(`(?i)\b(nginx|apache|gunicorn|werkzeug|express|jetty|tomcat|iis|openresty|envoy|caddy|kestrel|wsgiserver|python|php)/[0-9]+\.[0-9]+`)
)

var leakChecks = []*Check{
	{ID: "leak.error-details", Category: "leak", Title: "stack traces and database errors in error answers", Severity: High, OWASP: owaspMisc, CWE: 209,
		Sends: "requests that make APIs fail: an unknown path, a malformed percent-encoding, a NUL, a malformed JSON body, a bogus token", Expects: "no stack trace, file and line, or database error in any answer",
		run: func(r *run) verdict {
			answers, err := r.errorAnswers()
			if err != nil {
				return errored(err)
			}
			for _, a := range answers {
				for _, p := range leakPatterns {
					if p.re.Match(a.res.Body) {
						return fail("%s answers %s with %s in its body", a.req, summary(a.res), p.what)
					}
				}
			}
			return pass("%d error answers clean", len(answers))
		}},
	{ID: "leak.internal-address", Category: "leak", Title: "internal addresses in answers", Severity: Medium, OWASP: owaspMisc, CWE: 200,
		Sends: "the same requests", Expects: "no private (RFC 1918) or loopback address of an upstream in a body or a header",
		run: func(r *run) verdict {
			answers, err := r.errorAnswers()
			if err != nil {
				return errored(err)
			}
			self := r.base.Host
			for _, a := range answers {
				texts := []string{string(a.res.Body)}
				for k, vs := range a.res.Header {
					texts = append(texts, k+": "+strings.Join(vs, ","))
				}
				for _, t := range texts {
					for _, m := range internalAddrRE.FindAllString(t, -1) {
						if m != self && !strings.HasPrefix(self, m) {
							return fail("%s answers with the internal address %s", a.req, m)
						}
					}
				}
			}
			return pass("none")
		}},
	{ID: "leak.version-in-body", Category: "leak", Title: "server software and versions in error pages", Severity: Low, OWASP: owaspMisc, CWE: 200,
		Sends: "the same requests", Expects: "no product/version (nginx/1.22, Werkzeug/3.0) in an error body",
		run: func(r *run) verdict {
			answers, err := r.errorAnswers()
			if err != nil {
				return errored(err)
			}
			for _, a := range answers {
				if m := bodyVersionRE.Find(a.res.Body); m != nil {
					return fail("%s answers with %q in its body", a.req, m)
				}
			}
			return pass("none")
		}},
}

type answer struct {
	req string
	res *response
}

// errorAnswers sends the requests that provoke errors, once per run.
func (r *run) errorAnswers() ([]answer, error) {
	if r.errs != nil || r.errsErr != nil {
		return r.errs, r.errsErr
	}
	reqs := []request{
		{Path: "/probe-unknown-" + r.nonce()},
		{Path: r.somePath() + "%zz"},
		{Path: r.somePath() + "%00"},
		{Path: r.somePath() + "?" + strings.Repeat("a=%ff&", 50)},
	}
	if p := r.protected(); p != "" {
		reqs = append(reqs, request{Path: p, Header: map[string]string{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.invalid"}})
	}
	if r.o.JSONPath != "" {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range r.credentials() {
			h[k] = v
		}
		reqs = append(reqs, request{Method: http.MethodPost, Path: r.o.JSONPath, Header: h, Body: []byte(`{"name": [1, 2,`)})
	}
	for _, q := range reqs {
		res, err := r.do(q)
		if err != nil {
			r.errsErr = err
			return nil, err
		}
		m := q.Method
		if m == "" {
			m = http.MethodGet
		}
		r.errs = append(r.errs, answer{m + " " + q.Path, res})
	}
	return r.errs, nil
}
