package auth

import "math"

// replayTable is one shard's memory of one-time values: an open-addressed
// hash table of (64-bit key, expiry second) in buckets of one cache line,
// probed linearly from the key's home bucket. It is not safe for
// concurrent use; [MemoryReplayStore] holds each behind a mutex.
//
// Times are whole seconds on the store's own scale (see
// [MemoryReplayStore]): a slot whose second is 0 is empty, one whose second
// is no later than now is stale (its value's time has ended) and is
// reused in place by the next value that probes it. A bucket's overflow
// counts the values homed before it that sit after it (as in F14 and
// Swiss tables), so a lookup stops at the first bucket that no value has
// passed: stale and emptied slots never hide a live value behind them,
// and no tombstones pile up.
//
// The table grows by doubling to a size fixed by its bound, max live
// values, at which it is at most 4/5 full; it never allocates after that.
type replayTable struct {
	buckets []replayBucket
	mask    uint64 // len(buckets) - 1
	used    int    // occupied slots: live values and stale ones not yet reused
	max     int    // bound on the live values
	maxLen  int    // the number of buckets the table grows to
	minExp  uint32 // no occupied slot's second is earlier
	floor   uint32 // values whose second is no later are refused
}

// replaySlots is the number of slots of a bucket: five keys, five
// seconds and the overflow count fill 64 bytes (12.8 bytes a value).
const replaySlots = 5

type replayBucket struct {
	keys     [replaySlots]uint64
	exps     [replaySlots]uint32
	overflow uint32
}

// replayStartBuckets is the size a table starts at (1 KiB).
const replayStartBuckets = 16

func newReplayTable(maxLive int) replayTable {
	maxLen := 1
	for 4*maxLen < maxLive {
		maxLen *= 2
	}
	n := min(maxLen, replayStartBuckets)
	return replayTable{
		buckets: make([]replayBucket, n),
		mask:    uint64(n - 1),
		max:     maxLive,
		maxLen:  maxLen,
		minExp:  math.MaxUint32,
	}
}

// limit is how many slots may be occupied before room is made: 4/5 of a
// table that can still grow, the bound on live values in a table that
// cannot.
func (t *replayTable) limit() int {
	return min(4*len(t.buckets), t.max)
}

// use records the value h until second exp (> now, > 0). It refuses h
// when it is recorded and live ([errReplayed]), and a value the table can
// no longer vouch for ([errForgotten]): one that ends no later than the
// values it forgot when it was full.
func (t *replayTable) use(h uint64, exp, now uint32) error {
	if exp <= t.floor {
		return errForgotten
	}
	home := h & t.mask
	bi, si, dup := t.find(h, home, now)
	if dup {
		return errReplayed
	}
	if t.buckets[bi].exps[si] == 0 && t.used >= t.limit() {
		t.makeRoom(now)
		if exp <= t.floor {
			return errForgotten
		}
		home = h & t.mask
		bi, si = t.free(home, now)
	}
	t.put(bi, si, home, h, exp)
	return nil
}

// find looks for h live along its probe sequence. When it is not there,
// it returns the slot h would take: the first reusable one (stale
// preferred to empty within a bucket) from its home on.
func (t *replayTable) find(h, home uint64, now uint32) (bi uint64, si int, dup bool) {
	found := false
	i := home
	for range len(t.buckets) {
		b := &t.buckets[i]
		free := -1
		for j := range replaySlots {
			if e := b.exps[j]; e > now {
				if b.keys[j] == h {
					return 0, 0, true
				}
			} else if free < 0 || e != 0 {
				free = j
			}
		}
		if !found && free >= 0 {
			bi, si, found = i, free, true
		}
		if b.overflow == 0 {
			break
		}
		i = (i + 1) & t.mask
	}
	if !found {
		bi, si = t.free(i, now)
	}
	return bi, si, false
}

// free returns the first reusable slot from bucket i on. The table is
// never full (see limit), so there is one.
func (t *replayTable) free(i uint64, now uint32) (uint64, int) {
	for {
		b := &t.buckets[i]
		free := -1
		for j := range replaySlots {
			if e := b.exps[j]; e <= now && (free < 0 || e != 0) {
				free = j
			}
		}
		if free >= 0 {
			return i, free
		}
		i = (i + 1) & t.mask
	}
}

// put writes h into slot si of bucket bi, forgetting the stale value
// there if any, and counts h's passage over the buckets from its home.
func (t *replayTable) put(bi uint64, si int, home, h uint64, exp uint32) {
	b := &t.buckets[bi]
	if b.exps[si] == 0 {
		t.used++
	} else {
		t.unlink(b.keys[si]&t.mask, bi)
	}
	for i := home; i != bi; i = (i + 1) & t.mask {
		t.buckets[i].overflow++
	}
	b.keys[si], b.exps[si] = h, exp
	t.minExp = min(t.minExp, exp)
}

// unlink undoes a value's passage from its home to bucket bi.
func (t *replayTable) unlink(home, bi uint64) {
	for i := home; i != bi; i = (i + 1) & t.mask {
		t.buckets[i].overflow--
	}
}

// makeRoom frees at least one slot: it drops the stale values if there
// are any, else grows the table, else (full of live values) forgets those
// that end first and refuses from then on whatever ends no later.
func (t *replayTable) makeRoom(now uint32) {
	if t.minExp <= now {
		t.drop(now)
		if t.used < t.limit() {
			return
		}
	}
	if len(t.buckets) < t.maxLen {
		t.grow(now)
		return
	}
	for t.used >= t.limit() {
		// minExp is exact after a drop; before one it may be earlier than
		// any value, and the drop that frees nothing finds the real one.
		cut := t.minExp
		t.drop(cut)
		t.floor = max(t.floor, cut)
	}
}

// drop empties the slots whose second is no later than cut, and finds
// the earliest second left.
func (t *replayTable) drop(cut uint32) {
	t.minExp = math.MaxUint32
	for i := range t.buckets {
		b := &t.buckets[i]
		for j := range replaySlots {
			e := b.exps[j]
			switch {
			case e == 0:
			case e <= cut:
				t.unlink(b.keys[j]&t.mask, uint64(i))
				b.exps[j] = 0
				t.used--
			default:
				t.minExp = min(t.minExp, e)
			}
		}
	}
}

// grow doubles the table and moves the live values into it.
func (t *replayTable) grow(now uint32) {
	old := t.buckets
	n := 2 * len(old)
	t.buckets = make([]replayBucket, n)
	t.mask = uint64(n - 1) // #nosec G115 -- n is a power of two, at least 2
	t.used = 0
	t.minExp = math.MaxUint32
	for i := range old {
		b := &old[i]
		for j := range replaySlots {
			if e := b.exps[j]; e > now {
				home := b.keys[j] & t.mask
				bi, si := t.free(home, now)
				t.put(bi, si, home, b.keys[j], e)
			}
		}
	}
}

// live counts the values recorded and not yet past their time, dropping
// the stale ones.
func (t *replayTable) live(now uint32) int {
	if t.minExp <= now {
		t.drop(now)
	}
	return t.used
}
