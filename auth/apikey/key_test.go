package apikey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

// validKey is a fixed key of the documented format (its checksum is
// computed independently by withChecksum).
var validKey = withChecksum("bwk_test_AbCdEfGh123" + "0123456789abcdefghijkl" + "000000")

var parseCases = []struct {
	name string
	key  string
	want error
}{
	{"valid", validKey, nil},
	{"wrong checksum", validKey[:len(validKey)-1] + flip(validKey[len(validKey)-1]), apikey.ErrChecksum},
	{"one body character changed", validKey[:12] + flip(validKey[12]) + validKey[13:], apikey.ErrChecksum},
	{"truncated", validKey[:len(validKey)-1], apikey.ErrMalformedKey},
	{"truncated to the start", validKey[:17], apikey.ErrMalformedKey},
	{"extra characters", validKey + "abc", apikey.ErrMalformedKey},
	{"extra character before", "x" + validKey, apikey.ErrMalformedKey},
	{"another prefix", withChecksum("bwk_live" + validKey[8:]), apikey.ErrWrongPrefix},
	{"prefix without separator", strings.Replace(validKey, "bwk_test_", "bwk_testX", 1), apikey.ErrMalformedKey},
	{"non-base62 character", validKey[:20] + "-" + validKey[21:], apikey.ErrMalformedKey},
	{"non-ASCII", validKey[:20] + "é" + validKey[22:], apikey.ErrMalformedKey},
	{"empty", "", apikey.ErrMalformedKey},
	{"prefix only", "bwk_test_", apikey.ErrMalformedKey},
	{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig", apikey.ErrMalformedKey},
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestParseKey(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := apikey.ParseKey(prefix, tc.key)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("ParseKey(%q) = %v, want %v", tc.key, err, tc.want)
			}
			if err == nil && (p.ID != "AbCdEfGh123" || p.Start != "bwk_test_AbCdEfGh") {
				t.Errorf("ParseKey(%q) = %+v, want id AbCdEfGh123, start bwk_test_AbCdEfGh", tc.key, p)
			}
		})
	}
}

// TestGenerateKeyFormat checks generated keys against the documented
// format, including the independently computed checksum, and that the
// characters are spread over the whole alphabet.
func TestGenerateKeyFormat(t *testing.T) {
	seen := map[rune]bool{}
	keys := map[string]bool{}
	for range 500 {
		k, err := apikey.GenerateKey(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(k) != len(prefix)+1+apikey.IDLen+apikey.SecretLen+apikey.ChecksumLen {
			t.Fatalf("GenerateKey = %q: length %d", k, len(k))
		}
		if withChecksum(k) != k {
			t.Fatalf("GenerateKey = %q: checksum is not CRC-32 of the rest", k)
		}
		if _, err := apikey.ParseKey(prefix, k); err != nil {
			t.Fatalf("ParseKey(GenerateKey()) = %v", err)
		}
		for _, r := range k[len(prefix)+1 : len(k)-apikey.ChecksumLen] {
			seen[r] = true
		}
		keys[k] = true
	}
	if len(seen) != 62 {
		t.Errorf("500 keys used %d distinct characters, want all 62", len(seen))
	}
	if len(keys) != 500 {
		t.Errorf("500 keys had %d distinct values", len(keys))
	}
	if _, err := apikey.GenerateKey("Bad Prefix"); err == nil {
		t.Error("GenerateKey(bad prefix) = nil error")
	}
}

// TestParseKeyEverySingleCharacterChange: the checksum catches every
// one-character typo anywhere in the key.
func TestParseKeyEverySingleCharacterChange(t *testing.T) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := len(prefix) + 1; i < len(validKey); i++ {
		for j := 0; j < len(alphabet); j++ {
			if alphabet[j] == validKey[i] {
				continue
			}
			k := validKey[:i] + alphabet[j:j+1] + validKey[i+1:]
			if _, err := apikey.ParseKey(prefix, k); !errors.Is(err, apikey.ErrChecksum) {
				t.Fatalf("ParseKey(%q) = %v, want ErrChecksum", k, err)
			}
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.key)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p, err := apikey.ParseKey(prefix, key)
		if err != nil {
			if p != (apikey.ParsedKey{}) {
				t.Fatalf("ParseKey(%q) failed but returned %+v", key, p)
			}
			return
		}
		if withChecksum(key) != key {
			t.Fatalf("ParseKey(%q) accepted a bad checksum", key)
		}
		if !strings.HasPrefix(key, prefix+"_") || len(p.ID) != apikey.IDLen || key[len(prefix)+1:len(prefix)+1+apikey.IDLen] != p.ID || !strings.HasPrefix(key, p.Start) {
			t.Fatalf("ParseKey(%q) = %+v: inconsistent", key, p)
		}
		for i := 0; i < len(key); i++ {
			c := key[i]
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_') {
				t.Fatalf("ParseKey(%q) accepted byte %q", key, c)
			}
		}
	})
}

func BenchmarkParseKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = apikey.ParseKey(prefix, validKey)
	}
}
