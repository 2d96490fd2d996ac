package gateway

import (
	"errors"
	"regexp"
	"strings"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/canonical"
	"github.com/bulwark-go/bulwark/cors"
	"github.com/bulwark-go/bulwark/headers"
	"github.com/bulwark-go/bulwark/ratelimit"
)

// The packages' own New functions check their part of the configuration
// in Go terms ("cors: Origins[1] …", "jwt.Config.Issuers[0].Algorithms").
// An operator wrote YAML: these tables turn a package's field path into
// the key path of the file, so that every problem names the line and key
// it is about, in one form.

// fieldKeys maps a package's Config field to the YAML key under base.
var fieldKeys = map[string]map[string]string{
	// #nosec G101 -- names of configuration keys, not credentials
	"cors": {"Origins": "allowed_origins", "Methods": "allowed_methods", "Headers": "allowed_headers",
		"AllowCredentials": "allow_credentials"},
	"auth.jwt": {"Issuer": "issuer", "Audiences": "audience", "Algorithms": "algorithms", "JWKSURL": "jwks_url",
		"Keys": "jwks_url", "Discovery": "jwks_url", "AllowedJWKSHosts": "allowed_jwks_hosts"},
	"ratelimit.policies": {"Name": "name", "Quota": "limit", "Period": "period", "Burst": "burst", "Key": "key"},
	// auth: what building auth.api_keys reports, in apikey's terms
	// (Prefix) or already in the section's (pepper_env, from apikey/cli).
	"auth": {"Store": "api_keys.store", "store": "api_keys.store", "Prefix": "api_keys.prefix",
		"Header": "api_keys.header", "InsecureQueryParam": "api_keys.insecure_query_param",
		"CacheTTL": "api_keys.cache_ttl", "CacheSize": "api_keys.cache_size", "Pepper": "api_keys",
		"InsecureNoPepper": "api_keys.insecure_no_pepper", "insecure_no_pepper": "api_keys.insecure_no_pepper",
		"pepper_env": "api_keys.pepper_env", "pepper_file": "api_keys.pepper_file",
		"insecure_pepper_file_permissions": "api_keys.insecure_pepper_file_permissions"},
}

var fieldRE = regexp.MustCompile(`^([A-Za-z_]+)(\[\d+\])?(?:\.(.*))?$`)

// yamlKey turns a package field path into the key path under base:
// ("cors", "Origins[1]") is "cors.allowed_origins[1]"; an unknown field is
// base itself.
func yamlKey(base, field string) string {
	table := fieldKeys[base]
	m := fieldRE.FindStringSubmatch(field)
	if m == nil || table == nil {
		return base
	}
	k, ok := table[m[1]]
	if !ok {
		return base
	}
	return base + "." + k + m[2]
}

// packageErrors turns what a package's New returned into ConfigErrors at
// their keys. base is where the package's part of the YAML is; fields
// maps a package's field path to a key path when the mapping is not the
// table's (the JWT issuers, the policies).
func (c *Config) packageErrors(base string, err error, key func(field string) string) []error {
	if err == nil {
		return nil
	}
	if key == nil {
		key = func(f string) string { return yamlKey(base, f) }
	}
	var out []error
	for _, e := range leaves(err) {
		var (
			field, msg string
			ok         = true
		)
		var ce *cors.ConfigError
		var he *headers.ConfigError
		var re *ratelimit.ConfigError
		var ae *auth.ConfigError
		var ne *canonical.ConfigError
		switch {
		case errors.As(e, &ce):
			field, msg = ce.Field, ce.Err.Error()
			msg = strings.TrimPrefix(msg, "cors: ")
			if ce.Value != "" {
				msg = quote(ce.Value) + ": " + msg
			}
		case errors.As(e, &he):
			field, msg = he.Field, withValue(he.Value, he.Reason)
		case errors.As(e, &re):
			field, msg = re.Field, withValue(re.Value, re.Reason)
		case errors.As(e, &ae):
			field, msg = strings.TrimPrefix(ae.Field, "jwt.Config."), withValue(ae.Value, ae.Reason)
		case errors.As(e, &ne):
			field, msg = ne.Field, withValue(ne.Value, ne.Reason)
		default:
			ok = false
		}
		if !ok {
			out = append(out, &ConfigError{Line: c.line(base), Key: base, Msg: stripPackage(e.Error())})
			continue
		}
		k := key(field)
		out = append(out, &ConfigError{Line: c.line(k), Key: k, Msg: msg})
	}
	return out
}

// leaves lists the errors joined in err (errors.Join, nested), or err.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

func withValue(v, reason string) string {
	if v == "" {
		return reason
	}
	return quote(v) + ": " + reason
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

var pkgPrefixRE = regexp.MustCompile(`^(?:[a-z/]+: )+`)

// stripPackage removes leading "pkg: " prefixes: the key already says
// where the problem is.
func stripPackage(s string) string { return pkgPrefixRE.ReplaceAllString(s, "") }
