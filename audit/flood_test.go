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

// Attack: a flood of denied requests filling the disk. 1000 identical
// denials in one window make one record and one summary.
func TestFloodOfDenialsIsAggregated(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now, FloodInterval: time.Minute})
	h := a.Handler(denyHandler())
	for i := range 1000 {
		r := httptest.NewRequest("GET", "/api", nil)
		r.RemoteAddr = "[2001:db8::1]:1"
		if i%2 == 1 {
			r.RemoteAddr = "[2001:db8::2]:1" // same /64
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		clk.Advance(10 * time.Millisecond)
	}
	// Another client is not folded into the first one's count.
	r := httptest.NewRequest("GET", "/api", nil)
	r.RemoteAddr = "192.0.2.1:1"
	h.ServeHTTP(httptest.NewRecorder(), r)
	// An allowed request is always written.
	a.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))

	if recs := records(t, buf.Bytes()); len(recs) != 3 {
		t.Fatalf("got %d records before the window ends, want 3", len(recs))
	}
	clk.Advance(time.Minute)
	a.Handler(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/ok", nil))
	recs := records(t, buf.Bytes())
	var sum map[string]any
	for _, r := range recs {
		if r["msg"] == audit.MsgAggregate {
			sum = r
		}
	}
	if sum == nil || sum["aggregate.count"] != float64(999) || sum["event.name"] != "excess_rate_limit_exceeded" ||
		sum["client.address"] != "2001:db8::/64" || sum["http.response.status_code"] != float64(429) {
		t.Errorf("summary = %v, want 999 suppressed denials of 2001:db8::/64", sum)
	}
	if got := a.Stats().Suppressed; got != 999 {
		t.Errorf("Stats().Suppressed = %d, want 999", got)
	}
}

func TestFloodSummaryWrittenAtClose(t *testing.T) {
	clk := newClock()
	a, buf := newAuditor(t, audit.Config{Now: clk.Now})
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
	a, buf := newAuditor(t, audit.Config{Now: clk.Now, FloodMaxKeys: 10})
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

func TestDangerouslyDisableFloodAggregation(t *testing.T) {
	a, buf := newAuditor(t, audit.Config{DangerouslyDisableFloodAggregation: true})
	h := a.Handler(denyHandler())
	for range 20 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api", nil))
	}
	if n := len(records(t, buf.Bytes())); n != 20 {
		t.Errorf("got %d records, want 20", n)
	}
}
