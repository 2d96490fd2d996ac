package validate_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"

	"github.com/bulwark-go/bulwark/validate"
)

// presenceTarget has only "required" rules, so a rule failure can only
// mean that a key is missing or null.
type presenceTarget struct {
	A int              `json:"a" validate:"required"`
	B bool             `json:"b" validate:"required"`
	C string           `json:"c" validate:"required"`
	D []int            `json:"d" validate:"required"`
	E presenceNested   `json:"e"`
	F []presenceNested `json:"f" validate:"dive"`
}

type presenceNested struct {
	X float64 `json:"x" validate:"required"`
}

// missingPointers computes, with encoding/json alone, the pointers whose
// keys are absent or null: what "required" must report.
func missingPointers(data []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	var out []string
	absent := func(obj map[string]json.RawMessage, k string) bool {
		v, ok := obj[k]
		return !ok || string(v) == "null"
	}
	for _, k := range []string{"a", "b", "c", "d"} {
		if absent(m, k) {
			out = append(out, "/"+k)
		}
	}
	var e map[string]json.RawMessage
	_ = json.Unmarshal(m["e"], &e)
	if absent(e, "x") {
		out = append(out, "/e/x")
	}
	var f []map[string]json.RawMessage
	_ = json.Unmarshal(m["f"], &f)
	for i, el := range f {
		if absent(el, "x") {
			out = append(out, "/f/"+strconv.Itoa(i)+"/x")
		}
	}
	return out
}

func FuzzRequiredMeansPresent(f *testing.F) {
	for _, s := range []string{
		`{"a":0,"b":false,"c":"","d":[],"e":{"x":0},"f":[{"x":0}]}`,
		`{}`,
		`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":null}`,
		`{"a":1,"b":true,"c":"x","d":[1],"e":{"x":1.5},"f":[{"x":1},{}]}`,
		`{"\u0061":0,"b" : false , "c":"\"","d":[0],"e":{"x":-0},"f":[]}`,
	} {
		f.Add([]byte(s))
	}
	v, err := validate.New(validate.Config{})
	if err != nil {
		f.Fatal(err)
	}
	d, err := validate.NewDecoder[presenceTarget](v)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := d.DecodeBytes(data)
		if err != nil && !errors.Is(err, validate.ErrRules) {
			return // refused before the rules: not this test's concern
		}
		var got []string
		var ie *validate.InputError
		if errors.As(err, &ie) {
			for _, fe := range ie.Fields {
				if fe.Rule != "required" {
					t.Fatalf("DecodeBytes(%s): rule %q at %s, want only required", data, fe.Rule, fe.Pointer)
				}
				got = append(got, fe.Pointer)
			}
		}
		want := missingPointers(data)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("DecodeBytes(%s) required at %q, want %q", data, got, want)
		}
	})
}
