package ratelimit

import (
	"context"
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultMaxKeys = 100_000
	maxShards      = 64
	// probeWindow is how far from its home slot a key may live. Lookups
	// read at most this many slots; inserts evict only inside it.
	probeWindow = 32
	// maxLimits is how many limits one Take may decide at once.
	maxLimits = 16
	// overflowSlots is the size of the overflow table (one slot per
	// policy that ever overflowed).
	overflowSlots = 256
	// maxAttempts bounds the retries of a contended decision.
	maxAttempts = 1 << 12
	// evictScan bounds the slots one insert inspects outside its window.
	evictScan = 64

	keyEmpty     = 0
	keyTombstone = 1
	// evictFlag marks a slot's TAT while the slot is evicted. Every TAT the
	// store writes is below it (see maxNow and MaxTolerance).
	evictFlag = int64(1) << 62
)

// MemoryConfig configures a [MemoryStore]. The zero value is usable.
type MemoryConfig struct {
	// MaxKeys is the hard bound on the number of (policy, subject) states
	// kept. Default 100 000. The table is allocated once, at 32 bytes per
	// key (two 16-byte slots, so that probing stays short), and never
	// grows: a flood of distinct keys cannot make the process allocate.
	//
	// When a new key arrives and its part of the table is full, a key whose
	// state equals a fresh key's (fully refilled) is evicted, which costs
	// nobody anything. When none can be, the new key shares its policy's
	// overflow bucket instead of getting a fresh burst; so flooding the
	// table with new keys throttles the new keys, never frees limited ones.
	MaxKeys int

	// OnEvict, if set, is called with the number of keys evicted to make
	// room, outside any lock. It is a metrics hook and must be fast.
	OnEvict func(n int)

	// OnOverflow, if set, is called when a new key was charged to its
	// policy's overflow bucket because no room could be made.
	OnOverflow func()
}

// MemoryStore is the in-process [Store]: a sharded, fixed-size open
// addressing table of 16-byte slots (a key hash and a GCRA timestamp).
// Decisions on existing keys take no lock: they compare-and-swap the
// timestamp, and allocate nothing. Inserting a new key takes its shard's
// lock. It is safe for concurrent use.
type MemoryStore struct {
	shards     []shard
	shardShift uint
	onEvict    func(int)
	onOverflow func()

	// live counts kept keys across shards; MaxKeys bounds it exactly.
	live    atomic.Int64
	maxKeys int64

	ovfMu sync.Mutex
	ovf   [overflowSlots]slot
}

type slot struct {
	key atomic.Uint64
	tat atomic.Int64
}

type shard struct {
	mu    sync.Mutex
	slots []slot
	size  uint64
	hand  uint64 // guarded by mu: where evictElsewhere resumes
	// shardBits is log2 of the shard count: the key bits that chose the
	// shard, shifted out before choosing the slot.
	shardBits uint
	_         [64]byte // keep shards' locks on separate cache lines
}

// ErrStoreFull is returned when the overflow table has no room for another
// policy. It means more than 256 distinct policies overflowed.
var ErrStoreFull = errors.New("ratelimit: memory store overflow table is full")

// ErrContention is returned when a multi-limit decision could not complete
// after many attempts because other requests kept changing its keys.
var ErrContention = errors.New("ratelimit: decision abandoned under contention")

// ErrInvalidTake is returned by a [Store] for a call that breaks its
// contract: cost < 1, a limit out of range, a time before 1970 or after
// 2043, too many limits or too small an out slice.
var ErrInvalidTake = errors.New("ratelimit: invalid store call")

// NewMemoryStore returns a [MemoryStore]. Every problem with cfg is
// returned, joined; each is a [*ConfigError].
func NewMemoryStore(cfg MemoryConfig) (*MemoryStore, error) {
	maxKeys := cfg.MaxKeys
	switch {
	case maxKeys == 0:
		maxKeys = defaultMaxKeys
	case maxKeys < 1 || maxKeys > 1<<30:
		return nil, &ConfigError{Field: "MaxKeys", Reason: "must be between 1 and 2^30"}
	}
	n := maxShards
	for n > 1 && maxKeys/n < 256 {
		n /= 2
	}
	// Twice the keys a shard holds on average: linear probing stays short
	// at load 1/2, and a shard may hold more than its share.
	size := max(2*((maxKeys+n-1)/n), probeWindow)
	m := &MemoryStore{
		shards:     make([]shard, n),
		shardShift: uint(64 - bits.TrailingZeros(uint(n))),
		onEvict:    cfg.OnEvict,
		onOverflow: cfg.OnOverflow,
		maxKeys:    int64(maxKeys),
	}
	for i := range m.shards {
		m.shards[i].slots = make([]slot, size)
		m.shards[i].size = uint64(size)
		m.shards[i].shardBits = uint(bits.TrailingZeros(uint(n)))
	}
	return m, nil
}

// Capacity returns the most keys the store keeps (MaxKeys) and the bytes
// its table occupies (fixed at construction).
func (m *MemoryStore) Capacity() (keys int, bytes int) {
	for i := range m.shards {
		bytes += len(m.shards[i].slots) * 16
	}
	return int(m.maxKeys), bytes
}

// Len returns the number of keys currently kept.
func (m *MemoryStore) Len() int { return int(m.live.Load()) }

// storeKey maps a hash onto the key space of the table (0 and 1 are
// reserved for empty and evicted slots).
// It first mixes k (a bijection, so distinct keys stay distinct), so that
// keys which are not already hashes still spread over shards and slots.
func storeKey(k uint64) uint64 {
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	k ^= k >> 31
	if k <= keyTombstone {
		k += 2
	}
	return k
}

func (m *MemoryStore) shardIndex(key uint64) uint64 {
	if m.shardShift >= 64 {
		return 0
	}
	return key >> m.shardShift
}

func (m *MemoryStore) shardOf(key uint64) *shard { return &m.shards[m.shardIndex(key)] }

// at returns the index of the i-th slot of key's probe sequence. The home
// slot is key's bits below the shard bits scaled onto the table
// (multiply-shift: no power-of-two size, no modulo).
func (sh *shard) at(key, i uint64) uint64 {
	hi, _ := bits.Mul64(key<<sh.shardBits, sh.size)
	if j := hi + i; j < sh.size {
		return j
	}
	return hi + i - sh.size
}

// lookup finds key without taking a lock.
func (sh *shard) lookup(key uint64) *slot {
	for i := uint64(0); i < probeWindow; i++ {
		s := &sh.slots[sh.at(key, i)]
		switch s.key.Load() {
		case key:
			return s
		case keyEmpty:
			return nil // keys are never placed past an empty slot
		}
	}
	return nil
}

// insert places key with a fresh state (TAT = now, which equals no state at
// all), evicting a fully refilled key of the window if the shard is full or
// the window has no free slot. It returns nil when no room can be made.
func (m *MemoryStore) insert(sh *shard, key uint64, now int64) (s *slot, evicted int) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return m.insertLocked(sh, key, now)
}

func (m *MemoryStore) insertLocked(sh *shard, key uint64, now int64) (s *slot, evicted int) {
	if s := sh.lookup(key); s != nil {
		return s, 0
	}
	var free, victim *slot
	for i := uint64(0); i < probeWindow; i++ {
		c := &sh.slots[sh.at(key, i)]
		k := c.key.Load()
		t := c.tat.Load()
		switch {
		case k == keyEmpty:
			if free == nil {
				free = c
			}
			i = probeWindow // nothing lives past an empty slot
		case k == keyTombstone:
			// Reuse only when the new TAT is above every TAT the slot
			// held, so a stale compare-and-swap can never match it.
			if free == nil && t&^evictFlag < now {
				free = c
			}
		case victim == nil && t&evictFlag == 0 && t < now:
			victim = c // fully refilled: its state equals a fresh key's
		}
	}
	if free != nil && m.reserve() {
		free.tat.Store(now)
		free.key.Store(key)
		return free, 0
	}
	if victim != nil && evict(victim, now) {
		victim.tat.Store(now)
		victim.key.Store(key)
		return victim, 1
	}
	if free != nil && sh.evictElsewhere(now) {
		free.tat.Store(now)
		free.key.Store(key)
		return free, 1 // live unchanged: one out, one in
	}
	return nil, 0
}

// reserve counts one more live key if MaxKeys allows it.
func (m *MemoryStore) reserve() bool {
	for {
		n := m.live.Load()
		if n >= m.maxKeys {
			return false
		}
		if m.live.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// evict turns s into a tombstone if its key is fully refilled at now.
// The tombstone keeps the last TAT (flagged), so that the slot is reused
// only for a TAT above it.
func evict(s *slot, now int64) bool {
	t := s.tat.Load()
	if t&evictFlag != 0 || t >= now || !s.tat.CompareAndSwap(t, t|evictFlag) {
		return false // charged meanwhile: no longer evictable
	}
	s.key.Store(keyTombstone)
	return true
}

// evictElsewhere evicts one fully refilled key of the shard, scanning at
// most evictScan slots from a moving hand, so an insert does bounded work.
func (sh *shard) evictElsewhere(now int64) bool {
	for range evictScan {
		s := &sh.slots[sh.hand%sh.size]
		sh.hand++
		if k := s.key.Load(); k > keyTombstone && evict(s, now) {
			return true
		}
	}
	return false
}

// slotFor returns the slot holding key, inserting it if needed, or the
// policy's overflow slot when there is no room. It returns the key the slot
// is expected to hold.
func (m *MemoryStore) slotFor(l *Limit, now int64) (*slot, uint64, error) {
	key := storeKey(l.Key)
	sh := m.shardOf(key)
	if s := sh.lookup(key); s != nil {
		return s, key, nil
	}
	s, ev := m.insert(sh, key, now)
	if ev > 0 && m.onEvict != nil {
		m.onEvict(ev)
	}
	if s != nil {
		return s, key, nil
	}
	if m.onOverflow != nil {
		m.onOverflow()
	}
	return m.overflowSlot(l.Policy)
}

func (m *MemoryStore) overflowSlot(policy uint64) (*slot, uint64, error) {
	key := storeKey(policy)
	for i := uint64(0); i < overflowSlots; i++ {
		s := &m.ovf[(key+i)%overflowSlots]
		switch s.key.Load() {
		case key:
			return s, key, nil
		case keyEmpty:
			m.ovfMu.Lock()
			if s.key.Load() == keyEmpty {
				s.key.Store(key) // TAT 0: a fresh state
			}
			m.ovfMu.Unlock()
			if s.key.Load() == key {
				return s, key, nil
			}
		}
	}
	return nil, 0, ErrStoreFull
}

// peekSlot finds key without inserting.
func (m *MemoryStore) peekSlot(l *Limit) (*slot, uint64) {
	key := storeKey(l.Key)
	return m.shardOf(key).lookup(key), key
}

// load reads the TAT of s if s still holds key and is not being evicted.
func load(s *slot, key uint64) (int64, bool) {
	t := s.tat.Load()
	if t&evictFlag != 0 || s.key.Load() != key {
		return 0, false
	}
	return t, true
}

// Take implements [Store]. It allocates nothing.
func (m *MemoryStore) Take(_ context.Context, now time.Time, cost int64, limits []Limit, out []Result) (bool, error) {
	n := now.UnixNano()
	if n <= 0 || n >= maxNow || cost < 1 || len(limits) == 0 || len(limits) > maxLimits || len(out) < len(limits) {
		return false, ErrInvalidTake
	}
	tooBig := false
	for i := range limits {
		l := &limits[i]
		if l.Interval < 1 || l.Burst < 1 || l.Burst > MaxTolerance/l.Interval {
			return false, ErrInvalidTake
		}
		tooBig = tooBig || cost > l.Burst
	}
	if tooBig { // can never be allowed: report, touch nothing
		for i := range limits {
			var t int64
			if s, key := m.peekSlot(&limits[i]); s != nil {
				t, _ = load(s, key)
			}
			_, out[i] = gcra(t, n, cost, &limits[i])
			if out[i].Allowed {
				out[i] = unchargedResult(t, n, &limits[i])
			}
		}
		return false, nil
	}
	if len(limits) == 1 {
		return m.takeOne(n, cost, &limits[0], out)
	}
	return m.takeMany(n, cost, limits, out)
}

func (m *MemoryStore) takeOne(now, cost int64, l *Limit, out []Result) (bool, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		s, key, err := m.slotFor(l, now)
		if err != nil {
			return false, err
		}
		for {
			t, ok := load(s, key)
			if !ok {
				break // evicted under us: find the key again
			}
			newTAT, r := gcra(t, now, cost, l)
			if !r.Allowed {
				out[0] = r
				return false, nil
			}
			if s.tat.CompareAndSwap(t, newTAT) {
				out[0] = r
				return true, nil
			}
		}
	}
	return false, ErrContention
}

var _ Store = (*MemoryStore)(nil)
