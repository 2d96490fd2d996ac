package auth

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultReplayCapacity is the number of one-time values a
// [MemoryReplayStore] remembers by default: at the default 60 s proof
// window, about 4 000 proofs a second, in 4 MiB when full (64 bits of each
// key and its expiry second, 12.8 bytes a value in a table at most 4/5
// full).
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
// A value is remembered until the end of the second in which its time
// ends. A full store does not forget a value that could still be
// accepted, and does not refuse fresh ones wholesale either: it forgets
// the values whose time ends first, and from then on refuses
// ([ErrReplayed]) every value whose time ends no later than theirs, since
// it can no longer tell whether those were seen. Under a flood the window
// within which proofs are accepted shrinks from its old end; proofs made
// now keep working, and no proof is ever accepted twice. A value whose
// time ends more than 68 years from the store's creation (or began more
// than 68 years before it) is refused too: the store cannot hold it.
//
// It keeps 64 bits of each key: two keys that share them (about once in
// 2^29 full stores) make the later one refused as replayed, so that a
// fresh proof is asked for; a replay is never accepted.
//
// It is safe for concurrent use, sharded to keep lock hold times short.
// It does not allocate once its tables have grown to their size.
type MemoryReplayStore struct {
	shards [replayShards]replayShard
	now    func() time.Time
	seed   uint64 // mixed into each key, so that clients cannot choose where their values go
	epoch  int64  // Unix second 0 of the tables' scale
}

var _ ReplayStore = (*MemoryReplayStore)(nil)

const replayShards = 16

type replayShard struct {
	mu sync.Mutex
	t  replayTable
	_  [64]byte // keep shards on their own cache lines
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
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand)
	s.seed = binary.LittleEndian.Uint64(seed[:])
	// The tables count seconds in 32 bits from 2^31 s (68 years) before
	// now: 68 years either way.
	s.epoch = floorDiv(s.now().UnixNano(), int64(time.Second)) - 1<<31
	for i := range s.shards {
		s.shards[i].t = newReplayTable(o.Capacity / replayShards)
	}
	return s, nil
}

// Refusals, built once.
var (
	errReplayed   = ErrReplayed
	errForgotten  = fmt.Errorf("%w (earlier than the store still remembers)", ErrReplayed)
	errTooFar     = fmt.Errorf("%w (its time is beyond what the store can hold)", ErrReplayed)
	errNotStarted = errors.New("auth: replay store not initialised")
)

// Use implements [ReplayStore]. A value whose time has already ended is
// not recorded (there is nothing left to refuse).
func (s *MemoryReplayStore) Use(_ context.Context, key ReplayKey, until time.Time) error {
	if s == nil || s.shards[0].t.buckets == nil {
		return errNotStarted
	}
	now := s.now().UnixNano()
	end := until.UnixNano()
	if end <= now {
		return nil
	}
	// The end's second, rounded up, and now's, rounded down: a value is
	// live while its second is later than now's.
	exp := floorDiv(end-1, int64(time.Second)) + 1 - s.epoch
	if exp < 1 || exp > math.MaxUint32 {
		return errTooFar
	}
	h := replayMix(binary.LittleEndian.Uint64(key[8:16]) ^ s.seed)
	sh := &s.shards[h>>60]
	n := s.nowSecond(now)
	sh.mu.Lock()
	err := sh.t.use(h, uint32(exp), n)
	sh.mu.Unlock()
	return err
}

// nowSecond is now on the tables' scale, held within it: before it
// every value is live, after it none is, as they are in truth.
func (s *MemoryReplayStore) nowSecond(now int64) uint32 {
	return uint32(min(max(floorDiv(now, int64(time.Second))-s.epoch, 0), math.MaxUint32))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// replayMix is a bijection of 64-bit values that spreads every input bit
// over the output (splitmix64's finalizer): keys equal after it were
// equal before.
func replayMix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Len reports how many values the store remembers now (those whose time
// has ended are forgotten first).
func (s *MemoryReplayStore) Len() int {
	total := 0
	n := s.nowSecond(s.now().UnixNano())
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		total += sh.t.live(n)
		sh.mu.Unlock()
	}
	return total
}
