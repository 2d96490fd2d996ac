package reqctx_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/secevent"
)

// TestOneRequestCopyPerStack: clientip → audit → headers hand the
// handler the request the first layer made; the later layers fill their
// slots in, and each layer's value is still found.
func TestOneRequestCopyPerStack(t *testing.T) {
	ips, err := clientip.New(clientip.Config{})
	if err != nil {
		t.Fatal(err)
	}
	aud, err := audit.New(audit.Config{Handler: slog.NewJSONHandler(io.Discard, nil)})
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := headers.New(headers.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []*http.Request
	tap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = append(seen, r); next.ServeHTTP(w, r) })
	}
	var got struct {
		addr   netip.Addr
		id     string
		nonce  string
		record bool
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.addr = clientip.FromRequest(r)
		got.id, _ = audit.RequestIDFromContext(r.Context())
		got.nonce = headers.Nonce(r.Context())
		_, got.record = secevent.FromContext(r.Context())
	})
	h := ips.Handler(tap(aud.Handler(tap(hdr.Handler(tap(app))))))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:4000"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if len(seen) != 3 || seen[0] != seen[1] || seen[1] != seen[2] {
		t.Errorf("the layers copied the request: %p %p %p", seen[0], seen[1], seen[2])
	}
	if got.addr.String() != "203.0.113.9" || got.id == "" || got.nonce == "" || !got.record {
		t.Errorf("%+v", got)
	}
}

// TestInnerValueLeavesOuterView: a second value set inside (another
// resolver, another recorder) is seen inside only, as with context values.
func TestInnerValueLeavesOuterView(t *testing.T) {
	outer := clientip.NewContext(context.Background(), netip.MustParseAddr("192.0.2.1"))
	inner := clientip.NewContext(outer, netip.MustParseAddr("192.0.2.2"))
	if a, _ := clientip.FromContext(outer); a.String() != "192.0.2.1" {
		t.Errorf("outer sees %s", a)
	}
	if a, _ := clientip.FromContext(inner); a.String() != "192.0.2.2" {
		t.Errorf("inner sees %s", a)
	}
	var hits [2]int
	rec := func(i int) secevent.Recorder {
		return secevent.RecorderFunc(func(context.Context, secevent.Event) { hits[i]++ })
	}
	c1 := secevent.NewContext(inner, rec(0))
	c2 := secevent.NewContext(c1, rec(1))
	secevent.Emit(c1, secevent.Event{Name: "x"})
	secevent.Emit(c2, secevent.Event{Name: "x"})
	if hits != [2]int{1, 1} {
		t.Errorf("hits %v", hits)
	}
	if a, _ := clientip.FromContext(c2); a.String() != "192.0.2.2" {
		t.Errorf("the recorder's context lost the address: %s", a)
	}
	// Two resolvers in one stack: the inner one's address inside, the
	// outer one's outside.
	ips, _ := clientip.New(clientip.Config{})
	var inside, outside netip.Addr
	h := ips.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.WithContext(clientip.NewContext(r.Context(), netip.MustParseAddr("198.51.100.1")))
		inside = clientip.FromRequest(r2)
		outside = clientip.FromRequest(r)
	}))
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "203.0.113.9:4000"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if inside.String() != "198.51.100.1" || outside.String() != "203.0.113.9" {
		t.Errorf("inside %s outside %s", inside, outside)
	}
}
