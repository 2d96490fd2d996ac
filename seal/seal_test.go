package seal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/seal"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func ring(t testing.TB, active string, ids ...string) *seal.Keyring {
	t.Helper()
	keys := map[string][]byte{}
	for i, id := range ids {
		keys[id] = key(byte(i + 1))
	}
	k, err := seal.NewKeyring(seal.KeyringConfig{Keys: keys, Active: active})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var ad = seal.AD("users", "email", "42")

func TestRoundTrip(t *testing.T) {
	k := ring(t, "2026-11", "2026-11")
	for _, pt := range [][]byte{nil, {}, []byte("alice@example.com"), bytes.Repeat([]byte("x"), 1<<16)} {
		s, err := k.Seal(pt, ad)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Open(s, ad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(%d bytes)) = %d bytes, %v", len(pt), len(got), err)
		}
		if len(pt) > 4 && bytes.Contains(s, pt) {
			t.Error("sealed value contains the plaintext")
		}
	}
}

func TestAttacks(t *testing.T) {
	k := ring(t, "k1", "k1", "k2")
	sealed, err := k.Seal([]byte("alice@example.com"), ad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	// The same value under k2, with its key id rewritten to k1's: the
	// header is authenticated, so the swap is detected.
	k2only := ring(t, "k2", "k1", "k2")
	other, _ := k2only.Seal([]byte("alice@example.com"), ad)
	swapped := bytes.Clone(other)
	copy(swapped[2:4], "k1")

	tests := []struct {
		name  string
		value []byte
		ad    []byte
		want  error
	}{
		{"tampered ciphertext", flip(len(sealed) - 20), ad, seal.ErrInvalid},
		{"tampered tag", flip(len(sealed) - 1), ad, seal.ErrInvalid},
		{"tampered nonce", flip(5), ad, seal.ErrInvalid},
		{"tampered version", flip(0), ad, seal.ErrInvalid},
		{"key id swapped", swapped, ad, seal.ErrInvalid},
		{"wrong associated data (moved to another row)", sealed, seal.AD("users", "email", "43"), seal.ErrInvalid},
		{"ambiguous associated data", sealed, seal.AD("users", "emai", "l42"), seal.ErrInvalid},
		{"no associated data", sealed, nil, seal.ErrInvalid},
		{"truncated by one byte", sealed[:len(sealed)-1], ad, seal.ErrInvalid},
		{"truncated to the header", sealed[:4], ad, seal.ErrInvalid},
		{"empty", nil, ad, seal.ErrInvalid},
		{"unknown key id", append([]byte{1, 2, 'z', 'z'}, sealed[4:]...), ad, seal.ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := k.Open(tc.value, tc.ad)
			if !errors.Is(err, tc.want) || pt != nil {
				t.Errorf("Open = %q, %v; want %v", pt, err, tc.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	old := ring(t, "2025", "2025")
	v, _ := old.Seal([]byte("secret"), ad)

	// Step 1: a new active key; old values still open.
	both := ring(t, "2026", "2025", "2026")
	if pt, err := both.Open(v, ad); err != nil || string(pt) != "secret" {
		t.Fatalf("old value under the new ring: %q, %v", pt, err)
	}
	if !both.NeedsReseal(v) {
		t.Error("NeedsReseal(old value) = false")
	}
	// Step 2: re-seal in the background.
	v2, err := both.Reseal(v, ad)
	if err != nil || both.NeedsReseal(v2) {
		t.Fatalf("Reseal: %v (needs reseal again: %v)", err, both.NeedsReseal(v2))
	}
	// Step 3: the old key is removed; un-resealed values stop opening.
	only := ring(t, "2026", "x", "2026")
	if _, err := only.Open(v, ad); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("old key after removal: %v, want ErrUnknownKey", err)
	}
	if pt, err := only.Open(v2, ad); err != nil || string(pt) != "secret" {
		t.Errorf("resealed value: %q, %v", pt, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  seal.KeyringConfig
		n    int
	}{
		{"empty", seal.KeyringConfig{}, 2},
		{"wrong key length", seal.KeyringConfig{Keys: map[string][]byte{"a": make([]byte, 16)}, Active: "a"}, 2},
		{"bad id", seal.KeyringConfig{Keys: map[string][]byte{"a b": key(1)}, Active: "a b"}, 2},
		{"active missing", seal.KeyringConfig{Keys: map[string][]byte{"a": key(1)}, Active: "b"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := seal.NewKeyring(tc.cfg)
			if err == nil {
				t.Fatal("NewKeyring succeeded")
			}
			errs := err.(interface{ Unwrap() []error }).Unwrap()
			if len(errs) != tc.n {
				t.Errorf("%d problems, want %d: %v", len(errs), tc.n, err)
			}
			for _, e := range errs {
				var ce *seal.ConfigError
				if !errors.As(e, &ce) {
					t.Errorf("%v is not a *ConfigError", e)
				}
			}
		})
	}
	// Key material never appears in errors.
	_, err := seal.ParseKeys("k:" + strings.Repeat("!", 43))
	if err == nil || strings.Contains(err.Error(), "!!!") {
		t.Errorf("ParseKeys error = %v", err)
	}
}

func TestNonceUniqueness(t *testing.T) {
	k := ring(t, "k", "k")
	const n = 1_000_000
	seen := make(map[[12]byte]struct{}, n)
	for range n {
		s, err := k.Seal(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var nonce [12]byte
		copy(nonce[:], s[3:15]) // version, id length, "k", then the nonce
		if _, dup := seen[nonce]; dup {
			t.Fatalf("nonce repeated after %d seals", len(seen))
		}
		seen[nonce] = struct{}{}
	}
}

func TestKeyExhausted(t *testing.T) {
	k, err := seal.NewKeyring(seal.KeyringConfig{Keys: map[string][]byte{"k": key(1)}, Active: "k", MaxSealsPerKey: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := k.Seal([]byte("x"), nil); err != nil {
			t.Fatalf("seal %d: %v", i, err)
		}
	}
	if _, err := k.Seal([]byte("x"), nil); !errors.Is(err, seal.ErrKeyExhausted) {
		t.Errorf("fourth seal: %v, want ErrKeyExhausted", err)
	}
}

func TestStrings(t *testing.T) {
	k := ring(t, "k", "k")
	s, err := k.SealString("+1 555 0100", ad)
	if err != nil || !strings.HasPrefix(s, "bws1.") {
		t.Fatalf("SealString = %q, %v", s, err)
	}
	if got, err := k.OpenString(s, ad); err != nil || got != "+1 555 0100" {
		t.Errorf("OpenString = %q, %v", got, err)
	}
	for _, bad := range []string{"", "bws1.", "bws1.!!", "bws2." + s[5:], "plain text", s[:len(s)-2]} {
		if _, err := k.OpenString(bad, ad); err == nil {
			t.Errorf("OpenString(%q) succeeded", bad)
		}
	}
}

func TestEnvelope(t *testing.T) {
	kek := ring(t, "kek-1", "kek-1")
	k, err := seal.NewKeyring(seal.KeyringConfig{Wrapper: kek})
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.SealString("card 4111", ad)
	if err != nil || !strings.HasPrefix(s, "bws2.") {
		t.Fatalf("envelope SealString = %q, %v", s, err)
	}
	if got, err := k.OpenString(s, ad); err != nil || got != "card 4111" {
		t.Errorf("envelope OpenString = %q, %v", got, err)
	}
	if _, err := k.OpenString(s, seal.AD("other")); !errors.Is(err, seal.ErrInvalid) {
		t.Errorf("envelope with wrong ad: %v", err)
	}
	// The key-encryption key rotated away: data keys cannot be unwrapped.
	gone, _ := seal.NewKeyring(seal.KeyringConfig{Wrapper: ring(t, "kek-2", "kek-2")})
	if _, err := gone.OpenString(s, ad); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("envelope after KEK removal: %v, want ErrUnknownKey", err)
	}
	// A direct ring cannot open envelope values.
	if _, err := kek.OpenString(s, ad); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("envelope value in a ring without wrapper: %v", err)
	}
}

type failingKMS struct{}

func (failingKMS) Wrap(context.Context, []byte) ([]byte, string, error) {
	return nil, "", errors.New("kms unreachable")
}
func (failingKMS) Unwrap(context.Context, []byte, string) ([]byte, error) {
	return nil, errors.New("kms unreachable")
}

func TestEnvelopeKMSDown(t *testing.T) {
	k, _ := seal.NewKeyring(seal.KeyringConfig{Wrapper: failingKMS{}})
	if _, err := k.Seal([]byte("x"), nil); err == nil {
		t.Error("Seal succeeded with the KMS down")
	}
}

func TestParseKeys(t *testing.T) {
	a, _ := seal.NewKey("2026-11")
	b, _ := seal.NewKey("2026-05")
	cfg, err := seal.ParseKeys("# keys\n" + a + "\n\n" + b + "\n")
	if err != nil || cfg.Active != "2026-11" || len(cfg.Keys) != 2 {
		t.Fatalf("ParseKeys = %+v, %v", cfg.Active, err)
	}
	if _, err := seal.NewKeyring(cfg); err != nil {
		t.Fatal(err)
	}
	env, err := seal.ParseKeys(a + "," + b)
	if err != nil || env.Active != "2026-11" {
		t.Errorf("comma-separated: %v", err)
	}
	if _, err := seal.ParseKeys(a + "\n" + a); err == nil {
		t.Error("duplicate id accepted")
	}
	if _, err := seal.NewKey("bad id"); err == nil {
		t.Error("NewKey accepted a bad id")
	}
}

func TestClose(t *testing.T) {
	k := ring(t, "k", "k")
	s, _ := k.Seal([]byte("x"), nil)
	_ = k.Close()
	_ = k.Close()
	if _, err := k.Open(s, nil); !errors.Is(err, seal.ErrClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	if _, err := k.Seal([]byte("x"), nil); !errors.Is(err, seal.ErrClosed) {
		t.Errorf("Seal after Close: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k := ring(f, "k1", "k1")
	env, _ := seal.NewKeyring(seal.KeyringConfig{Wrapper: k})
	good, _ := k.Seal([]byte("hello"), ad)
	genv, _ := env.Seal([]byte("hello"), ad)
	f.Add(good)
	f.Add(genv)
	f.Add([]byte{1})
	f.Add([]byte{2, 2, 'k', '1', 0, 1})
	junk := make([]byte, 64)
	_, _ = rand.Read(junk)
	f.Add(junk)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range []*seal.Keyring{k, env} {
			pt, err := r.Open(b, ad)
			if err == nil && !bytes.Equal(pt, []byte("hello")) {
				t.Fatalf("Open(%x) produced %q: only the genuine value may open", b, pt)
			}
			if err != nil && pt != nil {
				t.Fatal("plaintext returned with an error")
			}
		}
	})
}
