package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
)

// Authenticator verifies one kind of credential.
//
// Authenticate returns the principal when the request carries a valid
// credential of its kind; an error wrapping [ErrNoCredentials] when it
// carries none, or [ErrNotMine] when what it finds is of another kind (the
// middleware then asks the next authenticator); and any other error —
// normally a [*CredentialError] from [Invalid], [Malformed] or
// [Unavailable] — when a credential of its kind is present but not
// acceptable, which ends the request. Implementations must be safe for
// concurrent use.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// Recognizer is implemented by authenticators that can tell by its shape
// alone, without verifying it and without I/O, that a request carries a
// credential of their kind: the JWT verifier recognizes a compact JWS, the
// API-key authenticator a key with its checksum. Recognizes must be cheap,
// and true exactly when Authenticate would judge the credential (rather
// than return [ErrNoCredentials] or [ErrNotMine]).
//
// [Auth] uses it to give each credential to its owner whatever the order
// of the chain: when some authenticators recognize the request, only they
// are asked. An authenticator that takes any value of a scheme (an
// introspector, for which every bearer token may be opaque) must not
// implement it: it is asked only when no one recognizes the credential, so
// a JWT or an API key never reaches a remote server.
type Recognizer interface {
	Recognizes(r *http.Request) bool
}

// AuthenticatorFunc adapts a function to an [Authenticator].
type AuthenticatorFunc func(r *http.Request) (*Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// Challenger is implemented by authenticators whose credentials use an
// HTTP authentication scheme other than Bearer, so that 401 responses
// challenge for it too.
type Challenger interface {
	Scheme() string
}

// ParamChallenger is a [Challenger] whose challenges carry parameters of
// their own, such as DPoP's algs="ES256 EdDSA" (RFC 9449 §7.1). They are
// sent in the bare challenge and in the scheme's error challenges.
type ParamChallenger interface {
	Challenger
	ChallengeParams() string
}

// Config configures the middleware.
type Config struct {
	// Authenticators are tried in order until one finds its kind of
	// credential; those that implement [Recognizer] and recognize the
	// request's credential are asked alone, so the order does not decide
	// whose credential it is. Required.
	Authenticators []Authenticator

	// Realm is the realm= parameter of challenges. Optional; must be a
	// printable ASCII string without '"' or '\'.
	Realm string

	// ResourceMetadata is the URL of this resource's RFC 9728 metadata
	// document, sent as resource_metadata= in challenges. Optional; must be
	// an https URL (http only for loopback hosts).
	ResourceMetadata string

	// ErrorHandler writes refusals. The middleware sets WWW-Authenticate
	// before calling it. Default: [problem.WriteError].
	ErrorHandler problem.ErrorHandler

	// CredentialsOptional lets a request that carries no credential at all
	// through [Auth.Handler] without a [Principal] in its context, for APIs
	// that serve anonymous callers too (go-jwt-middleware's
	// CredentialsOptional). A credential that is present is judged as
	// always: a bad, malformed or unrecognized one is still refused, and a
	// credential that cannot be judged (503) is not waved through as
	// anonymous. Routes that need a caller still use [Auth.Require], which
	// answers an anonymous request 401. Default false: no credential, 401.
	CredentialsOptional bool
}

// Auth is the authentication and authorization middleware. It is safe for
// concurrent use.
type Auth struct {
	optional       bool
	authenticators []Authenticator
	recognizers    []Recognizer // per authenticator; nil where it is not one
	nrecognizers   int
	challenges     []string // one per scheme, "Bearer realm=…, resource_metadata=…" without error
	params         string   // ", realm=…, resource_metadata=…" appended to Bearer error challenges
	dpopParams     string   // ", algs=…" from a ParamChallenger of the DPoP scheme
	errh           problem.ErrorHandler
}

// New checks cfg and returns the middleware. Every problem is reported,
// joined; each is a [*ConfigError].
func New(cfg Config) (*Auth, error) {
	var errs []error
	if len(cfg.Authenticators) == 0 {
		errs = append(errs, &ConfigError{Field: "Authenticators", Reason: "required: without one every request would be refused"})
	}
	for i, a := range cfg.Authenticators {
		if a == nil {
			errs = append(errs, &ConfigError{Field: "Authenticators", Reason: "entry " + strconv.Itoa(i) + " is nil"})
		}
	}
	if cfg.Realm != "" && !quotable(cfg.Realm) {
		errs = append(errs, &ConfigError{Field: "Realm", Value: cfg.Realm, Reason: "must be printable ASCII without '\"' or '\\'"})
	}
	if cfg.ResourceMetadata != "" {
		if err := CheckURL(cfg.ResourceMetadata); err != nil {
			errs = append(errs, &ConfigError{Field: "ResourceMetadata", Value: cfg.ResourceMetadata, Reason: err.Error()})
		} else if !quotable(cfg.ResourceMetadata) {
			errs = append(errs, &ConfigError{Field: "ResourceMetadata", Value: cfg.ResourceMetadata, Reason: "cannot be sent in a quoted string"})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	a := &Auth{
		authenticators: append([]Authenticator(nil), cfg.Authenticators...),
		recognizers:    make([]Recognizer, len(cfg.Authenticators)),
		errh:           problem.Or(cfg.ErrorHandler),
		optional:       cfg.CredentialsOptional,
	}
	for i, au := range a.authenticators {
		if rc, ok := au.(Recognizer); ok {
			a.recognizers[i] = rc
			a.nrecognizers++
		}
	}
	var params []string
	if cfg.Realm != "" {
		params = append(params, `realm="`+cfg.Realm+`"`)
	}
	if cfg.ResourceMetadata != "" {
		params = append(params, `resource_metadata="`+cfg.ResourceMetadata+`"`)
	}
	if len(params) > 0 {
		a.params = ", " + strings.Join(params, ", ")
	}
	schemes := []string{"Bearer"}
	own := map[string]string{} // scheme → its own parameters
	for _, au := range cfg.Authenticators {
		c, ok := au.(Challenger)
		if !ok {
			continue
		}
		if !containsFold(schemes, c.Scheme()) {
			schemes = append(schemes, c.Scheme())
		}
		if pc, ok := au.(ParamChallenger); ok && pc.ChallengeParams() != "" && own[strings.ToLower(c.Scheme())] == "" {
			own[strings.ToLower(c.Scheme())] = pc.ChallengeParams()
		}
	}
	if p := own["dpop"]; p != "" {
		a.dpopParams = ", " + p
	}
	for _, s := range schemes {
		params := strings.TrimPrefix(a.params, ", ")
		if p := own[strings.ToLower(s)]; p != "" {
			params = strings.TrimPrefix(", "+p+a.params, ", ")
		}
		if params != "" {
			s += " " + params
		}
		a.challenges = append(a.challenges, s)
	}
	return a, nil
}

// Authenticate finds the owner of the request's credential and returns the
// principal it vouches for.
//
// Ownership goes by shape first: when authenticators implementing
// [Recognizer] recognize the credential, that one alone is asked (two of
// them — a request carrying credentials of two kinds — is a malformed
// request); otherwise every authenticator is asked in order. An answer of
// [ErrNoCredentials] or [ErrNotMine] passes the request on; any other error
// ends it at once: a bad credential is never passed on to a later
// authenticator. It returns an error wrapping [ErrNoCredentials] when no
// authenticator found a credential, and an invalid-token error when a
// credential was present but no authenticator took it.
func (a *Auth) Authenticate(r *http.Request) (*Principal, error) {
	owner := -1
	if a.nrecognizers > 0 && len(a.authenticators) > 1 {
		for i, rc := range a.recognizers {
			if rc == nil || !rc.Recognizes(r) {
				continue
			}
			if owner >= 0 {
				return nil, errSeveralKinds
			}
			owner = i
		}
	}
	if owner >= 0 {
		p, err := a.ask(a.authenticators[owner], r, nil)
		if err != nil && errors.Is(err, ErrNoCredentials) { // it recognized a credential: fail closed
			return nil, Invalid("recognized credential disowned", err)
		}
		return p, err
	}
	var notMine error
	for _, au := range a.authenticators {
		p, err := a.ask(au, r, &notMine)
		if err == nil || !errors.Is(err, ErrNoCredentials) {
			return p, err
		}
	}
	if notMine != nil {
		var ce *CredentialError
		if errors.As(notMine, &ce) && ce.Reason != "" {
			return nil, Invalid(ce.Reason, nil)
		}
		return nil, Invalid("credential of no configured kind", nil)
	}
	return nil, &CredentialError{Kind: ErrNoCredentials}
}

var errSeveralKinds = Malformed("credentials of several kinds")

// ask asks one authenticator. It returns an error wrapping ErrNoCredentials
// to go on to the next one, recording the first ErrNotMine in *notMine.
func (a *Auth) ask(au Authenticator, r *http.Request, notMine *error) (*Principal, error) {
	p, err := au.Authenticate(r)
	switch {
	case err == nil && p != nil:
		return p, nil
	case err == nil: // a nil principal without an error is a bug: fail closed
		return nil, Invalid("authenticator returned no principal", nil)
	case errors.Is(err, ErrNotMine):
		if notMine == nil { // the owner disowned what it recognized: fail closed
			return nil, Invalid("recognized credential disowned", err)
		}
		if *notMine == nil {
			*notMine = err
		}
		return nil, ErrNoCredentials
	}
	return nil, err
}

// Handler returns middleware that authenticates every request, puts the
// [Principal] in the context and reports its identity to the audit log, or
// refuses the request. With [Config.CredentialsOptional], a request with no
// credential at all goes on without a principal.
func (a *Auth) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			if a.optional && isNoCredentials(err) {
				next.ServeHTTP(w, r)
				return
			}
			a.refuse(w, r, err)
			return
		}
		ctx := NewContext(r.Context(), p)
		secevent.Identify(ctx, secevent.Identity{Subject: p.Subject, Issuer: p.Issuer, Method: p.Method})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Require returns middleware that lets a request through only when the
// principal put in the context by [Auth.Handler] satisfies pol; otherwise
// it answers 403 insufficient_scope (or 401 when no principal is there,
// which means Handler did not run: the route is refused, never opened).
func (a *Auth) Require(pol *Policy) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := a.Authorize(r, pol); err != nil {
				a.refuse(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireBinding returns middleware that lets a request through only when
// the principal put in the context by [Auth.Handler] presented a
// credential bound as pol says ([BindingPolicy.Allows] of
// [Principal.Binding]): for routes that must not be reached with a bearer
// token even where its issuer accepts one. Otherwise it answers 401
// invalid_token, challenging for DPoP when pol accepts DPoP (or 401 with
// a bare challenge when no principal is there). [BindingNone] lets every
// principal through.
func (a *Auth) RequireBinding(pol BindingPolicy) func(http.Handler) http.Handler {
	scheme := ""
	if pol.WantsDPoP() {
		scheme = "DPoP"
	}
	refusal := &CredentialError{Kind: ErrInvalidToken, Reason: "route requires a " + pol.String() + "-bound token", Scheme: scheme}
	return func(next http.Handler) http.Handler {
		if pol == BindingNone {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFromContext(r.Context())
			switch {
			case !ok:
				a.refuse(w, r, &CredentialError{Kind: ErrNoCredentials, Reason: "no principal in context"})
			case !pol.Allows(p.Binding):
				a.refuse(w, r, refusal)
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

// Authorize checks the principal in r's context against pol. It returns
// nil, a [*ScopeError], or an error wrapping [ErrNoCredentials] when no
// principal is present. A nil policy refuses everything.
func (a *Auth) Authorize(r *http.Request, pol *Policy) error {
	p, ok := PrincipalFromContext(r.Context())
	if !ok {
		// Anonymous (CredentialsOptional), or Handler did not run.
		return &CredentialError{Kind: ErrNoCredentials, Reason: "no principal in context"}
	}
	if pol == nil {
		return &ScopeError{Policy: "<nil policy>"}
	}
	if !pol.Allows(p) {
		return &ScopeError{Policy: pol.String(), Scopes: pol.scopes}
	}
	return nil
}

// refuse sets the challenge, emits the security event and calls the error
// handler.
func (a *Auth) refuse(w http.ResponseWriter, r *http.Request, err error) {
	h := w.Header()
	var ce *CredentialError
	var se *ScopeError
	switch {
	case errors.As(err, &se):
		h["Www-Authenticate"] = []string{`Bearer error="insufficient_scope"` + scopeParam(se.Scopes) + a.params}
		attrs := []slog.Attr{slog.String("policy", se.Policy)}
		if p, ok := PrincipalFromContext(r.Context()); ok {
			attrs = append(attrs, slog.String("subject", p.Subject))
		}
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthzFail, Reason: "policy not satisfied", Attrs: attrs})
	case errors.Is(err, ErrNoCredentials):
		h["Www-Authenticate"] = a.challenges
	case errors.As(err, &ce) && strings.EqualFold(ce.Scheme, "DPoP") && !errors.Is(err, ErrUnavailable):
		// RFC 9449 §7.1: the error is the DPoP scheme's, with its algs.
		code := ce.Code
		switch {
		case code != "":
		case errors.Is(err, ErrInvalidRequest):
			code = "invalid_request"
		default:
			code = "invalid_token"
		}
		h["Www-Authenticate"] = []string{`DPoP error="` + code + `"` + a.dpopParams + a.params}
		if ce.Nonce != "" {
			h["Dpop-Nonce"] = []string{ce.Nonce}
		}
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthnTokenInvalid, Reason: reasonOf(err, ce)})
	case errors.Is(err, ErrInvalidRequest):
		h["Www-Authenticate"] = []string{`Bearer error="invalid_request"` + descriptionParam(err) + a.params}
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthnTokenInvalid, Reason: reasonOf(err, ce)})
	case errors.Is(err, ErrUnavailable):
		// 503: no challenge; the credential was not judged.
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthnTokenInvalid, Reason: reasonOf(err, ce), Attrs: []slog.Attr{slog.Bool("unavailable", true)}})
	default:
		h["Www-Authenticate"] = []string{`Bearer error="invalid_token"` + descriptionParam(err) + a.params}
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthnTokenInvalid, Reason: reasonOf(err, ce)})
	}
	if errors.As(err, &ce) || errors.As(err, &se) {
		a.errh(w, r, err)
		return
	}
	// An authenticator returned an error that is not ours: refuse as an
	// invalid token without exposing it.
	a.errh(w, r, &CredentialError{Kind: ErrInvalidToken, Reason: "authenticator error", Err: err})
}

// isNoCredentials reports whether err means no credential at all, and
// nothing else (not a malformed, invalid or unjudged one).
func isNoCredentials(err error) bool {
	return errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrInvalidRequest) &&
		!errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrNotMine)
}

func reasonOf(err error, ce *CredentialError) string {
	if errors.As(err, &ce) && ce.Reason != "" {
		return ce.Reason
	}
	return "invalid credential"
}

func scopeParam(scopes []string) string {
	if len(scopes) == 0 {
		return ""
	}
	return `, scope="` + strings.Join(scopes, " ") + `"`
}

// quotable reports whether s can be sent inside an HTTP quoted-string
// without escaping.
func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// CheckURL checks that s is an absolute https URL, or http on a loopback
// host (development and tests). Issuer, discovery, JWKS, introspection and
// metadata URLs are all checked with it.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.User != nil {
		return errors.New("must not contain user information")
	}
	if u.Host == "" {
		return errors.New("must be absolute")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https (http only for loopback addresses)")
	}
	return errors.New("must use https")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
