// Package apikeytest is the conformance suite every [apikey.Store] must
// pass, in the manner of testing/fstest: a store package calls [TestStore]
// from its own tests with a function that opens a fresh, empty store. It
// also holds what those tests need: a settable [Clock], a test [Pepper],
// and [StartPostgres], a throwaway PostgreSQL server started from the
// machine's binaries.
package apikeytest

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
)

// Clock is a settable clock for [apikey.Config.Now], safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed instant with microsecond precision,
// which every store keeps exactly.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Pepper returns a fixed test pepper of 34 bytes, a new slice each time.
// Never use it outside tests.
func Pepper() []byte { return []byte("apikeytest-pepper-0123456789abcdef") }

// TestStore runs the conformance suite against stores made by open, which
// must return a new, empty store each time it is called.
func TestStore(t *testing.T, open func(t *testing.T) apikey.Store) {
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open(t), 0) })
	t.Run("LifecycleUncached", func(t *testing.T) { testLifecycle(t, open(t), -1) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, open(t)) })
	t.Run("Conflicts", func(t *testing.T) { testConflicts(t, open(t)) })
	t.Run("RevokeExpire", func(t *testing.T) { testRevokeExpire(t, open(t)) })
	t.Run("LastUsed", func(t *testing.T) { testLastUsed(t, open(t)) })
	t.Run("ConcurrentRotate", func(t *testing.T) { testConcurrentRotate(t, open(t)) })
}

func newKeys(t *testing.T, s apikey.Store, clock *Clock, cacheSize int) *apikey.Keys {
	t.Helper()
	k, err := apikey.New(apikey.Config{
		Store: s, Prefix: "bwk_test", Pepper: Pepper(), Now: clock.Now,
		CacheSize: cacheSize, LastUsedInterval: time.Hour,
	})
	if err != nil {
		t.Fatalf("apikey.New: %v", err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	return k
}

func authenticate(k *apikey.Keys, key string) (*auth.Principal, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	return k.Authenticate(r)
}

// testLifecycle: create → use → rotate with overlap → both work → old
// refused after the deadline → revoke → refused.
func testLifecycle(t *testing.T, s apikey.Store, cacheSize int) {
	ctx := context.Background()
	clock := NewClock()
	k := newKeys(t, s, clock, cacheSize)

	key1, rec1, err := k.Create(ctx, apikey.Spec{Name: "ci", Scopes: []string{"orders:read"}, TTL: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	p, err := authenticate(k, key1)
	if err != nil {
		t.Fatalf("Authenticate(new key) = %v, want nil", err)
	}
	if p.Subject != apikey.SubjectPrefix+rec1.ID || p.Method != apikey.Method || !p.HasScope("orders:read") {
		t.Fatalf("principal = %+v, want subject %q with scope orders:read", p, apikey.SubjectPrefix+rec1.ID)
	}

	clock.Advance(time.Hour)
	key2, rec2, err := k.Rotate(ctx, rec1.ID, 24*time.Hour)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if rec2.Replaces != rec1.ID || rec2.ID == rec1.ID || key2 == key1 {
		t.Fatalf("Rotate returned %+v, want a new key replacing %s", rec2, rec1.ID)
	}
	if !slices.Equal(rec2.Scopes, rec1.Scopes) || rec2.Name != "ci" {
		t.Errorf("rotated key lost its scopes or name: %+v", rec2)
	}
	if want := clock.Now().Add(30 * 24 * time.Hour); !rec2.ExpiresAt.Equal(want) {
		t.Errorf("rotated key expires %v, want %v (same lifetime)", rec2.ExpiresAt, want)
	}
	clock.Advance(23 * time.Hour)
	for name, key := range map[string]string{"old": key1, "new": key2} {
		if _, err := authenticate(k, key); err != nil {
			t.Errorf("during overlap, Authenticate(%s) = %v, want nil", name, err)
		}
	}
	clock.Advance(time.Hour)
	if _, err := authenticate(k, key1); !errors.Is(err, apikey.ErrExpired) || !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("after the overlap, Authenticate(old) = %v, want ErrExpired", err)
	}
	if _, err := authenticate(k, key2); err != nil {
		t.Errorf("after the overlap, Authenticate(new) = %v, want nil", err)
	}
	old, err := k.Get(ctx, rec1.ID)
	if err != nil || old.ReplacedBy != rec2.ID {
		t.Errorf("Get(old) = %+v, %v; want ReplacedBy %s", old, err, rec2.ID)
	}
	if _, _, err := k.Rotate(ctx, rec1.ID, time.Hour); !errors.Is(err, apikey.ErrConflict) {
		t.Errorf("Rotate(already rotated) = %v, want ErrConflict", err)
	}

	if err := k.Revoke(ctx, rec2.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := authenticate(k, key2); !errors.Is(err, apikey.ErrRevoked) {
		t.Errorf("after Revoke, Authenticate = %v, want ErrRevoked", err)
	}
	if _, _, err := k.Rotate(ctx, rec2.ID, time.Hour); !errors.Is(err, apikey.ErrConflict) {
		t.Errorf("Rotate(revoked) = %v, want ErrConflict", err)
	}

	// Expire and delete.
	key3, rec3, err := k.Create(ctx, apikey.Spec{Name: "tmp"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := authenticate(k, key3); err != nil {
		t.Fatalf("Authenticate(key3) = %v", err)
	}
	if err := k.Expire(ctx, rec3.ID, time.Time{}); err != nil {
		t.Fatalf("Expire: %v", err)
	}
	if _, err := authenticate(k, key3); !errors.Is(err, apikey.ErrExpired) {
		t.Errorf("after Expire, Authenticate = %v, want ErrExpired", err)
	}
	if err := k.Delete(ctx, rec3.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := authenticate(k, key3); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("after Delete, Authenticate = %v, want ErrNotFound", err)
	}
	list, err := k.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != rec1.ID || list[1].ID != rec2.ID {
		t.Errorf("List = %d records, %v; want [%s %s]", len(list), err, rec1.ID, rec2.ID)
	}
}

func fullRecord(id string, digest byte, at time.Time) apikey.Record {
	return apikey.Record{
		ID: id, Start: "bwk_test_" + id[:8], Digest: apikey.Digest{0: digest, 31: 0xff},
		Name: "name " + id, Owner: "team-é", Scopes: []string{"a:read", "b:write"}, Roles: []string{"admin"},
		Metadata: map[string]string{"env": "prod", "ticket": "OPS-1"}, Tier: "gold",
		CreatedAt: at, ExpiresAt: at.Add(48 * time.Hour),
	}
}

func equalRecords(a, b apikey.Record) bool {
	return a.ID == b.ID && a.Start == b.Start && a.Digest == b.Digest && a.Name == b.Name && a.Owner == b.Owner &&
		slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.Roles, b.Roles) && maps.Equal(a.Metadata, b.Metadata) &&
		a.Tier == b.Tier && a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.RevokedAt.Equal(b.RevokedAt) && a.LastUsedAt.Equal(b.LastUsedAt) &&
		a.Replaces == b.Replaces && a.ReplacedBy == b.ReplacedBy
}

func testRoundTrip(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	at := NewClock().Now()
	recs := []apikey.Record{fullRecord("AAAAAAAAAA1", 1, at), fullRecord("AAAAAAAAAA2", 2, at.Add(time.Second))}
	recs[1].ExpiresAt = time.Time{}
	recs[1].Scopes, recs[1].Roles, recs[1].Metadata = nil, nil, nil
	for _, r := range recs {
		if err := s.Insert(ctx, r); err != nil {
			t.Fatalf("Insert(%s): %v", r.ID, err)
		}
	}
	for _, want := range recs {
		got, err := s.Get(ctx, want.ID)
		if err != nil || !equalRecords(got, want) {
			t.Errorf("Get(%s) = %+v, %v; want %+v", want.ID, got, err, want)
		}
		got, err = s.Lookup(ctx, want.Digest)
		if err != nil || !equalRecords(got, want) {
			t.Errorf("Lookup(%x) = %+v, %v; want %+v", want.Digest[:4], got, err, want)
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 || !equalRecords(list[0], recs[0]) || !equalRecords(list[1], recs[1]) {
		t.Errorf("List = %+v, %v; want both records oldest first", list, err)
	}
	// Records returned are the caller's to modify.
	got, _ := s.Get(ctx, recs[0].ID)
	got.Scopes[0] = "changed"
	got.Metadata["env"] = "changed"
	if again, _ := s.Get(ctx, recs[0].ID); !equalRecords(again, recs[0]) {
		t.Errorf("modifying a returned record changed the store: %+v", again)
	}
}

func testNotFound(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	now := NewClock().Now()
	checks := map[string]error{
		"Get":    func() error { _, err := s.Get(ctx, "nosuchkey00"); return err }(),
		"Lookup": func() error { _, err := s.Lookup(ctx, apikey.Digest{1}); return err }(),
		"Revoke": s.Revoke(ctx, "nosuchkey00", now),
		"Expire": s.Expire(ctx, "nosuchkey00", now),
		"Delete": s.Delete(ctx, "nosuchkey00"),
		"Rotate": s.Rotate(ctx, "nosuchkey00", now, fullRecord("BBBBBBBBBB1", 9, now)),
	}
	for name, err := range checks {
		if !errors.Is(err, apikey.ErrNotFound) {
			t.Errorf("%s(unknown) = %v, want ErrNotFound", name, err)
		}
	}
	if _, err := s.Get(ctx, "BBBBBBBBBB1"); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("a failed Rotate inserted its new record: Get = %v", err)
	}
	if err := s.TouchLastUsed(ctx, map[string]time.Time{"nosuchkey00": now}); err != nil {
		t.Errorf("TouchLastUsed(unknown) = %v, want nil", err)
	}
}

func testConflicts(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	now := NewClock().Now()
	a := fullRecord("CCCCCCCCCC1", 1, now)
	if err := s.Insert(ctx, a); err != nil {
		t.Fatal(err)
	}
	dupID := fullRecord("CCCCCCCCCC1", 2, now)
	dupDigest := fullRecord("CCCCCCCCCC2", 1, now)
	for name, r := range map[string]apikey.Record{"duplicate id": dupID, "duplicate digest": dupDigest} {
		if err := s.Insert(ctx, r); !errors.Is(err, apikey.ErrConflict) {
			t.Errorf("Insert(%s) = %v, want ErrConflict", name, err)
		}
	}
	// Rotating onto an existing digest fails and changes nothing.
	next := fullRecord("CCCCCCCCCC3", 1, now)
	next.Replaces = a.ID
	if err := s.Rotate(ctx, a.ID, now, next); !errors.Is(err, apikey.ErrConflict) {
		t.Errorf("Rotate(duplicate digest) = %v, want ErrConflict", err)
	}
	if got, _ := s.Get(ctx, a.ID); !equalRecords(got, a) {
		t.Errorf("a failed Rotate changed the old key: %+v", got)
	}
	// Rotating a revoked key fails and changes nothing.
	if err := s.Revoke(ctx, a.ID, now); err != nil {
		t.Fatal(err)
	}
	next = fullRecord("CCCCCCCCCC4", 4, now)
	next.Replaces = a.ID
	if err := s.Rotate(ctx, a.ID, now, next); !errors.Is(err, apikey.ErrConflict) {
		t.Errorf("Rotate(revoked) = %v, want ErrConflict", err)
	}
	if _, err := s.Get(ctx, next.ID); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("a failed Rotate inserted its new record: Get = %v", err)
	}
}

func testRevokeExpire(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	now := NewClock().Now()
	a := fullRecord("DDDDDDDDDD1", 1, now)
	if err := s.Insert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, a.ID, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, a.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, a.ID); !got.RevokedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("after two revocations RevokedAt = %v, want the first, %v", got.RevokedAt, now.Add(time.Minute))
	}
	if err := s.Expire(ctx, a.ID, now.Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, a.ID); !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Errorf("Expire(later) moved the expiry to %v, want it kept at %v", got.ExpiresAt, a.ExpiresAt)
	}
	if err := s.Expire(ctx, a.ID, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, a.ID); !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("Expire(sooner) left the expiry at %v, want %v", got.ExpiresAt, now.Add(time.Hour))
	}
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, a.Digest); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Lookup after Delete = %v, want ErrNotFound", err)
	}
}

func testLastUsed(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	clock := NewClock()
	k := newKeys(t, s, clock, 0)
	key, rec, err := k.Create(ctx, apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := authenticate(k, key); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Get(ctx, rec.ID); !got.LastUsedAt.IsZero() {
		t.Errorf("LastUsedAt = %v before any flush, want it written asynchronously", got.LastUsedAt)
	}
	if err := k.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got, _ := k.Get(ctx, rec.ID); !got.LastUsedAt.Equal(clock.Now()) {
		t.Errorf("LastUsedAt = %v after Flush, want %v", got.LastUsedAt, clock.Now())
	}
	// Never backwards.
	if err := s.TouchLastUsed(ctx, map[string]time.Time{rec.ID: clock.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := k.Get(ctx, rec.ID); !got.LastUsedAt.Equal(clock.Now()) {
		t.Errorf("TouchLastUsed moved LastUsedAt back to %v", got.LastUsedAt)
	}
}

// testConcurrentRotate: of several concurrent rotations of one key exactly
// one wins, and the old key ends up replaced by exactly that one.
func testConcurrentRotate(t *testing.T, s apikey.Store) {
	ctx := context.Background()
	clock := NewClock()
	k := newKeys(t, s, clock, 0)
	_, rec, err := k.Create(ctx, apikey.Spec{Name: "raced"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	ids := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, r, err := k.Rotate(ctx, rec.ID, time.Hour)
			if err != nil {
				errs <- err
				return
			}
			ids <- r.ID
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	var won []string
	for id := range ids {
		won = append(won, id)
	}
	for err := range errs {
		if !errors.Is(err, apikey.ErrConflict) {
			t.Errorf("losing Rotate = %v, want ErrConflict", err)
		}
	}
	if len(won) != 1 {
		t.Fatalf("%d rotations succeeded, want exactly 1", len(won))
	}
	old, _ := k.Get(ctx, rec.ID)
	if old.ReplacedBy != won[0] {
		t.Errorf("old key replaced by %q, want the winner %q", old.ReplacedBy, won[0])
	}
	if list, _ := k.List(ctx); len(list) != 2 {
		t.Errorf("List has %d records after the race, want 2", len(list))
	}
}
