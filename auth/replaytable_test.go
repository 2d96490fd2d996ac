package auth_test

import (
	"errors"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
)

// key returns a table key homed at bucket home, distinct for each i.
func key(home, i uint64) uint64 { return i<<32 | home }

func checkTable(t *testing.T, tb *auth.ReplayTable) {
	t.Helper()
	if msg := tb.Check(); msg != "" {
		t.Fatal(msg)
	}
}

func TestReplayBucketIsOneCacheLine(t *testing.T) {
	if auth.ReplayBucketSize != 64 {
		t.Fatalf("bucket size = %d bytes, want 64", auth.ReplayBucketSize)
	}
	if per := float64(auth.ReplayBucketSize) / auth.ReplaySlots; per > 16 {
		t.Fatalf("%.1f bytes a slot, want at most 16", per)
	}
}

// TestReplayTableWrapsAround: values homed in the last bucket overflow
// into the first, and every one of them is still found there.
func TestReplayTableWrapsAround(t *testing.T) {
	tb := auth.NewReplayTable(16) // 4 buckets, 20 slots
	if tb.Buckets() != 4 {
		t.Fatalf("Buckets = %d, want 4", tb.Buckets())
	}
	last := uint64(tb.Buckets() - 1)
	const n = 2*auth.ReplaySlots + 2 // fills the last bucket and the first, and spills into the second
	for i := range uint64(n) {
		if err := tb.Use(key(last, i), 10, 1); err != nil {
			t.Fatalf("Use(value %d) = %v, want accepted", i, err)
		}
	}
	checkTable(t, tb)
	for i := range uint64(n) {
		if err := tb.Use(key(last, i), 10, 1); !errors.Is(err, auth.ErrReplayed) {
			t.Fatalf("replay of value %d past the wrap = %v, want ErrReplayed", i, err)
		}
	}
	// A value homed in the first bucket goes past the ones that wrapped
	// into it, and is found.
	if err := tb.Use(key(0, 99), 10, 1); err != nil {
		t.Fatal(err)
	}
	if err := tb.Use(key(0, 99), 10, 1); !errors.Is(err, auth.ErrReplayed) {
		t.Fatalf("replay of a value behind wrapped ones = %v, want ErrReplayed", err)
	}
	checkTable(t, tb)
}

// TestReplayTableReusesExpiredSlots: values whose time ended free their
// slots for new ones in place, and an expired slot in the middle of a
// probe sequence never hides a live value behind it.
func TestReplayTableReusesExpiredSlots(t *testing.T) {
	tb := auth.NewReplayTable(16)
	// A chain from bucket 1: the first five expire at second 5, the
	// next five (in bucket 2) live until 100.
	for i := range uint64(2 * auth.ReplaySlots) {
		exp := uint32(5)
		if i >= auth.ReplaySlots {
			exp = 100
		}
		if err := tb.Use(key(1, i), exp, 1); err != nil {
			t.Fatal(err)
		}
	}
	occupied := tb.Occupied()
	// At second 6 the first five are stale; the live ones behind them
	// are still refused.
	for i := uint64(auth.ReplaySlots); i < 2*auth.ReplaySlots; i++ {
		if err := tb.Use(key(1, i), 100, 6); !errors.Is(err, auth.ErrReplayed) {
			t.Fatalf("live value %d behind expired ones = %v, want ErrReplayed", i, err)
		}
	}
	// The expired values' own time ended: each may be used again, and
	// takes a stale slot rather than a new one.
	for i := range uint64(auth.ReplaySlots) {
		if err := tb.Use(key(1, i), 50, 6); err != nil {
			t.Fatalf("value %d after its time = %v, want accepted", i, err)
		}
	}
	if got := tb.Occupied(); got != occupied {
		t.Errorf("Occupied after reuse = %d, want %d (stale slots reused in place)", got, occupied)
	}
	checkTable(t, tb)
	// Many generations through a full-size table: it never grows, and
	// never holds more than its bound.
	tb = auth.NewReplayTable(16)
	buckets := tb.Buckets()
	for gen := range uint32(1000) {
		for i := range uint64(16) {
			if err := tb.Use(key(i%4, uint64(gen)<<8|i), gen+2, gen+1); err != nil {
				t.Fatalf("generation %d value %d = %v, want accepted", gen, i, err)
			}
		}
		if l := tb.Live(gen + 1); l != 16 {
			t.Fatalf("Live = %d in generation %d, want 16", l, gen)
		}
	}
	if tb.Buckets() != buckets {
		t.Errorf("Buckets = %d after reuse, want %d", tb.Buckets(), buckets)
	}
	checkTable(t, tb)
}

// TestReplayTableFullRefuses: a table full of live values forgets those
// that end first and refuses, from then on, every value that ends no
// later, including the forgotten ones replayed; later values are accepted.
func TestReplayTableFullRefuses(t *testing.T) {
	tb := auth.NewReplayTable(16)
	for i := range uint64(16) {
		exp := uint32(20)
		if i < 3 {
			exp = 10
		}
		if err := tb.Use(key(i%4, i), exp, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Use(key(0, 100), 10, 1); !errors.Is(err, auth.ErrReplayForgotten) {
		t.Fatalf("a value ending with the earliest in a full table = %v, want forgotten", err)
	}
	if tb.Floor() != 10 {
		t.Fatalf("Floor = %d, want 10", tb.Floor())
	}
	for i := range uint64(3) {
		if err := tb.Use(key(i%4, i), 10, 1); !errors.Is(err, auth.ErrReplayed) {
			t.Fatalf("replay of forgotten value %d = %v, want refused", i, err)
		}
	}
	if err := tb.Use(key(0, 101), 30, 1); err != nil {
		t.Fatalf("a value ending later = %v, want accepted", err)
	}
	if l := tb.Live(1); l > 16 {
		t.Fatalf("Live = %d, bound 16", l)
	}
	// Full again, of values that end at 20 and later: a value ending at
	// 15, before all of them, makes the table forget those ending at 20
	// and is refused, as are their replays.
	for i := uint64(200); tb.Live(1) < 16; i++ {
		if err := tb.Use(key(i%4, i), 40, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := tb.Use(key(1, 300), 15, 1); !errors.Is(err, auth.ErrReplayForgotten) {
		t.Fatalf("a value ending before every remembered one = %v, want forgotten", err)
	}
	for i := uint64(3); i < 16; i++ {
		if err := tb.Use(key(i%4, i), 20, 1); !errors.Is(err, auth.ErrReplayed) {
			t.Fatalf("replay of value %d = %v, want refused", i, err)
		}
	}
	checkTable(t, tb)
}

// TestReplayTableGrows: a table starts small and doubles up to its size;
// what it held before is still refused after.
func TestReplayTableGrows(t *testing.T) {
	tb := auth.NewReplayTable(4096)
	start := tb.Buckets()
	for i := range uint64(4096) {
		if err := tb.Use(i*0x9E3779B97F4A7C15, 100, 1); err != nil {
			t.Fatalf("Use(value %d) = %v", i, err)
		}
	}
	if tb.Buckets() <= start {
		t.Fatalf("Buckets = %d, want more than %d", tb.Buckets(), start)
	}
	if tb.Buckets()*auth.ReplaySlots*4 < 4096*5 {
		t.Errorf("Buckets = %d: more than 4/5 full", tb.Buckets())
	}
	for i := range uint64(4096) {
		if err := tb.Use(i*0x9E3779B97F4A7C15, 100, 1); !errors.Is(err, auth.ErrReplayed) {
			t.Fatalf("replay of value %d after growing = %v, want ErrReplayed", i, err)
		}
	}
	checkTable(t, tb)
}

// FuzzReplayTable drives a small table with uses and a moving clock, and
// holds it to a model: a value is accepted exactly when it is not live in
// the model and the table is neither full nor past it; a refusal as
// replayed is a value the model holds live; the table forgets only when
// full of live values, and then those that end first; its bookkeeping
// stays consistent and it never holds more than its bound.
func FuzzReplayTable(f *testing.F) {
	f.Add(uint8(16), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(uint8(1), []byte{0x80, 0x80, 0x81, 0x01, 0xff, 0x80})
	f.Add(uint8(40), []byte("wrap around the last bucket and back"))
	f.Fuzz(replayTableModel)
}

// replayTableModel is FuzzReplayTable's body.
func replayTableModel(t *testing.T, maxLive uint8, ops []byte) {
	if maxLive == 0 {
		maxLive = 1
	}
	tb := auth.NewReplayTable(int(maxLive))
	model := map[uint64]uint32{} // value → its second, for values remembered
	now, floor := uint32(1), uint32(0)
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i], ops[i+1]
		if op == 0xff {
			now += uint32(arg % 8) // the clock moves on
			continue
		}
		// Few distinct values (replays are common), homed in few
		// buckets (chains and wraparound are common).
		h := uint64(op&0x1f)<<32 | uint64(op>>5)
		exp := now + 1 + uint32(arg%16)
		live := 0
		minExp := uint32(0)
		for _, e := range model {
			if e > now {
				live++
				if minExp == 0 || e < minExp {
					minExp = e
				}
			}
		}
		err := tb.Use(h, exp, now)
		e, seen := model[h]
		isLive := seen && e > now
		switch {
		case err == nil && isLive:
			t.Fatalf("op %d: value %#x accepted while live until %d (now %d)", i, h, e, now)
		case errors.Is(err, auth.ErrReplayForgotten):
			if tb.Floor() < exp {
				t.Fatalf("op %d: refused as forgotten at second %d above the floor %d", i, exp, tb.Floor())
			}
		case err != nil && !isLive:
			t.Fatalf("op %d: value %#x refused as replayed (%v) but not live", i, h, err)
		case err == nil && exp <= floor:
			t.Fatalf("op %d: accepted at second %d, at or below the floor %d", i, exp, floor)
		}
		if f := tb.Floor(); f != floor {
			// It forgot: only when full of live values, only those
			// that end first.
			if live < int(maxLive) || f != minExp {
				t.Fatalf("op %d: floor %d→%d with %d live of %d, earliest %d", i, floor, f, live, maxLive, minExp)
			}
			for k, e := range model {
				if e <= f {
					delete(model, k)
				}
			}
			floor = f
		}
		if err == nil {
			model[h] = exp
		} else if !isLive && !errors.Is(err, auth.ErrReplayForgotten) {
			t.Fatalf("op %d: unexpected refusal %v", i, err)
		}
		if err != nil && !isLive && exp > floor {
			t.Fatalf("op %d: value %#x at second %d refused (%v) above the floor %d", i, h, exp, err, floor)
		}
		want := 0
		for _, e := range model {
			if e > now {
				want++
			}
		}
		if got := tb.Live(now); got != want || got > int(maxLive) {
			t.Fatalf("op %d: Live = %d, model %d, bound %d", i, got, want, maxLive)
		}
		if msg := tb.Check(); msg != "" {
			t.Fatalf("op %d: %s", i, msg)
		}
	}
}
