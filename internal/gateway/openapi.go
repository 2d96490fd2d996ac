package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/ratelimit"
	"github.com/bulwark-go/bulwark/secevent"
	"github.com/bulwark-go/bulwark/validate"
	"github.com/bulwark-go/bulwark/validate/openapi"
)

// derivedRoute is a route the gateway derived from a service's OpenAPI
// document, with the key its problems are reported at.
type derivedRoute struct {
	route Route
	key   string
}

// openAPIFile is the document a route is checked against: its own, else
// its service's.
func (c *Config) openAPIFile(r Route) string {
	if r.OpenAPI != "" {
		return r.OpenAPI
	}
	return c.Services[r.serviceOf()].OpenAPI
}

// loadSpec reads and builds an OpenAPI document named by the configuration.
func (c *Config) loadSpec(file string, maxBody int64) (*openapi.Spec, error) {
	data, err := os.ReadFile(c.Path(file)) // #nosec G304 -- the operator's config names the document
	if err != nil {
		return nil, fmt.Errorf("cannot read %s", file)
	}
	v, err := validate.New(validate.Config{MaxBodyBytes: maxBody})
	if err != nil {
		return nil, err
	}
	return openapi.New(openapi.Config{Document: data, Name: file, Validator: v})
}

// checkOpenAPI checks every OpenAPI document the configuration names, and
// derives the routes of the services that have one and no routes.
func (c *Config) checkOpenAPI(errs *[]error) {
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		file := c.Services[name].OpenAPI
		if file == "" {
			continue
		}
		key := "services." + name + ".openapi"
		named := slices.ContainsFunc(c.Routes, func(r Route) bool { return r.serviceOf() == name && r.OpenAPI == "" })
		public := named && !slices.ContainsFunc(c.Routes, func(r Route) bool { return r.serviceOf() == name && r.OpenAPI == "" && r.Auth != "none" })
		spec := c.checkSpec(errs, key, file, !public)
		if spec == nil || named {
			continue // YAML routes say where the service is served; they inherit the document
		}
		prefix := commonPrefix(spec.Operations())
		for _, d := range c.derived {
			if d.route.Path == prefix {
				c.problem(errs, key, "its paths share the prefix %s with %s's document: give one of the services routes", prefix, d.route.Service)
			}
		}
		for i, r := range c.Routes {
			if r.Host == "" && matchPrefix(r.Path, prefix) {
				c.problem(errs, key, "the route derived from it (%s) is shadowed by routes[%d] (%s), which comes first", prefix, i, r.Path)
			}
		}
		c.derived = append(c.derived, derivedRoute{route: Route{Path: prefix, Service: name}, key: key})
	}
	for i, r := range c.Routes {
		if c.openAPIFile(r) == "" {
			continue
		}
		key := idx("routes", i)
		if r.Schema != "" || r.JSON {
			c.problem(errs, key+".json", "the openapi document checks the body itself: drop json and schema")
		}
		if len(r.Methods) > 0 {
			c.problem(errs, key+".methods", "the methods come from the openapi document: drop methods")
		}
		if r.OpenAPI != "" {
			c.checkSpec(errs, key+".openapi", r.OpenAPI, r.Auth != "none")
		}
	}
}

// checkSpec builds one document and checks that every security scheme its
// operations use has an authenticator configured. Each problem names its
// place in the document.
func (c *Config) checkSpec(errs *[]error, key, file string, checkAuth bool) *openapi.Spec {
	spec, err := c.loadSpec(file, 0)
	if err != nil {
		var list []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			list = j.Unwrap()
		} else {
			list = []error{err}
		}
		for _, e := range list {
			var ce *openapi.ConfigError
			if errors.As(e, &ce) {
				c.problem(errs, key, "%s: %s", specPlace(file, ce.Line, ce.Where), ce.Reason)
				continue
			}
			c.problem(errs, key, "%v", e)
		}
		return nil
	}
	if !checkAuth {
		return spec // every route on it says auth: none
	}
	schemes := spec.SecuritySchemes()
	used := map[string]string{} // scheme -> first operation using it
	for _, op := range spec.Operations() {
		for _, req := range op.Security {
			for name := range req {
				if _, ok := used[name]; !ok {
					used[name] = op.Method + " " + op.Path
				}
			}
		}
	}
	usedNames := make([]string, 0, len(used))
	for n := range used {
		usedNames = append(usedNames, n)
	}
	sort.Strings(usedNames)
	for _, name := range usedNames {
		ss, ok := schemes[name]
		if !ok {
			c.problem(errs, key, "%s: %s uses security scheme %q, which components.securitySchemes does not define", file, used[name], name)
			continue
		}
		if why := c.authenticatorFor(ss); why != "" {
			c.problem(errs, key, "%s: security scheme %q (used by %s) has no configured authenticator: %s", specPlace(file, ss.Line, "/components/securitySchemes/"+name), name, used[name], why)
		}
	}
	return spec
}

// authenticatorFor says what is missing for the gateway to check a
// security scheme, or "" when it can.
func (c *Config) authenticatorFor(ss openapi.SecurityScheme) string {
	switch {
	case ss.Type == "http" && ss.Scheme == "bearer", ss.Type == "oauth2", ss.Type == "openIdConnect":
		if len(c.Auth.JWT) == 0 {
			return "configure auth.jwt"
		}
	case ss.Type == "apiKey":
		if ss.In != "header" {
			return fmt.Sprintf("API keys in the %s are not supported (only in a header)", ss.In)
		}
		if c.Auth.APIKeys == nil {
			return "configure auth.api_keys"
		}
		h := c.Auth.APIKeys.Header
		if h == "" {
			h = "X-API-Key"
		}
		if !strings.EqualFold(h, ss.Param) {
			return fmt.Sprintf("the document reads the key from %s, auth.api_keys.header is %s", ss.Param, h)
		}
	case ss.Type == "mutualTLS":
		if c.TLS == nil || c.TLS.ClientCAFile == "" {
			return "configure tls.client_ca_file"
		}
	default:
		return fmt.Sprintf("%s %s is not supported by the gateway", ss.Type, ss.Scheme)
	}
	return ""
}

func specPlace(file string, line int, where string) string {
	s := file
	if line > 0 {
		s += fmt.Sprintf(" line %d", line)
	}
	if where != "" {
		s += " (" + where + ")"
	}
	return s
}

// commonPrefix is the longest literal path prefix, at a segment boundary,
// shared by every operation's path: the route the gateway derives.
func commonPrefix(ops []openapi.Operation) string {
	if len(ops) == 0 {
		return "/"
	}
	var common []string
	for i, op := range ops {
		var lits []string
		for seg := range strings.SplitSeq(strings.TrimPrefix(op.Path, "/"), "/") {
			if strings.ContainsAny(seg, "{}") {
				break
			}
			lits = append(lits, seg)
		}
		if i == 0 {
			common = lits
			continue
		}
		n := 0
		for n < len(common) && n < len(lits) && common[n] == lits[n] {
			n++
		}
		common = common[:n]
	}
	// An operation's own path may be the prefix ("/pets" and "/pets/{id}");
	// a trailing empty segment ("/pets/") is no prefix of "/pets".
	for len(common) > 0 && common[len(common)-1] == "" {
		common = common[:len(common)-1]
	}
	return "/" + strings.Join(common, "/")
}

// scopeExpr turns security requirements into the route's scope
// expression, and reports whether authentication is needed at all: the
// alternatives are or-ed, the scopes of one alternative and-ed. An
// alternative without scopes needs authentication only; an empty one
// makes the operation public.
func scopeExpr(reqs []openapi.SecurityRequirement) (expr string, authenticate bool) {
	if len(reqs) == 0 {
		return "", false
	}
	var alts []string
	for _, req := range reqs {
		if len(req) == 0 {
			return "", false
		}
		var scopes []string
		for _, list := range req {
			for _, s := range list {
				scopes = append(scopes, "scope("+s+")")
			}
		}
		if len(scopes) == 0 {
			return "", true // any authenticated principal satisfies this alternative
		}
		sort.Strings(scopes)
		scopes = slices.Compact(scopes)
		alts = append(alts, "("+strings.Join(scopes, " and ")+")")
	}
	return strings.Join(alts, " or "), true
}

// schemeMethods are the auth methods (auth.Principal.Method) that satisfy
// a security scheme.
func schemeMethods(ss openapi.SecurityScheme) []string {
	switch {
	case ss.Type == "http" && ss.Scheme == "bearer", ss.Type == "oauth2", ss.Type == "openIdConnect":
		return []string{"jwt", "introspection"}
	case ss.Type == "apiKey":
		return []string{"api_key"}
	case ss.Type == "mutualTLS":
		return []string{"mtls"}
	}
	return nil
}

// authMethods are the methods a principal can have authenticated with.
var authMethods = []string{"jwt", "introspection", "api_key", "mtls"}

// byMethod splits an operation's security requirements by the auth method
// of the credential presented: for each method, the scope expression of
// the alternatives whose every scheme that method satisfies ("" for any
// principal, when one of them needs no scope), or deny when none is.
func byMethod(reqs []openapi.SecurityRequirement, schemes map[string]openapi.SecurityScheme) map[string]*string {
	out := map[string]*string{}
	for _, m := range authMethods {
		var alts []openapi.SecurityRequirement
		for _, req := range reqs {
			ok := true
			for name := range req {
				if !slices.Contains(schemeMethods(schemes[name]), m) {
					ok = false
				}
			}
			if ok {
				alts = append(alts, req)
			}
		}
		if len(alts) == 0 {
			continue // deny
		}
		expr, _ := scopeExpr(alts)
		out[m] = &expr
	}
	return out
}

// buildOpenAPIRoute builds a route whose operations come from an OpenAPI
// document: the operation is found first (404, 405), then its security
// requirements authenticate and authorize, then the request is checked
// (parameters, content type, body) and forwarded. A route's own auth and
// scopes override the document's for every operation.
func (g *Gateway) buildOpenAPIRoute(cfg *Config, r Route, file string, authn *auth.Auth, ls *limitSet, upstream http.Handler, ri *routeInfo) (http.Handler, bool, error) {
	maxBody := int64(r.MaxBody)
	if maxBody == 0 {
		maxBody = defaultMaxBody
	}
	spec, err := cfg.loadSpec(file, maxBody)
	if err != nil {
		return nil, false, err // config.check reported it first
	}
	checked := spec.Handler(upstream)
	schemes := spec.SecuritySchemes()
	perOp := map[string]http.Handler{}
	anyAuth := false
	names := r.RateLimit
	if len(names) == 0 {
		names = cfg.RateLimit.Default
	}
	type limiterPair struct{ before, after *ratelimit.Limiter }
	pairs := map[bool]*limiterPair{}
	for _, op := range spec.Operations() {
		expr, authenticate := scopeExpr(op.Security)
		switch {
		case r.Auth == "none":
			expr, authenticate = "", false
		case r.Auth == "required" || r.Scopes != "":
			expr, authenticate = r.Scopes, true
		}
		var err error
		lp := pairs[authenticate]
		if lp == nil {
			var before, after *ratelimit.Limiter
			before, after, err = ls.limiters(names, authenticate, r.Host+r.Path)
			if err != nil {
				return nil, false, err
			}
			lp = &limiterPair{before: before, after: after}
			pairs[authenticate] = lp
		}
		h := checked
		if lp.after != nil {
			h = lp.after.Handler(h)
		}
		if authenticate {
			if authn == nil {
				return nil, false, fmt.Errorf("%s %s requires authentication, but no authenticator is configured", op.Method, op.Path)
			}
			anyAuth = true
			if r.Auth == "required" || r.Scopes != "" {
				if expr != "" { // the route's own scopes, for every operation
					pol, err := auth.Compile(expr)
					if err != nil {
						return nil, false, fmt.Errorf("%s %s: scopes %q: %w", op.Method, op.Path, expr, err)
					}
					h = authn.Require(pol)(h)
				}
			} else if h, err = requirementChain(authn, byMethod(op.Security, schemes), h); err != nil {
				return nil, false, fmt.Errorf("%s %s: %w", op.Method, op.Path, err)
			}
			h = authn.Handler(h)
		}
		if lp.before != nil {
			h = lp.before.Handler(h)
		}
		perOp[op.Method+" "+op.Path] = h
	}
	ri.authenticates = anyAuth
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		op, err := spec.Match(req)
		if err != nil {
			var e *openapi.Error
			if errors.As(err, &e) && e.Allow != "" {
				w.Header().Set("Allow", e.Allow)
			}
			problem.WriteError(w, req, err)
			return
		}
		perOp[op.Method+" "+op.Path].ServeHTTP(w, req)
	}), anyAuth, nil
}

// requirementChain sends an authenticated request on through the scope
// policy of its credential's method, and refuses (401) a credential of a
// kind no alternative of the operation accepts: an API key for an
// operation that names only a bearer scheme.
func requirementChain(authn *auth.Auth, methods map[string]*string, next http.Handler) (http.Handler, error) {
	chains := map[string]http.Handler{}
	for m, expr := range methods {
		if *expr == "" {
			chains[m] = next
			continue
		}
		pol, err := auth.Compile(*expr)
		if err != nil {
			return nil, fmt.Errorf("scopes %q: %w", *expr, err)
		}
		chains[m] = authn.Require(pol)(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFromContext(r.Context())
		var h http.Handler
		if ok {
			h = chains[p.Method]
		}
		if h == nil {
			secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthzFail, Reason: "the operation's security requirements do not accept this kind of credential"})
			problem.Write(w, problem.Unauthorized("This operation does not accept this kind of credential."))
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}
