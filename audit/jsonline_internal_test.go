package audit

import (
	"testing"
	"time"
)

// TestRFC3339NanoAsTheStandardLibrary: the record's time is formatted as
// time.RFC3339Nano formats it, trailing zeros of the fraction and all,
// whether its second is the one before (the cached text) or another.
func TestRFC3339NanoAsTheStandardLibrary(t *testing.T) {
	base := time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC)
	for _, tm := range []time.Time{base, base.Add(time.Millisecond), base.Add(time.Second), base.Add(time.Second + 1)} {
		if got, want := string(appendRFC3339Nano(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
	for _, ns := range []int{0, 1, 10, 100_000_000, 123_456_789, 120_000_000, 999_999_999, 5_000} {
		for _, tm := range []time.Time{base.Add(time.Duration(ns)), time.Date(1, 1, 1, 0, 0, 0, ns, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, ns, time.UTC)} {
			if got, want := string(appendRFC3339Nano(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
				t.Errorf("%v: %s, want %s", tm, got, want)
			}
		}
	}
	local := base.In(time.FixedZone("x", -3*3600))
	if got, want := string(appendRFC3339Nano(nil, local)), local.Format(time.RFC3339Nano); got != want {
		t.Errorf("%s, want %s", got, want)
	}
}
