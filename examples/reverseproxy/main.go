// Command reverseproxy puts bulwark's recommended stack in front of another
// HTTP service with httputil.ReverseProxy:
//
//	clientip → audit → headers → canonical → cors → ratelimit per IP →
//	(mux) → auth → authorization → ratelimit per principal → validate →
//	proxy
//
// The upstream gets the path the mux routed — canonical, so that
// "/api/catalog/%2e%2e/orders" cannot reach a handler no route checked —
// and the verified caller in X-Bulwark-Subject, X-Bulwark-Scopes and
// X-Bulwark-Auth-Method, never the client's copies of them (in any
// spelling: WSGI reads X_Bulwark_Subject as X-Bulwark-Subject) nor the API
// key. Only this proxy may be able to reach the upstream:
// anyone who can reach it directly can claim any identity.
//
// Run it with `go run ./reverseproxy -upstream http://127.0.0.1:9000`.
// Set BULWARK_PEPPER (at least 32 random bytes) outside development.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/canonical"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/validate"
)

// order is the body of POST /api/orders. validate refuses anything else:
// unknown fields (mass assignment), duplicate keys, trailing data.
type order struct {
	Item string `json:"item" validate:"required,min=1,max=64"`
	Qty  int    `json:"qty" validate:"required,min=1,max=100"`
}

// newHandler builds the protected proxy to upstream. The test builds the
// same one. now is the clock of the rate limiters and the audit log (nil:
// time.Now).
func newHandler(upstream *url.URL, keys *apikey.Keys, auditLog io.Writer, now func() time.Time) (http.Handler, func() error, error) {
	var errs []error // every configuration problem, reported at once
	// clientip: first, so every later layer keys and logs on the real
	// client, and the upstream is told that address in X-Forwarded-For.
	// The zero Config trusts no proxy header: right when clients connect
	// directly. Behind a load balancer, list it in TrustedProxies.
	ips, err := clientip.New(clientip.Config{})
	errs = append(errs, err)
	// audit: outside every protection, so refusals are recorded too; its
	// request ID is passed upstream for correlation. Route asks the mux for
	// the pattern, since the layers in between pass derived requests.
	mux := http.NewServeMux()
	route := func(r *http.Request) string { _, pattern := mux.Handler(r); return pattern }
	aud, err := audit.New(audit.Config{Handler: slog.NewJSONHandler(auditLog, nil), Route: route, Now: now})
	errs = append(errs, err)
	// headers: before anything that can refuse, so every answer carries the
	// security headers; it also strips the upstream's Server and
	// X-Powered-By, which tell an attacker what to aim at. In production set
	// AllowedHosts to your public names: the Host is passed upstream in
	// X-Forwarded-Host.
	hdr, err := headers.New(headers.Config{})
	errs = append(errs, err)
	// canonical: before anything routes, so the mux, the limits, the
	// policies and the upstream all read one path, and the client's
	// spellings of the identity headers, of method and URL overrides and
	// of any header with "_" in its name are gone. Inside audit and
	// headers: a refused path is recorded and answered with the headers.
	canon, err := canonical.New(canonical.Config{StripHeaders: []string{headerSubject, headerScopes, headerAuthMethod}})
	errs = append(errs, err)
	// cors: before authentication, because browsers send preflights without
	// credentials. CrossOriginProtection refuses cross-site form posts.
	crs, err := cors.New(cors.Config{
		Origins:               []string{"https://app.example.com"},
		Methods:               []string{http.MethodGet, http.MethodPost},
		Headers:               []string{"Content-Type", "X-API-Key"},
		CrossOriginProtection: true,
	})
	errs = append(errs, err)
	// A per-IP budget before authentication: key guessing and floods of bad
	// credentials are cut off before any key lookup.
	perIP, err := ratelimit.New(ratelimit.Config{Now: now, Policies: []ratelimit.Policy{
		{Name: "per-ip", Quota: 100, Period: time.Minute, Burst: 20, Key: []ratelimit.KeyPart{ratelimit.ClientIP()}},
	}})
	errs = append(errs, err)
	authn, err := auth.New(auth.Config{Authenticators: []auth.Authenticator{keys}, Realm: "orders"})
	errs = append(errs, err)
	// A per-principal budget after authentication: one key cannot use up
	// the upstream, whatever addresses it comes from.
	subject := ratelimit.IdentityFunc(func(r *http.Request) (string, bool) { return auth.Subject(r.Context()) })
	perKey, err := ratelimit.New(ratelimit.Config{Now: now, Policies: []ratelimit.Policy{
		{Name: "per-key", Quota: 60, Period: time.Minute, Burst: 10, Key: []ratelimit.KeyPart{ratelimit.Principal(subject)}},
	}})
	errs = append(errs, err)
	v, err := validate.New(validate.Config{MaxBodyBytes: 64 << 10})
	errs = append(errs, err)
	read, err := auth.Compile("orders:read")
	errs = append(errs, err)
	write, err := auth.Compile("orders:write")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	proxy := newProxy(upstream)
	// validate: innermost. The upstream receives the document validate
	// checked, encoded again, not the client's bytes: whatever its own JSON
	// parser does with duplicate keys or odd escapes, it sees one meaning.
	createOrder, err := validate.JSON(v, func(w http.ResponseWriter, r *http.Request, in order) {
		forwardJSON(proxy, w, r, in)
	})
	if err != nil {
		return nil, nil, err
	}

	// protect authenticates, authorizes with pol, then applies the
	// per-principal limit: in that order, so a 403 costs no per-key budget
	// and the limit reads a verified identity.
	protect := func(pol *auth.Policy, h http.Handler) http.Handler {
		return authn.Handler(authn.Require(pol)(perKey.Handler(h)))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	// A public part of the upstream: no authentication, so nothing is
	// forwarded as identity, and the client's identity headers still go.
	mux.Handle("GET /api/catalog/", proxy)
	mux.Handle("GET /api/", protect(read, proxy))
	mux.Handle("POST /api/orders", protect(write, createOrder))

	h := ips.Handler(aud.Handler(hdr.Handler(canon.Handler(crs.Handler(perIP.Handler(mux))))))
	return h, func() error { return errors.Join(keys.Close(context.Background()), aud.Close()) }, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address` (loopback by default)")
	target := flag.String("upstream", "http://127.0.0.1:9000", "upstream `URL`")
	flag.Parse()
	upstream, err := url.Parse(*target)
	if err != nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" {
		log.Fatalf("-upstream %q: want an http or https URL", *target)
	}
	keys, err := apikey.New(apikey.Config{Store: apikey.NewMemoryStore(), Prefix: "demo_live", Pepper: pepper(), Header: "X-API-Key"})
	if err != nil {
		log.Fatal(err)
	}
	key, _, err := keys.Create(context.Background(), apikey.Spec{Name: "demo", Scopes: []string{"orders:read", "orders:write"}})
	if err != nil {
		log.Fatal(err)
	}
	h, closeAll, err := newHandler(upstream, keys, os.Stdout, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("demo key (shown once): curl -H 'X-API-Key: %s' http://%s/api/orders/42", key, *addr)
	serve(*addr, h, closeAll)
}
