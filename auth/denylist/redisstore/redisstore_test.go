package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/auth/denylist/redisstore"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

const iss = "https://idp.example"

type instance struct {
	list   *denylist.List
	synced chan int
	live   chan bool
}

func newInstance(t *testing.T, addr string) *instance {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	s, err := redisstore.New(redisstore.Config{Client: c, Heartbeat: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{synced: make(chan int, 64), live: make(chan bool, 64)}
	in.list, err = denylist.New(denylist.Config{Store: s, Resync: time.Hour,
		OnSync: func(n int) { in.synced <- n }, OnWatch: func(l bool, _ error) { in.live <- l }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.list.Close() })
	in.wait(t, true)
	return in
}

func (in *instance) wait(t *testing.T, live bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case l := <-in.live:
			if l == live {
				return
			}
		case <-deadline:
			t.Fatalf("channel never became live=%v", live)
		}
	}
}

// TestAttackLoggedOutSubjectOnAnotherInstance: a subject logged out on
// one instance is refused by another at once over Redis; an entry added
// while the other's subscription was down is read when it comes back.
func TestAttackLoggedOutSubjectOnAnotherInstance(t *testing.T) {
	srv := redistest.StartServer(t)
	a, b := newInstance(t, srv.Addr), newInstance(t, srv.Addr)
	ctx := context.Background()
	old := auth.TokenID{Issuer: iss, Subject: "alice", IssuedAt: time.Now().Add(-time.Minute)}
	if err := a.list.Add(ctx, denylist.Entry{Kind: denylist.Subject, Issuer: iss, Value: "alice"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.synced:
	case <-time.After(10 * time.Second):
		t.Fatal("the other instance never read the entry")
	}
	if got, err := b.list.Revoked(ctx, old); !got || err != nil {
		t.Fatalf("other instance: %v, %v; want denied", got, err)
	}
	fresh := auth.TokenID{Issuer: iss, Subject: "alice", IssuedAt: time.Now().Add(time.Minute)}
	if got, _ := b.list.Revoked(ctx, fresh); got {
		t.Error("a token of a login after the logout is denied")
	}

	// Redis restarts (empty: persistence is off, as a failover to a cold
	// replica would be): the loss shows, and when it is back the lists
	// keep what they had read.
	srv.Restart()
	b.wait(t, false)
	b.wait(t, true)
	if got, _ := b.list.Revoked(ctx, old); !got {
		t.Error("an entry read before the restart was forgotten")
	}
	// Numbers start again in the empty Redis: the new entry is read all
	// the same.
	a.wait(t, true)
	if err := a.list.Add(ctx, denylist.Entry{Kind: denylist.JTI, Issuer: iss, Value: "after-restart"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		got, _ := b.list.Revoked(ctx, auth.TokenID{Issuer: iss, JTI: "after-restart"})
		if got {
			break
		}
		select {
		case <-b.synced:
		case <-deadline:
			t.Fatal("an entry added after Redis lost its data never reached the other instance")
		}
	}
}
