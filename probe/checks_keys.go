package probe

import (
	"net/url"
	"strings"
)

var apiKeyChecks = []*Check{
	{ID: "apikey.truncated", Category: "apikey", Title: "the API key without its last character", Severity: High, OWASP: owaspAuthn, CWE: 287,
		Sends: "the valid key (-api-key) minus its last character", Expects: "401 (the valid key: 2xx)",
		run: func(r *run) verdict { return r.refuseKeys(func(k string) string { return k[:len(k)-1] }) }},
	{ID: "apikey.extended", Category: "apikey", Title: "the API key with a character added", Severity: High, OWASP: owaspAuthn, CWE: 287,
		Sends: "the valid key with one more character", Expects: "401",
		run: func(r *run) verdict { return r.refuseKeys(func(k string) string { return k + "A" }) }},
	{ID: "apikey.altered", Category: "apikey", Title: "the API key with one character changed", Severity: High, OWASP: owaspAuthn, CWE: 287,
		Sends: "the valid key with its last character changed", Expects: "401",
		run: func(r *run) verdict {
			return r.refuseKeys(func(k string) string {
				c := byte('A')
				if k[len(k)-1] == 'A' {
					c = 'B'
				}
				return k[:len(k)-1] + string(c)
			})
		}},
	{ID: "apikey.other-prefix", Category: "apikey", Title: "the API key under another environment's prefix", Severity: Medium, OWASP: owaspAuthn, CWE: 287,
		Sends: `the valid key with its prefix changed ("live" for "test" and the other way round)`, Expects: "401",
		run: func(r *run) verdict {
			return r.refuseKeys(func(k string) string {
				switch {
				case strings.Contains(k, "_live_"):
					return strings.Replace(k, "_live_", "_test_", 1)
				case strings.Contains(k, "_test_"):
					return strings.Replace(k, "_test_", "_live_", 1)
				}
				return "x" + k
			})
		}},
	{ID: "apikey.query-string", Category: "apikey", Title: "the API key in the query string", Severity: Medium, OWASP: owaspAuthn, CWE: 598,
		Sends: "the valid key as ?api_key=, ?apikey=, ?key= and ?access_token=, without the header", Expects: "not 2xx: a key in a URL ends up in logs, histories and Referer headers",
		run: func(r *run) verdict {
			if r.o.APIKey == "" || r.protected() == "" {
				return na("needs an API key (-api-key) and a protected path")
			}
			if v, ok := r.guarded(); !ok {
				return v
			}
			if v, ok := r.accepted(map[string]string{r.o.APIKeyHeader: r.o.APIKey}); !ok {
				return v
			}
			for _, p := range []string{"api_key", "apikey", "key", "access_token"} {
				res, err := r.do(request{Path: r.protected() + "?" + p + "=" + url.QueryEscape(r.o.APIKey)})
				if err != nil {
					return errored(err)
				}
				if !denied(res) {
					return fail("?%s= was accepted: %s", p, summary(res))
				}
			}
			return pass("refused in the query string")
		}},
}

// refuseKeys passes when the altered key is refused and the valid one is
// not.
func (r *run) refuseKeys(alter func(string) string) verdict {
	if r.o.APIKey == "" || r.protected() == "" {
		return na("needs an API key (-api-key) and a protected path")
	}
	if len(r.o.APIKey) < 2 {
		return na("the API key is too short to alter")
	}
	if v, ok := r.guarded(); !ok {
		return v
	}
	if v, ok := r.accepted(map[string]string{r.o.APIKeyHeader: r.o.APIKey}); !ok {
		return v
	}
	res, err := r.do(request{Path: r.protected(), Header: map[string]string{r.o.APIKeyHeader: alter(r.o.APIKey)}})
	if err != nil {
		return errored(err)
	}
	if !denied(res) {
		return fail("the altered key was accepted: %s", summary(res))
	}
	return pass("%s", summary(res))
}
