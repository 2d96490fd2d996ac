package claims_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/internal/claims"
)

type stamp struct{ t time.Time }

func (s *stamp) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	s.t = time.Unix(int64(n), 0)
	return nil
}

type Base struct {
	Issuer string `json:"iss"`
}

type typed struct {
	Base
	Subject string             `json:"sub"`
	KeyID   string             `json:"kid"`
	Tenant  string             `json:"tenant,omitempty"`
	Groups  []string           `json:"groups"`
	Ext     *struct{ Org int } `json:"ext"`
	Labels  map[string]struct {
		Level int `json:"level"`
	} `json:"labels"`
	Exp     stamp  `json:"exp"`
	Skipped string `json:"-"`
	Plain   string
}

var intoCases = []struct {
	name string
	in   string
	err  error // nil: decoded
}{
	{"exact names", `{"iss":"i","sub":"s","tenant":"t","groups":["a"],"ext":{"Org":2},"labels":{"x":{"level":1}},"exp":1800000000,"Plain":"p"}`, nil},
	{"unknown members are ignored", `{"sub":"s","other":1}`, nil},
	{"case-variant member of a field", `{"sub":"s","Tenant":"evil"}`, claims.ErrCaseVariant},
	{"case-variant member of a promoted field", `{"ISS":"evil"}`, claims.ErrCaseVariant},
	{"case-variant member of an untagged field", `{"plain":"evil"}`, claims.ErrCaseVariant},
	{"case-variant member in a nested struct", `{"ext":{"org":2}}`, claims.ErrCaseVariant},
	{"case-variant member in a map of structs", `{"labels":{"x":{"LEVEL":9}}}`, claims.ErrCaseVariant},
	{"case-variant by KELVIN SIGN", `{"\u212aid":"evil"}`, claims.ErrCaseVariant},
	{"case-variant by long s", `{"\u017fub":"evil"}`, claims.ErrCaseVariant},
	{"a field with its own decoder is its own business", `{"exp":1800000000}`, nil},
	{"type mismatch", `{"groups":"a"}`, errAny},
}

var errAny = errors.New("any error")

func TestInto(t *testing.T) {
	for _, tc := range intoCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := claims.Decode([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var v typed
			err = claims.Into(m, &v)
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("Into(%s) = %v, want success", tc.in, err)
			case tc.err == errAny && err == nil:
				t.Fatalf("Into(%s) = nil, want an error", tc.in)
			case tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("Into(%s) = %v, want %v", tc.in, err, tc.err)
			}
		})
	}
	m, _ := claims.Decode([]byte(intoCases[0].in))
	var v typed
	if err := claims.Into(m, &v); err != nil || v.Issuer != "i" || v.Ext.Org != 2 || v.Labels["x"].Level != 1 || !v.Exp.t.Equal(time.Unix(1800000000, 0)) || v.Plain != "p" {
		t.Errorf("Into = %+v, %v", v, err)
	}
	if err := claims.Into(m, v); !errors.Is(err, claims.ErrTarget) {
		t.Errorf("Into(non-pointer) = %v, want ErrTarget", err)
	}
}

// FuzzInto: whatever the claims, Into does not panic, and a string field
// it fills was sent under exactly its name.
func FuzzInto(f *testing.F) {
	for _, tc := range intoCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := claims.Decode(b)
		if err != nil {
			return
		}
		var v typed
		if claims.Into(m, &v) != nil {
			return
		}
		for name, got := range map[string]string{"sub": v.Subject, "tenant": v.Tenant, "iss": v.Issuer, "Plain": v.Plain} {
			if got != "" && m[name] != got {
				t.Fatalf("Into(%s) filled %s with %q, but the claim %s is %v", b, name, got, name, m[name])
			}
		}
	})
}
