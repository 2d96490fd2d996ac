package bind

import (
	cryptotls "crypto/tls"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
)

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// FuzzParseProof: the proof parser never panics on any header value, and
// whatever it accepts has the fields every later check relies on.
func FuzzParseProof(f *testing.F) {
	hdr := `{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}`
	f.Add(enc(hdr) + "." + enc(`{"jti":"a","htm":"GET","htu":"https://a/b","iat":1}`) + ".AAAA")
	f.Add(enc(`{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`) + "." + enc(`{}`) + ".AA")
	f.Add(enc(`{"typ":"dpop+jwt","alg":"RS256","jwk":{"kty":"RSA","n":"AAAA","e":"AQAB"}}`) + "." + enc(`{}`) + ".AA")
	f.Add(enc(`{"typ":"dpop+jwt","alg":"none"}`) + "." + enc(`{}`) + ".")
	f.Add("a.b.c")
	f.Add(strings.Repeat(".", 10))
	algs := map[string]bool{"ES256": true, "EdDSA": true, "RS256": true}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseProof(s, algs)
		if err != nil {
			return
		}
		if p.key.key == nil || len(p.key.jkt) != 43 || len(p.jti) == 0 || !algs[p.alg] || len(s) > MaxProofSize {
			t.Fatalf("parseProof(%q) accepted an incomplete proof: %+v", s, p)
		}
	})
}

// FuzzParseConfirmation: any cnf value either parses into thumbprints of
// the right shape or is refused.
func FuzzParseConfirmation(f *testing.F) {
	f.Add("jkt", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
	f.Add("x5t#S256", "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2")
	f.Add("jwk", "x")
	f.Fuzz(func(t *testing.T, name, value string) {
		c, err := ParseConfirmation(map[string]any{"cnf": map[string]any{name: value}})
		if err != nil {
			return
		}
		if (c.JKT != "" && !isSHA256B64(c.JKT)) || (c.X5T != "" && !isSHA256B64(c.X5T)) || !c.Bound() {
			t.Fatalf("ParseConfirmation(%q: %q) = %+v", name, value, c)
		}
	})
}

// FuzzHTUMatches: the fast comparison of a proof's htu with the request
// (htu byte for byte the request's origin and path) decides exactly as
// parsing both as URLs does, for any htu, host and path.
func FuzzHTUMatches(f *testing.F) {
	f.Add("https://api.example/orders", "api.example", "/orders", true)
	f.Add("https://api.example/orders/../admin", "api.example", "/orders/../admin", true)
	f.Add("http://API.example:8080/a", "API.example:8080", "/a", false)
	f.Add("https://api.example:443/x", "api.example:443", "/x", true)
	f.Add("https://api.example/a%2Fb", "api.example", "/a%2Fb", true)
	f.Add("https://a@b/c", "a@b", "/c", true)
	f.Add("https://h:/p", "h:", "/p", true)
	c, err := New(auth.DPoPOptions{}, auth.MTLSOptions{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, htu, host, path string, tls bool) {
		u, err := url.Parse("http://x" + path)
		if err != nil || u.Host != "x" {
			return // not a path a request could carry
		}
		r := &http.Request{Method: "GET", Host: host, URL: &url.URL{Path: u.Path, RawPath: u.RawPath}}
		if tls {
			r.TLS = &cryptotls.ConnectionState{}
		}
		got := c.htuMatches([]byte(htu), r)
		want := c.htuMatchesParsed(htu, r, r.URL.EscapedPath())
		if got != want {
			t.Fatalf("htuMatches(%q) on %q %q = %v, parsing both says %v", htu, host, path, got, want)
		}
	})
}
