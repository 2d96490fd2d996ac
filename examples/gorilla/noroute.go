package main

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/bulwark-go/bulwark/problem"
)

// noRoute answers requests no route took: 405 with Allow when the path
// exists for another method, else 404, both as problem+json. It asks the
// router itself, so it stays right as routes are added.
func noRoute(router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = m
			if rm := (mux.RouteMatch{}); router.Match(r2, &rm) && rm.MatchErr == nil {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			problem.Write(w, problem.NotFound("No such resource."))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		problem.Write(w, problem.MethodNotAllowed("The method is not allowed here."))
	})
}
