package bench

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/bulwark-go/bulwark/seal"
)

// BenchmarkSeal compares seal's AES-256-GCM on 1 KiB with raw crypto/cipher
// doing the same work (random nonce, associated data, one allocation).
func BenchmarkSeal(b *testing.B) {
	key := bytes.Repeat([]byte{7}, 32)
	pt := bytes.Repeat([]byte("x"), 1024)
	ad := seal.AD("users", "email", "42")

	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	raw := func() []byte {
		out := make([]byte, 12, 12+len(pt)+16)
		_, _ = rand.Read(out)
		return aead.Seal(out, out, pt, ad)
	}
	ring, err := seal.NewKeyring(seal.KeyringConfig{Keys: map[string][]byte{"2026-11": key}, Active: "2026-11"})
	if err != nil {
		b.Fatal(err)
	}

	b.Run("raw-gcm/seal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			raw()
		}
	})
	b.Run("bulwark/seal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := ring.Seal(pt, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	sealedRaw := raw()
	b.Run("raw-gcm/open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := aead.Open(nil, sealedRaw[:12], sealedRaw[12:], ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	sealed, _ := ring.Seal(pt, ad)
	b.Run("bulwark/open", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := ring.Open(sealed, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
}
