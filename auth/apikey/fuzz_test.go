package apikey_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
)

// FuzzAuthenticate feeds arbitrary Authorization headers and query strings
// to the authenticator: it never panics, accepts only the one real key,
// and reaches the store only for values that pass the format check.
func FuzzAuthenticate(f *testing.F) {
	store := &countingStore{Store: apikey.NewMemoryStore()}
	k, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Pepper: apikeytest.Pepper(), LastUsedInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	key, _, err := k.Create(f.Context(), apikey.Spec{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Bearer "+key, "")
	f.Add("bearer  "+key+" ", "a=1")
	f.Add("Basic dTpw", "")
	f.Add("Bearer "+key, "api_key="+key)
	f.Add("Bearer x", "q=bwk%5Ftest_x")
	f.Add("", "k=bwk_test%zz")
	for _, tc := range parseCases {
		f.Add("Bearer "+tc.key, "")
	}
	f.Fuzz(func(t *testing.T, authz, query string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		before := store.lookups.Load()
		p, err := k.Authenticate(r)
		if err == nil {
			if p == nil || p.Subject == "" {
				t.Fatalf("Authenticate(%q, %q) = nil error without a principal", authz, query)
			}
			if !slices.Contains(fieldsOf(authz), key) {
				t.Fatalf("Authenticate(%q, %q) accepted something other than the real key", authz, query)
			}
		}
		if store.lookups.Load() != before {
			// A lookup happened: the presented value must be well-formed.
			found := false
			for _, f := range fieldsOf(authz) {
				if _, err := apikey.ParseKey(prefix, f); err == nil {
					found = true
				}
			}
			if !found {
				t.Fatalf("Authenticate(%q, %q) reached the store with a malformed key", authz, query)
			}
		}
	})
}

// fieldsOf splits on spaces, keeping it simple for the fuzz check.
func fieldsOf(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return out
}
