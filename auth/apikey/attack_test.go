package apikey_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/secevent"
)

// Attack tests: each is named after the attack it stops.

// TestAttackKeyInQueryStringWhenNotAllowed: a key in the URL has leaked
// into logs; it is refused (400), even alongside a valid header, so the
// client learns to stop.
func TestAttackKeyInQueryStringWhenNotAllowed(t *testing.T) {
	f := newFixture(t, nil)
	key, _ := f.create(t, apikey.Spec{})
	for _, q := range []string{"api_key=" + key, "key=" + strings.Replace(key, "_", "%5F", 1), "access_token=" + key} {
		r := bearer(key)
		r.URL.RawQuery = q
		if _, err := f.keys.Authenticate(r); !errors.Is(err, auth.ErrInvalidRequest) {
			t.Errorf("Authenticate(?%s) = %v, want ErrInvalidRequest", q, err)
		}
		r.Header.Del("Authorization")
		if _, err := f.keys.Authenticate(r); !errors.Is(err, auth.ErrInvalidRequest) {
			t.Errorf("Authenticate(?%s, no header) = %v, want ErrInvalidRequest", q, err)
		}
	}
	if n := f.store.lookups.Load(); n != 0 {
		t.Errorf("keys in query strings caused %d store lookups, want 0", n)
	}
}

// TestAttackBadKeysRefused covers tampered, truncated, extended and
// foreign keys: all refused as invalid_token, without a store lookup.
func TestAttackBadKeysRefused(t *testing.T) {
	f := newFixture(t, nil)
	key, _ := f.create(t, apikey.Spec{})
	cases := []struct {
		name string
		key  string
		want error
	}{
		{"wrong checksum", key[:len(key)-1] + flip(key[len(key)-1]), apikey.ErrChecksum},
		{"truncated key", key[:len(key)-3], apikey.ErrMalformedKey},
		{"key plus extra characters", key + "abc", apikey.ErrMalformedKey},
		{"key from another prefix", withChecksum("bwk_live" + key[len(prefix):]), apikey.ErrWrongPrefix},
		{"key from a longer prefix", withChecksum("bwk_test_eu" + key[len(prefix):]), apikey.ErrWrongPrefix},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.keys.Authenticate(bearer(tc.key))
			if !errors.Is(err, tc.want) || !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Authenticate(%s) = %v, want %v and ErrInvalidToken", tc.name, err, tc.want)
			}
		})
	}
	if n := f.store.lookups.Load(); n != 0 {
		t.Errorf("malformed keys caused %d store lookups, want 0", n)
	}
}

// TestAttackRandomGarbageKeysNoStoreLookups: 10 000 random values, with
// and without the right prefix, never reach the store.
func TestAttackRandomGarbageKeysNoStoreLookups(t *testing.T) {
	f := newFixture(t, func(c *apikey.Config) { c.Header = "X-API-Key" })
	key, _ := f.create(t, apikey.Spec{})
	buf := make([]byte, 64)
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-."
	accepted := 0
	for i := range 10000 {
		_, _ = rand.Read(buf)
		var s string
		switch i % 3 {
		case 0: // raw bytes
			s = string(buf[:1+int(buf[0])%len(buf)])
		case 1: // the right shape and prefix, random body and checksum
			b := []byte(key)
			for j := len(prefix) + 1; j < len(b); j++ {
				b[j] = alphabet[int(buf[j%len(buf)])%62]
			}
			s = string(b)
		default: // printable garbage of random length
			b := make([]byte, 1+int(buf[0])%80)
			for j := range b {
				b[j] = alphabet[int(buf[(j+1)%len(buf)])%len(alphabet)]
			}
			s = string(b)
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["X-Api-Key"] = []string{s}
		if _, err := f.keys.Authenticate(r); err == nil {
			accepted++
		}
	}
	// A random body passes CRC-32 with probability 2^-32 per try and is
	// then still unknown: any acceptance is a bug.
	if accepted != 0 {
		t.Errorf("%d random keys were accepted", accepted)
	}
	if n := f.store.lookups.Load(); n != 0 {
		t.Errorf("10000 garbage keys caused %d store lookups, want 0", n)
	}
}

// TestAttackTimingLookupIndependentOfMatchingPrefix: a forged key that
// shares its first n characters with a real key (and carries a valid
// checksum, which anyone can compute) reaches the store only as a digest
// of the whole key, which shares nothing with the real key's digest: no
// comparison anywhere can take longer for a longer matching prefix.
func TestAttackTimingLookupIndependentOfMatchingPrefix(t *testing.T) {
	f := newFixture(t, func(c *apikey.Config) { c.CacheSize = -1 })
	key, rec := f.create(t, apikey.Spec{})
	start := len(prefix) + 1
	end := len(key) - apikey.ChecksumLen
	for n := start; n < end; n++ {
		forged := []byte(key)
		for j := n; j < end; j++ {
			if forged[j] == 'z' {
				forged[j] = 'y'
			} else {
				forged[j] = 'z'
			}
		}
		_, err := f.keys.Authenticate(bearer(withChecksum(string(forged))))
		if !errors.Is(err, apikey.ErrNotFound) {
			t.Fatalf("forged key matching %d characters: Authenticate = %v, want ErrNotFound", n, err)
		}
	}
	if got, want := int(f.store.lookups.Load()), end-start; got != want {
		t.Fatalf("%d lookups for %d forged keys: every forged key must cost exactly one lookup", got, want)
	}
	for i, d := range f.store.digests {
		common := 0
		for common < len(d) && d[common] == rec.Digest[common] {
			common++
		}
		if common >= 4 {
			t.Errorf("forged key %d: its digest shares %d leading bytes with the real one", i, common)
		}
	}
}

func TestAttackRevokedExpiredAndRotatedKeys(t *testing.T) {
	ev := &events{}
	f := newFixture(t, nil)
	ctx := secevent.NewContext(t.Context(), ev)
	revoked, rrec := f.create(t, apikey.Spec{})
	expired, _ := f.create(t, apikey.Spec{TTL: time.Minute})
	rotated, orec := f.create(t, apikey.Spec{})
	for _, k := range []string{revoked, expired, rotated} {
		if _, err := f.keys.Authenticate(bearer(k)); err != nil {
			t.Fatalf("fresh key refused: %v", err)
		}
	}
	if err := f.keys.Revoke(ctx, rrec.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.keys.Rotate(ctx, orec.ID, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	cases := []struct {
		name, key string
		want      error
		reuse     bool
	}{
		{"revoked key", revoked, apikey.ErrRevoked, true},
		{"expired key", expired, apikey.ErrExpired, false},
		{"old key after the rotation deadline", rotated, apikey.ErrExpired, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rev := &events{}
			r := bearer(tc.key)
			r = r.WithContext(secevent.NewContext(r.Context(), rev))
			_, err := f.keys.Authenticate(r)
			if !errors.Is(err, tc.want) || !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Authenticate(%s) = %v, want %v", tc.name, err, tc.want)
			}
			got := rev.named(secevent.AuthnTokenReuse)
			if (len(got) == 1) != tc.reuse {
				t.Fatalf("%s: %d authn_token_reuse events, want reuse=%v", tc.name, len(got), tc.reuse)
			}
			for _, e := range rev.all() {
				if start, _ := attr(e, "key_start"); !strings.HasPrefix(tc.key, start.String()) {
					t.Errorf("event key_start %q is not the key's start", start)
				}
				for _, a := range e.Attrs {
					if strings.Contains(a.Value.String(), tc.key[len(prefix)+1+apikey.IDLen:]) {
						t.Errorf("event %s attribute %s contains the key's secret", e.Name, a.Key)
					}
				}
			}
		})
	}
	names := map[string]int{}
	for _, e := range ev.all() {
		names[e.Name]++
	}
	if names[secevent.AuthnTokenCreated] != 1 || names[secevent.AuthnTokenRevoked] != 1 {
		t.Errorf("lifecycle events = %v, want one created (rotation) and one revoked", names)
	}
}

// TestAttackKeyInQueryStringOnlyWhenWellFormed: the query-string refusal
// exists to catch keys that leaked into URLs, and only those: a well-formed
// key of the configured prefix, checksum and all, as a parameter's value
// (or name, or a whole word within one: what a secret scanner flags),
// however percent-encoded. The non-secret start of a key that admin UIs put
// in URLs, a mistyped key, another environment's key or any text that
// merely contains the prefix is not a leak, and refusing it (400, even
// beside a valid credential) broke pages that link to a key by its start.
func TestAttackKeyInQueryStringOnlyWhenWellFormed(t *testing.T) {
	f := newFixture(t, nil)
	key, rec := f.create(t, apikey.Spec{})
	mistyped := key[:len(key)-1] + flip(key[len(key)-1])
	other := withChecksum("bwk_live" + key[len(prefix):])
	tests := []struct {
		name  string
		query string
		leak  bool
	}{
		{"a key's start", "start=" + rec.Start, false},
		{"the prefix alone", "q=" + prefix + "_", false},
		{"the prefix inside a longer value", "next=/keys?start=" + rec.Start, false},
		{"a key as a word in a longer value", "note=see+" + key + ",+thanks", true},
		{"a key glued to other characters", "note=x" + key, false},
		{"a mistyped key", "api_key=" + mistyped, false},
		{"another environment's key", "api_key=" + other, false},
		{"a key", "api_key=" + key, true},
		{"a key among other parameters", "a=1&key=" + key + "&b=2", true},
		{"a key, percent-encoded", "key=" + strings.Replace(key, "_", "%5F", 1), true},
		{"a key, every character percent-encoded", "key=" + percentEncodeAll(key), true},
		{"a key after a semicolon", "a=1;key=" + key, true},
		{"a key as a parameter name", key + "=1", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, hdr := range []string{"Bearer " + key, "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", ""} {
				r := httptest.NewRequest("GET", "/v1/keys", nil)
				r.URL.RawQuery = tc.query
				if hdr != "" {
					r.Header.Set("Authorization", hdr)
				}
				_, err := f.keys.Authenticate(r)
				if got := errors.Is(err, auth.ErrInvalidRequest); got != tc.leak {
					t.Errorf("Authenticate(?%s, Authorization %.20q) = %v; refused as a leak: %v, want %v", tc.query, hdr, err, got, tc.leak)
				}
			}
		})
	}
}

func percentEncodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}
