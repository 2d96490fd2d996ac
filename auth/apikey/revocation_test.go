package apikey_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
)

// pausingStore stops a Lookup after it has read the record and before it
// returns, when armed: the moment a concurrent revocation used to slip
// through.
type pausingStore struct {
	apikey.Store
	armed   atomic.Bool
	read    chan struct{} // a paused Lookup has read its record
	release chan struct{} // let it return
}

func (s *pausingStore) Lookup(ctx context.Context, d apikey.Digest) (apikey.Record, error) {
	rec, err := s.Store.Lookup(ctx, d)
	if s.armed.CompareAndSwap(true, false) {
		s.read <- struct{}{}
		<-s.release
	}
	return rec, err
}

// TestAttackRevocationUndoneByInFlightLookup: a request whose store lookup
// read the key's record just before a Revoke (or a Rotate without overlap,
// an Expire, a Delete) used to put that old record into the cache after
// the revocation had cleared it, so the revoked key was accepted again for
// up to CacheTTL on the very instance that revoked it. The interleaving is
// forced: the lookup is held between its read and its return while the
// revocation runs to completion.
func TestAttackRevocationUndoneByInFlightLookup(t *testing.T) {
	tests := []struct {
		name string
		do   func(ctx context.Context, k *apikey.Keys, id string) error
		want error
	}{
		{"revoke", func(ctx context.Context, k *apikey.Keys, id string) error { return k.Revoke(ctx, id) }, apikey.ErrRevoked},
		{"rotate without overlap", func(ctx context.Context, k *apikey.Keys, id string) error {
			_, _, err := k.Rotate(ctx, id, 0)
			return err
		}, apikey.ErrExpired},
		{"expire now", func(ctx context.Context, k *apikey.Keys, id string) error { return k.Expire(ctx, id, time.Time{}) }, apikey.ErrExpired},
		{"delete", func(ctx context.Context, k *apikey.Keys, id string) error { return k.Delete(ctx, id) }, apikey.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := &pausingStore{Store: apikey.NewMemoryStore(), read: make(chan struct{}), release: make(chan struct{})}
			k, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Pepper: apikeytest.Pepper(), Now: apikeytest.NewClock().Now, LastUsedInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = k.Close(context.Background()) })
			key, rec, err := k.Create(t.Context(), apikey.Spec{})
			if err != nil {
				t.Fatal(err)
			}

			store.armed.Store(true)
			inFlight := make(chan error, 1)
			go func() {
				_, err := k.Authenticate(bearer(key))
				inFlight <- err
			}()
			<-store.read // the lookup holds the record as it was before
			if err := tc.do(t.Context(), k, rec.ID); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			close(store.release)
			// That request started before the revocation and may be
			// answered either way; what it must not do is outlive it.
			<-inFlight

			if _, err := k.Authenticate(bearer(key)); !errors.Is(err, tc.want) {
				t.Fatalf("after %s, Authenticate = %v, want %v", tc.name, err, tc.want)
			}
		})
	}
}

// yieldingStore gives way to other goroutines in the middle of each
// lookup, so that lookups and revocations interleave as much as they can.
type yieldingStore struct{ apikey.Store }

func (s yieldingStore) Lookup(ctx context.Context, d apikey.Digest) (apikey.Record, error) {
	rec, err := s.Store.Lookup(ctx, d)
	runtime.Gosched()
	return rec, err
}

// TestAttackRevocationUnderConcurrentLoad: many goroutines present keys
// while they are revoked, with the clock moving so that cache entries age
// out and lookups race the revocations. A request that starts after Revoke
// returned is refused, every time. Run with -race.
func TestAttackRevocationUnderConcurrentLoad(t *testing.T) {
	clock := apikeytest.NewClock()
	k, err := apikey.New(apikey.Config{Store: yieldingStore{apikey.NewMemoryStore()}, Prefix: prefix, Pepper: apikeytest.Pepper(), Now: clock.Now, LastUsedInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close(context.Background()) })
	const keys, workers, after = 30, 8, 25
	for range keys {
		key, rec, err := k.Create(t.Context(), apikey.Spec{})
		if err != nil {
			t.Fatal(err)
		}
		var revoked atomic.Bool
		var accepted, late atomic.Int64
		var wg sync.WaitGroup
		started := make(chan struct{}, workers)
		for range workers {
			wg.Go(func() {
				started <- struct{}{}
				for n := 0; n < after; {
					clock.Advance(apikey.DefaultCacheTTL / 3)
					wasRevoked := revoked.Load()
					_, err := k.Authenticate(bearer(key))
					switch {
					case err == nil && wasRevoked:
						late.Add(1)
					case err == nil:
						accepted.Add(1)
					case !errors.Is(err, apikey.ErrRevoked):
						t.Errorf("Authenticate = %v", err)
						return
					}
					if wasRevoked {
						n++
					}
				}
			})
		}
		for range workers {
			<-started
		}
		if err := k.Revoke(t.Context(), rec.ID); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		wg.Wait()
		if n := late.Load(); n > 0 {
			t.Fatalf("key %s: %d requests that started after Revoke returned were accepted", rec.ID, n)
		}
	}
}
