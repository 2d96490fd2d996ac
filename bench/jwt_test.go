package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jwtmw "github.com/auth0/go-jwt-middleware/v2"
	auth0 "github.com/auth0/go-jwt-middleware/v2/validator"
	gojwt "github.com/golang-jwt/jwt/v5"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// The same access token for every library: RFC 9068 header (typ at+jwt,
// kid), issuer, audience, subject, exp/iat, a scope; signed with each of
// four algorithms. Every verifier checks signature, iss, aud and exp.
const (
	jwtIssuer   = "https://idp.example.com/"
	jwtAudience = "https://api.example.com"
)

type jwtFixture struct {
	alg    string
	tok    string
	pub    any // the verification key
	gojwt  gojwt.SigningMethod
	auth0  auth0.SignatureAlgorithm
	floor  func() bool // raw standard-library verification of tok
	signed []byte      // header.payload
	sig    []byte
}

var (
	jwtOnce     sync.Once
	jwtFixtures []*jwtFixture
)

func jwtSetup(b *testing.B) []*jwtFixture {
	b.Helper()
	jwtOnce.Do(func() {
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		_, edKey, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		secret := []byte("0123456789abcdef0123456789abcdef")
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{
			"iss": jwtIssuer, "aud": jwtAudience, "sub": "user-1234567890",
			"client_id": "client-1", "jti": "b3f1c2d4-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "scope": "orders:read orders:write",
		})
		enc := base64.RawURLEncoding
		mk := func(alg string, sign func([]byte) []byte) (string, []byte, []byte) {
			hdr := `{"alg":"` + alg + `","kid":"k1","typ":"at+jwt"}`
			in := enc.EncodeToString([]byte(hdr)) + "." + enc.EncodeToString(claims)
			sig := sign([]byte(in))
			return in + "." + enc.EncodeToString(sig), []byte(in), sig
		}
		add := func(f *jwtFixture, sign func([]byte) []byte) {
			f.tok, f.signed, f.sig = mk(f.alg, sign)
			jwtFixtures = append(jwtFixtures, f)
		}
		// RS256
		f := &jwtFixture{alg: "RS256", pub: &rsaKey.PublicKey, gojwt: gojwt.SigningMethodRS256, auth0: auth0.RS256}
		f.floor = func() bool {
			h := sha256.Sum256(f.signed)
			return rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, h[:], f.sig) == nil
		}
		add(f, func(in []byte) []byte {
			h := sha256.Sum256(in)
			s, _ := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, h[:])
			return s
		})
		// ES256
		e := &jwtFixture{alg: "ES256", pub: &ecKey.PublicKey, gojwt: gojwt.SigningMethodES256, auth0: auth0.ES256}
		e.floor = func() bool {
			h := sha256.Sum256(e.signed)
			r, s := new(big.Int).SetBytes(e.sig[:32]), new(big.Int).SetBytes(e.sig[32:])
			return ecdsa.Verify(&ecKey.PublicKey, h[:], r, s)
		}
		add(e, func(in []byte) []byte {
			h := sha256.Sum256(in)
			r, s, _ := ecdsa.Sign(rand.Reader, ecKey, h[:])
			out := make([]byte, 64)
			r.FillBytes(out[:32])
			s.FillBytes(out[32:])
			return out
		})
		// EdDSA
		d := &jwtFixture{alg: "EdDSA", pub: edKey.Public(), gojwt: gojwt.SigningMethodEdDSA, auth0: auth0.EdDSA}
		d.floor = func() bool { return ed25519.Verify(edKey.Public().(ed25519.PublicKey), d.signed, d.sig) }
		add(d, func(in []byte) []byte { return ed25519.Sign(edKey, in) })
		// HS256
		hs := &jwtFixture{alg: "HS256", pub: secret, gojwt: gojwt.SigningMethodHS256, auth0: auth0.HS256}
		hs.floor = func() bool {
			m := hmac.New(sha256.New, secret)
			m.Write(hs.signed)
			return hmac.Equal(m.Sum(nil), hs.sig)
		}
		add(hs, func(in []byte) []byte {
			m := hmac.New(sha256.New, secret)
			m.Write(in)
			return m.Sum(nil)
		})
	})
	return jwtFixtures
}

func bulwarkVerifier(b *testing.B, f *jwtFixture, cacheSize int) *jwt.Verifier {
	b.Helper()
	v, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: jwtIssuer, Audiences: []string{jwtAudience}, Algorithms: []string{f.alg},
			Keys: []jwt.Key{{ID: "k1", Algorithm: f.alg, Key: f.pub}},
		}},
		CacheSize: cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = v.Close() })
	return v
}

func auth0Validator(b *testing.B, f *jwtFixture) *auth0.Validator {
	b.Helper()
	v, err := auth0.New(func(context.Context) (any, error) { return f.pub, nil }, f.auth0, jwtIssuer, []string{jwtAudience})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkJWTVerify is token verification alone: the standard library's
// signature check (the floor), golang-jwt/v5, auth0's validator, and
// bulwark cold (cache off) and cached.
func BenchmarkJWTVerify(b *testing.B) {
	ctx := context.Background()
	for _, f := range jwtSetup(b) {
		b.Run("alg="+f.alg+"/impl=crypto", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sig, _ := base64.RawURLEncoding.DecodeString(f.tok[strings.LastIndexByte(f.tok, '.')+1:])
				_ = sig
				if !f.floor() {
					b.Fatal("floor verification failed")
				}
			}
		})
		b.Run("alg="+f.alg+"/impl=golang-jwt", func(b *testing.B) {
			p := gojwt.NewParser(gojwt.WithValidMethods([]string{f.alg}), gojwt.WithIssuer(jwtIssuer),
				gojwt.WithAudience(jwtAudience), gojwt.WithExpirationRequired(), gojwt.WithLeeway(time.Minute))
			kf := func(*gojwt.Token) (any, error) { return f.pub, nil }
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(f.tok, kf); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+f.alg+"/impl=auth0", func(b *testing.B) {
			v := auth0Validator(b, f)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.ValidateToken(ctx, f.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+f.alg+"/impl=bulwark-cold", func(b *testing.B) {
			v := bulwarkVerifier(b, f, -1)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, f.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("alg="+f.alg+"/impl=bulwark-cached", func(b *testing.B) {
			v := bulwarkVerifier(b, f, 0)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, f.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJWTMiddleware is the whole request through each middleware
// over the bare JSON handler: auth0's CheckJWT, and bulwark's auth.Handler
// with the jwt verifier, cold and cached.
func BenchmarkJWTMiddleware(b *testing.B) {
	for _, f := range jwtSetup(b) {
		r := newRequest()
		r.Header.Set("Authorization", "Bearer "+f.tok)
		b.Run("alg="+f.alg+"/impl=auth0", func(b *testing.B) {
			mw := jwtmw.New(auth0Validator(b, f).ValidateToken)
			serve(b, mw.CheckJWT(jsonHandler), r)
		})
		for _, c := range []struct {
			name string
			size int
		}{{"bulwark-cold", -1}, {"bulwark-cached", 0}} {
			b.Run("alg="+f.alg+"/impl="+c.name, func(b *testing.B) {
				a, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{bulwarkVerifier(b, f, c.size)}})
				if err != nil {
					b.Fatal(err)
				}
				serve(b, a.Handler(jsonHandler), r)
			})
		}
	}
}

var _ http.Handler = jsonHandler

// BenchmarkJWTPaired runs, per algorithm, the standard library's signature
// check (the floor), golang-jwt/v5, auth0's validator and bulwark cold and
// cached in alternating batches, and compares lower-quartile batch times,
// so that load from other processes on a shared machine hits all alike.
// Metrics: ns per verification of each, and cold-ratio = bulwark cold /
// floor (target ≤ 1.25 for RS256, ES256, EdDSA).
func BenchmarkJWTPaired(b *testing.B) {
	ctx := context.Background()
	for _, f := range jwtSetup(b) {
		b.Run("alg="+f.alg, func(b *testing.B) {
			gp := gojwt.NewParser(gojwt.WithValidMethods([]string{f.alg}), gojwt.WithIssuer(jwtIssuer),
				gojwt.WithAudience(jwtAudience), gojwt.WithExpirationRequired(), gojwt.WithLeeway(time.Minute))
			kf := func(*gojwt.Token) (any, error) { return f.pub, nil }
			a0 := auth0Validator(b, f)
			cold := bulwarkVerifier(b, f, -1)
			cached := bulwarkVerifier(b, f, 0)
			batch := 2
			if f.alg == "HS256" {
				batch = 64
			}
			ops := []func(){
				func() {
					if !f.floor() {
						b.Fatal("floor verification failed")
					}
				},
				func() {
					if _, err := gp.Parse(f.tok, kf); err != nil {
						b.Fatal(err)
					}
				},
				func() {
					if _, err := a0.ValidateToken(ctx, f.tok); err != nil {
						b.Fatal(err)
					}
				},
				func() {
					if _, err := cold.Verify(ctx, f.tok); err != nil {
						b.Fatal(err)
					}
				},
			}
			times := make([][]time.Duration, len(ops)+1)
			b.ReportAllocs()
			for b.Loop() {
				for i, op := range ops {
					start := time.Now()
					for range batch {
						op()
					}
					times[i] = append(times[i], time.Since(start)/time.Duration(batch))
				}
				start := time.Now()
				for range 256 {
					if _, err := cached.Verify(ctx, f.tok); err != nil {
						b.Fatal(err)
					}
				}
				times[len(ops)] = append(times[len(ops)], time.Since(start)/256)
			}
			q := make([]float64, len(times))
			for i, ts := range times {
				slices.Sort(ts)
				q[i] = float64(ts[len(ts)/4])
			}
			b.ReportMetric(q[0], "floor-ns/op")
			b.ReportMetric(q[1], "golangjwt-ns/op")
			b.ReportMetric(q[2], "auth0-ns/op")
			b.ReportMetric(q[3], "cold-ns/op")
			b.ReportMetric(q[4], "cached-ns/op")
			b.ReportMetric(q[3]/q[0], "cold-ratio")
			b.ReportMetric(q[1]/q[0], "golangjwt-ratio")
		})
	}
}
