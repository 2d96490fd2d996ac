package validate_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"

	"github.com/bulwark-go/bulwark/validate"
)

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    validate.Config
		fields []string // the ConfigError fields expected, in order
	}{
		{"zero is valid", validate.Config{}, nil},
		{"negative sizes", validate.Config{MaxBodyBytes: -1, MaxDepth: -1, MaxValues: -1, MaxObjectKeys: -1, MaxStringBytes: -1, ReadTimeout: -1},
			[]string{"MaxBodyBytes", "MaxDepth", "MaxValues", "MaxObjectKeys", "MaxStringBytes", "ReadTimeout"}},
		{"too large", validate.Config{MaxBodyBytes: 2 << 30, MaxDepth: 5000}, []string{"MaxBodyBytes", "MaxDepth"}},
		{"unknown coding", validate.Config{ContentEncodings: []string{"gzip", "br", "compress"}}, []string{"ContentEncodings", "ContentEncodings"}},
		{"reserved rule", validate.Config{Rules: map[string]validator.Func{"required": func(validator.FieldLevel) bool { return true }}}, []string{"Rules"}},
		{"bad rule name", validate.Config{Rules: map[string]validator.Func{"a,b": func(validator.FieldLevel) bool { return true }}}, []string{"Rules"}},
		{"nil rule", validate.Config{Rules: map[string]validator.Func{"x": nil}}, []string{"Rules"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := validate.New(tc.cfg)
			var got []string
			for _, e := range unjoin(err) {
				var ce *validate.ConfigError
				if !errors.As(e, &ce) {
					t.Fatalf("New error %v is not a *ConfigError", e)
				}
				got = append(got, ce.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("New(%+v) errors on %v, want %v", tc.cfg, got, tc.fields)
			}
			if (v == nil) != (len(tc.fields) > 0) {
				t.Errorf("New returned %v with error %v", v, err)
			}
		})
	}
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

type typoTop struct {
	Name string `json:"name" validate:"requird"`
}

type typoInner struct {
	Qty int `json:"qty" validate:"min=1,mx=5"`
}

type typoNested struct {
	Items []typoInner `json:"items" validate:"dive"`
}

type typoDeep struct {
	Inner *struct {
		Map map[string]typoInner `json:"map" validate:"dive"`
	} `json:"inner"`
}

type badDive struct {
	N int `json:"n" validate:"dive"`
}

// TestTagTypoIsStartupError: a typo in a tag is an error from the
// constructor, also where the struct is reached only through a slice, a
// pointer or a map, never a panic on a request.
func TestTagTypoIsStartupError(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	noop := func(http.ResponseWriter, *http.Request, typoTop) {}
	if _, err := validate.JSON(v, noop); !isConfigError(err) {
		t.Errorf("JSON[typoTop] error = %v, want *ConfigError", err)
	}
	if _, err := validate.NewDecoder[typoNested](v); !isConfigError(err) {
		t.Errorf("NewDecoder[typoNested] error = %v, want *ConfigError", err)
	}
	if _, err := validate.NewDecoder[typoDeep](v); !isConfigError(err) {
		t.Errorf("NewDecoder[typoDeep] error = %v, want *ConfigError", err)
	}
	if _, err := validate.NewDecoder[badDive](v); !isConfigError(err) {
		t.Errorf("NewDecoder[badDive] error = %v, want *ConfigError", err)
	}
	if _, err := validate.NewDecoder[*typoNested](v); !isConfigError(err) {
		t.Errorf("NewDecoder[*typoNested] error = %v, want *ConfigError", err)
	}

	// DecodeJSON builds on first use: the error comes back (a bare 500),
	// every time, and nothing panics.
	for range 2 {
		w := httptest.NewRecorder()
		_, err := validate.DecodeJSON[typoTop](v, w, jsonRequest(`{"name":"x"}`))
		if !isConfigError(err) {
			t.Fatalf("DecodeJSON[typoTop] error = %v, want *ConfigError", err)
		}
	}
}

func isConfigError(err error) bool {
	var ce *validate.ConfigError
	return errors.As(err, &ce)
}

type sku struct {
	Code string `json:"code" validate:"required,sku"`
}

func TestCustomRule(t *testing.T) {
	v, err := validate.New(validate.Config{Rules: map[string]validator.Func{
		"sku": func(fl validator.FieldLevel) bool { return strings.HasPrefix(fl.Field().String(), "SKU-") },
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[sku](v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DecodeBytes([]byte(`{"code":"SKU-1"}`)); err != nil {
		t.Errorf("DecodeBytes(SKU-1) = %v, want nil", err)
	}
	_, err = d.DecodeBytes([]byte(`{"code":"nope"}`))
	if got := fieldRules(err); got != "/code=sku" {
		t.Errorf("DecodeBytes(nope) rules = %q, want /code=sku", got)
	}
	// Without the rule registered, the tag is a start-up error.
	plain, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate.NewDecoder[sku](plain); !isConfigError(err) {
		t.Errorf("NewDecoder[sku] without the rule = %v, want *ConfigError", err)
	}
}

type Base struct {
	ID string `json:"id" validate:"required,len=4"`
}

type withEmbedded struct {
	Base
	Name  string          `json:"name" validate:"required"`
	Addr  *address        `json:"addr" validate:"required"`
	Lines []address       `json:"lines" validate:"required,min=1,dive"`
	ByKey map[string]line `json:"by_key" validate:"dive"`
}

type address struct {
	Street string `json:"street" validate:"required,max=8"`
	Zip    string `json:"zip~/" validate:"omitempty,numeric"`
}

type line struct {
	N int `json:"n" validate:"required,min=2"`
}

// TestErrorsUseJSONPointers: nested, embedded, indexed and escaped names
// come out as JSON Pointers; map keys (client input) do not.
func TestErrorsUseJSONPointers(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[withEmbedded](v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, rules string }{
		{`{"id":"abcd","name":"n","addr":{"street":"s"},"lines":[{"street":"s"}]}`, ""},
		{`{"id":"abc","name":"n","addr":{"street":"s"},"lines":[{"street":"s"}]}`, "/id=len"},
		{`{}`, "/id=required /name=required /addr=required /lines=required"},
		{`{"id":"abcd","name":"","addr":{"street":"toolongstreet","zip~/":"x1"},"lines":[]}`, "/addr/street=max /addr/zip~0~1=numeric /lines=min"},
		{`{"id":"abcd","name":"n","addr":{"street":"s"},"lines":[{"street":"s"},{}]}`, "/lines/1/street=required"},
		{`{"id":"abcd","name":"n","addr":{"street":"s"},"lines":[{"street":"s"}],"by_key":{"secret/key":{"n":1},"other":{"n":0}}}`, "/by_key=min /by_key=min"},
		{`{"id":"abcd","name":"n","addr":{"street":"s"},"lines":[{"street":"s"}],"by_key":{"k":{}}}`, "/by_key=required"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			_, err := d.DecodeBytes([]byte(tc.body))
			got := fieldRules(err)
			if tc.rules == "/by_key=min /by_key=min" {
				// Map iteration order is random; both entries fail min.
				if got != tc.rules {
					t.Errorf("rules = %q, want %q", got, tc.rules)
				}
				return
			}
			if got != tc.rules {
				t.Errorf("DecodeBytes(%s) rules = %q, want %q", tc.body, got, tc.rules)
			}
		})
	}
}

func TestNewDecoderNilValidator(t *testing.T) {
	if _, err := validate.NewDecoder[account](nil); !isConfigError(err) {
		t.Errorf("NewDecoder(nil) = %v, want *ConfigError", err)
	}
	if _, err := validate.NewQueryDecoder[listQuery](nil); !isConfigError(err) {
		t.Errorf("NewQueryDecoder(nil) = %v, want *ConfigError", err)
	}
}

// TestAnonymousRootStruct: an unnamed struct type has no name in the
// validator's namespace; pointers and presence still resolve.
func TestAnonymousRootStruct(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[struct {
		A int `json:"a" validate:"required,min=2"`
	}](v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, rules string }{
		{`{"a":0}`, "/a=min"},
		{`{}`, "/a=required"},
		{`{"a":2}`, ""},
	} {
		_, err := d.DecodeBytes([]byte(tc.body))
		if got := fieldRules(err); got != tc.rules {
			t.Errorf("DecodeBytes(%s) rules = %q, want %q", tc.body, got, tc.rules)
		}
	}
}
