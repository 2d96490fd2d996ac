package probe

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var corsChecks = []*Check{
	{ID: "cors.arbitrary-origin", Category: "cors", Title: "an arbitrary origin is allowed", Severity: High, OWASP: owaspMisc, CWE: 942,
		Sends: "Origin: https://evil.example", Expects: "no Access-Control-Allow-Origin naming it",
		run: func(r *run) verdict { return r.refuseOrigin("https://evil.example") }},
	{ID: "cors.credentials-reflection", Category: "cors", Title: "an arbitrary origin is allowed with credentials", Severity: Critical, OWASP: owaspMisc, CWE: 942,
		Sends: "Origin: https://evil.example, with the credentials if any", Expects: "never Access-Control-Allow-Credentials: true with that origin (or *)",
		run: func(r *run) verdict {
			res, err := r.do(request{Path: r.somePath(), Header: r.withCredentials(map[string]string{"Origin": "https://evil.example"})})
			if err != nil {
				return errored(err)
			}
			acao, acac := res.Header.Get("Access-Control-Allow-Origin"), res.Header.Get("Access-Control-Allow-Credentials")
			if strings.EqualFold(acac, "true") && (acao == "https://evil.example" || acao == "*") {
				return fail("Access-Control-Allow-Origin: %s with Access-Control-Allow-Credentials: true: any site reads the user's data", acao)
			}
			return pass("no credentialed access for the origin")
		}},
	{ID: "cors.null-origin", Category: "cors", Title: "the null origin is allowed", Severity: High, OWASP: owaspMisc, CWE: 942,
		Sends: "Origin: null (sandboxed iframes, file: pages)", Expects: "no Access-Control-Allow-Origin: null",
		run: func(r *run) verdict { return r.refuseOrigin("null") }},
	{ID: "cors.suffix-match", Category: "cors", Title: "an origin that ends with the allowed host", Severity: High, OWASP: owaspMisc, CWE: 942,
		Sends: "the allowed origin's host as a subdomain of another (https://app.example.com.evil.example)", Expects: "not allowed",
		run: func(r *run) verdict {
			u := r.allowedOrigin()
			if u == nil {
				return na("needs an allowed origin (-allowed-origin)")
			}
			return r.refuseOrigin(u.Scheme + "://" + u.Host + ".evil.example")
		}},
	{ID: "cors.prefix-match", Category: "cors", Title: "an origin that ends like the allowed one", Severity: High, OWASP: owaspMisc, CWE: 942,
		Sends: "another host ending with the allowed host (https://evilapp.example.com)", Expects: "not allowed",
		run: func(r *run) verdict {
			u := r.allowedOrigin()
			if u == nil {
				return na("needs an allowed origin (-allowed-origin)")
			}
			return r.refuseOrigin(u.Scheme + "://evil" + u.Host)
		}},
	{ID: "cors.scheme-downgrade", Category: "cors", Title: "the allowed origin over plain HTTP", Severity: Medium, OWASP: owaspMisc, CWE: 942,
		Sends: "the allowed https origin as http://", Expects: "not allowed: a network attacker owns the http origin",
		run: func(r *run) verdict {
			u := r.allowedOrigin()
			if u == nil || u.Scheme != "https" {
				return na("needs an allowed https origin (-allowed-origin)")
			}
			return r.refuseOrigin("http://" + u.Host)
		}},
	{ID: "cors.preflight-header-dos", Category: "cors", Title: "a preflight asking for thousands of headers", Severity: Low, OWASP: owaspRes, CWE: 400,
		Sends: "OPTIONS with Access-Control-Request-Headers listing 2,000 names (~40 KB)", Expects: "an answer without a server error that does not echo the list",
		run: func(r *run) verdict {
			names := make([]string, 2000)
			for i := range names {
				names[i] = fmt.Sprintf("x-probe-%d", i)
			}
			origin := "https://evil.example"
			if u := r.allowedOrigin(); u != nil {
				origin = r.o.AllowedOrigin
			}
			res, err := r.do(request{Method: http.MethodOptions, Path: r.somePath(), Header: map[string]string{
				"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": strings.Join(names, ","),
			}})
			if err != nil {
				return errored(err)
			}
			if res.Status >= 500 {
				return fail("the preflight failed: %s", summary(res))
			}
			if n := len(res.Header.Get("Access-Control-Allow-Headers")); n > 4096 {
				return fail("Access-Control-Allow-Headers echoes %d bytes", n)
			}
			return pass("%s", summary(res))
		}},
}

func (r *run) allowedOrigin() *url.URL {
	if r.o.AllowedOrigin == "" {
		return nil
	}
	u, err := url.Parse(r.o.AllowedOrigin)
	if err != nil || u.Host == "" {
		return nil
	}
	return u
}

// somePath is a path worth asking: a public one, a protected one, or /.
func (r *run) somePath() string {
	switch {
	case len(r.o.Public) > 0:
		return r.path(r.o.Public[0])
	case len(r.o.Protected) > 0:
		return r.protected()
	}
	return "/"
}

func (r *run) withCredentials(h map[string]string) map[string]string {
	for k, v := range r.credentials() {
		h[k] = v
	}
	return h
}

// refuseOrigin passes when neither a simple request nor a preflight from
// origin is allowed.
func (r *run) refuseOrigin(origin string) verdict {
	path := r.somePath()
	for _, req := range []request{
		{Path: path, Header: r.withCredentials(map[string]string{"Origin": origin})},
		{Method: http.MethodOptions, Path: path, Header: map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"}},
	} {
		res, err := r.do(req)
		if err != nil {
			return errored(err)
		}
		if acao := res.Header.Get("Access-Control-Allow-Origin"); acao == origin {
			return fail("%s answered Access-Control-Allow-Origin: %s", req.Method+" "+path, acao)
		}
	}
	return pass("not allowed")
}

var headerChecks = []*Check{
	{ID: "headers.nosniff", Category: "headers", Title: "X-Content-Type-Options: nosniff", Severity: Medium, OWASP: owaspMisc, CWE: 693,
		Sends: "a request to a known path and to an unknown one", Expects: "X-Content-Type-Options: nosniff on both, errors included",
		run: func(r *run) verdict {
			for _, p := range []string{r.somePath(), "/probe-unknown-path"} {
				res, err := r.do(request{Path: p})
				if err != nil {
					return errored(err)
				}
				if !strings.EqualFold(res.Header.Get("X-Content-Type-Options"), "nosniff") {
					return fail("GET %s (%s) has no X-Content-Type-Options: nosniff", p, summary(res))
				}
			}
			return pass("present")
		}},
	{ID: "headers.framing", Category: "headers", Title: "framing refused (clickjacking)", Severity: Low, OWASP: owaspMisc, CWE: 1021,
		Sends: "a request to a known path", Expects: "Content-Security-Policy frame-ancestors 'none' (or 'self'), or X-Frame-Options DENY/SAMEORIGIN",
		run: func(r *run) verdict {
			res, err := r.do(request{Path: r.somePath()})
			if err != nil {
				return errored(err)
			}
			csp, xfo := res.Header.Get("Content-Security-Policy"), strings.ToUpper(res.Header.Get("X-Frame-Options"))
			if strings.Contains(csp, "frame-ancestors") || xfo == "DENY" || xfo == "SAMEORIGIN" {
				return pass("refused")
			}
			return fail("neither CSP frame-ancestors nor X-Frame-Options")
		}},
	{ID: "headers.cache-control", Category: "headers", Title: "authenticated answers kept out of shared caches", Severity: Medium, OWASP: owaspMisc, CWE: 524,
		Sends: "an authenticated request to a protected path", Expects: "Cache-Control with no-store or private",
		run: func(r *run) verdict {
			if r.credentials() == nil || r.protected() == "" {
				return na("needs credentials and a protected path")
			}
			res, err := r.do(request{Path: r.protected(), Header: r.credentials()})
			if err != nil {
				return errored(err)
			}
			cc := strings.ToLower(strings.Join(res.Header.Values("Cache-Control"), ","))
			if strings.Contains(cc, "no-store") || strings.Contains(cc, "private") {
				return pass("Cache-Control: %s", cc)
			}
			return fail("Cache-Control %q lets a shared cache keep an authenticated answer", cc)
		}},
	{ID: "headers.fingerprint", Category: "headers", Title: "software and versions announced", Severity: Low, OWASP: owaspMisc, CWE: 200,
		Sends: "a request to a known path and to an unknown one", Expects: "no Server version, X-Powered-By, X-AspNet-Version or X-Runtime",
		run: func(r *run) verdict {
			for _, p := range []string{r.somePath(), "/probe-unknown-path"} {
				res, err := r.do(request{Path: p})
				if err != nil {
					return errored(err)
				}
				for _, h := range []string{"X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version", "X-Runtime", "X-Generator"} {
					if v := res.Header.Get(h); v != "" {
						return fail("%s: %s", h, v)
					}
				}
				if s := res.Header.Get("Server"); versionRE.MatchString(s) {
					return fail("Server: %s", s)
				}
			}
			return pass("none")
		}},
	{ID: "headers.hsts", Category: "headers", Title: "Strict-Transport-Security over HTTPS", Severity: Medium, OWASP: owaspMisc, CWE: 319,
		Sends: "a request over HTTPS", Expects: "Strict-Transport-Security with max-age of at least 180 days",
		run: func(r *run) verdict {
			if r.base.Scheme != "https" {
				return na("the target is not https")
			}
			res, err := r.do(request{Path: r.somePath()})
			if err != nil {
				return errored(err)
			}
			m := maxAgeRE.FindStringSubmatch(res.Header.Get("Strict-Transport-Security"))
			if m == nil {
				return fail("no Strict-Transport-Security")
			}
			if age, _ := strconv.Atoi(m[1]); age < 180*24*3600 {
				return fail("Strict-Transport-Security max-age=%d, under 180 days", age)
			}
			return pass("max-age=%s", m[1])
		}},
}

var (
	versionRE = regexp.MustCompile(`[0-9]+\.[0-9]+`)
	maxAgeRE  = regexp.MustCompile(`(?i)max-age=([0-9]+)`)
)

var httpsChecks = []*Check{
	{ID: "https.plain-http", Category: "https", Title: "the API over plain HTTP", Severity: High, OWASP: owaspMisc, CWE: 319,
		Sends: "the request over http:// to the same host and port, and to port 80", Expects: "no API answer in clear (refused, 403, 421, or a redirect)",
		run: func(r *run) verdict {
			if r.base.Scheme != "https" || r.h != nil {
				return na("the target is not https over the network")
			}
			host := r.base.Hostname()
			ports := []string{r.base.Port(), "80"}
			if ports[0] == "" {
				ports = ports[1:]
			}
			client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for i, p := range ports {
				if r.sent.Add(1) > r.max {
					return errored(errBudget)
				}
				res, err := client.Get("http://" + net.JoinHostPort(host, p) + r.somePath())
				if err != nil {
					continue // nothing listens in clear: fine
				}
				_ = res.Body.Close()
				// On the API's own port, anything but the TLS server's
				// 400 (or a refusal) is the API answering in clear; on
				// port 80, which may be another server, only a 2xx is.
				sameAPI := i == 0 && r.base.Port() != ""
				refused := res.StatusCode == http.StatusBadRequest || res.StatusCode == http.StatusForbidden ||
					res.StatusCode == http.StatusMisdirectedRequest || res.StatusCode == http.StatusUpgradeRequired ||
					(res.StatusCode/100 == 3 && strings.HasPrefix(res.Header.Get("Location"), "https://"))
				if res.StatusCode < 300 || (sameAPI && !refused) {
					return fail("http://%s answered %d in clear", net.JoinHostPort(host, p), res.StatusCode)
				}
			}
			return pass("no answer in clear")
		}},
	{ID: "https.old-tls", Category: "https", Title: "TLS 1.0 and 1.1", Severity: Medium, OWASP: owaspMisc, CWE: 327,
		Sends: "handshakes offering only TLS 1.0, and only TLS 1.1", Expects: "both refused",
		run: func(r *run) verdict {
			return r.refuseHandshakes(map[string]*tls.Config{
				"TLS 1.0": {MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, // #nosec G402 -- the probe asks whether the server accepts it
				"TLS 1.1": {MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}, // #nosec G402 -- the probe asks whether the server accepts it
			})
		}},
	{ID: "https.weak-ciphers", Category: "https", Title: "TLS 1.2 without forward secrecy or AEAD", Severity: Medium, OWASP: owaspMisc, CWE: 327,
		Sends: "TLS 1.2 handshakes offering only RSA key exchange, and only CBC suites", Expects: "both refused",
		run: func(r *run) verdict {
			return r.refuseHandshakes(map[string]*tls.Config{
				"RSA key exchange": {MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, // #nosec G402 -- the probe asks whether the server accepts these
					CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_CBC_SHA}},
				"CBC suites": {MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, // #nosec G402 -- the probe asks whether the server accepts these
					CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}},
			})
		}},
}

// refuseHandshakes passes when the server refuses a handshake with each of
// the configurations, named for the evidence.
func (r *run) refuseHandshakes(cfgs map[string]*tls.Config) verdict {
	if r.base.Scheme != "https" || r.h != nil {
		return na("the target is not https over the network")
	}
	for _, name := range slices.Sorted(maps.Keys(cfgs)) {
		if ok, err := r.handshake(cfgs[name]); err != nil {
			return errored(err)
		} else if ok {
			return fail("%s accepted", name)
		}
	}
	return pass("refused")
}

// handshake reports whether a TLS handshake with cfg succeeds (the
// certificate is not judged: only what the server agrees to).
func (r *run) handshake(cfg *tls.Config) (bool, error) {
	if r.sent.Add(1) > r.max {
		return false, errBudget
	}
	host := r.base.Host
	if r.base.Port() == "" {
		host += ":443"
	}
	cfg.InsecureSkipVerify = true // #nosec G402 -- only whether the version or suite is accepted
	cfg.ServerName = r.base.Hostname()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", host, cfg)
	if err != nil {
		var ne net.Error
		if _, ok := err.(*net.OpError); ok && !isTLSRefusal(err) {
			if ne, ok = err.(net.Error); ok && ne.Timeout() {
				return false, err
			}
		}
		return false, nil
	}
	_ = c.Close()
	return true, nil
}

// isTLSRefusal reports whether err is the server refusing the handshake
// (an alert), as against not answering.
func isTLSRefusal(err error) bool {
	s := err.Error()
	return strings.Contains(s, "alert") || strings.Contains(s, "handshake") || strings.Contains(s, "EOF") || strings.Contains(s, "reset")
}
