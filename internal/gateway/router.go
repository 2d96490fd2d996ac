package gateway

import (
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
)

// compiledRoute is one configured route with its handler chain.
type compiledRoute struct {
	name    string // the route's path as configured: the http.route of the audit log
	host    string // "" for any host, a name, or *.name
	prefix  string
	service string   // the service it forwards to ("demo" for the built-in API)
	methods []string // empty: every method; HEAD wherever GET is
	allow   string   // the Allow header for 405
	handler http.Handler
}

// router picks the first route whose host matches the request's and whose
// path prefix matches its canonical path (see request.go). An unlisted
// path gets 404 and a method the route does not list gets 405 with Allow,
// both as problem responses.
type router struct {
	routes []*compiledRoute
}

func (rt *router) match(r *http.Request) *compiledRoute {
	host := requestHost(r)
	for _, c := range rt.routes {
		if (c.host == "" || matchHost(c.host, host)) && matchPrefix(c.prefix, r.URL.Path) {
			return c
		}
	}
	return nil
}

// requestHost is the request's Host without the port, in lower case.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// matchHost reports whether host matches pattern: equal, or for
// "*.example.com" one more label in front of example.com.
func matchHost(pattern, host string) bool {
	if rest, ok := strings.CutPrefix(pattern, "*"); ok {
		label, found := strings.CutSuffix(host, rest)
		return found && label != "" && !strings.Contains(label, ".")
	}
	return pattern == host
}

// matchPrefix reports whether path falls under prefix: "/v1/" matches
// "/v1/x"; "/v1" matches "/v1" and "/v1/x" but not "/v10".
func matchPrefix(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return strings.HasSuffix(prefix, "/") || len(path) == len(prefix) || path[len(prefix)] == '/'
}

// routeOf names the route and service of a request, for the audit log and
// the metrics.
func (rt *router) routeOf(r *http.Request) (name, service string) {
	if m := rt.match(r); m != nil {
		return m.name, m.service
	}
	return "unmatched", ""
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := rt.match(r)
	if route == nil {
		problem.Write(w, problem.NotFound("No route matches this path."))
		return
	}
	if len(route.methods) > 0 && !slices.Contains(route.methods, r.Method) {
		w.Header().Set("Allow", route.allow)
		problem.Write(w, problem.MethodNotAllowed("This route does not accept the method."))
		return
	}
	route.handler.ServeHTTP(w, r)
}
