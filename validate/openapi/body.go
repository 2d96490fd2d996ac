package openapi

import (
	"errors"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/bulwark-go/bulwark/internal/jsonnum"
)

// bodySpec is an operation's compiled requestBody.
type bodySpec struct {
	required bool
	media    []*media        // exact types first, then "type/*", then "*/*"
	names    map[string]bool // property names declared in its schemas
	folded   map[string]bool // their case folds
	readOnly map[string]bool // properties marked readOnly
}

type media struct {
	typ, sub string // lower case; sub "*" for a range
	schema   *jsonschema.Schema
	fast     *fastSchema // schema's fast path; nil when it has none
}

func (b *builder) body(rb *openapi3.RequestBody) (*bodySpec, error) {
	bs, err := b.content(rb.Content, docURL, "readOnly")
	if bs != nil {
		bs.required = rb.Required
	}
	return bs, err
}

// content compiles the media types of a request body or response.
func (b *builder) content(content openapi3.Content, base, drop string) (*bodySpec, error) {
	bs := &bodySpec{names: map[string]bool{}, folded: map[string]bool{}, readOnly: map[string]bool{}}
	seen := map[*openapi3.Schema]bool{}
	var errs []error
	for key, mt := range content {
		full, _, err := mime.ParseMediaType(key)
		if err != nil {
			errs = append(errs, errors.New("media type "+strconv.Quote(key)+" does not parse"))
			continue
		}
		typ, sub, _ := strings.Cut(full, "/")
		m := &media{typ: typ, sub: sub}
		if mt != nil && mt.Schema != nil {
			if m.schema, err = b.compileView(mt.Schema, base, drop); err != nil {
				errs = append(errs, err)
				continue
			}
			m.fast = fastCompile(m.schema)
			collectNames(mt.Schema.Value, bs, seen, 0)
		}
		bs.media = append(bs.media, m)
	}
	for n := range bs.names {
		bs.folded[fold(n)] = true
	}
	sort.Slice(bs.media, func(i, j int) bool {
		a, b := bs.media[i], bs.media[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		return a.typ+"/"+a.sub < b.typ+"/"+b.sub
	})
	return bs, errors.Join(errs...)
}

func rank(m *media) int {
	switch {
	case m.typ == "*":
		return 2
	case m.sub == "*":
		return 1
	}
	return 0
}

// collectNames gathers the property names reachable from s.
func collectNames(s *openapi3.Schema, bs *bodySpec, seen map[*openapi3.Schema]bool, depth int) {
	if s == nil || seen[s] || depth > 64 {
		return
	}
	seen[s] = true
	for name, ps := range s.Properties {
		bs.names[name] = true
		if ps != nil && ps.Value != nil {
			if ps.Value.ReadOnly {
				bs.readOnly[name] = true
			}
			collectNames(ps.Value, bs, seen, depth+1)
		}
	}
	sub := func(r *openapi3.SchemaRef) {
		if r != nil {
			collectNames(r.Value, bs, seen, depth+1)
		}
	}
	sub(s.Items)
	sub(s.Not)
	sub(s.AdditionalProperties.Schema)
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf, s.PrefixItems} {
		for _, r := range list {
			sub(r)
		}
	}
}

// mediaFor finds the declared media type for the request's Content-Type,
// which must be one JSON field line.
func (bs *bodySpec) mediaFor(lines []string) (*media, bool) {
	if len(lines) != 1 {
		return nil, false
	}
	full, _, err := mime.ParseMediaType(lines[0])
	if err != nil {
		return nil, false
	}
	typ, sub, _ := strings.Cut(full, "/")
	if typ != "application" || (sub != "json" && !strings.HasSuffix(sub, "+json")) {
		return nil, false // only JSON bodies are checked; others are refused
	}
	for _, m := range bs.media {
		if (m.typ == typ && (m.sub == sub || m.sub == "*")) || m.typ == "*" {
			return m, true
		}
	}
	return nil, false
}

// caseCheck refuses keys that match a declared property only in case: a
// case-insensitive upstream (encoding/json, Jackson with its usual
// settings, System.Text.Json) would take them for it, unchecked. path
// holds the pointer's tokens so far; a pointer is built only to report.
func (bs *bodySpec) caseCheck(x any, path []string, out []Violation, depth int) []Violation {
	if depth > 1000 || len(out) >= maxViolations {
		return out
	}
	switch v := x.(type) {
	case map[string]any:
		for k, c := range v {
			if bs.names[k] {
				out = bs.caseCheck(c, append(path, k), out, depth+1)
				continue
			}
			if bs.folded[fold(k)] {
				out = append(out, Violation{Pointer: joinPointer(path), Rule: "case_variant_key", Message: "has a key that differs from a declared property only in case"})
				continue
			}
			out = bs.caseCheck(c, path, out, depth+1) // the key is the client's: not in pointers
		}
	case []any:
		for i, c := range v {
			if _, ok := c.(map[string]any); !ok {
				if _, ok := c.([]any); !ok {
					continue // scalars hold no keys
				}
			}
			out = bs.caseCheck(c, append(path, strconv.Itoa(i)), out, depth+1)
		}
	}
	return out
}

func joinPointer(path []string) string {
	var b strings.Builder
	for _, t := range path {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// fold maps s to a case fold: two strings match case-insensitively (with
// Unicode simple folding, "ſ" with "s", "K" with "k") when their folds
// are equal.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r)) // #nosec G115 -- r < utf8.RuneSelf here
			continue
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// leaf is one failed keyword of a schema validation.
type leaf struct {
	loc     []string
	rule    string
	missing []string
}

func leaves(err error) []leaf {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []leaf{{rule: "schema"}}
	}
	var out []leaf
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(out) >= maxViolations {
			return
		}
		if len(e.Causes) == 0 {
			l := leaf{loc: e.InstanceLocation, rule: "schema"}
			switch k := e.ErrorKind.(type) {
			case *kind.FalseSchema:
				l.rule = "false"
			case *kind.Required:
				l.rule, l.missing = "required", k.Missing
			default:
				if p := k.KeywordPath(); len(p) > 0 {
					l.rule = p[0]
				}
			}
			out = append(out, l)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

// pointer builds the JSON Pointer of loc in doc, stopping before a key
// the document does not declare (the client's own text).
func (bs *bodySpec) pointer(doc any, loc []string) string {
	var b strings.Builder
	x := doc
	for _, tok := range loc {
		switch v := x.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return b.String()
			}
			x = v[i]
		case map[string]any:
			if !bs.names[tok] {
				return b.String()
			}
			x = v[tok]
		default:
			return b.String()
		}
		b.WriteByte('/')
		b.WriteString(escapeToken(tok))
	}
	return b.String()
}

// validate checks doc against m's schema and lists its failures, by the
// fast path when m has one and it can decide, else by jsonschema/v6.
func (m *media) validate(doc any) []leaf {
	if loc, bad := jsonnum.OutOfRange(doc, nil); bad {
		return []leaf{{loc: loc, rule: "number_range"}}
	}
	if m.fast != nil {
		switch m.fast.valid(doc) {
		case pass:
			return nil
		case fail:
			var out []leaf
			if m.fast.collect(doc, make([]string, 0, 8), &out) {
				return out
			}
		}
	}
	if err := m.schema.Validate(doc); err != nil {
		return leaves(err)
	}
	return nil
}

// bodyViolations lists how doc breaks the schema, from the failures ls.
func (bs *bodySpec) bodyViolations(doc any, ls []leaf, out []Violation) []Violation {
	var body []Violation
	for _, l := range ls {
		ptr := bs.pointer(doc, l.loc)
		switch {
		case l.rule == "required" && len(l.missing) > 0:
			for _, m := range l.missing {
				body = append(body, Violation{Pointer: ptr + "/" + escapeToken(m), Rule: "required", Message: messageFor("required")})
			}
			continue
		case l.rule == "false" && len(l.loc) > 0 && bs.readOnly[l.loc[len(l.loc)-1]]:
			l.rule = "read_only"
		}
		body = append(body, Violation{Pointer: ptr, Rule: l.rule, Message: messageFor(l.rule)})
	}
	sort.SliceStable(body, func(i, j int) bool {
		if body[i].Pointer != body[j].Pointer {
			return body[i].Pointer < body[j].Pointer
		}
		return body[i].Rule < body[j].Rule
	})
	body = dedup(body)
	return append(out, body...)
}

func dedup(vs []Violation) []Violation {
	out := vs[:0]
	for i, v := range vs {
		if i > 0 && v == vs[i-1] {
			continue
		}
		out = append(out, v)
	}
	return out
}

var messages = map[string]string{
	"type":                 "has the wrong type",
	"required":             "is required",
	"additionalProperties": "has members the schema does not allow",
	"enum":                 "is not one of the allowed values",
	"const":                "is not the allowed value",
	"minimum":              "is below the minimum",
	"maximum":              "is above the maximum",
	"exclusiveMinimum":     "is not above the minimum",
	"exclusiveMaximum":     "is not below the maximum",
	"minLength":            "is too short",
	"maxLength":            "is too long",
	"minItems":             "has too few items",
	"maxItems":             "has too many items",
	"uniqueItems":          "has duplicate items",
	"minProperties":        "has too few members",
	"maxProperties":        "has too many members",
	"pattern":              "does not match the pattern",
	"format":               "does not match the format",
	"multipleOf":           "is not a multiple of the allowed step",
	"read_only":            "is read-only and cannot be sent in a request",
	"false":                "is not allowed here",
	"missing":              "is required",
	"repeated":             "is given more than once",
	"unknown":              "is not declared by the operation",
	"malformed":            "is not serialized as the document says",
	"no_body":              "the operation accepts no body",
	"number_range":         "is a number with an exponent out of range",
}

func messageFor(rule string) string {
	if m, ok := messages[rule]; ok {
		return m
	}
	return "does not satisfy the schema's " + rule + " keyword"
}

// status400 lists the rules that mean the request could not be read as
// the document says; the rest are 422.
var status400 = map[string]bool{
	"missing": true, "repeated": true, "unknown": true, "malformed": true, "type": true,
	"no_body": true, "case_variant_key": true, "number_range": true,
}

func statusOf(vs []Violation, strict bool) int {
	if strict {
		return http.StatusBadRequest
	}
	for _, v := range vs {
		if status400[v.Rule] {
			return http.StatusBadRequest
		}
	}
	return http.StatusUnprocessableEntity
}
