package jwt_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

const logoutClient = "gateway-client"

func logoutClaims(over map[string]any) string {
	c := map[string]any{
		"iss":    testIssuer,
		"aud":    logoutClient,
		"iat":    t0.Add(-10 * time.Second).Unix(),
		"jti":    "logout-1",
		"sub":    "user-1",
		"sid":    "session-1",
		"events": map[string]any{jwt.LogoutEvent: map[string]any{}},
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return string(b)
}

func logoutToken(t testing.TB, typ string, over map[string]any) string {
	h := `{"alg":"ES256","kid":"ec1"}`
	if typ != "" {
		h = `{"alg":"ES256","kid":"ec1","typ":"` + typ + `"}`
	}
	return signRaw(t, "ES256", keys(t).ec, h, logoutClaims(over))
}

func logoutVerifier(t *testing.T) *jwt.Verifier {
	iss := staticIssuer(t)
	iss.LogoutAudiences = []string{logoutClient}
	return newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{iss}})
}

func TestVerifyLogoutToken(t *testing.T) {
	v := logoutVerifier(t)
	for _, typ := range []string{"logout+jwt", "", "JWT"} {
		lt, err := v.VerifyLogoutToken(t.Context(), logoutToken(t, typ, nil))
		if err != nil {
			t.Fatalf("typ %q: %v", typ, err)
		}
		if lt.Issuer != testIssuer || lt.Subject != "user-1" || lt.SessionID != "session-1" || lt.JTI != "logout-1" || !lt.IssuedAt.Equal(t0.Add(-10*time.Second)) {
			t.Errorf("LogoutToken = %+v", lt)
		}
	}
	lt, err := v.VerifyLogoutToken(t.Context(), logoutToken(t, "logout+jwt", map[string]any{"sub": nil}))
	if err != nil || lt.SessionID != "session-1" || lt.Subject != "" {
		t.Errorf("sid alone: %+v, %v", lt, err)
	}
}

// TestAttackForgedLogoutToken: a logout ends sessions, so whatever is not
// a logout token its provider signed for this client is refused: an access
// token, an ID token, one for another client or issuer, an old one, a
// forged one.
func TestAttackForgedLogoutToken(t *testing.T) {
	k := keys(t)
	for _, tc := range []struct {
		name   string
		tok    func(t *testing.T) string
		reason string
	}{
		{"an access token", func(t *testing.T) string { return token(t, "ec1", nil) }, "typ is not logout+jwt"},
		{"an access token without typ", func(t *testing.T) string {
			return signRaw(t, "ES256", k.ec, `{"alg":"ES256","kid":"ec1"}`, claims(map[string]any{"aud": logoutClient}))
		}, "logout token without events"},
		{"an ID token (nonce)", func(t *testing.T) string { return logoutToken(t, "", map[string]any{"nonce": "n"}) }, "logout token carries a nonce"},
		{"no events", func(t *testing.T) string { return logoutToken(t, "logout+jwt", map[string]any{"events": nil}) }, "logout token without events"},
		{"another event", func(t *testing.T) string {
			return logoutToken(t, "logout+jwt", map[string]any{"events": map[string]any{"urn:other": map[string]any{}}})
		}, "logout token without the back-channel logout event"},
		{"event that is not an object", func(t *testing.T) string {
			return logoutToken(t, "logout+jwt", map[string]any{"events": map[string]any{jwt.LogoutEvent: "yes"}})
		}, "logout token without the back-channel logout event"},
		{"for another client", func(t *testing.T) string { return logoutToken(t, "logout+jwt", map[string]any{"aud": "other-client"}) }, "logout token for another client"},
		{"from another issuer", func(t *testing.T) string {
			return logoutToken(t, "logout+jwt", map[string]any{"iss": "https://evil.example"})
		}, "unknown issuer"},
		{"too old", func(t *testing.T) string {
			return logoutToken(t, "logout+jwt", map[string]any{"iat": t0.Add(-time.Hour).Unix()})
		}, "logout token too old"},
		{"from the future", func(t *testing.T) string {
			return logoutToken(t, "logout+jwt", map[string]any{"iat": t0.Add(time.Hour).Unix()})
		}, "logout token issued in the future"},
		{"expired", func(t *testing.T) string {
			return logoutToken(t, "logout+jwt", map[string]any{"exp": t0.Add(-2 * time.Minute).Unix()})
		}, "logout token expired"},
		{"neither sub nor sid", func(t *testing.T) string { return logoutToken(t, "logout+jwt", map[string]any{"sub": nil, "sid": nil}) }, "logout token names neither sub nor sid"},
		{"no jti", func(t *testing.T) string { return logoutToken(t, "logout+jwt", map[string]any{"jti": nil}) }, "logout token without jti"},
		{"signed by the attacker", func(t *testing.T) string {
			return signRaw(t, "ES256", k.evilEC, `{"alg":"ES256","kid":"ec1","typ":"logout+jwt"}`, logoutClaims(nil))
		}, "bad signature"},
		{"alg none", func(t *testing.T) string {
			return b64(`{"alg":"none","typ":"logout+jwt"}`) + "." + b64(logoutClaims(nil)) + "."
		}, "missing signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := logoutVerifier(t).VerifyLogoutToken(t.Context(), tc.tok(t))
			checkReason(t, err, tc.reason)
		})
	}
	// An issuer that names no logout audiences accepts no logout token.
	v := newVerifier(t, jwt.Config{})
	if _, err := v.VerifyLogoutToken(t.Context(), logoutToken(t, "logout+jwt", nil)); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("logout token for an issuer without LogoutAudiences = %v, want refused", err)
	}
}
