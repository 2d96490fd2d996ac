package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/secevent"
)

// The secrets a careless stack would leak. Each must appear nowhere in any
// byte of log output.
const (
	bearerToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVRCRUFSRVIifQ.c2lnU0VDUkVUQkVBUkVS"
	apiKey      = "bwk_live_SECRETAPIKEY0123456789"
	password    = "Pa55w0rd-SECRET-horse"
	cookieValue = "SECRETCOOKIEVALUE42"
)

// Attack: credentials leaking into logs. A known bearer token, API key,
// password and cookie go through clientip → audit → an application that
// emits security events and logs carelessly; every byte written by the
// audit chain, its checkpoints, the async queue and the application's
// redacted logger is searched for them.
func TestSecretGrepFullStack(t *testing.T) {
	var logOut, cpOut, appOut syncBuffer
	clk := newClock()
	chain, err := audit.NewChain(&logOut, audit.ChainConfig{Key: testKey, Checkpoints: &cpOut, CheckpointEvery: 2, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	async, err := audit.NewAsync(chain, audit.AsyncConfig{Overflow: audit.Block, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	aud, err := audit.New(audit.Config{
		Handler:    async,
		Now:        clk.Now,
		LogHeaders: []string{"Authorization", "Cookie", "X-API-Key", "User-Agent", "Forwarded"},
	})
	if err != nil {
		t.Fatal(err)
	}
	appLog := slog.New(aud.Redactor().Handler(slog.NewJSONHandler(&appOut, nil)))
	cip, err := clientip.New(clientip.Config{Header: clientip.XForwardedFor, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	upstream := "https://svc:" + password + "@upstream.internal/v1"

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		secevent.Identify(r.Context(), secevent.Identity{Subject: "user-17", Method: "jwt"})
		// A careless application: everything it has goes into events and logs.
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthnTokenInvalid, Reason: "token rejected", Attrs: []slog.Attr{
			slog.Any("headers", r.Header),
			slog.Any("query", r.URL.Query()),
			slog.Any("url", r.URL),
			slog.String("body", string(body)),
			slog.Any("cookies", r.Cookies()),
			slog.Any("error", fmt.Errorf("verify %s: %w", r.Header.Get("Authorization"), errors.New("bad signature"))),
			slog.Any("dial", fmt.Errorf("dial %s: connection refused", upstream)),
			slog.String("raw_query", r.URL.RawQuery),
		}})
		appLog.Error("request failed", "headers", r.Header, "form", string(body), "upstream", upstream,
			"err", fmt.Errorf("cookie header was %q", r.Header.Get("Cookie")))
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := httptest.NewServer(cip.Handler(aud.Handler(app)))
	defer srv.Close()

	for i := range 3 {
		body := fmt.Sprintf(`{"user":"alice","password":%q,"profile":{"apiKey":%q,"nested":[{"secret":%q}]}}`, password, apiKey, cookieValue)
		q := url.Values{"api_key": {apiKey}, "access_token": {bearerToken}, "page": {fmt.Sprint(i)}}
		req, err := http.NewRequest("POST", srv.URL+"/login?"+q.Encode(), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+bearerToken)
		req.Header.Set("X-API-Key", apiKey)
		req.Header.Set("Cookie", "sid="+cookieValue+"; theme=dark")
		req.Header.Set("X-Forwarded-For", "203.0.113.50")
		req.Header.Set("User-Agent", "grep-test/1")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		clk.Advance(DefaultFloodIntervalForTest)
	}
	srv.Close()
	if err := aud.Close(); err != nil {
		t.Fatal(err)
	}
	if err := async.Close(); err != nil {
		t.Fatal(err)
	}
	if err := chain.Close(); err != nil {
		t.Fatal(err)
	}

	all := [][]byte{logOut.Bytes(), cpOut.Bytes(), appOut.Bytes()}
	recs := records(t, logOut.Bytes())
	if len(recs) != 5 || len(records(t, appOut.Bytes())) != 3 {
		t.Fatalf("got %d chained records and %d app records, want 5 (start, 3 requests, end) and 3", len(recs), len(records(t, appOut.Bytes())))
	}
	if recs[1]["client.address"] != "203.0.113.50" || recs[1]["user.id"] != "user-17" {
		t.Errorf("record = %v, want the resolved client and the principal", recs[1])
	}
	secrets := []string{bearerToken, apiKey, password, cookieValue,
		"SECRETBEARER", "U0VDUkVUQkVBUkVS", "SECRETAPIKEY", "Pa55w0rd", "SECRETCOOKIE"}
	for _, s := range secrets {
		for _, enc := range []string{s, url.QueryEscape(s), strings.ToLower(s)} {
			for i, b := range all {
				if n := bytes.Count(bytes.ToLower(b), bytes.ToLower([]byte(enc))); n > 0 {
					t.Errorf("output %d holds %q %d times", i, enc, n)
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s\napp:\n%s", logOut.Bytes(), appOut.Bytes())
	}
	if _, err := audit.Verify(bytes.NewReader(logOut.Bytes()), audit.VerifyConfig{Keys: map[string][]byte{"": testKey},
		Checkpoints: bytes.NewReader(cpOut.Bytes())}); err != nil {
		t.Errorf("Verify of the stack's log = %v", err)
	}
}

// DefaultFloodIntervalForTest moves the clock past a flood window so that
// each request of the grep test is written in full.
const DefaultFloodIntervalForTest = audit.DefaultFloodInterval
