package gateway

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

// Readiness, per dependency. /readyz reports every dependency and every
// route, and answers 503 only when no route can be served (or the gateway
// is draining after SIGTERM): a gateway whose JWKS endpoint is down still
// serves API-key and public routes, and Kubernetes should keep sending it
// those.
//
// A route can be served when its service has a target in the rotation and,
// if it authenticates, at least one of the gateway's authenticators works.
// A dependency with a fallback (the shared rate-limit store, replaced by
// local limits when it fails) degrades but never makes a route unservable.

// dependency is something routes need.
type dependency struct {
	name     string
	check    func(context.Context) error
	fallback string // what works instead when check fails; "" when nothing does
}

// routeNeeds says what one route needs: all of deps, and one of anyOf.
type routeNeeds struct {
	route string
	deps  []string
	anyOf []string
}

// addDependency registers a dependency (once per name).
func (g *Gateway) addDependency(d dependency) {
	for _, x := range g.deps {
		if x.name == d.name {
			return
		}
	}
	g.deps = append(g.deps, d)
}

// apiKeysReachable checks the key store with a lookup of a key that
// cannot exist: not found is an answer, anything else is not.
func apiKeysReachable(k *apikey.Keys) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := k.Get(ctx, "readiness-probe")
		if err == nil || errors.Is(err, apikey.ErrNotFound) {
			return nil
		}
		return err
	}
}

// readiness is the body of /readyz.
type readiness struct {
	Ready        bool              `json:"ready"`
	Status       string            `json:"status"` // ready, draining, not ready
	Dependencies map[string]string `json:"dependencies"`
	Routes       map[string]string `json:"routes"`
}

// readiness checks every dependency (at once, within the timeout) and
// judges every route.
func (g *Gateway) readiness(ctx context.Context, draining bool) readiness {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ok := make(map[string]bool, len(g.deps))
	res := readiness{Dependencies: map[string]string{}, Routes: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range g.deps {
		wg.Go(func() {
			err := d.check(ctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok[d.name], res.Dependencies[d.name] = true, "ok"
			case d.fallback != "":
				ok[d.name], res.Dependencies[d.name] = true, "degraded: "+d.fallback
			default:
				res.Dependencies[d.name] = "unavailable"
			}
		})
	}
	wg.Wait()
	servable := 0
	for _, n := range g.needs {
		var missing []string
		for _, d := range n.deps {
			if !ok[d] {
				missing = append(missing, d)
			}
		}
		if len(n.anyOf) > 0 {
			any := false
			for _, d := range n.anyOf {
				any = any || ok[d]
			}
			if !any {
				missing = append(missing, n.anyOf...)
			}
		}
		if len(missing) == 0 {
			servable++
			res.Routes[n.route] = "ok"
			continue
		}
		sort.Strings(missing)
		res.Routes[n.route] = "unavailable: " + strings.Join(missing, ", ")
	}
	switch {
	case draining:
		res.Status = "draining"
	case servable == 0:
		res.Status = "not ready"
	default:
		res.Ready, res.Status = true, "ready"
	}
	return res
}

// serveReadiness answers /readyz.
func serveReadiness(w http.ResponseWriter, r *http.Request, g *Gateway, draining bool) {
	res := g.readiness(r.Context(), draining)
	code := http.StatusOK
	if !res.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, res)
}
