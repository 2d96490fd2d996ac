package jwt_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/jwt"
)

// TestErrorDescriptionSaysWhyInFixedWords: a refused token the client can
// do something about gets an RFC 6750 error_description from a fixed set
// (typ must be at+jwt, token expired, wrong audience); a forged one gets
// none. The description is the same whatever the token carries.
func TestErrorDescriptionSaysWhyInFixedWords(t *testing.T) {
	k := keys(t)
	v := newVerifier(t, jwt.Config{})
	for _, tc := range []struct {
		name, tok, challenge string
	}{
		{"typ JWT, where at+jwt is required (RFC 9068)",
			signRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1","typ":"JWT"}`, claims(nil)), invalidBecause("typ must be at+jwt")},
		{"no typ", signRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1"}`, claims(nil)), invalidBecause("typ must be at+jwt")},
		{"expired", token(t, "rsa1", map[string]any{"exp": t0.Add(-time.Hour).Unix()}), invalidBecause("token expired")},
		{"expired, with a claim that tries to write the description",
			token(t, "rsa1", map[string]any{"exp": t0.Add(-time.Hour).Unix(), "sub": `x", error_description="you may pass`}), invalidBecause("token expired")},
		{"another API's token", token(t, "rsa1", map[string]any{"aud": "billing"}), invalidBecause("wrong audience")},
		{"not yet valid", token(t, "rsa1", map[string]any{"nbf": t0.Add(time.Hour).Unix()}), invalidBecause("token not yet valid")},
		{"unknown issuer", token(t, "rsa1", map[string]any{"iss": "https://evil.example"}), invalidBecause("unknown issuer")},
		{"bad signature: no description", forge(token(t, "rsa1", nil)), invalidToken},
		{"unknown key id: no description", signRaw(t, "RS256", k.rsa, `{"alg":"RS256","kid":"nope","typ":"at+jwt"}`, claims(nil)), invalidToken},
		{"not a JWS: no description", token(t, "rsa1", nil) + ".", invalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, _ := serve(t, v, bearer(tc.tok))
			if w.Code != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", w.Code)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if l := leaks(tc.tok, w.Header(), w.Body.String()); len(l) > 0 {
				t.Errorf("the response carries %q from the token:\nheaders %v\nbody %s", l, w.Header(), w.Body)
			}
		})
	}
}

// forge flips the signature's first character.
func forge(tok string) string {
	i := strings.LastIndexByte(tok, '.') + 1
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

// leaks lists the parts of tok (a segment's ends, a claim or header value
// it decodes to) found in a response header or the body: what the client
// is told must be fixed text, never the token reflected.
func leaks(tok string, h http.Header, body string) []string {
	var found, needles []string
	for _, seg := range strings.Split(tok, ".") {
		if len(seg) >= 8 {
			needles = append(needles, seg[:8], seg[len(seg)-8:])
		}
		if dec, err := base64.RawURLEncoding.DecodeString(seg); err == nil {
			// Every string value of the JSON (between quotes) long enough to
			// be the token's rather than a common word.
			for _, part := range strings.Split(string(dec), `"`) {
				if len(part) >= 6 && !strings.ContainsAny(part, "{}:,") {
					needles = append(needles, part)
				}
			}
		}
	}
	var all strings.Builder
	for name, vals := range h {
		all.WriteString(name + ": " + strings.Join(vals, ", ") + "\n")
	}
	all.WriteString(body)
	for _, n := range needles {
		switch n {
		case "at+jwt", "RS256": // the challenge names the required typ; neither is the token's
			continue
		}
		if strings.Contains(all.String(), n) {
			found = append(found, n)
		}
	}
	return found
}

// TestLeaksFindsAReflectedToken: the check above can fail.
func TestLeaksFindsAReflectedToken(t *testing.T) {
	tok := token(t, "rsa1", map[string]any{"sub": "reflected-subject"})
	for _, tc := range []struct {
		name string
		h    http.Header
		body string
	}{
		{"a claim in a header", http.Header{"Www-Authenticate": {`Bearer error_description="reflected-subject"`}}, ""},
		{"a segment in the body", http.Header{}, `{"detail":"` + strings.Split(tok, ".")[1] + `"}`},
		{"the signature's end", http.Header{"X-Debug": {tok[len(tok)-8:]}}, ""},
	} {
		if l := leaks(tok, tc.h, tc.body); len(l) == 0 {
			t.Errorf("%s: leaks found nothing", tc.name)
		}
	}
}
