package audit

import (
	"net/netip"
	"sync"
	"time"
)

// maxFoldedIDs bounds the request IDs one aggregate record lists; beyond
// it the record still has the count and the first and last ID.
const maxFoldedIDs = 100

// maxFoldedReasons bounds the distinct reasons one aggregate lists.
const maxFoldedReasons = 8

// floodKey identifies "the same denial": the first security event's name,
// the status, the route (or path, or an out-of-request event's reason) and
// the client's aggregated address.
type floodKey struct {
	client netip.Prefix
	event  string
	route  string
	status int
}

// floodEntry is one key's rate state (GCRA: the theoretical arrival time
// of the next denial) and the aggregate being folded, if any.
type floodEntry struct {
	tat time.Time
	agg *summary
}

// summary is one "audit.aggregate" record: the denials folded while the
// key was over its rate.
type summary struct {
	key        floodKey
	start, end time.Time
	count      int
	firstID    string
	lastID     string
	ids        []string
	reasons    []string
}

func (s *summary) fold(now time.Time, id, reason string) {
	s.count++
	s.end = now
	if id != "" {
		if s.firstID == "" {
			s.firstID = id
		}
		s.lastID = id
		if len(s.ids) < maxFoldedIDs {
			s.ids = append(s.ids, id)
		}
	}
	if reason != "" && len(s.reasons) < maxFoldedReasons {
		for _, r := range s.reasons {
			if r == reason {
				return
			}
		}
		s.reasons = append(s.reasons, reason)
	}
}

// flood is the aggregation table: each key may write after denials per
// second (a burst of one second's worth) as records of their own; beyond
// that they are folded into one aggregate, written when the key falls back
// under its rate, when the aggregate is every old, or at Close. The table
// holds only keys seen in the last every and never more than maxKeys (+1
// overflow entry per event).
type flood struct {
	mu        sync.Mutex
	interval  time.Duration // between denials at the rate
	tau       time.Duration // the burst tolerance
	every     time.Duration
	maxKeys   int
	m         map[floodKey]*floodEntry
	lastSweep time.Time
}

func newFlood(after float64, every time.Duration, maxKeys int) *flood {
	interval := time.Duration(float64(time.Second) / after)
	burst := max(1, int64(after))
	return &flood{interval: interval, tau: time.Duration(burst-1) * interval, every: every, maxKeys: maxKeys,
		m: make(map[floodKey]*floodEntry)}
}

// allow reports whether a denial with key k seen at now is written as a
// record of its own rather than folded, and returns the aggregates that
// became due (written before it).
func (f *flood) allow(k floodKey, now time.Time, id, reason string) (bool, []summary) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sums := f.sweepLocked(now, false)
	e, ok := f.m[k]
	if !ok && len(f.m) >= f.maxKeys {
		// Table full: fold this key into its event's overflow entry.
		k = floodKey{event: k.event, status: k.status, route: "*"}
		e, ok = f.m[k]
	}
	if !ok {
		e = &floodEntry{tat: now}
		f.m[k] = e
	}
	tat := e.tat
	if tat.Before(now) {
		tat = now
	}
	if tat.Sub(now) > f.tau {
		if e.agg == nil {
			e.agg = &summary{key: k, start: now}
		}
		e.agg.fold(now, id, reason)
		return false, sums
	}
	e.tat = tat.Add(f.interval)
	if e.agg != nil {
		sums = append(sums, *e.agg)
		e.agg = nil
	}
	return true, sums
}

// sweep returns due aggregates; with all, every pending one (Close).
func (f *flood) sweep(now time.Time, all bool) []summary {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sweepLocked(now, all)
}

func (f *flood) sweepLocked(now time.Time, all bool) []summary {
	if !all && now.Sub(f.lastSweep) < f.every {
		return nil
	}
	f.lastSweep = now
	var sums []summary
	for k, e := range f.m {
		if e.agg != nil && (all || now.Sub(e.agg.start) >= f.every) {
			sums = append(sums, *e.agg)
			e.agg = nil
		}
		if e.agg == nil && (all || now.Sub(e.tat) >= f.every) {
			delete(f.m, k)
		}
	}
	return sums
}
