package denylist_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

func sign(key []byte, header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, _ := jwsbb.Sign(key, "HS256", []byte(in), rand.Reader)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Example: an OpenID provider's back-channel logout ends session s-1; the
// session's access token, still unexpired, is refused from then on.
func Example() {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	secret := []byte("0123456789abcdef0123456789abcdef")
	list, _ := denylist.New(denylist.Config{Store: denylist.NewMemoryStore(clock), Now: clock})
	defer list.Close()
	_ = list.Sync(context.Background())
	v, _ := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: "https://idp.example", Audiences: []string{"https://api.example"}, Algorithms: []string{"HS256"},
			Keys:            []jwt.Key{{Algorithm: "HS256", Key: secret}},
			LogoutAudiences: []string{"gateway"}, // the client id the provider sends logout tokens to
		}},
		Revoked: list.Revoked,
		Now:     clock,
	})
	defer v.Close()

	access := sign(secret, map[string]any{"alg": "HS256", "typ": "at+jwt"}, map[string]any{
		"iss": "https://idp.example", "aud": "https://api.example", "sub": "alice", "sid": "s-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	call := func() {
		r := httptest.NewRequest("GET", "https://api.example/orders", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		_, err := v.Authenticate(r)
		fmt.Println("access token accepted:", err == nil)
	}
	call()

	// POST /backchannel-logout, logout_token=…
	logout := sign(secret, map[string]any{"alg": "HS256", "typ": "logout+jwt"}, map[string]any{
		"iss": "https://idp.example", "aud": "gateway", "iat": now.Unix(), "jti": "l-1", "sid": "s-1",
		"events": map[string]any{jwt.LogoutEvent: map[string]any{}}})
	lt, err := v.VerifyLogoutToken(context.Background(), logout)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = list.Add(context.Background(), denylist.Entry{Kind: denylist.Session, Issuer: lt.Issuer, Value: lt.SessionID, At: lt.IssuedAt})
	call()
	// Output:
	// access token accepted: true
	// access token accepted: false
}
