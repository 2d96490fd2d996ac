package claims_test

import (
	"reflect"
	"testing"

	"github.com/bulwark-go/bulwark/internal/claims"
)

func TestWalk(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := claims.Walk([]byte(tc.in), func(string, []byte) {}); (err == nil) != tc.ok {
				t.Fatalf("Walk(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

// FuzzWalk checks Walk against Decode: it refuses exactly what Decode
// refuses, names the same members, and String and Number read from each
// value's text what Decode decoded.
func FuzzWalk(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(`{"jti":"a\u0062c","iat":1700000000,"n":12345678901234567,"f":1.5,"neg":-3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := claims.Decode(b)
		got := map[string]any{}
		err := claims.Walk(b, func(name string, v []byte) {
			if s, ok := claims.String(v); ok {
				got[name] = string(s)
			} else if n, ok := claims.Number(v); ok {
				got[name] = n
			} else {
				got[name] = want[name] // neither: compared by kind below
			}
		})
		if (err == nil) != (werr == nil) {
			t.Fatalf("Walk(%q) = %v, Decode = %v", b, err, werr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("Walk(%q) named %d members, Decode %d", b, len(got), len(want))
		}
		for name, w := range want {
			g, ok := got[name]
			if !ok {
				t.Fatalf("Walk(%q) did not name %q", b, name)
			}
			switch w.(type) {
			case string, float64:
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("Walk(%q): %q = %#v, Decode %#v", b, name, g, w)
				}
			}
		}
	})
}
