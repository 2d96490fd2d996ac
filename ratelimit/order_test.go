package ratelimit_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/ratelimit"
)

// The order of the checks: what refuses without doing work (declared body
// size, in-flight limits) runs before anything is charged, the process-wide
// GlobalRate is charged only for requests the per-key policies allow, and
// shadow policies are decided after the decision and can only record.

// TestOversizedBodiesDoNotSpendTheClientsBudget: requests refused with 413
// for their declared Content-Length are not charged to the rate policies,
// so a client whose uploads are too large still has its budget.
func TestOversizedBodiesDoNotSpendTheClientsBudget(t *testing.T) {
	l := mustNew(t, ratelimit.Config{
		Policies:     []ratelimit.Policy{perIP("ip", 2, time.Hour, 0)},
		MaxBodyBytes: 10,
		Now:          newClock().Now,
	})
	h := l.Handler(okHandler)
	for i := range 5 {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 100)))
		r.RemoteAddr = "192.0.2.1:1"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized request %d: %d, want 413", i, w.Code)
		}
	}
	for i := range 2 {
		if w := get(h, "192.0.2.1:1"); w.Code != http.StatusOK {
			t.Errorf("request %d within the burst after five 413s: %d, want 200 (the 413s were charged)", i, w.Code)
		}
	}
}

// TestShedRequestsDoNotSpendTheClientsBudget: requests shed with 503 by the
// in-flight limit are not charged to the rate policies.
func TestShedRequestsDoNotSpendTheClientsBudget(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	hold := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hold") != "" {
			entered <- struct{}{}
			<-release
		}
	})
	l := mustNew(t, ratelimit.Config{
		Policies:    []ratelimit.Policy{perIP("ip", 2, time.Hour, 0)},
		MaxInFlight: 1,
		Now:         newClock().Now,
	})
	h := l.Handler(hold)
	var wg sync.WaitGroup
	wg.Go(func() { get(h, "198.51.100.1:1", "X-Hold", "1") })
	<-entered
	for i := range 3 {
		if w := get(h, "192.0.2.1:1"); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("request %d while the slot is held: %d, want 503", i, w.Code)
		}
	}
	close(release)
	wg.Wait()
	for i := range 2 {
		if w := get(h, "192.0.2.1:1"); w.Code != http.StatusOK {
			t.Errorf("request %d within the burst after three 503s: %d, want 200 (the 503s were charged)", i, w.Code)
		}
	}
}

// TestLimitedClientCannotDrainGlobalRate: one client hammering past its
// per-IP limit gets 429s that do not spend the process-wide GlobalRate, so
// everyone else is still served: the global budget is charged only for
// requests the per-key policies allowed.
func TestLimitedClientCannotDrainGlobalRate(t *testing.T) {
	l := mustNew(t, ratelimit.Config{
		Policies:   []ratelimit.Policy{perIP("ip", 2, time.Hour, 0)},
		GlobalRate: 10,
		Now:        newClock().Now,
	})
	h := l.Handler(okHandler)
	codes := map[int]int{}
	for range 50 {
		codes[get(h, "203.0.113.66:1").Code]++
	}
	if codes[http.StatusOK] != 2 || codes[http.StatusTooManyRequests] != 48 {
		t.Fatalf("the hammering client: %v, want 2 allowed and 48 refused with 429", codes)
	}
	// 10 global, 2 spent by the hammering client's allowed requests.
	for i := range 8 {
		remote := "192.0.2." + strconv.Itoa(i+1) + ":1"
		if w := get(h, remote); w.Code != http.StatusOK {
			t.Fatalf("client %d after the hammering: %d, want 200 (429s drained the global rate)", i, w.Code)
		}
	}
	if w := get(h, "192.0.2.200:1"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("the 11th allowed request: %d, want 503 from GlobalRate", w.Code)
	}
}

// TestGlobalSheddingDoesNotSpendTheClientsBudget: while the process sheds
// load (GlobalRate exhausted), the shed requests are not charged to the
// clients' own policies.
func TestGlobalSheddingDoesNotSpendTheClientsBudget(t *testing.T) {
	c := newClock()
	l := mustNew(t, ratelimit.Config{
		Policies:    []ratelimit.Policy{perIP("ip", 2, time.Hour, 0)},
		GlobalRate:  1,
		GlobalBurst: 1,
		Now:         c.Now,
	})
	h := l.Handler(okHandler)
	if w := get(h, "198.51.100.1:1"); w.Code != http.StatusOK {
		t.Fatalf("first request: %d", w.Code)
	}
	for i := range 3 {
		if w := get(h, "192.0.2.1:1"); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("shed request %d: %d, want 503", i, w.Code)
		}
	}
	for i := range 2 {
		c.Advance(time.Second) // one global token
		if w := get(h, "192.0.2.1:1"); w.Code != http.StatusOK {
			t.Errorf("request %d after the shedding: %d, want 200 (the shed requests were charged)", i, w.Code)
		}
	}
}

// TestShadowPolicyNeverRefusesAnonymous: a dry-run policy keyed on the
// principal, on a request without one, changes nothing: the answer is the
// one the enforced policies give (it was 400, "lacks information the rate
// limit requires").
func TestShadowPolicyNeverRefusesAnonymous(t *testing.T) {
	anonymous := ratelimit.IdentityFunc(func(*http.Request) (string, bool) { return "", false })
	shadow := ratelimit.Policy{Name: "per-user", Quota: 1, Period: time.Hour, Key: []ratelimit.KeyPart{ratelimit.Principal(anonymous)}, Shadow: true}
	for _, tc := range []struct {
		name     string
		policies []ratelimit.Policy
	}{
		{"shadow first", []ratelimit.Policy{shadow, perIP("ip", 100, time.Hour, 0)}},
		{"shadow last", []ratelimit.Policy{perIP("ip", 100, time.Hour, 0), shadow}},
		{"shadow alone", []ratelimit.Policy{shadow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustNew(t, ratelimit.Config{Policies: tc.policies, Now: newClock().Now})
			h := l.Handler(okHandler)
			for i := range 3 {
				if w := get(h, "192.0.2.1:1"); w.Code != http.StatusOK {
					t.Fatalf("anonymous request %d: %d %s, want 200", i, w.Code, w.Body)
				}
			}
			if _, err := l.Check(httptest.NewRequest(http.MethodGet, "/", nil)); err != nil {
				t.Errorf("Check(anonymous) = %v, want nil", err)
			}
		})
	}
}

// TestShadowPolicyJudgesOnlyServedRequests: a shadow policy answers "what
// if this limit were enforced too"; requests the enforced policies refuse
// would not have been charged to it (all or nothing), so they are not. A
// client refused 3 times by a burst of 2 must not make a shadow burst of 3
// report denials.
func TestShadowPolicyJudgesOnlyServedRequests(t *testing.T) {
	shadowDenied := 0
	shadow := perIP("candidate", 3, time.Hour, 0)
	shadow.Shadow = true
	l := mustNew(t, ratelimit.Config{
		Policies: []ratelimit.Policy{perIP("ip", 2, time.Hour, 0), shadow},
		Now:      newClock().Now,
		Hooks: ratelimit.Hooks{OnDecision: func(p string, o ratelimit.Outcome) {
			if o == ratelimit.ShadowDenied {
				shadowDenied++
			}
		}},
	})
	h := l.Handler(okHandler)
	codes := map[int]int{}
	for range 5 {
		codes[get(h, "192.0.2.1:1").Code]++
	}
	if codes[http.StatusOK] != 2 || codes[http.StatusTooManyRequests] != 3 {
		t.Fatalf("codes %v, want 2 allowed, 3 refused", codes)
	}
	if shadowDenied != 0 {
		t.Errorf("shadow denials %d, want 0: only the 2 served requests count against its burst of 3", shadowDenied)
	}
}
