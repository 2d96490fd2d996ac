package apikey_test

import (
	"context"
	"hash/crc32"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/secevent"
)

const prefix = "bwk_test"

// countingStore counts lookups and remembers the digests it was asked for.
type countingStore struct {
	apikey.Store
	lookups atomic.Int64
	mu      sync.Mutex
	digests []apikey.Digest
	fail    error // when set, Lookup fails with it
}

func (s *countingStore) Lookup(ctx context.Context, d apikey.Digest) (apikey.Record, error) {
	s.lookups.Add(1)
	s.mu.Lock()
	s.digests = append(s.digests, d)
	s.mu.Unlock()
	if s.fail != nil {
		return apikey.Record{}, s.fail
	}
	return s.Store.Lookup(ctx, d)
}

type fixture struct {
	keys  *apikey.Keys
	store *countingStore
	clock *apikeytest.Clock
}

func newFixture(t *testing.T, mod func(*apikey.Config)) *fixture {
	t.Helper()
	f := &fixture{store: &countingStore{Store: apikey.NewMemoryStore()}, clock: apikeytest.NewClock()}
	cfg := apikey.Config{Store: f.store, Prefix: prefix, Pepper: apikeytest.Pepper(), Now: f.clock.Now, LastUsedInterval: -1}
	if mod != nil {
		mod(&cfg)
	}
	k, err := apikey.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	f.keys = k
	return f
}

func (f *fixture) create(t *testing.T, spec apikey.Spec) (string, apikey.Record) {
	t.Helper()
	key, rec, err := f.keys.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return key, rec
}

func bearer(key string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/items", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}

// events records security events.
type events struct {
	mu sync.Mutex
	ev []secevent.Event
}

func (e *events) Record(_ context.Context, ev secevent.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *events) all() []secevent.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]secevent.Event(nil), e.ev...)
}

func (e *events) named(name string) []secevent.Event {
	var out []secevent.Event
	for _, ev := range e.all() {
		if ev.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

func attr(ev secevent.Event, key string) (slog.Value, bool) {
	for _, a := range ev.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return slog.Value{}, false
}

// withChecksum recomputes a key's checksum as the documented format says:
// CRC-32 (IEEE) of everything before it, as 6 base62 digits. It lets tests
// forge keys that pass the format check, as an attacker could.
func withChecksum(key string) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	body := key[:len(key)-apikey.ChecksumLen]
	v := crc32.ChecksumIEEE([]byte(body))
	var sum [apikey.ChecksumLen]byte
	for i := len(sum) - 1; i >= 0; i-- {
		sum[i] = base62[v%62]
		v /= 62
	}
	return body + string(sum[:])
}
