package audit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

func denyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.ExcessRateLimitExceeded, Reason: "burst"})
		w.WriteHeader(http.StatusTooManyRequests)
	})
}

// denials sends n denied requests from one client, every gap, with
// request IDs r0, r1, ….
func denials(h http.Handler, clk *clock, n int, gap time.Duration) {
	for i := range n {
		r := httptest.NewRequest("GET", "/api", nil)
		r.RemoteAddr = "[2001:db8::1]:1"
		if i%2 == 1 {
			r.RemoteAddr = "[2001:db8::2]:1" // same /64
		}
		r.Header.Set("X-Request-ID", "r"+strconv.Itoa(i))
		h.ServeHTTP(httptest.NewRecorder(), r)
		clk.Advance(gap)
	}
}

// One line per request: 1,000 denials from one client at 10/s each have a
// record of their own, by default and under an aggregation threshold of
// 50/s.
func TestEveryDenialHasItsOwnRecord(t *testing.T) {
	for _, after := range []float64{0, 50} {
		clk := newClock()
		a, buf := newAuditor(t, audit.Config{Now: clk.Now, FloodAfter: after})
		denials(a.Handler(denyHandler()), clk, 1000, 100*time.Millisecond)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range records(t, buf.Bytes()) {
			if r["msg"] != audit.MsgRequest {
				t.Fatalf("after=%v: unexpected record %v", after, r)
			}
			seen[r["request_id"].(string)] = true
		}
		if len(seen) != 1000 {
			t.Errorf("after=%v: %d request records with distinct IDs, want 1000", after, len(seen))
		}
	}
}

// Attack: a flood of denied requests filling the disk. Above the
// threshold, denials are folded into aggregates that account for every
// one of them by count and name their request IDs.
func TestFloodAboveThresholdIsAggregated(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now, FloodAfter: 50})
	denials(a.Handler(denyHandler()), clk, 1000, 5*time.Millisecond) // 200/s for 5 s
	// Another client is not folded into the first one's count.
	r := httptest.NewRequest("GET", "/api", nil)
	r.RemoteAddr = "192.0.2.1:1"
	a.Handler(denyHandler()).ServeHTTP(httptest.NewRecorder(), r)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	own, folded, other := 0, 0, 0
	var agg map[string]any
	for _, r := range records(t, buf.Bytes()) {
		switch {
		case r["msg"] == audit.MsgRequest && r["client.address"] == "192.0.2.1":
			other++
		case r["msg"] == audit.MsgRequest:
			own++
		case r["msg"] == audit.MsgAggregate:
			folded += int(r["aggregate.count"].(float64))
			agg = r
		}
	}
	if other != 1 || own+folded != 1000 || own > 50+5*50+1 || folded == 0 {
		t.Fatalf("%d own records + %d folded (+%d other client), want 1000 accounted for, at most ~300 own", own, folded, other)
	}
	ids, _ := agg["aggregate.request_ids"].([]any)
	if agg["event.name"] != "excess_rate_limit_exceeded" || agg["client.address"] != "2001:db8::/64" ||
		agg["http.response.status_code"] != float64(429) || len(ids) == 0 || agg["aggregate.first_request_id"] != ids[0] ||
		agg["aggregate.last_request_id"] == nil || agg["aggregate.reasons"] == nil {
		t.Errorf("aggregate = %v, want the key, request IDs and reasons", agg)
	}
	if got := a.Stats().Suppressed; got != uint64(folded) {
		t.Errorf("Stats().Suppressed = %d, want %d", got, folded)
	}
}

func TestFloodSummaryWrittenAtClose(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now, FloodAfter: 1})
	ctx := secevent.NewContext(context.Background(), a)
	for range 5 {
		secevent.Emit(ctx, secevent.Event{Name: secevent.SysMonitorDisabled, Reason: "JWKS refresh failed"})
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	recs := records(t, buf.Bytes())
	if len(recs) != 2 || recs[1]["msg"] != audit.MsgAggregate || recs[1]["aggregate.count"] != float64(4) ||
		recs[1]["event.reason"] != "JWKS refresh failed" {
		t.Errorf("records = %v, want one event and a summary of 4", recs)
	}
}

func TestFloodTableIsBounded(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now, FloodAfter: 1, FloodMaxKeys: 10})
	h := a.Handler(denyHandler())
	for i := range 500 {
		r := httptest.NewRequest("GET", "/api", nil)
		r.RemoteAddr = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250) + ":1"
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	// 10 distinct keys, then one overflow entry for the event.
	if n := len(records(t, buf.Bytes())); n != 11 {
		t.Errorf("got %d records from 500 distinct clients with a table of 10, want 11", n)
	}
}
