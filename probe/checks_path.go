package probe

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/canonical"
)

var authnChecks = []*Check{
	{ID: "authn.required", Category: "authn", Title: "a protected path without credentials", Severity: Critical, OWASP: owaspAuthn, CWE: 306,
		Sends: "GET and HEAD on the protected path with no credentials", Expects: "401 for both",
		run: func(r *run) verdict {
			if r.protected() == "" {
				return na("needs a protected path (-protected)")
			}
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				res, err := r.do(request{Method: m, Path: r.protected()})
				if err != nil {
					return errored(err)
				}
				switch {
				case served(res):
					return fail("%s %s without credentials: %s", m, r.protected(), summary(res))
				case denied(res):
					continue
				case r.credentials() == nil:
					return verdict{Errored, fmt.Sprintf("%s %s without credentials answers %s, not 401: give a path that exists (-protected /v1/orders), or credentials", m, r.protected(), summary(res))}
				}
				with, err := r.do(request{Method: m, Path: r.protected(), Header: r.credentials()})
				if err != nil {
					return errored(err)
				}
				if with.Status == res.Status {
					return fail("%s %s answers %s with and without credentials: nothing protects it", m, r.protected(), summary(res))
				}
			}
			return pass("refused")
		}},
	{ID: "authn.challenge", Category: "authn", Title: "a refusal that says how to authenticate", Severity: Low, OWASP: owaspAuthn, CWE: 287,
		Sends: "GET on the protected path with a malformed bearer token", Expects: "401 with WWW-Authenticate (RFC 9110 §11.6.1, RFC 6750 §3)",
		run: func(r *run) verdict {
			if r.protected() == "" {
				return na("needs a protected path (-protected)")
			}
			res, err := r.do(request{Path: r.protected(), Header: map[string]string{"Authorization": "Bearer probe.invalid"}})
			if err != nil {
				return errored(err)
			}
			switch {
			case !denied(res):
				return fail("a malformed token was accepted: %s", summary(res))
			case res.Status != http.StatusUnauthorized:
				return fail("%s where 401 is right", summary(res))
			case res.Header.Get("WWW-Authenticate") == "":
				return fail("401 without WWW-Authenticate")
			}
			return pass("401 with WWW-Authenticate")
		}},
}

// resolving are the spellings of "the parent of this segment" that RFC
// 3986 (§2.3, §5.2.4) resolves: /public/<s>v1/x is /v1/x, so a 2xx
// without credentials is the protected resource served. ambiguous are
// those RFC 3986 does not resolve but next hops do (encoded slashes,
// backslashes, double encoding, path parameters, NUL, overlong and
// fullwidth solidi): what ffuf traversal lists try.
var (
	resolving = []string{"../", "%2e%2e/", "%2E%2E/", ".%2e/", "%2e./", "./../", "%2e/../"}
	ambiguous = []string{"..%2f", "..%2F", "%2e%2e%2f", "..\\", "..%5c", "%2e%2e%5c", "%252e%252e/", "..%252f", "..;/",
		"%2e%2e;/", "..//", "..%00/", "..%c0%af", "..%ef%bc%8f"}
)

var pathChecks = []*Check{
	{ID: "path.dot-segment-bypass", Category: "path", Title: "a protected path reached through a public one", Severity: Critical, OWASP: owaspBFLA, CWE: 22,
		Sends:   "the protected path written under the public one with 21 dot-segment and encoding spellings (/public/../v1/x, /public/%2e%2e/v1/x, /public/..%2fv1/x, /public/..\\v1/x, …), exactly as written, without credentials",
		Expects: "no 2xx where RFC 3986 resolves the path to the protected one; for the other spellings, no 2xx that the public prefix would not give (or that equals the protected answer)",
		run: func(r *run) verdict {
			if r.protected() == "" {
				return na("needs a protected path (-protected)")
			}
			from := "/probe/"
			if len(r.o.Public) > 0 {
				from = r.o.Public[0]
				if !strings.HasSuffix(from, "/") {
					from += "/"
				}
			}
			// What the public prefix gives any path, and what the
			// protected resource is: the yardsticks for the ambiguous.
			catchAll, err := r.do(request{Path: from + "probe-nonexistent-" + r.nonce()})
			if err != nil {
				return errored(err)
			}
			var protectedBody []byte
			if cred := r.credentials(); cred != nil {
				res, err := r.do(request{Path: r.protected(), Header: cred})
				if err != nil {
					return errored(err)
				}
				if served(res) {
					protectedBody = res.Body
				}
			}
			to := strings.TrimPrefix(r.protected(), "/")
			var got []string
			unjudged := 0
			for i, s := range append(slices.Clone(resolving), ambiguous...) {
				// As many parents as from has segments: back to the root.
				up := strings.Repeat(s, strings.Count(strings.Trim(from, "/"), "/")+1)
				p := from + up + to
				if strings.Contains(s, "\\") || strings.Contains(s, "%5c") {
					p = from + up + strings.ReplaceAll(to, "/", "\\")
				}
				res, err := r.do(request{Path: p})
				if err != nil {
					return errored(err)
				}
				switch {
				case !served(res):
				case i < len(resolving) || !served(catchAll) || (protectedBody != nil && bytes.Equal(res.Body, protectedBody)):
					got = append(got, fmt.Sprintf("%s → %d", p, res.Status))
				default:
					unjudged++
				}
			}
			n := len(resolving) + len(ambiguous)
			if len(got) > 0 {
				return fail("%d of %d spellings answered without credentials: %s", len(got), n, strings.Join(got, ", "))
			}
			if unjudged > 0 {
				return pass("%d spellings refused; %d answered 2xx as any path under %s does, not as the protected path", n-unjudged, unjudged, from)
			}
			return pass("%d spellings refused", n)
		}},
	{ID: "path.case-and-slash-bypass", Category: "path", Title: "a protected path in another case, with doubled slashes or a trailing dot", Severity: High, OWASP: owaspBFLA, CWE: 178,
		Sends:   "the protected path upper-cased, with // in front and inside, with /./ inside, with a trailing %20 and ;, without credentials",
		Expects: "no 2xx",
		run: func(r *run) verdict {
			p := r.protected()
			if p == "" {
				return na("needs a protected path (-protected)")
			}
			i := strings.Index(p[1:], "/") + 1
			variants := []string{strings.ToUpper(p), "/" + p, p[:i] + "/" + p[i:], p[:i] + "/." + p[i:], p + "%20", p + ";probe", p[:i] + "%2f" + p[i+1:]}
			for _, v := range variants {
				res, err := r.do(request{Path: v})
				if err != nil {
					return errored(err)
				}
				if served(res) {
					return fail("%s answered %s without credentials", v, summary(res))
				}
			}
			return pass("%d variants refused", len(variants))
		}},
}

// identityHeaders are the headers upstreams read as "who the gateway
// authenticated": bulwark's own, those of the authenticating proxies
// (canonical.ProxyIdentityHeaders, the list bulwark serve strips), and
// CGI-style spellings (WSGI, Rack and PHP fold _ and - together).
var identityHeaders = slices.Concat([]string{"X-Bulwark-Subject", "X_Bulwark_Subject", "X_Forwarded_User"},
	canonical.ProxyIdentityHeaders())

var spoofChecks = []*Check{
	{ID: "spoof.identity-header", Category: "spoof", Title: "identity headers sent by the client (underscore spellings too)", Severity: Critical, OWASP: owaspAuthn, CWE: 290,
		Sends:   "the headers upstreams read as the authenticated user (X-Forwarded-User, X_Bulwark_Subject, Remote-User, IAP's, ALB's, …: canonical.ProxyIdentityHeaders and bulwark's own) set to a marker, to the protected path without credentials and to the public path",
		Expects: "the protected path still refused, and the marker never in an answer",
		run: func(r *run) verdict {
			marker := "probe-admin-" + r.nonce()
			hdr := map[string]string{}
			for _, h := range identityHeaders {
				hdr[h] = marker
			}
			if r.protected() != "" {
				if _, ok := r.guarded(); ok {
					res, err := r.do(request{Path: r.protected(), Header: hdr})
					if err != nil {
						return errored(err)
					}
					if !denied(res) {
						return fail("the protected path answered %s to identity headers alone", summary(res))
					}
				}
			}
			res, err := r.do(request{Path: r.somePath(), Header: hdr})
			if err != nil {
				return errored(err)
			}
			if strings.Contains(string(res.Body), marker) || headerHas(res.Header, marker) {
				return fail("the answer from %s repeats the identity the client claimed: the upstream read a spoofed identity header", r.somePath())
			}
			return pass("not believed")
		}},
	{ID: "spoof.method-override", Category: "spoof", Title: "method override headers", Severity: High, OWASP: owaspBFLA, CWE: 650,
		Sends: "GET with X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override naming a method no API has (PROBE)", Expects: "the same answer as the plain GET: the override is not honoured",
		run: func(r *run) verdict {
			return r.sameAnswer(func(string) map[string]string {
				return map[string]string{"X-HTTP-Method-Override": "PROBE", "X-HTTP-Method": "PROBE", "X-Method-Override": "PROBE"}
			}, "a method override header")
		}},
	{ID: "spoof.url-override", Category: "spoof", Title: "URL override headers", Severity: High, OWASP: owaspBFLA, CWE: 441,
		Sends: "GET with X-Original-URL and X-Rewrite-URL naming a path that does not exist", Expects: "the same answer as the plain GET: the routing checked the path the upstream serves",
		run: func(r *run) verdict {
			return r.sameAnswer(func(n string) map[string]string {
				p := "/probe-nonexistent-" + n
				return map[string]string{"X-Original-URL": p, "X-Rewrite-URL": p}
			}, "a URL override header")
		}},
}

// sameAnswer passes when a request with the headers of mk gets the status
// of the same request without them.
func (r *run) sameAnswer(mk func(nonce string) map[string]string, what string) verdict {
	p, cred := r.somePath(), map[string]string(nil)
	if len(r.o.Public) == 0 && r.credentials() != nil && r.protected() != "" {
		p, cred = r.protected(), r.credentials()
	}
	base, err := r.do(request{Path: p, Header: cred})
	if err != nil {
		return errored(err)
	}
	if base.Status >= 300 {
		return na("GET %s answers %s: the check needs a path that answers 2xx (-public, or -protected with credentials)", p, summary(base))
	}
	hdr := mk(r.nonce())
	for k, v := range cred {
		hdr[k] = v
	}
	res, err := r.do(request{Path: p, Header: hdr})
	if err != nil {
		return errored(err)
	}
	if res.Status != base.Status {
		return fail("GET %s answers %d, and %d with %s: the API honours it", p, base.Status, res.Status, what)
	}
	return pass("ignored")
}

func headerHas(h http.Header, s string) bool {
	for _, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, s) {
				return true
			}
		}
	}
	return false
}
