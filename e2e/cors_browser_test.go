package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cors"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromium returns the browser binary, skipping the test when there is none
// unless BULWARK_REQUIRE_REAL=1, where a missing browser is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	if env := os.Getenv("BULWARK_CHROMIUM"); env != "" {
		candidates = []string{env} // an explicit choice is the only one
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("BULWARK_REQUIRE_REAL") == "1" {
		t.Fatalf("no browser among %q and BULWARK_REQUIRE_REAL=1: install Debian's chromium package", candidates)
	}
	t.Skipf("no browser among %q; set BULWARK_REQUIRE_REAL=1 to make this a failure", candidates)
	return ""
}

// api is the server under test: a few routes behind bulwark's cors, with
// counters that show whether a state-changing request reached the handler.
type api struct {
	srv       *httptest.Server
	puts      atomic.Int32
	transfers atomic.Int32
}

func newAPI(t *testing.T, cfg cors.Config) *api {
	t.Helper()
	c, err := cors.New(cfg)
	if err != nil {
		t.Fatalf("cors.New: %v", err)
	}
	a := &api{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secret-data")
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "alice", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		_, _ = io.WriteString(w, "logged in")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if ck, err := r.Cookie("sid"); err == nil {
			who = ck.Value
		}
		_, _ = io.WriteString(w, who)
	})
	mux.HandleFunc("PUT /items", func(w http.ResponseWriter, r *http.Request) {
		a.puts.Add(1)
		_, _ = io.WriteString(w, "updated")
	})
	mux.HandleFunc("DELETE /items", func(w http.ResponseWriter, r *http.Request) {
		a.puts.Add(1)
		_, _ = io.WriteString(w, "deleted")
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		a.transfers.Add(1)
		_, _ = io.WriteString(w, "transferred")
	})
	a.srv = httptest.NewServer(c.Handler(mux))
	t.Cleanup(a.srv.Close)
	return a
}

// newPage serves the pages that scripts run in: "/" is blank and
// "/form?action=URL" holds a text/plain form posting to URL.
func newPage(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/form" {
			fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" enctype="text/plain" action="%s"><input name="amount" value="1000"></form>`,
				html.EscapeString(r.URL.Query().Get("action")))
			return
		}
		_, _ = io.WriteString(w, `<!doctype html><title>page</title>`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// netlog keeps what the browser's network stack reported per URL: the CORS
// error of a failed load and the status of a received response.
type netlog struct {
	mu      sync.Mutex
	urls    map[network.RequestID]string
	cors    map[string]network.CorsError
	status  map[string]int64
	changed chan struct{}
}

func (n *netlog) listen(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		n.urls[e.RequestID] = e.Request.URL
	case *network.EventResponseReceived:
		n.status[e.Response.URL] = e.Response.Status
	case *network.EventLoadingFailed:
		u := n.urls[e.RequestID]
		if e.CorsErrorStatus != nil {
			n.cors[u] = e.CorsErrorStatus.CorsError
		}
	default:
		return
	}
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// wait blocks until cond holds for the log or the context ends.
func (n *netlog) wait(ctx context.Context, cond func() bool) bool {
	for {
		n.mu.Lock()
		ok := cond()
		n.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-n.changed:
		case <-ctx.Done():
			return false
		}
	}
}

type fetchResult struct {
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

func fetchJS(url, opts string) string {
	return fmt.Sprintf(`(async () => {
  try {
    const r = await fetch(%q, %s);
    return {ok: true, status: r.status, body: await r.text(), error: ""};
  } catch (e) {
    return {ok: false, status: 0, body: "", error: String(e)};
  }
})()`, url, opts)
}

// browser starts headless Chromium with a fresh profile under t.TempDir and
// returns a tab context whose network events go to the returned log.
func browser(t *testing.T) (context.Context, *netlog) {
	t.Helper()
	bin := chromium(t)
	tmp := t.TempDir()
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.Env("TMPDIR="+tmp),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	log := &netlog{
		urls:    map[network.RequestID]string{},
		cors:    map[string]network.CorsError{},
		status:  map[string]int64{},
		changed: make(chan struct{}, 1),
	}
	if err := chromedp.Listen(ctx, log.listen); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	return ctx, log
}

// TestBrowserCORS runs cross-origin fetches and form posts in headless
// Chromium and asserts what the browser itself allowed and blocked, reading
// the CORS error from the browser's network events rather than trusting a
// TypeError.
func TestBrowserCORS(t *testing.T) {
	ctx, log := browser(t)

	// Every server is on 127.0.0.1 with its own port: different origins.
	listed := newPage(t)
	unlisted := newPage(t)
	credAPI := newAPI(t, cors.Config{
		Origins:                   []string{listed.URL},
		AllowCredentials:          true,
		InsecureAllowLoopbackHTTP: true,
		Methods:                   []string{"GET", "POST", "PUT"},
		Headers:                   []string{"X-Token"},
		CrossOriginProtection:     true,
	})
	plainAPI := newAPI(t, cors.Config{
		Origins:                 []string{listed.URL},
		Methods:                 []string{"GET", "PUT"},
		Headers:                 []string{"X-Token"},
		RejectRefusedPreflights: true,
	})

	step := func(t *testing.T, name string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := chromedp.Run(sctx, a); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Log in: a top-level navigation to the API sets its session cookie.
	step(t, "login", chromedp.Navigate(credAPI.srv.URL+"/login"))

	tests := []struct {
		name     string
		page     *httptest.Server
		url      string
		opts     string
		wantBody string            // when the page may read the response
		wantCORS network.CorsError // when the browser must block it
		wantPuts int32             // PUT/DELETE handler runs on credAPI+plainAPI after this case
		// wantPreflight is the status of a refused preflight as the browser
		// saw it (0: not a preflight case).
		wantPreflight int64
	}{
		{"listed origin reads the response", listed, credAPI.srv.URL + "/data?c=1", `{}`, "secret-data", "", 0, 0},
		{"unlisted origin is blocked", unlisted, credAPI.srv.URL + "/data?c=2", `{}`, "", network.CorsErrorMissingAllowOriginHeader, 0, 0},
		{"listed origin sends and reads credentials", listed, credAPI.srv.URL + "/whoami?c=3", `{credentials: "include"}`, "alice", "", 0, 0},
		{"credentials refused where not configured", listed, plainAPI.srv.URL + "/whoami?c=4", `{credentials: "include"}`, "", network.CorsErrorInvalidAllowCredentials, 0, 0},
		{"same API without credentials is readable", listed, plainAPI.srv.URL + "/whoami?c=5", `{}`, "anonymous", "", 0, 0},
		{"unlisted origin with credentials is blocked", unlisted, credAPI.srv.URL + "/whoami?c=6", `{credentials: "include"}`, "", network.CorsErrorMissingAllowOriginHeader, 0, 0},
		{"preflighted PUT with allowed header passes", listed, credAPI.srv.URL + "/items?c=7", `{method: "PUT", headers: {"X-Token": "t"}}`, "updated", "", 1, 0},
		{"preflighted PUT with unlisted header fails", listed, credAPI.srv.URL + "/items?c=8", `{method: "PUT", headers: {"X-Other": "t"}}`, "", network.CorsErrorPreflightMissingAllowOriginHeader, 1, 204},
		{"preflighted DELETE not in Methods fails", listed, credAPI.srv.URL + "/items?c=9", `{method: "DELETE"}`, "", network.CorsErrorPreflightMissingAllowOriginHeader, 1, 204},
		{"preflight from unlisted origin fails", unlisted, credAPI.srv.URL + "/items?c=10", `{method: "PUT", headers: {"X-Token": "t"}}`, "", network.CorsErrorPreflightMissingAllowOriginHeader, 1, 204},
		{"refused preflight answered 403 fails", unlisted, plainAPI.srv.URL + "/items?c=11", `{method: "PUT", headers: {"X-Token": "t"}}`, "", network.CorsErrorPreflightMissingAllowOriginHeader, 1, 403},
		{"preflighted PUT on second API passes", listed, plainAPI.srv.URL + "/items?c=12", `{method: "PUT", headers: {"X-Token": "t"}}`, "updated", "", 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			step(t, "open page", chromedp.Navigate(tc.page.URL+"/"))
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			res, err := chromedp.Run(sctx, chromedp.Evaluate[fetchResult](fetchJS(tc.url, tc.opts), chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if tc.wantCORS == "" {
				if !res.OK || res.Body != tc.wantBody {
					t.Errorf("fetch(%s) from %s = %+v, want body %q", tc.url, tc.page.URL, res, tc.wantBody)
				}
				log.mu.Lock()
				if e, ok := log.cors[tc.url]; ok {
					t.Errorf("browser reported CORS error %s for an allowed request", e)
				}
				log.mu.Unlock()
			} else {
				if res.OK {
					t.Errorf("fetch(%s) from %s = %+v, want it blocked", tc.url, tc.page.URL, res)
				}
				// The CORS error and the preflight's response arrive as separate
				// events, in either order: wait for both.
				var got network.CorsError
				var status int64
				if !log.wait(sctx, func() bool {
					got, status = log.cors[tc.url], log.status[tc.url]
					return got != "" && (tc.wantPreflight == 0 || status != 0)
				}) {
					t.Fatalf("browser reported CORS error %q, preflight status %d for %s (fetch said %q)", got, status, tc.url, res.Error)
				}
				if got != tc.wantCORS {
					t.Errorf("browser CORS error = %s, want %s", got, tc.wantCORS)
				}
				if tc.wantPreflight != 0 && status != tc.wantPreflight {
					t.Errorf("browser saw preflight status %d, want %d", status, tc.wantPreflight)
				}
			}
			if puts := credAPI.puts.Load() + plainAPI.puts.Load(); puts != tc.wantPuts {
				t.Errorf("state-changing handlers ran %d times, want %d", puts, tc.wantPuts)
			}
		})
	}

	// CSRF: a cross-site HTML form posting text/plain needs no preflight, so
	// CORS never sees it; CrossOriginProtection must refuse it.
	forms := []struct {
		name          string
		page          *httptest.Server
		wantStatus    int64
		wantTransfers int32
	}{
		{"cross-site form POST is refused by CSRF protection", unlisted, http.StatusForbidden, 0},
		{"form POST from a listed origin is accepted", listed, http.StatusOK, 1},
	}
	for i, tc := range forms {
		t.Run(tc.name, func(t *testing.T) {
			action := fmt.Sprintf("%s/transfer?f=%d", credAPI.srv.URL, i)
			step(t, "open form", chromedp.Navigate(tc.page.URL+"/form?action="+url.QueryEscape(action)))
			step(t, "submit", chromedp.Evaluate[chromedp.Void](`document.getElementById("f").submit()`))
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			var got int64
			if !log.wait(sctx, func() bool { got = log.status[action]; return got != 0 }) {
				t.Fatalf("browser received no response for %s", action)
			}
			if got != tc.wantStatus {
				t.Errorf("browser got status %d for the form POST, want %d", got, tc.wantStatus)
			}
			if n := credAPI.transfers.Load(); n != tc.wantTransfers {
				t.Errorf("transfer handler ran %d times, want %d", n, tc.wantTransfers)
			}
		})
	}
}
