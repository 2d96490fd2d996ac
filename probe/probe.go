package probe

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Severity ranks what a failed check exposes.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name ("high").
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("probe: unknown severity %q (info, low, medium, high, critical)", s)
}

// Status is the outcome of one check.
type Status int

// Statuses.
const (
	Pass          Status = iota // the API answered as a secure one does
	Fail                        // it did not: the evidence says what it did
	NotApplicable               // the check needs something the options do not give (a token, a protected path, HTTPS)
	Errored                     // the check could not be run (the target did not answer)
)

func (s Status) String() string {
	return [...]string{"pass", "FAIL", "n/a", "error"}[s]
}

// Check is one attack of the suite and what a secure API answers to it.
type Check struct {
	ID       string   // e.g. "jwt.alg-none"
	Category string   // jwt, apikey, cors, headers, https, path, spoof, ratelimit, smuggling, input, leak
	Title    string   // one line
	Severity Severity // of a failure
	OWASP    string   // the OWASP API Security Top 10 (2023) risk, e.g. "API2:2023 Broken Authentication"
	CWE      int
	Sends    string // what the check sends
	Expects  string // what a secure API answers

	run func(*run) verdict
}

// verdict is what a check's run found.
type verdict struct {
	status   Status
	evidence string
}

func pass(format string, a ...any) verdict { return verdict{Pass, fmt.Sprintf(format, a...)} }
func fail(format string, a ...any) verdict { return verdict{Fail, fmt.Sprintf(format, a...)} }
func na(format string, a ...any) verdict   { return verdict{NotApplicable, fmt.Sprintf(format, a...)} }
func errored(err error) verdict            { return verdict{Errored, err.Error()} }

// Checks returns the suite, in its order.
func Checks() []*Check { return slices.Clone(suite) }

// suite is every check, category by category (checks_*.go).
var suite = slices.Concat(jwtChecks, apiKeyChecks, corsChecks, headerChecks, httpsChecks,
	authnChecks, pathChecks, spoofChecks, smugglingChecks, inputChecks, leakChecks, rateLimitChecks)

// Options say what to probe and what is protected with what. The zero
// value probes only what needs no knowledge of the API (headers, CORS
// with an unknown origin, smuggling, leaks); every field enables more.
type Options struct {
	// Target is the base URL of the API (http:// or https://). Required
	// for [Run] without a Handler; for [Handler] it only sets the Host
	// and scheme of the requests (default http://api.test).
	Target string
	// Handler, when set, is probed in process instead of over the network.
	Handler http.Handler

	// Protected lists path prefixes that require credentials ("/v1/");
	// Public lists prefixes that do not ("/public/").
	Protected []string
	Public    []string
	// Token is a valid bearer token for the protected paths; APIKey a
	// valid API key, sent in APIKeyHeader (default X-API-Key). They are
	// sent to the target only, and never printed.
	Token        string
	APIKey       string
	APIKeyHeader string
	// AllowedOrigin is a CORS origin the API allows.
	AllowedOrigin string
	// Issuer is the token issuer: its discovery document and JWKS are
	// fetched (from the issuer only) for the key-confusion attack.
	// JWKSURL names the key set directly instead.
	Issuer  string
	JWKSURL string
	// SigningKey, with SigningKeyID, SigningAlg and Audience, is a key the
	// API trusts for Issuer (a test identity provider's): it lets the
	// checks that need an otherwise valid token (expired, typ, duplicate
	// claims) mint one. Default none: those checks are not applicable.
	SigningKey   crypto.Signer
	SigningKeyID string
	SigningAlg   string // RS256, ES256 or EdDSA
	Audience     string
	// JSONPath is a path that takes a JSON body (POST) with the
	// credentials above, for the input checks.
	JSONPath string

	// Rate is the most requests per second sent. Default 20 over the
	// network, unlimited in process.
	Rate float64
	// MaxRequests bounds the requests of a whole run. Default 3000.
	MaxRequests int
	// AllowUnsafe lets checks send unsafe methods (POST) to protected
	// paths: the smuggling checks then POST to the protected path when no
	// public one is given. Default false: only GET, HEAD and OPTIONS go
	// there (the input checks POST to JSONPath, which the user named; the
	// smuggling checks to a public path or to /probe-smuggling).
	AllowUnsafe bool
	// Only, when set, runs the checks whose ID has one of these prefixes
	// ("jwt.", "cors.null-origin").
	Only []string
	// FailOn is the least severity at which [Handler] turns a failure into
	// a test error. Default Info: every failure.
	FailOn Severity
	// Client carries the requests over the network. Default a client that
	// follows no redirects, with a 10 s timeout.
	Client *http.Client
}

// Result is one check's outcome.
type Result struct {
	Check    *Check
	Status   Status
	Evidence string // one line, without secrets
	Requests int
	Duration time.Duration
}

// Report is a run's results.
type Report struct {
	Target   string
	Started  time.Time
	Duration time.Duration
	Results  []Result
}

// Run runs the suite against the target and returns the report. An error
// means the options are wrong; a check that could not run is a result.
func Run(ctx context.Context, o Options) (*Report, error) {
	r, err := newRun(o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	rep := &Report{Target: r.base.String(), Started: time.Now()}
	for _, c := range suite {
		if !selected(c.ID, o.Only) {
			continue
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		r.ctx = ctx
		before := r.sent.Load()
		start := time.Now()
		v := c.run(r)
		v.evidence = r.scrub(v.evidence)
		rep.Results = append(rep.Results, Result{Check: c, Status: v.status, Evidence: v.evidence,
			Requests: int(r.sent.Load() - before), Duration: time.Since(start)})
	}
	rep.Duration = time.Since(rep.Started)
	return rep, nil
}

func selected(id string, only []string) bool {
	if len(only) == 0 {
		return true
	}
	for _, p := range only {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// check validates the options.
func (o *Options) check() error {
	var errs []error
	if o.Handler == nil && o.Target == "" {
		errs = append(errs, errors.New("probe: Target (a URL) or Handler is required"))
	}
	if o.Target != "" {
		u, err := url.Parse(o.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("probe: Target %q is not an http(s) URL", o.Target))
		}
	}
	for _, p := range append(slices.Clone(o.Protected), o.Public...) {
		if !strings.HasPrefix(p, "/") {
			errs = append(errs, fmt.Errorf("probe: path %q must start with /", p))
		}
	}
	if o.SigningKey != nil && (o.Issuer == "" || o.SigningAlg == "") {
		errs = append(errs, errors.New("probe: SigningKey needs Issuer and SigningAlg"))
	}
	if o.Rate < 0 || o.MaxRequests < 0 {
		errs = append(errs, errors.New("probe: Rate and MaxRequests must not be negative"))
	}
	return errors.Join(errs...)
}
