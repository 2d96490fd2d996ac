// Package jsonnum holds the bound on how a number in a request may be
// written that every JSON Schema validator of bulwark applies before
// santhosh-tekuri/jsonschema/v6 sees the number: validate/openapi and the
// gateway's schema: routes.
package jsonnum

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// MaxExponent bounds the exponent a number in a request may be written
// with. math/big cannot read one past 10^6 (jsonschema/v6 then
// dereferenced a nil big.Rat under minimum, maximum or multipleOf: a
// panic from user input), and one of five or six digits costs it seconds
// of arithmetic; no API number needs more than this.
const MaxExponent = 10_000

// OutOfRange reports where in v (a decoded body or parameter value) the
// first number is whose exponent is beyond ±MaxExponent, loc being v's
// own location (the path to it is appended to loc's array).
func OutOfRange(v any, loc []string) ([]string, bool) {
	if !holdsOutOfRange(v) {
		return nil, false // the usual case: one walk, nothing allocated
	}
	return first(v, loc)
}

// holdsOutOfRange reports whether v holds a number out of range anywhere.
func holdsOutOfRange(v any) bool {
	switch x := v.(type) {
	case json.Number:
		return !ExponentInRange(string(x))
	case []any:
		for _, e := range x {
			if holdsOutOfRange(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if holdsOutOfRange(e) {
				return true
			}
		}
	}
	return false
}

// first finds the location of the first such number, members in key
// order.
func first(v any, loc []string) ([]string, bool) {
	switch x := v.(type) {
	case json.Number:
		return loc, !ExponentInRange(string(x))
	case []any:
		for i, e := range x {
			if l, bad := first(e, append(loc, strconv.Itoa(i))); bad {
				return l, true
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if l, bad := first(x[k], append(loc, k)); bad {
				return l, true
			}
		}
	}
	return nil, false
}

// ExponentInRange reports whether the exponent of the number text t (the
// part after 'e' or 'E', if any) is within ±MaxExponent.
func ExponentInRange(t string) bool {
	i := strings.IndexAny(t, "eE")
	if i < 0 {
		return true
	}
	e := strings.TrimLeft(strings.TrimLeft(t[i+1:], "+-"), "0")
	if e == "" {
		return true // e0
	}
	if len(e) > 5 {
		return false
	}
	n, err := strconv.Atoi(e)
	return err == nil && n <= MaxExponent
}
