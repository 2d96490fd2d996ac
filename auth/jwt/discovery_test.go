package jwt_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// keyServer is a real loopback server (TLS or not) serving a JWK Set,
// counting requests: the attacker's, where every hit is a failure.
func keyServer(t *testing.T, tls bool, jwks []byte) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := startServer(t, tls, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	return srv, &hits
}

// startServer starts h on loopback, over TLS (the test CA, which every
// httptest TLS server's Client trusts) or not, until t ends.
func startServer(t *testing.T, tls bool, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// refusesAttackerKeys checks that a token signed with the attacker's key,
// for issuer iss, is refused, and that the attacker's key server was never
// asked; it returns the refusal.
func refusesAttackerKeys(t *testing.T, v *jwt.Verifier, iss string, hits *atomic.Int32) error {
	t.Helper()
	forged := signRaw(t, "RS256", keys(t).evil, header("RS256", "rsa1"), claims(map[string]any{"iss": iss}))
	p, err := v.Verify(context.Background(), forged)
	if err == nil {
		t.Fatalf("a token signed with the attacker's key was accepted: %+v", p)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the attacker's key server was asked %d times, want 0", n)
	}
	return err
}

// TestAttackDiscoveryPointsKeysElsewhere: an https issuer's discovery
// document names where its keys are. Pointed at a cleartext loopback URL
// it made every instance fetch keys from its own loopback interface (a
// blind SSRF, and keys over cleartext); pointed at another host it handed
// the choice of keys to whoever controls that document. jwks_uri must be
// https when the issuer is, and on the issuer's host.
func TestAttackDiscoveryPointsKeysElsewhere(t *testing.T) {
	k := keys(t)
	evil := jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.evil.PublicKey})
	plain, plainHits := keyServer(t, false, evil)
	otherTLS, otherHits := keyServer(t, true, evil)
	tests := []struct {
		name    string
		jwksURI func(self string) string
		hits    *atomic.Int32
	}{
		{"cleartext loopback", func(string) string { return plain.URL + "/keys" }, plainHits},
		{"another host over https", func(string) string { return otherTLS.URL + "/keys" }, otherHits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var idp *httptest.Server
			idp = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, idp.URL, tc.jwksURI(idp.URL))
			}))
			t.Cleanup(idp.Close)
			is := jwt.Issuer{Issuer: idp.URL, Audiences: []string{testAudience}, Algorithms: []string{"RS256"}, Discovery: true}
			v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{is}, HTTPClient: idp.Client()})
			if err := refusesAttackerKeys(t, v, idp.URL, tc.hits); !errors.Is(err, auth.ErrUnavailable) {
				t.Errorf("Verify = %v, want ErrUnavailable (no acceptable key source)", err)
			}
		})
	}
}

// TestAttackJWKSRedirectElsewhere: a key URL that redirects is followed
// only to where keys may come from: no step down from https to http, no
// other host (nor port) than the issuer's or the configured key URL's. A
// caller's own HTTPClient (to trust a private CA, say) used to lose this
// check silently and follow any redirect.
func TestAttackJWKSRedirectElsewhere(t *testing.T) {
	k := keys(t)
	evil := jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.evil.PublicKey})
	plain, plainHits := keyServer(t, false, evil)
	otherTLS, otherHits := keyServer(t, true, evil)
	redirector := func(tls bool, to string) *httptest.Server {
		return startServer(t, tls, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) })
	}
	tests := []struct {
		name   string
		from   *httptest.Server
		custom bool // the caller's own client
		hits   *atomic.Int32
	}{
		{"default client, to another loopback port", redirector(false, plain.URL+"/keys"), false, plainHits},
		{"custom client, https to cleartext loopback", redirector(true, plain.URL+"/keys"), true, plainHits},
		{"custom client, to another host over https", redirector(true, otherTLS.URL+"/keys"), true, otherHits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plainHits.Store(0)
			otherHits.Store(0)
			cfg := jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(tc.from.URL + "/jwks")}}
			if tc.custom {
				cfg.HTTPClient = tc.from.Client() // trusts the test CA; follows any redirect on its own
			}
			refusesAttackerKeys(t, newVerifier(t, cfg), testIssuer, tc.hits)
		})
	}
}

// TestAllowedJWKSHosts: a provider whose keys live on another host (Google:
// accounts.google.com and www.googleapis.com) is configured by naming that
// host; redirects within the allowed hosts are followed, and a caller's own
// CheckRedirect is still asked after the verifier's rule.
func TestAllowedJWKSHosts(t *testing.T) {
	k := keys(t)
	good := jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})
	keysTLS, _ := keyServer(t, true, good)
	keysHost := keysTLS.Listener.Addr().String()
	var idp *httptest.Server
	idp = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, idp.URL, idp.URL+"/moved")
		case "/moved":
			http.Redirect(w, r, keysTLS.URL+"/keys", http.StatusFound)
		}
	}))
	t.Cleanup(idp.Close)
	tests := []struct {
		name    string
		allowed []string
		check   func(*http.Request, []*http.Request) error
		ok      bool
	}{
		{"other host not listed", nil, nil, false},
		{"other host listed", []string{keysHost}, nil, true},
		{"other host listed without its port, which means 443", []string{"127.0.0.1"}, nil, false},
		{"listed, but the caller's CheckRedirect refuses", []string{keysHost}, func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := idp.Client()
			client.CheckRedirect = tc.check
			is := jwt.Issuer{Issuer: idp.URL, Audiences: []string{testAudience}, Algorithms: []string{"RS256"}, Discovery: true, AllowedJWKSHosts: tc.allowed}
			v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{is}, HTTPClient: client})
			_, err := v.Verify(context.Background(), token(t, "rsa1", map[string]any{"iss": idp.URL}))
			if (err == nil) != tc.ok {
				t.Fatalf("Verify = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
