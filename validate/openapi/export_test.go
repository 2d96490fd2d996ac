package openapi

import (
	"fmt"
	"math/big"
	"slices"
)

// BodyVerdict is one request body schema's answer to one value, from the
// fast validator and from jsonschema/v6.
type BodyVerdict struct {
	Where string // "METHOD /path media/type"
	// Fast is false when the schema has no fast path or the fast path
	// deferred to jsonschema/v6 for this value.
	Fast bool
	// FastLeaves and RefLeaves list the failures found ("/loc#rule",
	// missing names after the rule), sorted.
	FastLeaves, RefLeaves []string
	// RefPanicked: jsonschema/v6 panicked on the value.
	RefPanicked bool
}

// CompareBodies checks doc against every request body schema of s with
// both validators.
func CompareBodies(s *Spec, doc any) []BodyVerdict {
	var out []BodyVerdict
	for _, e := range s.paths {
		for method, op := range e.methods {
			if op.body == nil || method == "HEAD" && op.info.Method != "HEAD" {
				continue
			}
			for _, m := range op.body.media {
				if m.schema == nil {
					continue
				}
				v := BodyVerdict{Where: method + " " + e.template + " " + m.typ + "/" + m.sub}
				if m.fast != nil {
					switch m.fast.valid(doc) {
					case pass:
						v.Fast = true
					case fail:
						var ls []leaf
						if m.fast.collect(doc, nil, &ls) {
							v.Fast, v.FastLeaves = true, leafStrings(ls)
						}
					}
				}
				func() {
					defer func() {
						if recover() != nil {
							v.RefPanicked = true
						}
					}()
					if err := m.schema.Validate(doc); err != nil {
						v.RefLeaves = leafStrings(leaves(err))
					}
				}()
				out = append(out, v)
			}
		}
	}
	return out
}

// FastSchemas reports how many request body schemas of s have a fast path.
func FastSchemas(s *Spec) (fast, all int) {
	for _, e := range s.paths {
		for method, op := range e.methods {
			if op.body == nil || method == "HEAD" {
				continue
			}
			for _, m := range op.body.media {
				if m.schema != nil {
					all++
					if m.fast != nil {
						fast++
					}
				}
			}
		}
	}
	return fast, all
}

func leafStrings(ls []leaf) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%s#%s%v", joinPointer(l.loc), l.rule, l.missing))
	}
	slices.Sort(out)
	return out
}

// CompareNumbers compares two JSON numbers as the fast path does; ok is
// false when it would defer to jsonschema/v6.
func CompareNumbers(a, b string) (c int, ok bool) {
	da, ok1 := parseDecimal(a)
	db, ok2 := parseDecimal(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return cmpDecimal(da, db), true
}

// MultipleOf reports whether v is a multiple of m (m > 0) as the fast path
// decides it, and whether v is an integer.
func MultipleOf(v, m string) (multiple, integer, ok bool) {
	dv, ok1 := parseDecimal(v)
	dm, ok2 := parseDecimal(m)
	mr, ok3 := new(big.Rat).SetString(m)
	if !ok1 || !ok2 || !ok3 || mr.Sign() <= 0 {
		return false, false, false
	}
	return multipleOf(dv, dm, mr), dv.isInt(), true
}
