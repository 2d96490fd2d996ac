package openapi

import "net/http"

func (s *Spec) serveChecked(w http.ResponseWriter, r *http.Request, next http.Handler) {
	next.ServeHTTP(w, r)
}
