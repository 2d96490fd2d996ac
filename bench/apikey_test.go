package bench

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"hash/crc32"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/auth/apikey/sqlstore"
)

// apiKeys returns a key manager over store and one valid key.
func apiKeys(b *testing.B, store apikey.Store, cacheSize int) (*apikey.Keys, string) {
	b.Helper()
	k, err := apikey.New(apikey.Config{Store: store, Prefix: "bwk_live", Pepper: apikeytest.Pepper(), CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = k.Close(context.Background()) })
	key, _, err := k.Create(context.Background(), apikey.Spec{Name: "bench", Scopes: []string{"items:read"}})
	if err != nil {
		b.Fatal(err)
	}
	return k, key
}

func keyRequest(key string) *http.Request {
	r := newRequest()
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}

// authLoop calls Authenticate b.N times and checks the outcome once.
func authLoop(b *testing.B, k *apikey.Keys, r *http.Request, wantOK bool) {
	b.Helper()
	b.ReportAllocs()
	var err error
	for b.Loop() {
		_, err = k.Authenticate(r)
	}
	if (err == nil) != wantOK {
		b.Fatalf("Authenticate = %v, want ok=%v", err, wantOK)
	}
}

// BenchmarkAPIKey measures verifying keys: from the cache, from each store
// without the cache, refusing garbage, and the whole middleware. The
// "naive" and "bcrypt" rows are what hand-rolled code does instead.
func BenchmarkAPIKey(b *testing.B) {
	mem, key := apiKeys(b, apikey.NewMemoryStore(), 0)
	b.Run("Baseline", func(b *testing.B) { serve(b, jsonHandler, newRequest()) })
	b.Run("Middleware/cached", func(b *testing.B) { serve(b, mem.Handler(jsonHandler), keyRequest(key)) })
	b.Run("Verify/cached", func(b *testing.B) { authLoop(b, mem, keyRequest(key), true) })
	b.Run("Verify/cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			r := keyRequest(key)
			for pb.Next() {
				if _, err := mem.Authenticate(r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("Verify/memory-uncached", func(b *testing.B) {
		k, key := apiKeys(b, apikey.NewMemoryStore(), -1)
		authLoop(b, k, keyRequest(key), true)
	})
	bad := badChecksum(key)
	b.Run("Refuse/bad-checksum", func(b *testing.B) { authLoop(b, mem, keyRequest(bad), false) })
	b.Run("Refuse/garbage", func(b *testing.B) { authLoop(b, mem, keyRequest("bwk_live_hunter2"), false) })
	b.Run("Refuse/unknown-valid-checksum", func(b *testing.B) {
		authLoop(b, mem, keyRequest(forge(key, len(key)-apikey.ChecksumLen-1)), false)
	})

	// Timing: an uncached lookup of a forged key costs the same however
	// many leading characters it shares with a real one.
	unc, ukey := apiKeys(b, apikey.NewMemoryStore(), -1)
	for _, n := range []int{9, 20, 30, 41} {
		b.Run("Timing/match-"+strconv.Itoa(n), func(b *testing.B) { authLoop(b, unc, keyRequest(forge(ukey, n)), false) })
	}

	b.Run("SQLite/uncached", func(b *testing.B) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(b.TempDir(), "k.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		s, err := sqlstore.New(context.Background(), db, sqlstore.SQLite)
		if err != nil {
			b.Fatal(err)
		}
		k, key := apiKeys(b, s, -1)
		authLoop(b, k, keyRequest(key), true)
	})
	b.Run("Postgres/uncached", func(b *testing.B) {
		pg := apikeytest.StartPostgres(b)
		db, err := sql.Open("pgx", pg.NewDatabase(b))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		s, err := sqlstore.New(context.Background(), db, sqlstore.Postgres)
		if err != nil {
			b.Fatal(err)
		}
		k, key := apiKeys(b, s, -1)
		authLoop(b, k, keyRequest(key), true)
	})

	// What hand-rolled code does: plaintext keys compared in a loop
	// (constant-time, at least), and bcrypt, which makes every request
	// cost tens of milliseconds.
	b.Run("Naive/plaintext-constant-time-scan-100", func(b *testing.B) {
		stored := make([][]byte, 100)
		for i := range stored {
			k, _ := apikey.GenerateKey("bwk_live")
			stored[i] = []byte(k)
		}
		stored[99] = []byte(key)
		presented := []byte(key)
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range stored {
				if subtle.ConstantTimeCompare(s, presented) == 1 {
					break
				}
			}
		}
	})
	b.Run("Naive/bcrypt-cost10", func(b *testing.B) {
		h, err := bcrypt.GenerateFromPassword([]byte(key), bcrypt.DefaultCost)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = bcrypt.CompareHashAndPassword(h, []byte(key))
		}
	})
}

// forge returns a key that shares its first n characters with key, differs
// after them, and carries a valid checksum.
func forge(key string, n int) string {
	end := len(key) - apikey.ChecksumLen
	f := []byte(key[:end])
	for j := n; j < end; j++ {
		if f[j] == 'z' {
			f[j] = 'y'
		} else {
			f[j] = 'z'
		}
	}
	return withChecksum(string(f))
}

// withChecksum appends the CRC-32 checksum as the documented format says.
func withChecksum(body string) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE([]byte(body))
	var sum [apikey.ChecksumLen]byte
	for i := len(sum) - 1; i >= 0; i-- {
		sum[i] = base62[v%62]
		v /= 62
	}
	return body + string(sum[:])
}

// BenchmarkAPIKeyPaired runs the hot paths in alternating batches and
// reports each one's lower-quartile batch time per operation, so that load
// from other processes on a shared machine hits all of them alike. The
// Timing rows are uncached lookups of forged keys sharing 9 (the prefix
// only) to 41 of 42 leading characters with a real key; timing-spread is
// (slowest − fastest) / fastest of those four.
func BenchmarkAPIKeyPaired(b *testing.B) {
	mem, key := apiKeys(b, apikey.NewMemoryStore(), 0)
	unc, ukey := apiKeys(b, apikey.NewMemoryStore(), -1)
	bad := badChecksum(key)
	cases := []struct {
		name   string
		k      *apikey.Keys
		r      *http.Request
		wantOK bool
	}{
		{"verify-cached", mem, keyRequest(key), true},
		{"refuse-bad-checksum", mem, keyRequest(bad), false},
		{"refuse-garbage", mem, keyRequest("bwk_live_hunter2"), false},
		{"timing-match-9", unc, keyRequest(forge(ukey, 9)), false},
		{"timing-match-20", unc, keyRequest(forge(ukey, 20)), false},
		{"timing-match-30", unc, keyRequest(forge(ukey, 30)), false},
		{"timing-match-41", unc, keyRequest(forge(ukey, 41)), false},
	}
	for _, c := range cases {
		if _, err := c.k.Authenticate(c.r); (err == nil) != c.wantOK {
			b.Fatalf("%s: Authenticate = %v", c.name, err)
		}
	}
	const batch = 500
	samples := make([][]float64, len(cases))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for i, c := range cases {
			start := time.Now()
			for range batch {
				_, _ = c.k.Authenticate(c.r)
			}
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/batch)
		}
	}
	b.StopTimer()
	q := make([]float64, len(cases))
	for i, s := range samples {
		slices.Sort(s)
		q[i] = s[len(s)/4]
		b.ReportMetric(q[i], cases[i].name+"-ns")
	}
	timing := q[3:]
	b.ReportMetric((slices.Max(timing)-slices.Min(timing))/slices.Min(timing), "timing-spread")
}

// badChecksum changes the last character of key, so that only the
// checksum is wrong.
func badChecksum(key string) string {
	if key[len(key)-1] == 'A' {
		return key[:len(key)-1] + "B"
	}
	return key[:len(key)-1] + "A"
}
