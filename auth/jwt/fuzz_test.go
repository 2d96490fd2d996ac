package jwt_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/jwt"
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
			_, err := jwt.DecodeObject([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeObject(%q) = %v, want ok=%v", tc.in, err, tc.ok)
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
		got, err := jwt.DecodeObject(b)
		var want any
		stdErr := json.Unmarshal(b, &want)
		if err != nil {
			return
		}
		if stdErr != nil {
			t.Fatalf("DecodeObject(%q) accepted what encoding/json refuses: %v", b, stdErr)
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Fatalf("DecodeObject(%q) = %#v, encoding/json = %#v", b, got, want)
		}
	})
}

// FuzzVerify throws arbitrary tokens at the parser and verifier: nothing
// panics, every refusal is a typed invalid-token error, and nothing but a
// token signed with a configured key is ever accepted.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	f.Add(token(f, "rsa1", nil))
	f.Add(token(f, "ec1", nil))
	f.Add(token(f, "ed1", nil))
	f.Add(token(f, "hs1", nil))
	f.Add(b64(`{"alg":"none"}`) + "." + b64(claims(nil)) + ".")
	f.Add(signRaw(f, "HS256", []byte("x"), header("HS256", "rsa1"), claims(nil)))
	f.Add(signRaw(f, "RS256", k.rsa, `{"alg":"RS256","kid":"rsa1","typ":"at+jwt","crit":["x"]}`, claims(nil)))
	f.Add(signRaw(f, "RS256", k.rsa, header("RS256", "rsa1"), `{"iss":"a","ISS":"b"}`))
	f.Add("a.b.c")
	f.Add("..")
	f.Add(strings.Repeat("A", 9000))
	v, err := jwt.New(jwt.Config{Issuers: []jwt.Issuer{staticIssuer(f)}, Now: newClock().Now, CacheSize: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) {
				t.Fatalf("Verify(%q) = %v, want an invalid-token error", tok, err)
			}
			return
		}
		if p.Issuer != "https://idp.example" || p.Subject == "" {
			t.Fatalf("Verify(%q) accepted %+v", tok, p)
		}
	})
}
