package apikey

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
)

// Digest is what a store keeps of a key: HMAC-SHA256 of the whole key under
// the pepper (SHA-256 without one). It is never the key itself.
type Digest [32]byte

// Record is a key as a store keeps it. It holds no secret: the plaintext key
// exists only in the value [Keys.Create] and [Keys.Rotate] return.
type Record struct {
	ID     string // from the key; non-secret
	Start  string // prefix and first characters, to recognise the key
	Digest Digest // looked up on every request

	Name     string            // what the key is for
	Owner    string            // who is responsible for it
	Scopes   []string          // granted scopes, copied to the Principal
	Roles    []string          // granted roles, copied to the Principal
	Metadata map[string]string // free-form, for the application
	Tier     string            // rate-limit tier the key belongs to

	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never expires
	RevokedAt  time.Time // zero: not revoked
	LastUsedAt time.Time // updated asynchronously, in batches

	Replaces   string // id of the key this one replaced by rotation
	ReplacedBy string // id of the key that replaced this one
}

// Store errors.
var (
	// ErrNotFound means no key has this id or digest.
	ErrNotFound = errors.New("apikey: key not found")
	// ErrConflict means the operation contradicts the key's state: rotating
	// a revoked or already rotated key, or inserting a duplicate id.
	ErrConflict = errors.New("apikey: key state conflict")
)

// Store keeps key records. Every method is atomic: a key is never half
// rotated. Implementations must be safe for concurrent use, return records
// the caller may modify, and return errors wrapping [ErrNotFound] and
// [ErrConflict] where documented. The conformance suite in
// auth/apikey/apikeytest checks all of this.
type Store interface {
	// Insert adds rec. A duplicate id or digest is an [ErrConflict].
	Insert(ctx context.Context, rec Record) error
	// Lookup returns the record whose digest is d, or [ErrNotFound].
	Lookup(ctx context.Context, d Digest) (Record, error)
	// Get returns the record with this id, or [ErrNotFound].
	Get(ctx context.Context, id string) (Record, error)
	// List returns every record, oldest first.
	List(ctx context.Context) ([]Record, error)
	// Rotate atomically inserts next (whose Replaces is oldID), marks the
	// old record as replaced by it and brings its expiry forward to
	// oldExpiresAt unless it already expires sooner. It fails with
	// [ErrNotFound] if the old key does not exist and [ErrConflict] if it
	// is revoked or already replaced; then nothing changes.
	Rotate(ctx context.Context, oldID string, oldExpiresAt time.Time, next Record) error
	// Revoke marks the key revoked at t; revoking twice keeps the first
	// time. [ErrNotFound] if there is no such key.
	Revoke(ctx context.Context, id string, t time.Time) error
	// Expire sets the key's expiry to t unless it already expires sooner.
	// [ErrNotFound] if there is no such key.
	Expire(ctx context.Context, id string, t time.Time) error
	// Delete removes the key. [ErrNotFound] if there is no such key.
	Delete(ctx context.Context, id string) error
	// TouchLastUsed records last-use times in one batch, ignoring ids that
	// no longer exist and never moving a time backwards.
	TouchLastUsed(ctx context.Context, used map[string]time.Time) error
}

// Clone returns a deep copy of r.
func (r Record) Clone() Record {
	r.Scopes = slices.Clone(r.Scopes)
	r.Roles = slices.Clone(r.Roles)
	r.Metadata = maps.Clone(r.Metadata)
	return r
}

// MemoryStore is a [Store] in memory: for tests and single-instance
// programs whose keys need not survive a restart. Safe for concurrent use.
type MemoryStore struct {
	mu       sync.Mutex
	byID     map[string]*Record
	byDigest map[Digest]*Record
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		byID:     make(map[string]*Record),
		byDigest: make(map[Digest]*Record),
	}
}

func (s *MemoryStore) lock()   { s.mu.Lock() }
func (s *MemoryStore) unlock() { s.mu.Unlock() }

// Insert implements [Store].
func (s *MemoryStore) Insert(_ context.Context, rec Record) error {
	s.lock()
	defer s.unlock()
	if _, ok := s.byID[rec.ID]; ok {
		return ErrConflict
	}
	if _, ok := s.byDigest[rec.Digest]; ok {
		return ErrConflict
	}
	c := rec.Clone()
	s.byID[c.ID] = &c
	s.byDigest[c.Digest] = &c
	return nil
}

// Lookup implements [Store].
func (s *MemoryStore) Lookup(_ context.Context, d Digest) (Record, error) {
	s.lock()
	defer s.unlock()
	r, ok := s.byDigest[d]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r.Clone(), nil
}

// Get implements [Store].
func (s *MemoryStore) Get(_ context.Context, id string) (Record, error) {
	s.lock()
	defer s.unlock()
	r, ok := s.byID[id]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r.Clone(), nil
}

// List implements [Store].
func (s *MemoryStore) List(_ context.Context) ([]Record, error) {
	s.lock()
	defer s.unlock()
	out := make([]Record, 0, len(s.byID))
	for _, r := range s.byID {
		out = append(out, r.Clone())
	}
	slices.SortFunc(out, func(a, b Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Rotate implements [Store].
func (s *MemoryStore) Rotate(_ context.Context, oldID string, oldExpiresAt time.Time, next Record) error {
	s.lock()
	defer s.unlock()
	old, ok := s.byID[oldID]
	if !ok {
		return ErrNotFound
	}
	if !old.RevokedAt.IsZero() || old.ReplacedBy != "" {
		return ErrConflict
	}
	if _, ok := s.byID[next.ID]; ok {
		return ErrConflict
	}
	if _, ok := s.byDigest[next.Digest]; ok {
		return ErrConflict
	}
	c := next.Clone()
	c.Replaces = oldID
	s.byID[c.ID] = &c
	s.byDigest[c.Digest] = &c
	old.ReplacedBy = c.ID
	if old.ExpiresAt.IsZero() || oldExpiresAt.Before(old.ExpiresAt) {
		old.ExpiresAt = oldExpiresAt
	}
	return nil
}

// Revoke implements [Store].
func (s *MemoryStore) Revoke(_ context.Context, id string, t time.Time) error {
	s.lock()
	defer s.unlock()
	r, ok := s.byID[id]
	if !ok {
		return ErrNotFound
	}
	if r.RevokedAt.IsZero() {
		r.RevokedAt = t
	}
	return nil
}

// Expire implements [Store].
func (s *MemoryStore) Expire(_ context.Context, id string, t time.Time) error {
	s.lock()
	defer s.unlock()
	r, ok := s.byID[id]
	if !ok {
		return ErrNotFound
	}
	if r.ExpiresAt.IsZero() || t.Before(r.ExpiresAt) {
		r.ExpiresAt = t
	}
	return nil
}

// Delete implements [Store].
func (s *MemoryStore) Delete(_ context.Context, id string) error {
	s.lock()
	defer s.unlock()
	r, ok := s.byID[id]
	if !ok {
		return ErrNotFound
	}
	delete(s.byID, id)
	delete(s.byDigest, r.Digest)
	return nil
}

// TouchLastUsed implements [Store].
func (s *MemoryStore) TouchLastUsed(_ context.Context, used map[string]time.Time) error {
	s.lock()
	defer s.unlock()
	for id, t := range used {
		if r, ok := s.byID[id]; ok && t.After(r.LastUsedAt) {
			r.LastUsedAt = t
		}
	}
	return nil
}
