package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
)

// compiledRoute is one configured route with its handler chain.
type compiledRoute struct {
	name    string // the route's path as configured: the http.route of the audit log
	prefix  string
	methods []string // empty: every method; HEAD wherever GET is
	allow   string   // the Allow header for 405
	handler http.Handler
}

// router picks the first route whose path prefix matches the canonical
// path (see request.go). An unlisted path
// gets 404 and a method the route does not list gets 405 with Allow, both
// as problem responses.
type router struct {
	routes []*compiledRoute
}

func (rt *router) match(path string) *compiledRoute {
	for _, r := range rt.routes {
		if matchPrefix(r.prefix, path) {
			return r
		}
	}
	return nil
}

// matchPrefix reports whether path falls under prefix: "/v1/" matches
// "/v1/x"; "/v1" matches "/v1" and "/v1/x" but not "/v10".
func matchPrefix(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return strings.HasSuffix(prefix, "/") || len(path) == len(prefix) || path[len(prefix)] == '/'
}

// routeName is the audit log's http.route for a request.
func (rt *router) routeName(r *http.Request) string {
	if m := rt.match(r.URL.Path); m != nil {
		return m.name
	}
	return "unmatched"
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := rt.match(r.URL.Path)
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
