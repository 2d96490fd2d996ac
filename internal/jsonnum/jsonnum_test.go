package jsonnum

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestExponentInRange: the exponent field alone decides, in every
// spelling JSON allows (e, E, signs, leading zeros).
func TestExponentInRange(t *testing.T) {
	for text, want := range map[string]bool{
		"0": true, "-12.5": true, "1e0": true, "1E+0": true, "1e10000": true, "1e-10000": true,
		"1e0000000000010000": true, "2.5E-00042": true,
		"1e10001": false, "-1E+1000001": false, "1e-99999": false, "1e000000000000099999": false,
	} {
		if got := ExponentInRange(text); got != want {
			t.Errorf("ExponentInRange(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestOutOfRangeFindsTheNumber: the location of the first such number, in
// arrays and objects (members in key order), or none.
func TestOutOfRangeFindsTheNumber(t *testing.T) {
	doc := map[string]any{
		"a": []any{json.Number("1"), map[string]any{"z": json.Number("1e20000"), "b": "1e20000"}},
		"c": json.Number("1e99999"),
	}
	if loc, bad := OutOfRange(doc, nil); !bad || !slices.Equal(loc, []string{"a", "1", "z"}) {
		t.Fatalf("OutOfRange = %q, %v; want [a 1 z], true", loc, bad)
	}
	if _, bad := OutOfRange(map[string]any{"s": "1e99999", "n": json.Number("3e2")}, nil); bad {
		t.Fatal("a string or a small exponent reported out of range")
	}
}
