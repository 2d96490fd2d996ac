package apikey_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
)

func TestNewRejects(t *testing.T) {
	store := apikey.NewMemoryStore()
	ok := func() apikey.Config {
		return apikey.Config{Store: store, Prefix: "bwk_live", Pepper: apikeytest.Pepper()}
	}
	cases := []struct {
		name   string
		mod    func(*apikey.Config)
		fields []string
	}{
		{"no store", func(c *apikey.Config) { c.Store = nil }, []string{"Store"}},
		{"no prefix", func(c *apikey.Config) { c.Prefix = "" }, []string{"Prefix"}},
		{"uppercase prefix", func(c *apikey.Config) { c.Prefix = "BWK" }, []string{"Prefix"}},
		{"prefix ends with _", func(c *apikey.Config) { c.Prefix = "bwk_" }, []string{"Prefix"}},
		{"prefix with __", func(c *apikey.Config) { c.Prefix = "bwk__live" }, []string{"Prefix"}},
		{"long prefix", func(c *apikey.Config) { c.Prefix = "abcdefghijklmnopqrstuvwxyzabcdefg" }, []string{"Prefix"}},
		{"no pepper", func(c *apikey.Config) { c.Pepper = nil }, []string{"Pepper"}},
		{"short pepper", func(c *apikey.Config) { c.Pepper = []byte("short") }, []string{"Pepper"}},
		{"pepper and InsecureNoPepper", func(c *apikey.Config) { c.InsecureNoPepper = true }, []string{"InsecureNoPepper"}},
		{"short previous pepper", func(c *apikey.Config) { c.PreviousPeppers = [][]byte{[]byte("x")} }, []string{"PreviousPeppers"}},
		{"previous pepper without pepper", func(c *apikey.Config) {
			c.Pepper, c.InsecureNoPepper, c.PreviousPeppers = nil, true, [][]byte{apikeytest.Pepper()}
		}, []string{"PreviousPeppers"}},
		{"bad header", func(c *apikey.Config) { c.Header = "X API Key" }, []string{"Header"}},
		{"cookie header", func(c *apikey.Config) { c.Header = "cookie" }, []string{"Header"}},
		{"bad query param", func(c *apikey.Config) { c.InsecureQueryParam = "a&b" }, []string{"InsecureQueryParam"}},
		{"negative cache TTL", func(c *apikey.Config) { c.CacheTTL = -time.Second }, []string{"CacheTTL"}},
		{"long cache TTL", func(c *apikey.Config) { c.CacheTTL = time.Hour }, []string{"CacheTTL"}},
		{"everything wrong", func(c *apikey.Config) { *c = apikey.Config{CacheTTL: time.Hour} }, []string{"Store", "Prefix", "Pepper", "CacheTTL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.mod(&cfg)
			k, err := apikey.New(cfg)
			if err == nil {
				_ = k.Close(t.Context())
				t.Fatalf("New(%s) = nil error", tc.name)
			}
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ce *auth.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("New(%s) error %v is not a *auth.ConfigError", tc.name, e)
				}
				got = append(got, ce.Field)
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("New(%s) reported %v, want %v", tc.name, got, tc.fields)
			}
			for i := range got {
				if got[i] != tc.fields[i] {
					t.Errorf("New(%s) reported %v, want %v", tc.name, got, tc.fields)
				}
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	cases := map[string]apikey.Config{
		"defaults":            {Store: apikey.NewMemoryStore(), Prefix: "bwk_live", Pepper: apikeytest.Pepper()},
		"unpeppered":          {Store: apikey.NewMemoryStore(), Prefix: "bwk", InsecureNoPepper: true},
		"x-api-key and query": {Store: apikey.NewMemoryStore(), Prefix: "acme_test_2", Pepper: apikeytest.Pepper(), Header: "X-API-Key", InsecureQueryParam: "api_key"},
		"no cache":            {Store: apikey.NewMemoryStore(), Prefix: "k", Pepper: apikeytest.Pepper(), CacheSize: -1, CacheTTL: 5 * time.Minute},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			k, err := apikey.New(cfg)
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if err := k.Close(t.Context()); err != nil {
				t.Errorf("Close = %v", err)
			}
		})
	}
}

// TestNewCopiesConfig: changing the caller's pepper after New changes
// nothing.
func TestNewCopiesConfig(t *testing.T) {
	pepper := append([]byte(nil), apikeytest.Pepper()...)
	store := apikey.NewMemoryStore()
	k, err := apikey.New(apikey.Config{Store: store, Prefix: prefix, Pepper: pepper, LastUsedInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := k.Create(t.Context(), apikey.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	clear(pepper)
	if _, err := k.Authenticate(bearer(key)); err != nil {
		t.Fatalf("after the caller cleared its pepper slice, Authenticate = %v", err)
	}
}

func TestSpecRejected(t *testing.T) {
	f := newFixture(t, nil)
	cases := map[string]apikey.Spec{
		"scope with space":    {Scopes: []string{"a b"}},
		"empty role":          {Roles: []string{""}},
		"control in name":     {Name: "a\nb"},
		"long owner":          {Owner: string(make([]byte, 300))},
		"negative TTL":        {TTL: -time.Hour},
		"TTL and ExpiresAt":   {TTL: time.Hour, ExpiresAt: f.clock.Now().Add(time.Hour)},
		"empty metadata name": {Metadata: map[string]string{"": "x"}},
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := f.keys.Create(t.Context(), spec); !errors.Is(err, apikey.ErrInvalidSpec) {
				t.Fatalf("Create(%s) = %v, want ErrInvalidSpec", name, err)
			}
		})
	}
	if list, _ := f.keys.List(t.Context()); len(list) != 0 {
		t.Errorf("rejected specs stored %d keys", len(list))
	}
	if _, _, err := f.keys.Rotate(t.Context(), "whatever", -time.Second); !errors.Is(err, apikey.ErrInvalidSpec) {
		t.Errorf("Rotate(negative overlap) = %v, want ErrInvalidSpec", err)
	}
}
