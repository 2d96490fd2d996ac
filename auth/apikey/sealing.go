package apikey

import (
	"context"
	"fmt"
	"time"
)

// Sealer encrypts sensitive but non-secret record fields — the owner's
// contact and the metadata values — before they reach the store, so that a
// stolen database or backup does not hand out who owns which key. The seal
// package's Keyring satisfies it; it is declared here so that apikey does
// not import seal (cmd/bulwark wires the two together). The associated data
// binds each value to its key id and field, so a sealed owner cannot be
// moved to another key's record.
type Sealer interface {
	SealString(plaintext string, ad []byte) (string, error)
	OpenString(sealed string, ad []byte) (string, error)
}

// sealingStore seals Owner and Metadata values on the way into a Store and
// opens them on the way out. Digests, ids, scopes and times stay in clear:
// lookups need them and they identify nobody.
type sealingStore struct {
	Store
	s Sealer
}

func fieldAD(id, field string) []byte {
	// Length-prefixed like seal.AD, without importing seal.
	b := []byte("bulwark apikey\x00")
	for _, p := range []string{id, field} {
		b = fmt.Appendf(b, "%d:%s", len(p), p)
	}
	return b
}

func (s sealingStore) seal(rec Record) (Record, error) {
	var err error
	if rec.Owner != "" {
		if rec.Owner, err = s.s.SealString(rec.Owner, fieldAD(rec.ID, "owner")); err != nil {
			return Record{}, fmt.Errorf("apikey: sealing the owner: %w", err)
		}
	}
	if len(rec.Metadata) > 0 {
		m := make(map[string]string, len(rec.Metadata))
		for k, v := range rec.Metadata {
			if m[k], err = s.s.SealString(v, fieldAD(rec.ID, "metadata:"+k)); err != nil {
				return Record{}, fmt.Errorf("apikey: sealing metadata: %w", err)
			}
		}
		rec.Metadata = m
	}
	return rec, nil
}

func (s sealingStore) open(rec Record) (Record, error) {
	var err error
	if rec.Owner != "" {
		if rec.Owner, err = s.s.OpenString(rec.Owner, fieldAD(rec.ID, "owner")); err != nil {
			return Record{}, fmt.Errorf("apikey: opening the owner of key %s: %w", rec.ID, err)
		}
	}
	for k, v := range rec.Metadata {
		if rec.Metadata[k], err = s.s.OpenString(v, fieldAD(rec.ID, "metadata:"+k)); err != nil {
			return Record{}, fmt.Errorf("apikey: opening metadata of key %s: %w", rec.ID, err)
		}
	}
	return rec, nil
}

func (s sealingStore) Insert(ctx context.Context, rec Record) error {
	sealed, err := s.seal(rec)
	if err != nil {
		return err
	}
	return s.Store.Insert(ctx, sealed)
}

func (s sealingStore) Rotate(ctx context.Context, oldID string, oldExpiresAt time.Time, next Record) error {
	sealed, err := s.seal(next)
	if err != nil {
		return err
	}
	return s.Store.Rotate(ctx, oldID, oldExpiresAt, sealed)
}

func (s sealingStore) Lookup(ctx context.Context, d Digest) (Record, error) {
	rec, err := s.Store.Lookup(ctx, d)
	if err != nil {
		return rec, err
	}
	return s.open(rec)
}

func (s sealingStore) Get(ctx context.Context, id string) (Record, error) {
	rec, err := s.Store.Get(ctx, id)
	if err != nil {
		return rec, err
	}
	return s.open(rec)
}

func (s sealingStore) List(ctx context.Context) ([]Record, error) {
	recs, err := s.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if recs[i], err = s.open(r); err != nil {
			return nil, err
		}
	}
	return recs, nil
}
