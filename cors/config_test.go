package cors_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/cors"
)

// rejectTests has one row per rejection rule. They also seed
// FuzzOriginPattern.
var rejectTests = []struct {
	name  string
	cfg   cors.Config
	field string
	want  error
}{
	{"empty origin list is not allow-all", cors.Config{}, "Origins", cors.ErrNoOrigins},
	{"allow-all with an origin list", cors.Config{DangerouslyAllowAllOrigins: true, Origins: one("https://a.example")}, "DangerouslyAllowAllOrigins", cors.ErrAllowAllWithOrigins},
	{"allow-all with credentials", cors.Config{DangerouslyAllowAllOrigins: true, AllowCredentials: true}, "DangerouslyAllowAllOrigins", cors.ErrAllowAllWithCredentials},
	{"null origin", cors.Config{Origins: one("null")}, "Origins[0]", cors.ErrNullOrigin},
	{"star as an origin", cors.Config{Origins: one("*")}, "Origins[0]", cors.ErrWildcardOrigin},
	{"star with credentials", cors.Config{Origins: one("*"), AllowCredentials: true}, "Origins[0]", cors.ErrWildcardOrigin},
	{"wildcard over a TLD", cors.Config{Origins: one("https://*.com")}, "Origins[0]", cors.ErrPublicSuffixWildcard},
	{"wildcard over a two-label public suffix", cors.Config{Origins: one("https://*.co.uk")}, "Origins[0]", cors.ErrPublicSuffixWildcard},
	{"wildcard over a private public suffix", cors.Config{Origins: one("https://*.github.io")}, "Origins[0]", cors.ErrPublicSuffixWildcard},
	{"wildcard over an unknown TLD", cors.Config{Origins: one("http://*.localhost")}, "Origins[0]", cors.ErrPublicSuffixWildcard},
	{"wildcard inside the registrable domain", cors.Config{Origins: one("https://*example.com")}, "Origins[0]", cors.ErrStrayWildcard},
	{"rs/cors#197 prefix wildcard", cors.Config{Origins: one("h*")}, "Origins[0]", cors.ErrScheme},
	{"rs/cors#197 scheme wildcard", cors.Config{Origins: one("https://*")}, "Origins[0]", cors.ErrStrayWildcard},
	{"wildcard in a middle label", cors.Config{Origins: one("https://api.*.example.com")}, "Origins[0]", cors.ErrStrayWildcard},
	{"two wildcards", cors.Config{Origins: one("https://*.*.example.com")}, "Origins[0]", cors.ErrStrayWildcard},
	{"wildcard port", cors.Config{Origins: one("https://example.com:*")}, "Origins[0]", cors.ErrStrayWildcard},
	{"wildcard scheme", cors.Config{Origins: one("*://example.com")}, "Origins[0]", cors.ErrScheme},
	{"wildcard over an IP", cors.Config{Origins: one("https://*.0.0.1")}, "Origins[0]", cors.ErrIPWildcard},
	{"http origin with credentials", cors.Config{Origins: one("http://app.example.com"), AllowCredentials: true}, "Origins[0]", cors.ErrInsecureWithCredentials},
	{"http wildcard with credentials", cors.Config{Origins: one("http://*.example.com"), AllowCredentials: true}, "Origins[0]", cors.ErrInsecureWithCredentials},
	{"http loopback with credentials needs the insecure flag", cors.Config{Origins: one("http://127.0.0.1:8080"), AllowCredentials: true}, "Origins[0]", cors.ErrInsecureWithCredentials},
	{"insecure flag covers loopback only", cors.Config{Origins: one("http://10.0.0.1:8080"), AllowCredentials: true, InsecureAllowLoopbackHTTP: true}, "Origins[0]", cors.ErrInsecureWithCredentials},
	{"path", cors.Config{Origins: one("https://example.com/app")}, "Origins[0]", cors.ErrPath},
	{"query", cors.Config{Origins: one("https://example.com?x=1")}, "Origins[0]", cors.ErrPath},
	{"fragment", cors.Config{Origins: one("https://example.com#x")}, "Origins[0]", cors.ErrPath},
	{"trailing slash", cors.Config{Origins: one("https://example.com/")}, "Origins[0]", cors.ErrNotSerialized},
	{"userinfo", cors.Config{Origins: one("https://user@example.com")}, "Origins[0]", cors.ErrUserinfo},
	{"no scheme", cors.Config{Origins: one("example.com")}, "Origins[0]", cors.ErrScheme},
	{"other scheme", cors.Config{Origins: one("ftp://example.com")}, "Origins[0]", cors.ErrScheme},
	{"upper-case scheme", cors.Config{Origins: one("HTTPS://example.com")}, "Origins[0]", cors.ErrNotSerialized},
	{"upper-case host", cors.Config{Origins: one("https://Example.com")}, "Origins[0]", cors.ErrNotSerialized},
	{"trailing-dot host", cors.Config{Origins: one("https://example.com.")}, "Origins[0]", cors.ErrTrailingDot},
	{"empty host", cors.Config{Origins: one("https://")}, "Origins[0]", cors.ErrHost},
	{"empty label", cors.Config{Origins: one("https://a..example.com")}, "Origins[0]", cors.ErrHost},
	{"non-ASCII host", cors.Config{Origins: one("https://bücher.example")}, "Origins[0]", cors.ErrHost},
	{"bad IPv4", cors.Config{Origins: one("https://127.0.0.256")}, "Origins[0]", cors.ErrHost},
	{"IPv4 shorthand", cors.Config{Origins: one("https://0x7f.1")}, "Origins[0]", cors.ErrHost},
	{"IPv6 not compressed", cors.Config{Origins: one("https://[0:0:0:0:0:0:0:1]")}, "Origins[0]", cors.ErrNotSerialized},
	{"IPv6 zone", cors.Config{Origins: one("https://[fe80::1%25eth0]")}, "Origins[0]", cors.ErrHost},
	{"empty port", cors.Config{Origins: one("https://example.com:")}, "Origins[0]", cors.ErrPort},
	{"port out of range", cors.Config{Origins: one("https://example.com:65536")}, "Origins[0]", cors.ErrPort},
	{"port with leading zero", cors.Config{Origins: one("https://example.com:0443")}, "Origins[0]", cors.ErrPort},
	{"https default port", cors.Config{Origins: one("https://example.com:443")}, "Origins[0]", cors.ErrDefaultPort},
	{"http default port", cors.Config{Origins: one("http://example.com:80")}, "Origins[0]", cors.ErrDefaultPort},
	{"duplicate origin", cors.Config{Origins: []string{"https://a.example", "https://a.example"}}, "Origins[1]", cors.ErrDuplicate},
	{"method wildcard", cors.Config{Origins: one("https://a.example"), Methods: []string{"*"}}, "Methods[0]", cors.ErrMethodWildcard},
	{"forbidden method", cors.Config{Origins: one("https://a.example"), Methods: []string{"TRACE"}}, "Methods[0]", cors.ErrForbiddenMethod},
	{"lower-case standard method", cors.Config{Origins: one("https://a.example"), Methods: []string{"delete"}}, "Methods[0]", cors.ErrMethodNotNormalized},
	{"invalid method", cors.Config{Origins: one("https://a.example"), Methods: []string{"GET POST"}}, "Methods[0]", cors.ErrInvalidMethod},
	{"duplicate method", cors.Config{Origins: one("https://a.example"), Methods: []string{"PUT", "PUT"}}, "Methods[1]", cors.ErrDuplicate},
	{"header wildcard", cors.Config{Origins: one("https://a.example"), Headers: []string{"*"}}, "Headers[0]", cors.ErrHeaderWildcard},
	{"forbidden header Cookie", cors.Config{Origins: one("https://a.example"), Headers: []string{"Cookie"}}, "Headers[0]", cors.ErrForbiddenHeader},
	{"forbidden header Sec-", cors.Config{Origins: one("https://a.example"), Headers: []string{"Sec-Fetch-Site"}}, "Headers[0]", cors.ErrForbiddenHeader},
	{"forbidden header Proxy-", cors.Config{Origins: one("https://a.example"), Headers: []string{"Proxy-Authorization"}}, "Headers[0]", cors.ErrForbiddenHeader},
	{"invalid header name", cors.Config{Origins: one("https://a.example"), Headers: []string{"X Token"}}, "Headers[0]", cors.ErrInvalidHeaderName},
	{"duplicate header in other case", cors.Config{Origins: one("https://a.example"), Headers: []string{"X-Token", "x-token"}}, "Headers[1]", cors.ErrDuplicate},
	{"exposed Set-Cookie", cors.Config{Origins: one("https://a.example"), ExposedHeaders: []string{"set-cookie"}}, "ExposedHeaders[0]", cors.ErrForbiddenHeader},
	{"exposed wildcard", cors.Config{Origins: one("https://a.example"), ExposedHeaders: []string{"*"}}, "ExposedHeaders[0]", cors.ErrHeaderWildcard},
	{"exposed invalid name", cors.Config{Origins: one("https://a.example"), ExposedHeaders: []string{"a:b"}}, "ExposedHeaders[0]", cors.ErrInvalidHeaderName},
	{"max age over a day", cors.Config{Origins: one("https://a.example"), MaxAge: 25 * time.Hour}, "MaxAge", cors.ErrMaxAgeRange},
	{"max age not whole seconds", cors.Config{Origins: one("https://a.example"), MaxAge: 1500 * time.Millisecond}, "MaxAge", cors.ErrMaxAgeRange},
}

func one(o string) []string { return []string{o} }

// TestNewRejects: each row must fail with exactly the named reason, wrapped
// in a *ConfigError naming the field.
func TestNewRejects(t *testing.T) {
	for _, tc := range rejectTests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cors.New(tc.cfg)
			if c != nil || !errors.Is(err, tc.want) {
				t.Fatalf("New(%+v) = %v, %v; want nil, %v", tc.cfg, c, err, tc.want)
			}
			var ce *cors.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("New(%+v) error %#v; want a *ConfigError for field %q", tc.cfg, ce, tc.field)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name string
		cfg  cors.Config
	}{
		{"exact https", cors.Config{Origins: []string{"https://app.example.com"}, AllowCredentials: true}},
		{"subdomain wildcard", cors.Config{Origins: []string{"https://*.example.com"}, AllowCredentials: true}},
		{"wildcard under a public suffix", cors.Config{Origins: []string{"https://*.example.co.uk"}}},
		{"wildcard with port", cors.Config{Origins: []string{"https://*.example.com:8443"}}},
		{"http without credentials", cors.Config{Origins: []string{"http://app.example.com"}}},
		{"loopback http with credentials, flagged", cors.Config{Origins: []string{"http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000"}, AllowCredentials: true, InsecureAllowLoopbackHTTP: true}},
		{"IPv6 origin", cors.Config{Origins: []string{"https://[2001:db8::1]:8443"}}},
		{"punycode host", cors.Config{Origins: []string{"https://xn--bcher-kva.example"}}},
		{"allow all without credentials", cors.Config{DangerouslyAllowAllOrigins: true}},
		{"methods and headers", cors.Config{Origins: []string{"https://a.example"}, Methods: []string{"GET", "PUT", "PATCH", "patch"}, Headers: []string{"Content-Type", "Authorization", "X-Request-ID"}, ExposedHeaders: []string{"ETag"}}},
		{"max age limits", cors.Config{Origins: []string{"https://a.example"}, MaxAge: 24 * time.Hour}},
		{"max age no caching", cors.Config{Origins: []string{"https://a.example"}, MaxAge: -1}},
		{"csrf with wildcard", cors.Config{Origins: []string{"https://a.example", "https://*.example.com"}, CrossOriginProtection: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := cors.New(tc.cfg); err != nil {
				t.Fatalf("New(%+v) = %v, want nil error", tc.cfg, err)
			}
		})
	}
}

// TestNewJoinsEveryProblem checks that New reports all problems at once
// rather than stopping at the first.
func TestNewJoinsEveryProblem(t *testing.T) {
	_, err := cors.New(cors.Config{
		Origins:          []string{"null", "https://*.com", "http://a.example", "https://ok.example"},
		AllowCredentials: true,
		Methods:          []string{"TRACE"},
		Headers:          []string{"Cookie"},
		MaxAge:           48 * time.Hour,
	})
	for _, want := range []error{cors.ErrNullOrigin, cors.ErrPublicSuffixWildcard, cors.ErrInsecureWithCredentials, cors.ErrForbiddenMethod, cors.ErrForbiddenHeader, cors.ErrMaxAgeRange} {
		if !errors.Is(err, want) {
			t.Errorf("New(...) = %v; missing %v", err, want)
		}
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok || len(joined.Unwrap()) != 6 {
		t.Fatalf("New(...) = %v; want errors.Join of 6 *ConfigError", err)
	}
}

// TestNewCopiesConfig checks that changing the Config after New does not
// change the policy.
func TestNewCopiesConfig(t *testing.T) {
	origins := []string{"https://a.example"}
	c, err := cors.New(cors.Config{Origins: origins})
	if err != nil {
		t.Fatal(err)
	}
	origins[0] = "https://evil.example"
	if !c.Allows("https://a.example") || c.Allows("https://evil.example") {
		t.Fatal("policy changed after the caller modified Config.Origins")
	}
}

func TestConfigErrorText(t *testing.T) {
	_, err := cors.New(cors.Config{Origins: []string{"https://*.com\n"}})
	var ce *cors.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("New = %v, want *ConfigError", err)
	}
	const want = `cors: Origins[0] "https://*.com\n": `
	if got := ce.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("Error() = %q, want prefix %q (value quoted, control bytes escaped)", got, want)
	}
}
