package apikey_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

// xorSealer is a stand-in for seal.Keyring with the same contract: the
// sealed text hides the plaintext and opens only with the same associated
// data. (The real key ring is tested with these records end to end in
// cmd/bulwark.)
type xorSealer struct{}

func (xorSealer) SealString(p string, ad []byte) (string, error) {
	b := []byte(p)
	for i := range b {
		b[i] ^= 0x5a
	}
	return "sealed:" + hex.EncodeToString(ad) + ":" + hex.EncodeToString(b), nil
}

func (xorSealer) OpenString(s string, ad []byte) (string, error) {
	rest, ok := strings.CutPrefix(s, "sealed:"+hex.EncodeToString(ad)+":")
	if !ok {
		return "", errors.New("wrong associated data")
	}
	b, err := hex.DecodeString(rest)
	if err != nil {
		return "", err
	}
	for i := range b {
		b[i] ^= 0x5a
	}
	return string(b), nil
}

func TestSealerKeepsOwnerAndMetadataOutOfTheStore(t *testing.T) {
	f := newFixture(t, func(c *apikey.Config) { c.Sealer = xorSealer{} })
	key, rec := f.create(t, apikey.Spec{Name: "ci", Owner: "alice@example.com", Metadata: map[string]string{"phone": "tel +1 555 0100 zulu"}})

	raw, err := f.store.Store.Get(context.Background(), rec.ID) // the store as an attacker with the database sees it
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw.Owner, "alice") || strings.Contains(raw.Metadata["phone"], "zulu") {
		t.Errorf("stored record holds clear text: owner %q metadata %v", raw.Owner, raw.Metadata)
	}
	got, err := f.keys.Get(context.Background(), rec.ID)
	if err != nil || got.Owner != "alice@example.com" || got.Metadata["phone"] != "tel +1 555 0100 zulu" {
		t.Errorf("Get through the sealer = %+v, %v", got, err)
	}
	if p, err := f.keys.Authenticate(bearer(key)); err != nil || p == nil {
		t.Errorf("a sealed record must still authenticate: %v", err)
	}

	// A sealed owner copied into another key's record does not open.
	_, other := f.create(t, apikey.Spec{Name: "other", Owner: "bob@example.com"})
	otherRaw, _ := f.store.Store.Get(context.Background(), other.ID)
	moved := otherRaw.Clone()
	moved.ID, moved.Digest, moved.Owner = "movedkey000", apikey.Digest(bytes.Repeat([]byte{1}, 32)), raw.Owner
	if err := f.store.Store.Insert(context.Background(), moved); err != nil {
		t.Fatal(err)
	}
	if _, err := f.keys.Get(context.Background(), "movedkey000"); err == nil {
		t.Error("an owner sealed for one key opened in another key's record")
	}

	// Rotation seals the new record too.
	_, next, err := f.keys.Rotate(context.Background(), rec.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	nextRaw, _ := f.store.Store.Get(context.Background(), next.ID)
	if strings.Contains(nextRaw.Owner, "alice") {
		t.Error("the rotated record holds the owner in clear")
	}
}
