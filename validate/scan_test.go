package validate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bulwark-go/bulwark/validate"
)

// prepassCases are documents for an untyped target (any): nil means the
// pre-pass must accept the document.
var prepassCases = []struct {
	in   string
	want error
}{
	{`{}`, nil},
	{`[]`, nil},
	{` {"a" : [1, -0.5e+3, true, false, null, "x"]} `, nil},
	{`"text"`, nil},
	{`0`, nil},
	{`-0`, nil},
	{`1E9`, nil},
	{`123456789012345678901234567890`, nil},
	{`"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"`, nil},
	{"\"\u00e9\U0001F600\"", nil},
	{`{"a":{"b":{"c":[{}]}}}`, nil},
	{`{"a":1,"A":2}`, validate.ErrCaseVariantKey}, // an untyped object goes on to a decoder that may fold case
	{`{"\u0061":1,"b":2}`, nil},
	{``, validate.ErrEmpty},
	{`   `, validate.ErrEmpty},
	{`null`, validate.ErrNullBody},
	{`{"a":1}x`, validate.ErrTrailingData},
	{`1 2`, validate.ErrTrailingData},
	{`{"a":1,"a":1}`, validate.ErrDuplicateKey},
	{`{"a":1,"\u0061":1}`, validate.ErrDuplicateKey},
	{`{"\ud83d\ude00":1,"😀":2}`, validate.ErrDuplicateKey},
	{"\"\xff\"", validate.ErrInvalidUTF8},
	{"\"\xed\xbf\xbf\"", validate.ErrInvalidUTF8},
	{`"\udfff"`, validate.ErrInvalidUTF8},
	{`"\ud83d"`, validate.ErrInvalidUTF8},
	{`"\ud83d\n"`, validate.ErrInvalidUTF8},
	{`"\ud83d\ud83d"`, validate.ErrInvalidUTF8},
	{`{`, validate.ErrSyntax},
	{`{"a"}`, validate.ErrSyntax},
	{`{"a":}`, validate.ErrSyntax},
	{`{"a":1,}`, validate.ErrSyntax},
	{`[1,]`, validate.ErrSyntax},
	{`[1 2]`, validate.ErrSyntax},
	{`01`, validate.ErrTrailingData},
	{`1.`, validate.ErrSyntax},
	{`.5`, validate.ErrSyntax},
	{`1e`, validate.ErrSyntax},
	{`+1`, validate.ErrSyntax},
	{`-`, validate.ErrSyntax},
	{`NaN`, validate.ErrSyntax},
	{`tru`, validate.ErrSyntax},
	{`nul`, validate.ErrSyntax},
	{`'a'`, validate.ErrSyntax},
	{"\"a\tb\"", validate.ErrSyntax},
	{`"\x41"`, validate.ErrSyntax},
	{`"\u12"`, validate.ErrSyntax},
	{`"abc`, validate.ErrSyntax},
	{"\ufeff{}", validate.ErrSyntax},
	{`{1:2}`, validate.ErrSyntax},
	{strings.Repeat("[", 33) + strings.Repeat("]", 33), validate.ErrTooDeep},
	{strings.Repeat("[", 32) + strings.Repeat("]", 32), nil},
}

func untyped(t testing.TB) *validate.Decoder[any] {
	t.Helper()
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[any](v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestPrePass(t *testing.T) {
	d := untyped(t)
	for _, tc := range prepassCases {
		t.Run(tc.in, func(t *testing.T) {
			_, err := d.DecodeBytes([]byte(tc.in))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("DecodeBytes(%q) = %v, want %v", tc.in, err, tc.want)
			}
		})
	}
}

func TestNumbersIntoAnyStayExact(t *testing.T) {
	d := untyped(t)
	for _, in := range []string{"12345678901234567890123", "0.1000000000000000000001", "-1e400"} {
		got, err := d.DecodeBytes([]byte(in))
		if err != nil {
			t.Fatalf("DecodeBytes(%s): %v", in, err)
		}
		if n, ok := got.(json.Number); !ok || n.String() != in {
			t.Errorf("DecodeBytes(%s) = %#v, want json.Number(%q)", in, got, in)
		}
	}
}

func TestLimitsConfigurable(t *testing.T) {
	v, err := validate.New(validate.Config{MaxDepth: 2, MaxValues: 5, MaxObjectKeys: 2, MaxStringBytes: 4})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[any](v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   string
		want error
	}{
		{`[[1]]`, nil},
		{`[[[1]]]`, validate.ErrTooDeep},
		{`[1,2,3,4]`, nil},
		{`[1,2,3,4,5]`, validate.ErrTooManyValues},
		{`{"a":1,"b":2}`, nil},
		{`{"a":1,"b":2,"c":3}`, validate.ErrTooManyKeys},
		{`"abcd"`, nil},
		{`"abcde"`, validate.ErrStringTooLong},
		{`12345`, validate.ErrStringTooLong},
	} {
		_, err := d.DecodeBytes([]byte(tc.in))
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("DecodeBytes(%s) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// fuzzTarget is a typed target for the differential fuzz test.
type fuzzTarget struct {
	A    string            `json:"a"`
	B    int64             `json:"b"`
	C    []fuzzTarget      `json:"c"`
	D    map[string]any    `json:"d"`
	E    *float64          `json:"e"`
	F    bool              `json:"f,omitempty"`
	G    json.RawMessage   `json:"g"`
	H    map[string]string `json:"h"`
	I    map[int8]string   `json:"i"`
	U    *roleClaim        `json:"u"`
	Skip string            `json:"skip"`
}

// FuzzPrePassMatchesEncodingJSON: whatever the pre-pass accepts is valid
// JSON that encoding/json decodes to the same value; whatever is not valid
// JSON the pre-pass refuses.
func FuzzPrePassMatchesEncodingJSON(f *testing.F) {
	for _, tc := range prepassCases {
		f.Add([]byte(tc.in))
	}
	for _, s := range []string{
		`{"a":"x","b":1,"c":[{"a":"y"}],"d":{"k":[1,2.5]},"e":1.5,"f":true,"g":{"z":1},"h":{"k":"v"}}`,
		`{"A":"x"}`, `{"ſkip":"x"}`, `{"a":1}`, `{"b":"1"}`, `{"c":{}}`,
		`{"i":{"1":"a","01":"b"}}`, `{"i":{"-128":"a","200":"b"}}`, `{"u":{"role":"user","ROLE":"x"}}`,
		`null`, ` [1e5, -0.0, {"\u0061": [], "b\"": "\ud83d\ude00\n"}, true, false, null] `, `"é"`, `{}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	v, err := validate.New(validate.Config{})
	if err != nil {
		f.Fatal(err)
	}
	dAny, err := validate.NewDecoder[any](v)
	if err != nil {
		f.Fatal(err)
	}
	dTyped, err := validate.NewDecoder[fuzzTarget](v)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := dAny.DecodeBytes(data)
		valid := json.Valid(data)
		if !valid && err == nil {
			t.Fatalf("pre-pass accepted invalid JSON %q", data)
		}
		if valid && errors.Is(err, validate.ErrSyntax) {
			t.Fatalf("pre-pass called valid JSON %q malformed", data)
		}
		if err == nil {
			if !utf8.Valid(data) {
				t.Fatalf("pre-pass accepted invalid UTF-8 %q", data)
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var want any
			if err := dec.Decode(&want); err != nil {
				t.Fatalf("encoding/json refused what the pre-pass accepted, %q: %v", data, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %q as %#v, encoding/json as %#v", data, got, want)
			}
		}
		gotT, err := dTyped.DecodeBytes(data)
		if err == nil {
			var wantT fuzzTarget
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&wantT); err != nil {
				t.Fatalf("encoding/json refused what the typed decoder accepted, %q: %v", data, err)
			}
			if !reflect.DeepEqual(gotT, wantT) {
				t.Fatalf("typed decode of %q = %#v, encoding/json %#v", data, gotT, wantT)
			}
		}
	})
}
