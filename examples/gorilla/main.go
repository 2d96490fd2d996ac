// Command gorilla is an orders API on github.com/gorilla/mux, behind
// bulwark's recommended stack; auth goes in with r.Use on a subrouter:
//
//	clientip → audit → headers → cors → ratelimit per IP → (routing) →
//	auth → authorization → ratelimit per principal → validate → handler
//
// Run it with `go run ./gorilla` and call the printed curl line. Set
// BULWARK_PEPPER (at least 32 random bytes) outside development.
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/mux"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/clientip"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/validate"
)

// order is the body of POST /v1/orders. validate refuses anything else:
// unknown fields (mass assignment), duplicate keys, trailing data.
type order struct {
	Item string `json:"item" validate:"required,min=1,max=64"`
	Qty  int    `json:"qty" validate:"required,min=1,max=100"`
}

// newHandler builds the whole protected API. The test builds the same one.
// now is the clock of the rate limiters and the audit log (nil: time.Now).
func newHandler(keys *apikey.Keys, auditLog io.Writer, now func() time.Time) (http.Handler, func() error, error) {
	var errs []error // every configuration problem, reported at once
	// clientip: first, so every later layer keys and logs on the real
	// client. The zero Config trusts no proxy header: right when clients
	// connect directly. Behind a load balancer, list it in TrustedProxies.
	ips, err := clientip.New(clientip.Config{})
	errs = append(errs, err)
	// audit: outside every protection, so refusals are recorded too. Route
	// asks the router which route matched, so the log groups
	// "/v1/orders/{id}", not one line per id.
	router := mux.NewRouter()
	route := func(r *http.Request) string {
		var m mux.RouteMatch
		if !router.Match(r, &m) || m.Route == nil {
			return ""
		}
		t, _ := m.Route.GetPathTemplate()
		return t
	}
	aud, err := audit.New(audit.Config{Handler: slog.NewJSONHandler(auditLog, nil), Route: route, Now: now})
	errs = append(errs, err)
	// headers: before anything that can refuse, so 401/403/429/404 answers
	// carry the security headers as well.
	hdr, err := headers.New(headers.Config{})
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
	// the API, whatever addresses it comes from.
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
	// validate: innermost, so unauthenticated and over-limit requests never
	// get their bodies read.
	create, err := validate.JSON(v, func(w http.ResponseWriter, r *http.Request, in order) {
		writeJSON(w, http.StatusCreated, map[string]any{"item": in.Item, "qty": in.Qty})
	})
	if err != nil {
		return nil, nil, err
	}

	// gorilla runs r.Use middleware only once a route has matched: 404s,
	// 405s and CORS preflights would skip it. So the outer layers wrap the
	// whole router instead, and r.Use is kept for auth on the subrouter.
	// gorilla's own 404 and 405 are plain text, its 405 lacks Allow, and a
	// subrouter answers a wrong method with 404 (gorilla/mux#751).
	router.NotFoundHandler = noRoute(router)
	router.MethodNotAllowedHandler = router.NotFoundHandler
	router.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}).Methods(http.MethodGet)
	// Authenticate the whole subrouter; authorize and limit per route, in
	// that order, so a 403 costs no per-key budget and the limit reads a
	// verified identity.
	api := router.PathPrefix("/v1").Subrouter()
	api.Use(authn.Handler)
	api.Handle("/orders/{id}", authn.Require(read)(perKey.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFromContext(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"id": mux.Vars(r)["id"], "caller": p.Subject})
	})))).Methods(http.MethodGet)
	api.Handle("/orders", authn.Require(write)(perKey.Handler(create))).Methods(http.MethodPost)

	h := ips.Handler(aud.Handler(hdr.Handler(crs.Handler(perIP.Handler(router)))))
	return h, func() error { return errors.Join(keys.Close(context.Background()), aud.Close()) }, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address` (loopback by default)")
	flag.Parse()
	keys, err := apikey.New(apikey.Config{Store: apikey.NewMemoryStore(), Prefix: "demo_live", Pepper: pepper(), Header: "X-API-Key"})
	if err != nil {
		log.Fatal(err)
	}
	key, _, err := keys.Create(context.Background(), apikey.Spec{Name: "demo", Scopes: []string{"orders:read", "orders:write"}})
	if err != nil {
		log.Fatal(err)
	}
	h, closeAll, err := newHandler(keys, os.Stdout, nil)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("demo key (shown once): curl -H 'X-API-Key: %s' http://%s/v1/orders/42", key, *addr)
	serve(*addr, h, closeAll)
}
