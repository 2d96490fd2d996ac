package ratelimit

// takeMany decides several limits at once. It holds the locks of the
// shards involved (in shard order), so that two multi-limit decisions never
// interleave and every refusal is based on charges that stand. Single-limit
// decisions stay lock-free; when one races with us, our compare-and-swap
// fails, we undo what we charged and decide again.
func (m *MemoryStore) takeMany(now, cost int64, limits []Limit, out []Result) (bool, error) {
	var (
		slots   [maxLimits]*slot
		keys    [maxLimits]uint64
		olds    [maxLimits]int64
		news    [maxLimits]int64
		locked  [maxLimits]uint64
		nlocked int
		evicted int
	)
	for i := range limits {
		idx := m.shardIndex(storeKey(limits[i].Key))
		j := 0
		for j < nlocked && locked[j] < idx {
			j++
		}
		if j < nlocked && locked[j] == idx {
			continue
		}
		copy(locked[j+1:nlocked+1], locked[j:nlocked])
		locked[j] = idx
		nlocked++
	}
	for _, idx := range locked[:nlocked] {
		m.shards[idx].mu.Lock()
	}
	ok, err := func() (bool, error) {
		defer func() {
			for _, idx := range locked[:nlocked] {
				m.shards[idx].mu.Unlock()
			}
		}()
	attempts:
		for attempt := 0; attempt < maxAttempts; attempt++ {
			allowed := true
			for i := range limits {
				key := storeKey(limits[i].Key)
				sh := m.shardOf(key)
				s := sh.lookup(key)
				if s == nil {
					var ev int
					s, ev = m.insertLocked(sh, key, now)
					evicted += ev
					if s == nil {
						var err error
						if s, key, err = m.overflowSlot(limits[i].Policy); err != nil {
							return false, err
						}
					}
				}
				t, ok := load(s, key)
				if !ok {
					continue attempts
				}
				slots[i], keys[i], olds[i] = s, key, t
				news[i], out[i] = gcra(t, now, cost, &limits[i])
				allowed = allowed && out[i].Allowed
			}
			if !allowed {
				for i := range limits {
					if out[i].Allowed {
						out[i] = unchargedResult(olds[i], now, &limits[i])
					}
				}
				return false, nil
			}
			for i := range limits {
				if slots[i].tat.CompareAndSwap(olds[i], news[i]) {
					continue
				}
				// A lock-free decision changed limit i since we read it:
				// undo our charges and decide again on fresh state.
				for j := range i {
					refund(slots[j], keys[j], olds[j], news[j], cost*limits[j].Interval)
				}
				continue attempts
			}
			return true, nil
		}
		return false, ErrContention
	}()
	if evicted > 0 && m.onEvict != nil {
		m.onEvict(evicted)
	}
	return ok, err
}

// refund undoes a charge of amount that moved s from old to new.
func refund(s *slot, key uint64, old, new, amount int64) {
	if s.tat.CompareAndSwap(new, old) {
		return
	}
	for {
		t, ok := load(s, key)
		if !ok {
			return // evicted: the state is fresh anyway
		}
		if s.tat.CompareAndSwap(t, t-amount) {
			return
		}
	}
}
