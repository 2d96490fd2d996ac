package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
)

func TestParseBindingPolicy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want auth.BindingPolicy
		ok   bool
	}{{"", auth.BindingNone, true}, {"none", auth.BindingNone, true}, {"dpop", auth.BindingDPoP, true},
		{"mtls", auth.BindingMTLS, true}, {"any", auth.BindingAny, true}, {"DPoP", 0, false}, {"bearer", 0, false}} {
		got, err := auth.ParseBindingPolicy(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseBindingPolicy(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != map[string]string{"": "none"}[tc.in]+tc.in && tc.in != "" {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestBindingPolicyAllows(t *testing.T) {
	for _, tc := range []struct {
		pol     auth.BindingPolicy
		binding string
		want    bool
	}{
		{auth.BindingNone, "", true}, {auth.BindingDPoP, "", false}, {auth.BindingDPoP, "dpop", true},
		{auth.BindingDPoP, "mtls", false}, {auth.BindingMTLS, "dpop mtls", true}, {auth.BindingAny, "", false},
		{auth.BindingAny, "mtls", true}, {auth.BindingDPoP, "dpopx", false},
	} {
		if got := tc.pol.Allows(tc.binding); got != tc.want {
			t.Errorf("%v.Allows(%q) = %v, want %v", tc.pol, tc.binding, got, tc.want)
		}
	}
}

// TestAttackBearerTokenOnBoundRoute: a route that requires a
// sender-constrained token refuses a principal that came with a bearer
// credential, whatever its issuer accepts, and says how to do better.
func TestAttackBearerTokenOnBoundRoute(t *testing.T) {
	var binding string
	a, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) {
		return &auth.Principal{Subject: "s", Binding: binding}, nil
	})}})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	for _, tc := range []struct {
		pol       auth.BindingPolicy
		binding   string
		status    int
		challenge string
	}{
		{auth.BindingDPoP, "", 401, `DPoP error="invalid_token"`},
		{auth.BindingDPoP, "dpop", 200, ""},
		{auth.BindingMTLS, "dpop", 401, `Bearer error="invalid_token"`},
		{auth.BindingMTLS, "mtls", 200, ""},
		{auth.BindingAny, "", 401, `DPoP error="invalid_token"`},
		{auth.BindingNone, "", 200, ""},
	} {
		binding = tc.binding
		w := httptest.NewRecorder()
		a.Handler(a.RequireBinding(tc.pol)(ok)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
		if w.Code != tc.status || w.Header().Get("WWW-Authenticate") != tc.challenge {
			t.Errorf("route %v, binding %q: %d %q; want %d %q", tc.pol, tc.binding, w.Code, w.Header().Get("WWW-Authenticate"), tc.status, tc.challenge)
		}
	}
	// Without Handler in front, nothing is let through.
	w := httptest.NewRecorder()
	a.RequireBinding(auth.BindingDPoP)(ok).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 401 {
		t.Errorf("RequireBinding without Handler: %d, want 401", w.Code)
	}
}

func TestAuthorizationToken(t *testing.T) {
	for _, tc := range []struct {
		header      []string
		scheme, tok string
		err         error
	}{
		{nil, "", "", auth.ErrNoCredentials},
		{[]string{"Bearer abc"}, "Bearer", "abc", nil},
		{[]string{"dpop abc"}, "DPoP", "abc", nil},
		{[]string{"Basic abc"}, "", "", auth.ErrNoCredentials},
		{[]string{"DPoP "}, "", "", auth.ErrInvalidRequest},
		{[]string{"DPoP a", "Bearer b"}, "", "", auth.ErrInvalidRequest},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = tc.header
		scheme, tok, err := auth.AuthorizationToken(r)
		if scheme != tc.scheme || tok != tc.tok || (tc.err == nil) != (err == nil) || (tc.err != nil && !errorsIs(err, tc.err)) {
			t.Errorf("AuthorizationToken(%q) = %q, %q, %v; want %q, %q, %v", tc.header, scheme, tok, err, tc.scheme, tc.tok, tc.err)
		}
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
