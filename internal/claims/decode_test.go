package claims_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/internal/claims"
)

var jsonCases = []struct {
	name string
	in   string
	ok   bool
}{
	{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, true},
	{"empty", `{}`, true},
	{"whitespace", " {\t\"a\" :\n1 } ", true},
	{"escapes", `{"a":"\u00e9\n\"\\\/\ud83d\ude00"}`, true},
	{"exponent", `{"a":-1.5e+3}`, true},
	{"duplicate", `{"a":1,"a":2}`, false},
	{"case variant", `{"iss":"a","ISS":"b"}`, false},
	{"case variant, unicode", `{"k":1,"\u212a":2}`, false},
	{"case variant, unicode first", `{"\u212aid":1,"kid":2}`, false},
	{"case variant, unicode, ascii first", `{"kid":1,"\u212aID":2}`, false},
	{"case variant, long s", `{"scope":1,"\u017fcope":2}`, false},
	{"common names", `{"alg":"x","kid":"y","typ":"z","iss":"a","sub":"b","aud":"c","exp":1,"iat":2,"nbf":3,"client_id":"d","scope":"e","jti":"f"}`, true},
	{"common name duplicated", `{"client_id":"d","CLIENT_ID":"e"}`, false},
	{"common name, escaped", `{"iss":"a","i\u0073s":"b"}`, false},
	{"nine members, duplicate of the first", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"A":9}`, false},
	{"case variant in a large object", `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"sub":1,"SUB":2}`, false},
	{"duplicate nested", `{"a":{"x":1,"x":2}}`, false},
	{"invalid UTF-8", "{\"a\":\"\xff\"}", false},
	{"invalid UTF-8 in a name", "{\"\xc3\":1}", false},
	{"lone high surrogate", `{"a":"\ud800"}`, false},
	{"lone low surrogate", `{"a":"\udc00x"}`, false},
	{"trailing data", `{"a":1}x`, false},
	{"two objects", `{}{}`, false},
	{"not an object", `[1]`, false},
	{"trailing comma", `{"a":1,}`, false},
	{"leading zero", `{"a":01}`, false},
	{"huge number", `{"a":1e999}`, false},
	{"control character", "{\"a\":\"\x01\"}", false},
	{"too deep", strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), false},
	{"single quotes", `{'a':1}`, false},
	{"NaN", `{"a":NaN}`, false},
}

func TestStrictJSON(t *testing.T) {
	for _, tc := range jsonCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := claims.Decode([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("Decode(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
		})
	}
}

// FuzzStrictJSON checks the strict decoder against encoding/json: what it
// accepts, encoding/json accepts too and decodes to the same value; and
// what encoding/json refuses, it refuses.
func FuzzStrictJSON(f *testing.F) {
	for _, tc := range jsonCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := claims.Decode(b)
		var want any
		stdErr := json.Unmarshal(b, &want)
		if err != nil {
			return
		}
		if stdErr != nil {
			t.Fatalf("Decode(%q) accepted what encoding/json refuses: %v", b, stdErr)
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Fatalf("Decode(%q) = %#v, encoding/json = %#v", b, got, want)
		}
	})
}

func TestIsCompactJOSE(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", true},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", true}, // unsecured: empty signature
		{"eyJhbGciOiJkaXIifQ..iv.ct.tag", true},        // JWE with an empty encrypted key
		{"eyJ.p.s.x", false},                           // four segments
		{".p.s", false},                                // no header
		{"h.p.s==", false},                             // padding
		{"h.p+/.s", false},                             // standard alphabet
		{"2YotnFZFEjr1zCsicMWpAA", false},              // opaque
		{"bwk_live_PZzjiOPtcMGU6wF31wjMNJ1L4zdFkD7Rr4Sj0PX", false},
		{"", false},
		{"..", false},
		{"a b.c.d", false},
	}
	for _, tc := range tests {
		if got := claims.IsCompactJOSE(tc.in); got != tc.want {
			t.Errorf("IsCompactJOSE(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
