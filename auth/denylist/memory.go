package denylist

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is a [Store] in memory: for one instance, and tests. Its
// entries vanish with the process.
type MemoryStore struct {
	mu      sync.Mutex
	seq     int64
	entries []stored
	now     func() time.Time
}

type stored struct {
	seq int64
	e   Entry
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty store; now is its clock for dropping
// entries past their Until (nil: time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now}
}

// Add implements [Store].
func (s *MemoryStore) Add(_ context.Context, e Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	kept := s.entries[:0]
	for _, x := range s.entries {
		if now.Before(x.e.Until) {
			kept = append(kept, x)
		}
	}
	s.seq++
	s.entries = append(kept, stored{s.seq, e})
	return nil
}

// Since implements [Store].
func (s *MemoryStore) Since(_ context.Context, cursor int64) ([]Entry, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out []Entry
	for _, x := range s.entries {
		if x.seq > cursor && now.Before(x.e.Until) {
			out = append(out, x.e)
		}
	}
	if s.seq > cursor {
		cursor = s.seq
	}
	return out, cursor, nil
}
