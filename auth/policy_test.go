package auth_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
)

func TestPolicyAllows(t *testing.T) {
	p := func(scopes, roles string) *auth.Principal {
		return &auth.Principal{Subject: "s", Scopes: strings.Fields(scopes), Roles: strings.Fields(roles)}
	}
	tests := []struct {
		expr string
		pr   *auth.Principal
		want bool
	}{
		{"orders:read", p("orders:read", ""), true},
		{"orders:read", p("orders:write", ""), false},
		{"orders:read", p("", "orders:read"), true}, // a bare name matches a role too
		{"scope(orders:read)", p("", "orders:read"), false},
		{"role(admin)", p("admin", ""), false}, // a scope named admin is not the role
		{"role(admin)", p("", "admin"), true},
		{"orders:read and (orders:write or admin)", p("orders:read", ""), false},
		{"orders:read and (orders:write or admin)", p("orders:read orders:write", ""), true},
		{"orders:read and (orders:write or admin)", p("orders:read", "admin"), true},
		{"orders:read and (orders:write or admin)", p("orders:write", "admin"), false},
		{"a or b and c", p("a", ""), true}, // and binds tighter: a or (b and c)
		{"a or b and c", p("b", ""), false},
		{"(a or b) and c", p("a c", ""), true},
		{"not suspended", p("x", ""), true},
		{"not suspended", p("suspended", ""), false},
		{"not not a", p("a", ""), true},
		{"a and not role(banned)", p("a", "banned"), false},
		{"orders:read", nil, false},
		{"not x", nil, false}, // a nil principal satisfies nothing
		{"scope(and)", p("and", ""), true},
	}
	for _, tc := range tests {
		pol, err := auth.Compile(tc.expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.expr, err)
		}
		if got := pol.Allows(tc.pr); got != tc.want {
			t.Errorf("Compile(%q).Allows(%+v) = %v, want %v", tc.expr, tc.pr, got, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, expr := range []string{
		"", "   ", "and", "a and", "or b", "(a", "a)", "a b", "()", "not", "scope(", "scope()", "scope(a b)",
		"role(a", `a"b`, `a\b`, "a\x00", "caf\u00e9", "a or or b", "not and",
		strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40), strings.Repeat("a ", 3000),
	} {
		pol, err := auth.Compile(expr)
		var ce *auth.ConfigError
		if err == nil || !errors.As(err, &ce) {
			t.Errorf("Compile(%q) = %v, %v; want a *ConfigError", expr, pol, err)
		}
	}
}

func TestPolicyScopes(t *testing.T) {
	pol, _ := auth.Compile("orders:read and (orders:write or role(admin)) and not scope(x) or orders:read")
	if got, want := pol.Scopes(), []string{"orders:read", "orders:write"}; !slices.Equal(got, want) {
		t.Errorf("Scopes() = %v, want %v", got, want)
	}
	if pol.String() == "" {
		t.Error("String() is empty")
	}
}

func TestRequireHelpers(t *testing.T) {
	pol, err := auth.RequireScopes("a", "b")
	if err != nil {
		t.Fatal(err)
	}
	if pol.Allows(&auth.Principal{Scopes: []string{"a"}}) || !pol.Allows(&auth.Principal{Scopes: []string{"b", "a"}}) {
		t.Error("RequireScopes(a, b) must need both")
	}
	roles, err := auth.RequireRoles("admin")
	if err != nil {
		t.Fatal(err)
	}
	if roles.Allows(&auth.Principal{Scopes: []string{"admin"}}) || !roles.Allows(&auth.Principal{Roles: []string{"admin"}}) {
		t.Error("RequireRoles(admin) must look at roles only")
	}
	for _, bad := range [][]string{nil, {""}, {"a b"}, {"a)"}} {
		if _, err := auth.RequireScopes(bad...); err == nil {
			t.Errorf("RequireScopes(%q) succeeded", bad)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"orders:read and (orders:write or admin)", "not a", "scope(x) or role(y)", "((a))", "a or", "scope(and)"} {
		f.Add(s)
	}
	pr := &auth.Principal{Scopes: []string{"a", "orders:read"}, Roles: []string{"admin"}}
	f.Fuzz(func(t *testing.T, expr string) {
		pol, err := auth.Compile(expr)
		if err != nil {
			return
		}
		_ = pol.Allows(pr)
		if pol.Allows(nil) {
			t.Fatalf("Compile(%q).Allows(nil) = true", expr)
		}
		// Re-compiling the source gives the same decision.
		again, err := auth.Compile(pol.String())
		if err != nil || again.Allows(pr) != pol.Allows(pr) {
			t.Fatalf("recompiling %q changed the result (%v)", expr, err)
		}
	})
}
