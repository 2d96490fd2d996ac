package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
)

// A DPoP-bound request (RFC 9449): an access token bound by cnf.jkt to
// the client's key, and a fresh proof signed with that key, checked by
// the jwt verifier (token signature and claims, proof signature, htm,
// htu, iat, ath, jkt, and the jti in the memory replay store). The floor
// is the standard library's two signature checks over the same inputs.

type dpopFixture struct {
	name   string
	tok    string
	pub    any
	alg    string
	floorT func() bool // the token's signature
	sign   func(in []byte) []byte
	verify func(in, sig []byte) bool // the proof key's
	jwk    map[string]any
	proofA string // proof alg
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func es256Sign(k *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		r, s, _ := ecdsa.Sign(rand.Reader, k, h[:])
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func es256Verify(k *ecdsa.PublicKey) func(in, sig []byte) bool {
	return func(in, sig []byte) bool {
		h := sha256.Sum256(in)
		return ecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
}

func dpopSetup(b *testing.B) []*dpopFixture {
	b.Helper()
	var out []*dpopFixture
	for _, alg := range []string{"ES256", "EdDSA"} {
		f := &dpopFixture{name: "token=" + alg + ",proof=" + alg, alg: alg, proofA: alg}
		var signT func([]byte) []byte
		var verifyT func(in, sig []byte) bool
		var thumb string
		switch alg {
		case "ES256":
			tk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			f.pub, signT, verifyT = &tk.PublicKey, es256Sign(tk), es256Verify(&tk.PublicKey)
			f.sign, f.verify = es256Sign(pk), es256Verify(&pk.PublicKey)
			pt, _ := pk.PublicKey.Bytes()
			x, y := b64(pt[1:33]), b64(pt[33:])
			f.jwk = map[string]any{"kty": "EC", "crv": "P-256", "x": x, "y": y}
			thumb = `{"crv":"P-256","kty":"EC","x":"` + x + `","y":"` + y + `"}`
		case "EdDSA":
			tpub, tpriv, _ := ed25519.GenerateKey(rand.Reader)
			ppub, ppriv, _ := ed25519.GenerateKey(rand.Reader)
			f.pub = tpub
			signT = func(in []byte) []byte { return ed25519.Sign(tpriv, in) }
			verifyT = func(in, sig []byte) bool { return ed25519.Verify(tpub, in, sig) }
			f.sign = func(in []byte) []byte { return ed25519.Sign(ppriv, in) }
			f.verify = func(in, sig []byte) bool { return ed25519.Verify(ppub, in, sig) }
			f.jwk = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(ppub)}
			thumb = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(ppub) + `"}`
		}
		sum := sha256.Sum256([]byte(thumb))
		now := time.Now()
		claims, _ := json.Marshal(map[string]any{
			"iss": jwtIssuer, "aud": jwtAudience, "sub": "user-1234567890", "client_id": "client-1",
			"jti": "b3f1c2d4-5e6f-7a8b-9c0d-1e2f3a4b5c6d", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"scope": "orders:read", "cnf": map[string]any{"jkt": b64(sum[:])},
		})
		in := b64([]byte(`{"alg":"`+alg+`","kid":"k1","typ":"at+jwt"}`)) + "." + b64(claims)
		sig := signT([]byte(in))
		f.tok = in + "." + b64(sig)
		f.floorT = func() bool { return verifyT([]byte(in), sig) }
		out = append(out, f)
	}
	return out
}

var proofN atomic.Int64

// proof is a fresh proof for GET https://api.example.com/orders; in and
// sig are its signing input and signature, for the floor.
func (f *dpopFixture) proof() (p string, in, sig []byte) {
	ath := sha256.Sum256([]byte(f.tok))
	hb, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": f.proofA, "jwk": f.jwk})
	cb, _ := json.Marshal(map[string]any{"jti": "p-" + strconv.FormatInt(proofN.Add(1), 10), "htm": "GET",
		"htu": "https://api.example.com/orders", "iat": time.Now().Unix(), "ath": b64(ath[:])})
	in = []byte(b64(hb) + "." + b64(cb))
	sig = f.sign(in)
	return string(in) + "." + b64(sig), in, sig
}

func dpopVerifier(b *testing.B, f *dpopFixture, cacheSize int) *jwt.Verifier {
	b.Helper()
	v, err := jwt.New(jwt.Config{
		Issuers: []jwt.Issuer{{
			Issuer: jwtIssuer, Audiences: []string{jwtAudience}, Algorithms: []string{f.alg},
			Keys: []jwt.Key{{ID: "k1", Algorithm: f.alg, Key: f.pub}}, Binding: auth.BindingDPoP,
		}},
		CacheSize: cacheSize,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = v.Close() })
	return v
}

func dpopReq(tok, proof string) *http.Request {
	r := httptest.NewRequest("GET", "https://api.example.com/orders", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	return r
}

// BenchmarkDPoPPaired runs, in alternating batches, the floor (the two
// signature checks), bulwark with its token cache off (every request
// verifies token and proof) and with it on (the usual case: the same
// token, a new proof each time), and reports lower-quartile times.
// cold-ratio = cold / floor; the target is ≤ 1.25.
func BenchmarkDPoPPaired(b *testing.B) {
	for _, f := range dpopSetup(b) {
		b.Run(f.name, func(b *testing.B) {
			cold, cached := dpopVerifier(b, f, -1), dpopVerifier(b, f, 0)
			var floor, tc, tw []time.Duration
			const batch = 2
			b.ReportAllocs()
			for b.Loop() {
				var ins, sigs [batch][]byte
				var ps [2 * batch]string
				for i := range batch {
					_, ins[i], sigs[i] = f.proof()
				}
				for i := range ps {
					ps[i], _, _ = f.proof()
				}
				reqs := make([]*http.Request, len(ps))
				for i, p := range ps {
					reqs[i] = dpopReq(f.tok, p)
				}
				start := time.Now()
				for i := range batch {
					if !f.floorT() || !f.verify(ins[i], sigs[i]) {
						b.Fatal("floor verification failed")
					}
				}
				floor = append(floor, time.Since(start)/batch)
				start = time.Now()
				for i := range batch {
					if _, err := cold.Authenticate(reqs[i]); err != nil {
						b.Fatal(err)
					}
				}
				tc = append(tc, time.Since(start)/batch)
				start = time.Now()
				for i := range batch {
					if _, err := cached.Authenticate(reqs[batch+i]); err != nil {
						b.Fatal(err)
					}
				}
				tw = append(tw, time.Since(start)/batch)
			}
			q := func(ts []time.Duration) float64 { slices.Sort(ts); return float64(ts[len(ts)/4]) }
			fl, c, w := q(floor), q(tc), q(tw)
			b.ReportMetric(fl, "floor-ns/op")
			b.ReportMetric(c, "cold-ns/op")
			b.ReportMetric(w, "cached-token-ns/op")
			b.ReportMetric(c/fl, "cold-ratio")
		})
	}
}

// BenchmarkReplayMemory is one jti check in the memory replay store: a
// value never seen (every accepted proof costs one), serially and from
// every core. The store's clock moves on with every check, as proofs
// keep arriving: "steady" at a rate that keeps 8k values live (about
// 140 proofs a second) or 131k (the default store half full, about
// 2 200 a second; values expire as fast as they come), "flood" at 1 µs a proof
// (a million a second) against a store of 65 536: it evicts, refuses
// what it can no longer vouch for, and stays bounded.
func BenchmarkReplayMemory(b *testing.B) {
	const window = time.Minute
	for _, tc := range []struct {
		name     string
		capacity int
		step     time.Duration
	}{
		{"steady 8k live", 0, window / 8192},
		{"steady 131k live", 0, window / (auth.DefaultReplayCapacity / 2)},
		{"flood", 1 << 16, time.Microsecond},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var clock atomic.Int64
			clock.Store(time.Now().UnixNano())
			now := func() time.Time { return time.Unix(0, clock.Load()) }
			s, err := auth.NewMemoryReplayStore(auth.MemoryReplayOptions{Capacity: tc.capacity, Now: now})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var n atomic.Uint64
			use := func(k *auth.ReplayKey) error {
				i := n.Add(1)
				// spread like the SHA-256 the store is given
				binary.LittleEndian.PutUint64(k[:8], i*0x9E3779B97F4A7C15)
				binary.LittleEndian.PutUint64(k[8:16], i*0xC2B2AE3D27D4EB4F)
				t := clock.Add(int64(tc.step))
				return s.Use(ctx, *k, time.Unix(0, t).Add(window))
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				var k auth.ReplayKey
				for b.Loop() {
					if err := use(&k); err != nil && tc.capacity == 0 {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(s.Len()), "entries")
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					var k auth.ReplayKey
					for pb.Next() {
						_ = use(&k)
					}
				})
				b.ReportMetric(float64(s.Len()), "entries")
			})
		})
	}
}

// BenchmarkDPoPAuthenticate is Authenticate alone on a DPoP-bound request
// with the token cache off (both signatures every time), over requests
// built beforehand: its allocations are Authenticate's own, which
// BenchmarkDPoPPaired's figure mixes with the building of its proofs.
func BenchmarkDPoPAuthenticate(b *testing.B) {
	for _, f := range dpopSetup(b) {
		b.Run(f.name, func(b *testing.B) {
			v := dpopVerifier(b, f, -1)
			reqs := make([]*http.Request, 0, 256)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if len(reqs) == 0 {
					b.StopTimer()
					for range cap(reqs) {
						p, _, _ := f.proof()
						reqs = append(reqs, dpopReq(f.tok, p))
					}
					b.StartTimer()
				}
				r := reqs[len(reqs)-1]
				reqs = reqs[:len(reqs)-1]
				if _, err := v.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
