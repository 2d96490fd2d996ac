package auth_test

import (
	"reflect"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
)

func TestPrincipalCloneSharesNothingMutable(t *testing.T) {
	if (*auth.Principal)(nil).Clone() != nil {
		t.Error("Clone of nil is not nil")
	}
	orig := func() *auth.Principal {
		return &auth.Principal{
			Subject: "s", Scopes: []string{"a"}, Roles: []string{"r"},
			Claims: map[string]any{
				"aud": []any{"x", map[string]any{"deep": []any{1.0}}},
				"md":  map[string]string{"k": "v"},
				"ls":  []string{"v"},
				"n":   1.0,
			},
		}
	}
	p := orig()
	c := p.Clone()
	if !reflect.DeepEqual(c, p) {
		t.Fatalf("Clone = %+v, want %+v", c, p)
	}
	c.Scopes[0], c.Roles[0] = "x", "x"
	c.Claims["n"] = 2.0
	c.Claims["aud"].([]any)[0] = "y"
	c.Claims["aud"].([]any)[1].(map[string]any)["deep"].([]any)[0] = 2.0
	c.Claims["md"].(map[string]string)["k"] = "w"
	c.Claims["ls"].([]string)[0] = "w"
	if !reflect.DeepEqual(p, orig()) {
		t.Errorf("writing to the clone changed the original: %+v", p)
	}
}

func TestPrincipalCloneOfACycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	c := (&auth.Principal{Claims: m}).Clone() // must return, not recurse for ever
	if _, ok := c.Claims["self"].(map[string]any); !ok {
		t.Fatalf("Clone = %+v", c)
	}
}
