package denylist_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/denylist"
)

var t0 = time.Unix(1_800_000_000, 0)

const iss = "https://idp.example"

func newList(t *testing.T, store denylist.Store, now func() time.Time) *denylist.List {
	t.Helper()
	l, err := denylist.New(denylist.Config{Store: store, Now: now, Resync: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestRevokedByKind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := t0
		clock := func() time.Time { return now }
		l := newList(t, denylist.NewMemoryStore(clock), clock)
		synctest.Wait() // the first read
		ctx := context.Background()
		for _, e := range []denylist.Entry{
			{Kind: denylist.JTI, Issuer: iss, Value: "token-1"},
			{Kind: denylist.Session, Issuer: iss, Value: "session-1"},
			{Kind: denylist.Subject, Issuer: iss, Value: "alice", At: t0.Add(-time.Minute)},
			{Kind: denylist.JTI, Issuer: iss, Value: "short", Until: t0.Add(time.Second)},
		} {
			if err := l.Add(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			id   auth.TokenID
			want bool
		}{
			{"denied jti", auth.TokenID{Issuer: iss, Subject: "bob", JTI: "token-1"}, true},
			{"same jti, other issuer", auth.TokenID{Issuer: "https://other.example", Subject: "bob", JTI: "token-1"}, false},
			{"denied session", auth.TokenID{Issuer: iss, Subject: "bob", SID: "session-1"}, true},
			{"other session", auth.TokenID{Issuer: iss, Subject: "bob", SID: "session-2"}, false},
			{"subject, token issued before the logout", auth.TokenID{Issuer: iss, Subject: "alice", IssuedAt: t0.Add(-time.Hour)}, true},
			{"subject, token issued at the logout", auth.TokenID{Issuer: iss, Subject: "alice", IssuedAt: t0.Add(-time.Minute)}, true},
			{"subject, token without iat", auth.TokenID{Issuer: iss, Subject: "alice"}, true},
			{"subject, token of a new login", auth.TokenID{Issuer: iss, Subject: "alice", IssuedAt: t0}, false},
			{"nothing denied", auth.TokenID{Issuer: iss, Subject: "carol", JTI: "x", SID: "y", IssuedAt: t0}, false},
		} {
			got, err := l.Revoked(ctx, tc.id)
			if err != nil || got != tc.want {
				t.Errorf("%s: Revoked(%+v) = %v, %v; want %v", tc.name, tc.id, got, err, tc.want)
			}
		}
		now = t0.Add(2 * time.Second)
		if got, _ := l.Revoked(ctx, auth.TokenID{Issuer: iss, JTI: "short"}); got {
			t.Error("an entry past its Until still denies")
		}
		if err := l.Add(ctx, denylist.Entry{Kind: denylist.Subject, Issuer: iss}); !errors.Is(err, denylist.ErrEntry) {
			t.Errorf("Add of an entry without a value = %v, want ErrEntry", err)
		}
	})
}

// failingStore fails every read until told otherwise.
type failingStore struct {
	*denylist.MemoryStore
	fail chan bool
	err  bool
}

func (s *failingStore) Since(ctx context.Context, c int64) ([]denylist.Entry, int64, error) {
	select {
	case s.err = <-s.fail:
	default:
	}
	if s.err {
		return nil, c, errors.New("store down")
	}
	return s.MemoryStore.Since(ctx, c)
}

// TestAttackDenyListNotYetReadFailsClosed: a gateway that could not read
// the deny-list yet does not accept tokens it may have been told to
// refuse: Revoked answers an error (the verifier's 503) until the first
// read, and readiness says why.
func TestAttackDenyListNotYetReadFailsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &failingStore{MemoryStore: denylist.NewMemoryStore(nil), fail: make(chan bool, 1), err: true}
		l := newList(t, store, nil)
		synctest.Wait()
		if _, err := l.Revoked(context.Background(), auth.TokenID{Issuer: iss, Subject: "a"}); err == nil {
			t.Fatal("Revoked before the first read = nil error, want one")
		}
		if l.Ready() == nil {
			t.Error("Ready before the first read = nil")
		}
		store.fail <- false
		time.Sleep(100 * time.Millisecond) // the next resync, on the bubble's clock
		synctest.Wait()
		if _, err := l.Revoked(context.Background(), auth.TokenID{Issuer: iss, Subject: "a"}); err != nil {
			t.Fatalf("Revoked after a read = %v", err)
		}
		if err := l.Ready(); err != nil {
			t.Errorf("Ready = %v", err)
		}
	})
}

// TestAttackLoggedOutSessionOnAnotherInstance: a session logged out on
// one instance is refused on another sharing the store, within Resync
// even without a channel.
func TestAttackLoggedOutSessionOnAnotherInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := denylist.NewMemoryStore(nil)
		a, b := newList(t, store, nil), newList(t, store, nil)
		synctest.Wait()
		id := auth.TokenID{Issuer: iss, Subject: "alice", SID: "s-1"}
		if err := a.Add(context.Background(), denylist.Entry{Kind: denylist.Session, Issuer: iss, Value: "s-1"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := a.Revoked(context.Background(), id); !got {
			t.Fatal("the instance that added the entry does not deny at once")
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got, err := b.Revoked(context.Background(), id); !got || err != nil {
			t.Fatalf("the other instance after Resync: %v, %v; want denied", got, err)
		}
	})
}

func TestNewChecksConfig(t *testing.T) {
	_, err := denylist.New(denylist.Config{Retention: -1, Resync: time.Millisecond})
	for _, f := range []string{"Store", "Retention", "Resync"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("New = %v, want a problem with %s", err, f)
		}
	}
}
