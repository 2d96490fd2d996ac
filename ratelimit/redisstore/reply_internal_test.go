package redisstore

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// TestDecodeReply holds the store to the script's reply: the results it
// works out from each limit's used time, and ErrBadReply for every reply
// the script cannot have sent (a proxy that mangles replies, another
// program's script under the store's keys), instead of a decision made
// from it.
func TestDecodeReply(t *testing.T) {
	const now = int64(1_780_000_000_000_000)
	// 1 ms interval, burst 5: tau 5 000 µs.
	one := []ratelimit.Limit{{Key: 1, Subject: 1, Policy: 1, Interval: int64(time.Millisecond), Burst: 5}}
	two := append(one, ratelimit.Limit{Key: 2, Subject: 1, Policy: 2, Interval: int64(time.Second), Burst: 2})
	cases := []struct {
		name    string
		vals    []int64
		mode    int
		cost    int64
		limits  []ratelimit.Limit
		allowed bool
		want    []ratelimit.Result
		err     error
	}{
		{"charged", []int64{now, 1, 1500}, modeCharge, 1, one, true,
			[]ratelimit.Result{{Allowed: true, Remaining: 2, ResetAfter: 2500 * time.Microsecond}}, nil},
		{"peeked: the state without the request", []int64{now, 1, 1500}, modePeek, 1, one, true,
			[]ratelimit.Result{{Allowed: true, Remaining: 3, ResetAfter: 1500 * time.Microsecond}}, nil},
		{"refused", []int64{now, 0, 4500}, modeCharge, 1, one, false,
			[]ratelimit.Result{{Remaining: 0, ResetAfter: 4500 * time.Microsecond, RetryAfter: 500 * time.Microsecond}}, nil},
		{"cost over the burst: never", []int64{now, 0, 0}, modeCharge, 6, one, false,
			[]ratelimit.Result{{Remaining: 5}}, nil},
		{"one limit refuses: the other reports itself uncharged", []int64{now, 0, 0, 2_000_000}, modeCharge, 1, two, false,
			[]ratelimit.Result{{Allowed: true, Remaining: 5}, {ResetAfter: 2 * time.Second, RetryAfter: time.Second}}, nil},
		{"write refused", []int64{now, 2, 0, refusedOOM}, modeCharge, 1, one, false, nil, ErrWriteRefused},

		{"allowed flag the limits do not give", []int64{now, 1, 4500}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"refusal the limits do not give", []int64{now, 0, 0}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"flag neither 0 nor 1", []int64{now, 3, 0}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"negative used", []int64{now, 1, -1}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"used beyond any stored TAT", []int64{now, 0, maxUsedMicros + 1}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"too short", []int64{now, 1}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"too long", []int64{now, 1, 0, 0}, modeCharge, 1, one, false, nil, ErrBadReply},
		{"the old reply's shape", []int64{now, 1, 1, 4, 1000, 0}, modeCharge, 1, one, false, nil, ErrBadReply},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := make([]ratelimit.Result, len(c.limits))
			allowed, at, err := decodeReply(c.vals, c.mode, c.cost, c.limits, out)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				return
			}
			if err != nil || allowed != c.allowed || at != now {
				t.Fatalf("= %v, %d, %v; want %v, %d, nil", allowed, at, err, c.allowed, now)
			}
			for i := range out {
				if out[i] != c.want[i] {
					t.Errorf("limit %d: %+v, want %+v", i, out[i], c.want[i])
				}
			}
		})
	}
}
