package redisfeed_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/auth/apikey/redisfeed"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

// status records OnWatch calls and lets the test wait for one.
type status struct {
	mu   sync.Mutex
	cond *sync.Cond
	log  []bool
}

func newStatus() *status {
	s := &status{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *status) on(live bool, _ error) {
	s.mu.Lock()
	s.log = append(s.log, live)
	s.mu.Unlock()
	s.cond.Broadcast()
}

// waitFor waits until OnWatch was called with live after its first from
// calls (for at most 15 s), and returns every call so far.
func (s *status) waitFor(t *testing.T, from int, live bool) []bool {
	t.Helper()
	timer := time.AfterFunc(15*time.Second, func() { s.cond.Broadcast() })
	defer timer.Stop()
	deadline := time.Now().Add(15 * time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for i := from; i < len(s.log); i++ {
			if s.log[i] == live {
				return append([]bool(nil), s.log...)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("OnWatch calls %v: none %v after the first %d", s.log, live, from)
		}
		s.cond.Wait()
	}
}

func present(k *apikey.Keys, key string) error {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	_, err := k.Authenticate(r)
	return err
}

// announcing counts deliveries to the gateway's watcher.
type announcing struct {
	apikey.Watcher
	changed chan string
}

func (a announcing) Watch(ctx context.Context, s apikey.ChangeSink) error {
	return a.Watcher.Watch(ctx, sinkSpy{s, a.changed})
}

type sinkSpy struct {
	apikey.ChangeSink
	changed chan string
}

func (s sinkSpy) Changed(id string) { s.ChangeSink.Changed(id); s.changed <- id }

// TestAttackRevokedKeyOnOtherInstance: the operator's instance revokes a
// key the gateway has cached for far longer than the test; the
// announcement over Redis makes the gateway refuse it at once. Then Redis
// goes away: the loss is reported, and the fleet falls back to the cache
// TTL (the store still answers); when Redis is back, the subscription
// comes back by itself and drops the cache.
func TestAttackRevokedKeyOnOtherInstance(t *testing.T) {
	srv := redistest.StartServer(t)
	client := func() *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	gwFeed, err := redisfeed.New(redisfeed.Config{Client: client(), Heartbeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	opFeed, err := redisfeed.New(redisfeed.Config{Client: client()})
	if err != nil {
		t.Fatal(err)
	}
	store := apikey.NewMemoryStore() // shared, as a SQL store would be
	clock := apikeytest.NewClock()
	st := newStatus()
	changed := make(chan string, 16)
	gw, err := apikey.New(apikey.Config{Store: store, Prefix: "bwk_test", Pepper: apikeytest.Pepper(), Now: clock.Now,
		CacheTTL: apikey.MaxCacheTTL, LastUsedInterval: -1, Watch: announcing{gwFeed, changed}, OnWatch: st.on})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close(context.Background()) })
	op, err := apikey.New(apikey.Config{Store: store, Prefix: "bwk_test", Pepper: apikeytest.Pepper(), Now: clock.Now,
		LastUsedInterval: -1, Announce: opFeed})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.waitFor(t, 0, true); !got[0] {
		t.Fatalf("OnWatch = %v, want live first", got)
	}
	ctx := context.Background()
	key, rec, err := op.Create(ctx, apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := present(gw, key); err != nil {
		t.Fatal(err)
	}
	if err := op.Revoke(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-changed:
		if id != rec.ID {
			t.Fatalf("announced %q, want %q", id, rec.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the revocation was not announced within 10s")
	}
	if err := present(gw, key); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("gateway after the announced revocation = %v, want ErrRevoked", err)
	}

	// The channel goes: the loss shows, and revoking still works (the
	// announcement failing is reported, not the revocation).
	key2, rec2, err := op.Create(ctx, apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := present(gw, key2); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	lost := st.waitFor(t, 1, false)
	if gw.Watching() {
		t.Error("Watching() = true with Redis down")
	}
	if err := op.Revoke(ctx, rec2.ID); !errors.Is(err, apikey.ErrNotAnnounced) {
		t.Fatalf("Revoke with Redis down = %v, want ErrNotAnnounced", err)
	}
	// The gateway dropped its cache when the channel went, so the
	// revocation made while it was down is seen at once; a record cached
	// after that is the cache TTL's business.
	if err := present(gw, key2); !errors.Is(err, apikey.ErrRevoked) {
		t.Fatalf("gateway = %v, want ErrRevoked", err)
	}
	srv.Restart()
	st.waitFor(t, len(lost), true)
	if !gw.Watching() {
		t.Error("Watching() = false after Redis came back")
	}
}
