package headers

import (
	"errors"
	"net/http"
	"sort"
)

// OverrideConfig is a per-route change to the headers the one [Headers]
// middleware writes. The zero value changes nothing.
type OverrideConfig struct {
	// CSP replaces the Content-Security-Policy of both profiles on the
	// route, checked by [ParseCSP]; [NonceSource] in it becomes the
	// request's nonce. Default empty: keep the profile's policy.
	CSP string

	// Set replaces the values of other managed headers on the route, keyed
	// by header name: X-Frame-Options, Referrer-Policy,
	// Cross-Origin-Opener-Policy, Cross-Origin-Resource-Policy,
	// Cross-Origin-Embedder-Policy, X-Permitted-Cross-Domain-Policies,
	// Permissions-Policy. Values are checked as in [Config].
	Set map[string]string

	// Drop lists managed headers not sent on the route.
	// Strict-Transport-Security and X-Content-Type-Options cannot be
	// dropped: HSTS covers the whole host, and nosniff never hurts.
	Drop []string
}

// Override is a validated per-route change, applied by the [Headers]
// middleware further out in the stack. Build one with [NewOverride]; it is
// immutable and safe for concurrent use.
type Override struct {
	set  [numHdr]value
	drop [numHdr]bool
}

// NewOverride checks cfg and returns the override. Every problem is
// returned, joined; each is a [*ConfigError].
func NewOverride(cfg OverrideConfig) (*Override, error) {
	o := &Override{}
	var errs []error
	add := func(field, value, reason string, err error) {
		errs = append(errs, &ConfigError{Field: field, Value: value, Reason: reason, Err: err})
	}
	if cfg.CSP != "" {
		if c, err := ParseCSP(cfg.CSP); err != nil {
			add("CSP", cfg.CSP, "not a valid Content-Security-Policy", err)
		} else {
			o.set[hCSP] = newValue(c.String())
		}
	}
	names := make([]string, 0, len(cfg.Set))
	for name := range cfg.Set {
		names = append(names, name)
	}
	sort.Strings(names) // report problems in a stable order
	for _, name := range names {
		v := cfg.Set[name]
		i, ok := managedIndex(name)
		switch {
		case !ok:
			add("Set", name, "not a header this package manages; set it in the handler", nil)
		case i == hCSP:
			add("Set", name, "use OverrideConfig.CSP", nil)
		case i == hHSTS || i == hXContentTypeOptions:
			add("Set", name, "cannot be changed per route", nil)
		default:
			if reason := checkValue(i, v); reason != "" {
				add("Set", v, reason, nil)
				continue
			}
			o.set[i] = newValue(v)
		}
	}
	for _, name := range cfg.Drop {
		i, ok := managedIndex(name)
		switch {
		case !ok:
			add("Drop", name, "not a header this package manages", nil)
		case i == hHSTS || i == hXContentTypeOptions:
			add("Drop", name, "cannot be dropped per route", nil)
		case o.set[i].s != "":
			add("Drop", name, "both replaced and dropped", nil)
		default:
			o.drop[i] = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return o, nil
}

// Handler returns next with the override in force: the [Headers]
// middleware that wraps the route writes the changed headers. Without a
// [Headers] middleware further out it does nothing. When overrides nest,
// the innermost one wins.
func (o *Override) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := stateFrom(r.Context()); ok && !s.applied {
			s.override = o
		}
		next.ServeHTTP(w, r)
	})
}
