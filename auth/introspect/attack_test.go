package introspect_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/introspect"
)

// Attack tests: each is named after the attack it stops.

// rawEndpoint answers every introspection request with body, counting the
// calls and remembering the last token it was sent.
func rawEndpoint(t *testing.T, body string) (*introspect.Introspector, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	in, err := introspect.New(introspect.Config{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "secret", Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	return in, &calls
}

// TestAttackCaseVariantMembersInIntrospectionResponse: an answer whose
// members are repeated, or repeated in another case, means two things at
// once. encoding/json reads "ACTIVE" as active and "SUB" (or "ſub", with
// U+017F LATIN SMALL LETTER LONG S) as sub, while a map keeps both: the
// Principal said admin where the claims said alice. Such an answer is
// refused as malformed, and nothing is accepted from it.
func TestAttackCaseVariantMembersInIntrospectionResponse(t *testing.T) {
	tests := []struct{ name, body string }{
		{"case-variant active and sub", `{"active":false,"ACTIVE":true,"sub":"alice","SUB":"admin"}`},
		{"duplicate active", `{"active":false,"active":true,"sub":"alice"}`},
		{"duplicate sub", `{"active":true,"sub":"alice","sub":"admin"}`},
		{"sub folded from long s", `{"active":true,"sub":"alice","\u017fub":"admin"}`},
		{"case-variant scope", `{"active":true,"sub":"alice","scope":"read","Scope":"admin"}`},
		{"nested duplicate", `{"active":true,"sub":"alice","ext":{"a":1,"a":2}}`},
		{"invalid UTF-8", "{\"active\":true,\"sub\":\"\xff\"}"},
		{"trailing data", `{"active":true,"sub":"alice"}{"sub":"admin"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := rawEndpoint(t, tc.body)
			p, err := in.Authenticate(bearerRequest("opaque-token"))
			if err == nil {
				t.Fatalf("Authenticate = %+v (subject %q, claims %v), want a refusal", p, p.Subject, p.Claims)
			}
			if !errors.Is(err, auth.ErrUnavailable) {
				t.Errorf("Authenticate = %v, want ErrUnavailable (the answer is malformed, not the token)", err)
			}
		})
	}
}

// TestAttackClaimNumberTypeConfusion: a handler that reads a numeric claim
// as the JWT verifier types it (float64) must read the same type from an
// introspected token; json.Number there made `n, ok := c["level"].(float64)`
// silently false, so a check written against one authenticator did not hold
// for the other.
func TestAttackClaimNumberTypeConfusion(t *testing.T) {
	in, _ := rawEndpoint(t, `{"active":true,"sub":"alice","level":3,"exp":`+strconv.FormatInt(t0.Unix()+60, 10)+`,"nested":{"n":1.5},"list":[2]}`)
	p, err := in.Authenticate(bearerRequest("opaque-token"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    any
	}{{"level", p.Claims["level"]}, {"exp", p.Claims["exp"]}, {"nested.n", p.Claims["nested"].(map[string]any)["n"]}, {"list[0]", p.Claims["list"].([]any)[0]}} {
		if _, ok := c.v.(float64); !ok {
			t.Errorf("Claims %s = %#v (%T), want a float64 as auth/jwt decodes numbers", c.name, c.v, c.v)
		}
	}
}

// TestAttackSizeLimitDifferentialWithJWT: the introspector refused tokens
// over 4 KiB, the JWT verifier accepts up to 8 KiB. A JWT-shaped token is
// the JWT verifier's to judge whatever its size; an opaque one is judged
// under the same 8 KiB default limit, and a longer one costs no call.
func TestAttackSizeLimitDifferentialWithJWT(t *testing.T) {
	var jwtCalls atomic.Int32
	jwtAuth := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Principal, error) {
		jwtCalls.Add(1)
		return &auth.Principal{Subject: "jwt-sub", Method: "jwt"}, nil
	})
	in, ep, _ := setup(t, func(c *introspect.Config) { c.JWT = jwtAuth })
	ep.answers[strings.Repeat("o", 6000)] = map[string]any{"active": true, "sub": "big", "aud": "https://api.example"}

	bigJWT := "eyJhbGciOiJFUzI1NiJ9." + strings.Repeat("A", 6000) + ".c2ln"
	if p, err := in.Authenticate(bearerRequest(bigJWT)); err != nil || p.Method != "jwt" {
		t.Errorf("6 KB JWT-shaped token = %v, %v; want it handed to the JWT verifier", p, err)
	}
	if p, err := in.Authenticate(bearerRequest(strings.Repeat("o", 6000))); err != nil || p.Subject != "big" {
		t.Errorf("6 KB opaque token = %v, %v; want it introspected under the 8 KiB default", p, err)
	}
	before := ep.calls.Load()
	if _, err := in.Authenticate(bearerRequest(strings.Repeat("o", 8<<10+1))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("token over 8 KiB = %v, want ErrInvalidToken", err)
	}
	if ep.calls.Load() != before {
		t.Error("a token over the limit was sent to the endpoint")
	}
}

// TestAttackIntrospectionRedirectWithCustomClient: a redirect from the
// introspection endpoint (a 307 keeps the POST body) would resend the
// token and this resource server's client credentials to wherever it
// points. The default client never follows one; a caller's own HTTPClient
// (for a private CA, a proxy) used to follow it silently.
func TestAttackIntrospectionRedirectWithCustomClient(t *testing.T) {
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		_, _ = w.Write([]byte(`{"active":true,"sub":"admin"}`))
	}))
	t.Cleanup(thief.Close)
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, thief.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(ep.Close)
	for _, client := range []*http.Client{nil, {}, ep.Client()} {
		in, err := introspect.New(introspect.Config{Endpoint: ep.URL, ClientID: "rs", ClientSecret: "secret", HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := in.Authenticate(bearerRequest("opaque-token")); !errors.Is(err, auth.ErrUnavailable) {
			t.Errorf("client %p: Authenticate = %v, %v; want ErrUnavailable", client, p, err)
		}
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the redirect target received %d introspection requests, want 0", n)
	}
}
