package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// networkOnly are the checks that need a real connection: the stand-ins
// for them are servers (TestNetworkChecks).
var networkOnly = map[string]bool{
	"smuggling.duplicate-content-length": true, "smuggling.cl-te": true, "smuggling.te-cl": true, "smuggling.te-obfuscated": true,
	"https.plain-http": true, "https.old-tls": true, "https.weak-ciphers": true, "headers.hsts": true,
}

func runOne(t *testing.T, o Options, id string) Result {
	t.Helper()
	o.Only = []string{id}
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Check.ID == id {
			return r
		}
	}
	t.Fatalf("check %s did not run", id)
	return Result{}
}

// TestEveryCheckCanFail runs each in-process check against the secure
// stand-in (it must pass) and against the stand-in with that check's flaw
// (it must fail): no check that cannot fail, none that cries wolf.
func TestEveryCheckCanFail(t *testing.T) {
	e := newEnv(t)
	for _, c := range Checks() {
		if networkOnly[c.ID] {
			continue
		}
		t.Run(c.ID, func(t *testing.T) {
			o := e.options()
			o.Handler = newStandIn(t, e, nil)
			if r := runOne(t, o, c.ID); r.Status != Pass {
				t.Errorf("secure stand-in: %s: %s", r.Status, r.Evidence)
			}
			o.Handler = newStandIn(t, e, flaws{c.ID: true})
			r := runOne(t, o, c.ID)
			if r.Status != Fail {
				t.Errorf("stand-in with the flaw: %s: %s", r.Status, r.Evidence)
			}
			if strings.Contains(r.Evidence, e.apiKey) || strings.Contains(r.Evidence, e.token) {
				t.Errorf("evidence carries a credential: %s", r.Evidence)
			}
		})
	}
}

func TestCanaryIsCalledOnlyByTheFlawedAPI(t *testing.T) {
	e := newEnv(t)
	o := e.options()
	o.Handler = newStandIn(t, e, flaws{"jwt.jku": true})
	r := runOne(t, o, "jwt.jku")
	if r.Status != Fail || !strings.Contains(r.Evidence, "canary") {
		t.Fatalf("%s: %s", r.Status, r.Evidence)
	}
}

// TestSecureStandInPassesTheSuite runs the whole suite in process through
// probe.Handler, as a user's test would.
func TestSecureStandInPassesTheSuite(t *testing.T) {
	e := newEnv(t)
	rep := Handler(t, newStandIn(t, e, nil), e.options())
	s := rep.Summary()
	if s.Passed < 50 || rep.Score() != 100 {
		t.Errorf("summary %+v, score %d", s, rep.Score())
	}
}

// TestNothingKnownOnlyGeneralChecks: with no options, the checks that
// need knowledge of the API say so, and the rest run.
func TestNothingKnownOnlyGeneralChecks(t *testing.T) {
	e := newEnv(t)
	rep, err := Run(context.Background(), Options{Handler: newStandIn(t, e, nil)})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Summary()
	if s.Failed != 0 || s.Errored != 0 || s.Passed == 0 || s.NotApplicable == 0 {
		t.Fatalf("%+v", s)
	}
}

func TestOptionsRefused(t *testing.T) {
	_, err := Run(context.Background(), Options{Target: "ftp://x", Protected: []string{"v1"}, Rate: -1})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"not an http(s) URL", `"v1" must start with /`, "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestRetriesAfter429: a 429 paces the probe; it is not an answer.
func TestRetriesAfter429(t *testing.T) {
	n := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	r, err := newRun(Options{Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.do(request{Path: "/"})
	if err != nil || res.Status != http.StatusOK || n != 2 {
		t.Fatalf("status %v err %v after %d requests", res, err, n)
	}
}

// TestPersistent429IsNoAnswer: an API that keeps answering 429 has not
// answered the attack; the check errs instead of passing as "refused".
func TestPersistent429IsNoAnswer(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	rep, err := Run(context.Background(), Options{Handler: h, Protected: []string{"/v1/"}, Only: []string{"jwt.alg-none"}})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Results[0]; r.Status != Errored || !strings.Contains(r.Evidence, "429") {
		t.Fatalf("%s: %s", r.Status, r.Evidence)
	}
}

func TestBudget(t *testing.T) {
	e := newEnv(t)
	o := e.options()
	o.Handler, o.MaxRequests = newStandIn(t, e, nil), 5
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Summary().Errored; got == 0 {
		t.Fatal("no check reports the budget")
	}
	var sent int
	for _, r := range rep.Results {
		sent += r.Requests
	}
	if sent > 5+len(rep.Results) { // each refused attempt counts once
		t.Fatalf("%d requests", sent)
	}
}

// dualListener serves TLS and plain HTTP on one port: what a
// misconfigured API does.
type dualListener struct {
	net.Listener
	cfg *tls.Config
}

type peekConn struct {
	net.Conn
	r *bufio.Reader
}

func (c peekConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (l dualListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	pc := peekConn{c, br}
	if err == nil && b[0] == 0x16 {
		return tls.Server(pc, l.cfg), nil
	}
	return pc, nil
}

// naiveServer answers 200 to every request line it sees, however the
// request is framed: the hop a smuggled request gets through.
func naiveServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					line := sc.Text()
					if strings.HasSuffix(line, " HTTP/1.1") && !strings.HasPrefix(line, " ") {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					}
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

func TestNetworkChecks(t *testing.T) {
	e := newEnv(t)
	secure := httptest.NewServer(newStandIn(t, e, nil))
	defer secure.Close()
	keepAlive := httptest.NewServer(newStandIn(t, e, flaws{"smuggling.keep-alive": true}))
	defer keepAlive.Close()
	naive := naiveServer(t)

	strong := httptest.NewUnstartedServer(newStandIn(t, e, nil))
	strong.TLS = &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}}
	strong.StartTLS()
	defer strong.Close()
	weak := httptest.NewUnstartedServer(newStandIn(t, e, flaws{"headers.hsts": true}))
	weak.TLS = &tls.Config{MinVersion: tls.VersionTLS10, CipherSuites: []uint16{ // #nosec G402 -- the vulnerable stand-in
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	weak.StartTLS()
	defer weak.Close()
	// weak.Listener is TLS-wrapped by StartTLS; the dual listener serves
	// plain HTTP on the TLS port too.
	raw, _ := net.Listen("tcp", "127.0.0.1:0")
	dual := &http.Server{Handler: newStandIn(t, e, nil), ReadHeaderTimeout: 2 * time.Second}
	go dual.Serve(dualListener{raw, strong.TLS.Clone()})
	defer dual.Close()

	for _, tc := range []struct {
		id             string
		secure, flawed string
	}{
		{"smuggling.duplicate-content-length", secure.URL, naive},
		{"smuggling.cl-te", secure.URL, keepAlive.URL},
		{"smuggling.te-cl", secure.URL, keepAlive.URL},
		{"smuggling.te-obfuscated", secure.URL, naive},
		{"https.old-tls", strong.URL, weak.URL},
		{"https.weak-ciphers", strong.URL, weak.URL},
		{"headers.hsts", strong.URL, weak.URL},
		{"https.plain-http", strong.URL, "https://" + raw.Addr().String()},
	} {
		t.Run(tc.id, func(t *testing.T) {
			o := Options{Target: tc.secure, Rate: 1000, Client: strong.Client()}
			if r := runOne(t, o, tc.id); r.Status != Pass {
				t.Errorf("secure: %s: %s", r.Status, r.Evidence)
			}
			o.Target = tc.flawed
			if r := runOne(t, o, tc.id); r.Status != Fail {
				t.Errorf("flawed: %s: %s", r.Status, r.Evidence)
			}
		})
	}
}

// TestEveryCheckIsTested: a new check without a stand-in fails here.
func TestEveryCheckIsTested(t *testing.T) {
	ids := map[string]bool{}
	for _, c := range Checks() {
		if ids[c.ID] {
			t.Errorf("duplicate id %s", c.ID)
		}
		ids[c.ID] = true
		if c.Title == "" || c.Sends == "" || c.Expects == "" || c.OWASP == "" || c.CWE == 0 || !strings.HasPrefix(c.ID, c.Category+".") {
			t.Errorf("%s: incomplete description", c.ID)
		}
	}
	for id := range networkOnly {
		if !ids[id] {
			t.Errorf("networkOnly names %s, which is no check", id)
		}
	}
}

func TestReports(t *testing.T) {
	e := newEnv(t)
	o := e.options()
	o.Handler = newStandIn(t, e, flaws{"jwt.alg-none": true, "headers.framing": true})
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rep.Failures(High)); got != 1 {
		t.Errorf("failures at high: %d", got)
	}
	if got := len(rep.Failures(Low)); got != 2 {
		t.Errorf("failures at low: %d", got)
	}
	if s := rep.Score(); s <= 0 || s >= 100 {
		t.Errorf("score %d", s)
	}
	var b bytes.Buffer
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^FAIL\s+critical\s+jwt\.alg-none\s+token 1 of 4 was accepted`).MatchString(b.String()) || !strings.Contains(b.String(), "score ") {
		t.Errorf("table:\n%s", b.String())
	}
	for name, write := range map[string]func(io.Writer) error{"json": rep.WriteJSON, "sarif": rep.WriteSARIF, "junit": rep.WriteJUnit} {
		b.Reset()
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.Contains(out, e.apiKey) || strings.Contains(out, e.token) {
			t.Errorf("%s report carries a credential", name)
		}
		switch name {
		case "json":
			var doc struct {
				Score   int
				Results []struct{ ID, Status, CWE string }
			}
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc.Score != rep.Score() || len(doc.Results) != len(rep.Results) {
				t.Errorf("json: %v %+v", err, doc.Score)
			}
		case "sarif":
			var doc struct {
				Version string
				Runs    []struct {
					Results []struct {
						RuleID string
						Level  string
					}
				}
			}
			if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc.Version != "2.1.0" || len(doc.Runs[0].Results) != 2 {
				t.Errorf("sarif: %v %+v", err, doc)
			}
		case "junit":
			var doc struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
			}
			if err := xml.Unmarshal(b.Bytes(), &doc); err != nil || doc.Tests != len(rep.Results) || doc.Failures != 2 {
				t.Errorf("junit: %v %+v", err, doc)
			}
		}
	}
}

// TestNoUnsafeMethodOnProtectedPaths: without AllowUnsafe, no POST (or
// any unsafe method) reaches a protected path but the JSON path named.
func TestNoUnsafeMethodOnProtectedPaths(t *testing.T) {
	e := newEnv(t)
	var bad []string
	inner := newStandIn(t, e, nil)
	spy := func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions &&
			strings.HasPrefix(r.URL.Path, "/v1/") && r.URL.Path != "/v1/echo" {
			bad = append(bad, r.Method+" "+r.URL.Path)
		}
		inner.ServeHTTP(w, r)
	}
	srv := httptest.NewServer(http.HandlerFunc(spy))
	defer srv.Close()
	o := e.options()
	o.Public, o.Target, o.Rate = nil, srv.URL, 1000
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Errorf("unsafe requests to protected paths: %v", bad)
	}
}
