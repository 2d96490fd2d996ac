package openapi

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// translator rewrites the document's schemas into JSON Schema 2020-12 as
// the request (or response) sees them:
//
//   - OpenAPI 3.0 only: nullable becomes a "null" type (and a null enum
//     member); boolean exclusiveMinimum/exclusiveMaximum become the
//     numeric keywords; keywords beside a $ref are dropped, as 3.0 ignores
//     them.
//   - Both: a property marked readOnly (drop == "readOnly", requests) or
//     writeOnly (responses) becomes the false schema and leaves required,
//     so that sending it is refused;
//   - local $refs are made absolute against the document's resource.
type translator struct {
	base string // the document's resource URL, for $refs
	v30  bool
	drop string // "readOnly" or "writeOnly"
	root any    // the document, to resolve $refs when looking for drop
}

// doc translates every schema found in the document tree x.
func (t *translator) doc(x any, _ bool) {
	switch v := x.(type) {
	case map[string]any:
		for k, c := range v {
			switch k {
			case "schema":
				v[k] = t.top(c)
			case "schemas":
				if m, ok := c.(map[string]any); ok {
					for name, s := range m {
						m[name] = t.top(s)
					}
				}
			default:
				t.doc(c, false)
			}
		}
	case []any:
		for _, c := range v {
			t.doc(c, false)
		}
	}
}

// top translates one schema and returns it (a schema may be replaced).
func (t *translator) top(x any) any {
	t.schema(x, 0)
	return x
}

var (
	oneSchema  = []string{"items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else", "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema"}
	listSchema = []string{"allOf", "anyOf", "oneOf", "prefixItems"}
	mapSchema  = []string{"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)

func (t *translator) schema(x any, depth int) {
	m, ok := x.(map[string]any)
	if !ok || depth > 500 {
		return
	}
	if ref, ok := m["$ref"].(string); ok {
		if strings.HasPrefix(ref, "#") {
			m["$ref"] = t.base + ref
		}
		if t.v30 {
			for k := range m {
				if k != "$ref" {
					delete(m, k)
				}
			}
			return
		}
	}
	if t.v30 {
		if n, ok := m["nullable"].(bool); ok {
			delete(m, "nullable")
			if n {
				if ty, ok := m["type"].(string); ok {
					m["type"] = []any{ty, "null"}
				}
				if enum, ok := m["enum"].([]any); ok && !slices.Contains(enum, nil) {
					m["enum"] = append(enum, nil)
				}
			}
		}
		for _, kw := range [][2]string{{"exclusiveMinimum", "minimum"}, {"exclusiveMaximum", "maximum"}} {
			if on, ok := m[kw[0]].(bool); ok {
				delete(m, kw[0])
				if lim, has := m[kw[1]]; on && has {
					m[kw[0]] = lim
					delete(m, kw[1])
				}
			}
		}
	}
	for _, kw := range oneSchema {
		if c, ok := m[kw]; ok {
			if list, ok := c.([]any); ok { // draft-4 style tuple items
				for _, e := range list {
					t.schema(e, depth+1)
				}
				continue
			}
			t.schema(c, depth+1)
		}
	}
	for _, kw := range listSchema {
		if list, ok := m[kw].([]any); ok {
			for _, e := range list {
				t.schema(e, depth+1)
			}
		}
	}
	for _, kw := range mapSchema {
		if mm, ok := m[kw].(map[string]any); ok {
			for _, e := range mm {
				t.schema(e, depth+1)
			}
		}
	}
	props, _ := m["properties"].(map[string]any)
	for name, ps := range props {
		if !t.dropped(ps) {
			continue
		}
		props[name] = false
		if req, ok := m["required"].([]any); ok {
			m["required"] = slices.DeleteFunc(req, func(e any) bool { return e == name })
		}
	}
}

// dropped reports whether the property schema ps is marked t.drop, itself
// or through one local $ref.
func (t *translator) dropped(ps any) bool {
	m, ok := ps.(map[string]any)
	if !ok {
		return false
	}
	if b, _ := m[t.drop].(bool); b {
		return true
	}
	ref, ok := m["$ref"].(string)
	if !ok || t.root == nil {
		return false
	}
	target, _ := resolveAny(t.root, strings.TrimPrefix(strings.TrimPrefix(ref, t.base), "#")).(map[string]any)
	b, _ := target[t.drop].(bool)
	return b
}

// resolveAny follows a JSON Pointer through a decoded JSON tree.
func resolveAny(x any, ptr string) any {
	if ptr == "" {
		return x
	}
	for tok := range strings.SplitSeq(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescapeToken(tok)
		switch v := x.(type) {
		case map[string]any:
			x = v[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			x = v[i]
		default:
			return nil
		}
	}
	return x
}

// newCompiler returns a compiler for 2020-12 that asserts formats, knows
// OpenAPI's int32 and int64, and loads nothing from outside.
func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(noLoader{})
	c.RegisterFormat(&jsonschema.Format{Name: "int32", Validate: intRange(math.MinInt32, math.MaxInt32)})
	c.RegisterFormat(&jsonschema.Format{Name: "int64", Validate: intRange(math.MinInt64, math.MaxInt64)})
	return c
}

type noLoader struct{}

func (noLoader) Load(string) (any, error) {
	return nil, errors.New("openapi: only the document's own local $refs are read")
}

var errRange = errors.New("out of range")

// intRange checks that an integral number lies in [lo, hi]; other values
// are left to the type keyword.
func intRange(lo, hi int64) func(any) error {
	return func(v any) error {
		n, ok := v.(json.Number)
		if !ok {
			return nil
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		switch {
		case err == nil && (i < lo || i > hi), errors.Is(err, strconv.ErrRange):
			return errRange
		case err == nil:
			return nil
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f != math.Trunc(f) {
			return nil // not an integer: the type keyword says so
		}
		if f < float64(lo) || f > float64(hi) {
			return errRange
		}
		return nil
	}
}
