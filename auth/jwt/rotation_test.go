package jwt_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/jwt"
)

// TestAttackRandomKidFloodDelaysKeyRotation: tokens naming random kids
// keep arriving (anyone can make them) while the provider rotates to a new
// key. The refreshes an unknown kid may cause were one budget shared by
// the attacker and the genuine rotation, refilled every UnknownKeyRefresh
// (30 s): the attacker spent it, and the new key was refused for up to
// 30 s whatever the JWK Set's own Cache-Control said. A set older than its
// max-age (10 s here) is now refreshed for the next unknown kid whatever
// the budget, so the new key is accepted within 10 s of its publication,
// and the flood still costs only a bounded number of fetches.
func TestAttackRandomKidFloodDelaysKeyRotation(t *testing.T) {
	k := keys(t)
	const maxAge = 10 * time.Second
	withMaxAge := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d", int(maxAge/time.Second)))
			_, _ = w.Write(b)
		}
	}
	srv := newJWKSServer(t, withMaxAge(jwksJSON(t, jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey})))
	clk := newClock()
	v := newVerifier(t, jwt.Config{Issuers: []jwt.Issuer{remoteIssuer(srv.URL)}, Now: clk.Now, CacheSize: -1})
	ctx := context.Background()
	if _, err := v.Verify(ctx, token(t, "rsa1", nil)); err != nil {
		t.Fatalf("token under the first key: %v", err)
	}

	const step = 250 * time.Millisecond
	const rotateAt, horizon = 3 * time.Second, 40 * time.Second
	var acceptedAt time.Duration = -1
	rotated := false
	for elapsed := time.Duration(0); elapsed <= horizon; elapsed += step {
		if !rotated && elapsed >= rotateAt {
			srv.set(withMaxAge(jwksJSON(t,
				jwkEntry{kid: "rsa1", alg: "RS256", key: &k.rsa.PublicKey},
				jwkEntry{kid: "ec1", alg: "ES256", key: &k.ec.PublicKey})))
			rotated = true
		}
		random := signRaw(t, "RS256", k.evil, header("RS256", fmt.Sprintf("random-%d", elapsed)), claims(nil))
		if _, err := v.Verify(ctx, random); err == nil {
			t.Fatalf("a token with a random kid was accepted")
		}
		if rotated && acceptedAt < 0 {
			if _, err := v.Verify(ctx, token(t, "ec1", nil)); err == nil {
				acceptedAt = elapsed
			}
		}
		clk.Advance(step)
	}
	switch {
	case acceptedAt < 0:
		t.Fatalf("the new key was never accepted in %v", horizon)
	case acceptedAt-rotateAt > maxAge:
		t.Errorf("the new key was accepted %v after it was published, want within the JWK Set's max-age %v", acceptedAt-rotateAt, maxAge)
	}
	// The flood's cost: the first fetch, one refresh per max-age, one per
	// UnknownKeyRefresh, and the burst of one.
	if got, limit := srv.hits.Load(), int32(1+horizon/maxAge+horizon/jwt.DefaultUnknownKeyRefresh+1); got > limit {
		t.Errorf("the JWK Set was fetched %d times in %v of flood, want at most %d", got, horizon, limit)
	}
}
