package token

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{"X-API-Key": true, "x_tenant": true, "a!#$%&'*+-.^_`|~z09": true,
		"": false, "X API": false, "X:Y": false, "é": false, "X\x00": false, "(x)": false} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v", s, got)
		}
	}
}
