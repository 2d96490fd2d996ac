package auth

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultReplayCapacity is the number of one-time values a
// [MemoryReplayStore] remembers by default: at the default 60 s proof
// window, about 4 000 proofs a second, in about 7 MiB when full (64 bits
// of each key, in a map and in a list by expiry second).
const DefaultReplayCapacity = 1 << 18

// MemoryReplayOptions configure a [MemoryReplayStore].
type MemoryReplayOptions struct {
	// Capacity bounds the values remembered. Default
	// [DefaultReplayCapacity]; at least 16.
	Capacity int
	// Now is the clock the values' times are judged by; it must be the
	// one the proofs' times are judged by. Default time.Now.
	Now func() time.Time
}

// MemoryReplayStore is a [ReplayStore] in memory, bounded: for one
// instance (every instance of a fleet needs to see every proof, which a
// shared store such as auth/redisreplay gives).
//
// A full store does not forget a value that could still be accepted, and
// does not refuse fresh ones wholesale either: it forgets the values whose
// time ends first, and from then on refuses ([ErrReplayed]) every value
// whose time ends no later than theirs, since it can no longer tell
// whether those were seen. Under a flood the window within which proofs
// are accepted shrinks from its old end; proofs made now keep working, and
// no proof is ever accepted twice.
//
// It is safe for concurrent use, sharded to keep lock hold times short.
type MemoryReplayStore struct {
	shards [replayShards]replayShard
	now    func() time.Time
}

var _ ReplayStore = (*MemoryReplayStore)(nil)

const replayShards = 16

// maxSpare bounds the emptied bucket lists a shard keeps for reuse.
const maxSpare = 4

type replayShard struct {
	mu sync.Mutex
	// seen holds 64 bits of each key (a SHA-256): small enough that a
	// store of hundreds of thousands stays in the CPU's caches. Two keys
	// that share them (about once in 2^29 full stores) make the later
	// one refused as replayed: a fresh proof is asked for, and a replay is
	// never accepted.
	seen    map[uint64]struct{}
	buckets map[int64][]uint64 // by the second in which the value's time ends (rounded up)
	oldest  int64              // the smallest key of buckets, when it has one
	newest  int64              // the largest key of buckets, when it has one
	spare   [][]uint64         // emptied bucket lists, for reuse
	floor   int64              // Unix ns: values whose time ends at or before it are refused
	max     int
	_       [64]byte // keep shards on their own cache lines
}

// NewMemoryReplayStore returns an empty store. It refuses a Capacity
// below 16.
func NewMemoryReplayStore(o MemoryReplayOptions) (*MemoryReplayStore, error) {
	if o.Capacity == 0 {
		o.Capacity = DefaultReplayCapacity
	}
	if o.Capacity < replayShards {
		return nil, &ConfigError{Field: "Capacity", Value: fmt.Sprint(o.Capacity), Reason: "must be at least 16"}
	}
	s := &MemoryReplayStore{now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.shards {
		s.shards[i].seen = make(map[uint64]struct{})
		s.shards[i].buckets = make(map[int64][]uint64)
		s.shards[i].max = o.Capacity / replayShards
	}
	return s, nil
}

// Refusals, built once.
var (
	errReplayed   = ErrReplayed
	errForgotten  = fmt.Errorf("%w (earlier than the store still remembers)", ErrReplayed)
	errNotStarted = errors.New("auth: replay store not initialised")
)

// Use implements [ReplayStore]. A value whose time has already ended is
// not recorded (there is nothing left to refuse).
func (s *MemoryReplayStore) Use(_ context.Context, key ReplayKey, until time.Time) error {
	if s == nil || s.shards[0].seen == nil {
		return errNotStarted
	}
	now := s.now().UnixNano()
	end := until.UnixNano()
	if end <= now {
		return nil
	}
	sh := &s.shards[key[0]%replayShards]
	k := binary.LittleEndian.Uint64(key[8:16])
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.expire(now)
	if end <= sh.floor {
		return errForgotten
	}
	if len(sh.seen) >= sh.max {
		if _, dup := sh.seen[k]; dup {
			return errReplayed
		}
		sh.evict()
		if end <= sh.floor {
			return errForgotten
		}
	}
	// One map operation: the insert says whether k was there.
	n := len(sh.seen)
	sh.seen[k] = struct{}{}
	if len(sh.seen) == n {
		return errReplayed
	}
	b := (end + int64(time.Second) - 1) / int64(time.Second)
	if len(sh.buckets) == 0 || b < sh.oldest {
		sh.oldest = b
	}
	if len(sh.buckets) == 0 || b > sh.newest {
		sh.newest = b
	}
	list, ok := sh.buckets[b]
	if !ok && len(sh.spare) > 0 {
		list, sh.spare = sh.spare[len(sh.spare)-1], sh.spare[:len(sh.spare)-1]
	}
	sh.buckets[b] = append(list, k)
	return nil
}

// expire drops the buckets whose values' times have all ended.
func (sh *replayShard) expire(now int64) {
	for len(sh.buckets) > 0 && sh.oldest*int64(time.Second) <= now {
		sh.drop()
	}
}

// evict forgets the bucket whose values end first, and refuses from now on
// everything that ends no later.
func (sh *replayShard) evict() {
	if len(sh.buckets) == 0 {
		return
	}
	if f := sh.oldest * int64(time.Second); f > sh.floor {
		sh.floor = f
	}
	sh.drop()
}

// drop removes the oldest bucket and finds the next.
func (sh *replayShard) drop() {
	gone := sh.buckets[sh.oldest]
	for _, k := range gone {
		delete(sh.seen, k)
	}
	delete(sh.buckets, sh.oldest)
	if len(sh.spare) < maxSpare {
		sh.spare = append(sh.spare, gone[:0]) // reused by the next second's values
	}
	if len(sh.buckets) == 0 {
		return
	}
	// The next is usually a second or two on: step to it when the
	// buckets are dense (a map's iteration costs more than the lookups),
	// scan them all when they are sparse.
	if sh.newest-sh.oldest <= int64(2*len(sh.buckets)+64) {
		for b := sh.oldest + 1; b <= sh.newest; b++ {
			if _, ok := sh.buckets[b]; ok {
				sh.oldest = b
				return
			}
		}
	}
	first := true
	for b := range sh.buckets {
		if first || b < sh.oldest {
			sh.oldest, first = b, false
		}
	}
}

// Len reports how many values the store remembers now (those whose time
// has ended are forgotten first).
func (s *MemoryReplayStore) Len() int {
	n := 0
	now := s.now().UnixNano()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.expire(now)
		n += len(sh.seen)
		sh.mu.Unlock()
	}
	return n
}
