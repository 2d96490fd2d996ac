package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/bulwark-go/bulwark/auth/denylist"
	"github.com/bulwark-go/bulwark/secevent"
)

// Revocation of JWTs before their exp: the OIDC Back-Channel Logout 1.0
// endpoint on the public listener, and the deny-list's endpoint on the
// admin listener. Both feed the deny-list (binding.go), which every
// instance reads from the shared store.

// BackchannelLogoutPath is where providers POST logout tokens.
const BackchannelLogoutPath = "/backchannel-logout"

// maxLogoutBody bounds the form a provider posts (a logout token is a
// few kilobytes).
const maxLogoutBody = 64 << 10

// acceptsLogout reports whether an issuer's logout tokens are accepted.
func (c *Config) acceptsLogout() bool {
	for _, j := range c.Auth.JWT {
		if j.BackchannelLogout != nil {
			return true
		}
	}
	return false
}

// backchannel serves POST /backchannel-logout in front of next when an
// issuer accepts logout tokens; every other request goes to next.
func (g *Gateway) backchannel(cfg *Config, next http.Handler) http.Handler {
	if !cfg.acceptsLogout() || g.jwt == nil || g.deny == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != BackchannelLogoutPath {
			next.ServeHTTP(w, r)
			return
		}
		g.serveLogout(w, r)
	})
}

// serveLogout is §2.5–2.8 of OIDC Back-Channel Logout 1.0: a form with
// logout_token, validated as §2.6 says (jwt.VerifyLogoutToken); the
// session (sid) or, without one, every token of the subject issued until
// the logout token's iat is denied. 200 when done, 400 with
// {"error":"invalid_request"} when the token is not acceptable, 503 when
// the deny-list's store did not take the entry (the provider retries).
func (g *Gateway) serveLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	m := g.metrics.revocation
	refuse := func(code int, reason string) {
		result := "invalid"
		if code >= 500 {
			result = "error"
		}
		m.logouts.WithLabelValues(result).Inc()
		secevent.Emit(r.Context(), secevent.Event{
			Name: secevent.AuthnTokenInvalid, Reason: "back-channel logout: " + reason,
			Attrs: []slog.Attr{slog.Int("status", code)},
		})
		if code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		body := map[string]string{"error": "invalid_request"}
		if code >= 500 {
			body["error"] = "temporarily_unavailable"
		}
		writeJSON(w, code, body)
	}
	if r.Method != http.MethodPost {
		refuse(http.StatusMethodNotAllowed, "method not POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		refuse(http.StatusBadRequest, "not a form")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxLogoutBody+1))
	if err != nil || len(body) > maxLogoutBody {
		refuse(http.StatusBadRequest, "body unreadable or too large")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || len(form["logout_token"]) != 1 {
		refuse(http.StatusBadRequest, "want exactly one logout_token")
		return
	}
	lt, err := g.jwt.VerifyLogoutToken(r.Context(), form.Get("logout_token"))
	if err != nil {
		refuse(http.StatusBadRequest, "logout token refused") // the reason is in the verifier's error, not echoed
		g.log.Debug("back-channel logout refused", "reason", err.Error())
		return
	}
	e := denylist.Entry{Kind: denylist.Session, Issuer: lt.Issuer, Value: lt.SessionID, At: lt.IssuedAt}
	if lt.SessionID == "" {
		e.Kind, e.Value = denylist.Subject, lt.Subject
	}
	if err := g.deny.Add(r.Context(), e); err != nil {
		refuse(http.StatusServiceUnavailable, "deny-list store failed")
		g.log.warnf("back-channel logout: deny-list store: %v", err)
		return
	}
	m.logouts.WithLabelValues("ok").Inc()
	m.denyAdds.WithLabelValues("backchannel_logout").Inc()
	secevent.Emit(r.Context(), secevent.Event{
		Name: secevent.AuthnTokenRevoked, Reason: "back-channel logout",
		Attrs: []slog.Attr{slog.String("issuer", lt.Issuer), slog.String("kind", e.Kind.String())},
	})
	w.WriteHeader(http.StatusOK)
}

// denyRequest is the body of the admin listener's POST /denylist: an
// entry for the tokens of an issuer, by jti, sid or sub (sub denies those
// issued until at, default now).
type denyRequest struct {
	Kind   string    `json:"kind"`
	Issuer string    `json:"issuer"`
	Value  string    `json:"value"`
	At     time.Time `json:"at"`
	Until  time.Time `json:"until"`
}

// serveDeny is the admin listener's POST /denylist (RFC 7009-like
// revocation of JWTs by an operator or an authorization server's hook).
func serveDeny(g *Gateway, w http.ResponseWriter, r *http.Request) {
	if g.deny == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"added": false, "errors": []string{"no deny-list: auth.denylist is not configured"}})
		return
	}
	var req denyRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLogoutBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"added": false, "errors": []string{"want a JSON object {kind, issuer, value[, at, until]}"}})
		return
	}
	kind, ok := denylist.ParseKind(req.Kind)
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"added": false, "errors": []string{"kind must be jti, sid or sub"}})
		return
	}
	err := g.deny.Add(r.Context(), denylist.Entry{Kind: kind, Issuer: req.Issuer, Value: req.Value, At: req.At, Until: req.Until})
	switch {
	case errors.Is(err, denylist.ErrEntry):
		writeJSON(w, http.StatusBadRequest, map[string]any{"added": false, "errors": []string{err.Error()}})
	case err != nil:
		g.log.warnf("denylist: store: %v", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"added": false, "errors": []string{"the deny-list store did not answer"}})
	default:
		g.metrics.revocation.denyAdds.WithLabelValues("admin").Inc()
		writeJSON(w, http.StatusOK, map[string]any{"added": true})
	}
}
