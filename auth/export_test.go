package auth

import "unsafe"

// ReplayTable is one shard's table of a [MemoryReplayStore], driven
// directly: keys are the table's own (already mixed) 64-bit values, whose
// low bits pick the home bucket, and times are its whole seconds.
type ReplayTable struct{ t replayTable }

// NewReplayTable returns a table that holds at most maxLive live values.
func NewReplayTable(maxLive int) *ReplayTable {
	return &ReplayTable{t: newReplayTable(maxLive)}
}

// Use records h until second exp, judged at second now.
func (r *ReplayTable) Use(h uint64, exp, now uint32) error { return r.t.use(h, exp, now) }

// Live counts the live values at second now.
func (r *ReplayTable) Live(now uint32) int { return r.t.live(now) }

// Occupied counts the occupied slots, live or stale.
func (r *ReplayTable) Occupied() int { return r.t.used }

// Buckets is the table's size in buckets of [ReplaySlots] slots.
func (r *ReplayTable) Buckets() int { return len(r.t.buckets) }

// Floor is the second at or before which values are refused.
func (r *ReplayTable) Floor() uint32 { return r.t.floor }

// Check verifies the table's bookkeeping: each bucket's overflow is the
// number of values that passed it, and used counts the occupied slots. It
// returns a description of the first inconsistency, or "".
func (r *ReplayTable) Check() string {
	t := &r.t
	want := make([]uint32, len(t.buckets))
	used := 0
	for i := range t.buckets {
		for j := range replaySlots {
			if t.buckets[i].exps[j] == 0 {
				continue
			}
			used++
			for x := t.buckets[i].keys[j] & t.mask; x != uint64(i); x = (x + 1) & t.mask {
				want[x]++
			}
		}
	}
	if used != t.used {
		return "used count wrong"
	}
	for i := range want {
		if want[i] != t.buckets[i].overflow {
			return "overflow count wrong"
		}
	}
	return ""
}

// ReplaySlots is the number of slots of a bucket.
const ReplaySlots = replaySlots

// ReplayBucketSize is the size of a bucket in bytes.
const ReplayBucketSize = unsafe.Sizeof(replayBucket{})

// ErrReplayForgotten is the refusal of a value the table can no longer
// vouch for.
var ErrReplayForgotten = errForgotten
