package gateway

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
)

// buildRoute builds one route's chain: rate limits by client →
// authentication → authorization → rate limits by principal → body rules
// → its service.
func (g *Gateway) buildRoute(cfg *Config, r Route, authn *auth.Auth, ls *limitSet, upstreams map[string]http.Handler) (*compiledRoute, error) {
	authenticates := r.Auth != "none"
	svcName := r.serviceOf()
	if cfg.demo() {
		svcName = demoService
	}
	upstream := upstreams[svcName]
	if upstream == nil {
		return nil, errors.New("no service named " + svcName) // config.check reports it first
	}
	ri := &routeInfo{
		authenticates: authenticates, forwardCredentials: r.ForwardCredentials,
		cacheUpstream: r.Cache == "upstream", service: svcName,
	}
	if r.StripPrefix || r.RewritePrefix != "" {
		ri.rewrite, ri.prefix, ri.replace = true, r.Path, r.RewritePrefix
		if r.StripPrefix && strings.HasSuffix(r.Path, "/") {
			ri.replace = "/"
		}
		if ri.replace != "" {
			esc, _, err := canonicalPath(ri.replace)
			if err != nil {
				return nil, err // config.check refused it first
			}
			ri.replaceEsc = esc
		}
	}
	var h http.Handler
	methods := r.Methods
	if file := cfg.openAPIFile(r); file != "" {
		oh, anyAuth, err := g.buildOpenAPIRoute(cfg, r, file, authn, ls, upstream, ri)
		if err != nil {
			return nil, err
		}
		h, authenticates, methods = oh, anyAuth, nil // the document answers 405 itself
	} else {
		var err error
		if h, err = g.buildPlainRoute(cfg, r, authn, ls, upstream, authenticates); err != nil {
			return nil, err
		}
	}
	next := h
	h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(withRoute(req.Context(), ri)))
	})
	needs := routeNeeds{route: r.Host + r.Path}
	if svcName != demoService {
		needs.deps = append(needs.deps, "service "+svcName)
	}
	if authenticates {
		needs.anyOf = g.authDeps
	}
	g.needs = append(g.needs, needs)
	if slices.Contains(methods, http.MethodGet) && !slices.Contains(methods, http.MethodHead) {
		methods = append(slices.Clone(methods), http.MethodHead) // HEAD is GET without the body (RFC 9110 §9.3.2)
	}
	return &compiledRoute{
		name: r.Path, host: r.Host, prefix: r.Path, service: svcName,
		methods: methods, allow: strings.Join(methods, ", "), handler: h,
	}, nil
}

// buildPlainRoute builds the chain of a route configured in YAML alone.
func (g *Gateway) buildPlainRoute(cfg *Config, r Route, authn *auth.Auth, ls *limitSet, upstream http.Handler, authenticates bool) (http.Handler, error) {
	body, err := newBodyPolicy(r, cfg.Path(r.Schema))
	if err != nil {
		return nil, err
	}
	names := r.RateLimit
	if len(names) == 0 {
		names = cfg.RateLimit.Default
	}
	before, after, err := ls.limiters(names, authenticates, r.Host+r.Path)
	if err != nil {
		return nil, err
	}
	h := body.wrap(upstream)
	if after != nil {
		h = after.Handler(h)
	}
	if authenticates {
		if authn == nil {
			return nil, errors.New("auth: required, but no authenticator is configured")
		}
		if r.Scopes != "" {
			pol, err := auth.Compile(r.Scopes)
			if err != nil {
				return nil, err
			}
			h = authn.Require(pol)(h)
		}
		h = routeBinding(authn, r, h) // binding.go
		h = authn.Handler(h)
	}
	if before != nil {
		h = before.Handler(h)
	}
	return h, nil
}
