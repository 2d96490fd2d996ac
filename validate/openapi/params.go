package openapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulwark-go/bulwark/internal/jsonnum"
)

// param is one compiled parameter.
type param struct {
	name     string // as declared
	key      string // the name looked up: canonical form for headers
	in       string
	style    string
	explode  bool
	required bool
	schema   *jsonschema.Schema
	types    []string            // JSON types the value may have (nil: any)
	array    bool                // the value is an array
	object   bool                // the value is an object
	items    []string            // types of array items
	props    map[string][]string // object property -> types
}

// ignoredHeaders are header parameters the specification says to ignore.
var ignoredHeaders = map[string]bool{"Accept": true, "Content-Type": true, "Authorization": true}

func (b *builder) param(p *openapi3.Parameter) (*param, error) {
	if p.Schema == nil || p.Schema.Value == nil {
		return nil, errors.New("parameters described by content instead of schema are not supported")
	}
	sm, err := p.SerializationMethod()
	if err != nil {
		return nil, err
	}
	cp := &param{name: p.Name, key: p.Name, in: p.In, style: sm.Style, explode: sm.Explode, required: p.Required}
	if cp.in == openapi3.ParameterInHeader {
		cp.key = textproto.CanonicalMIMEHeaderKey(p.Name)
	}
	sch := p.Schema.Value
	cp.types = typesOf(sch, 0)
	cp.array = len(cp.types) == 1 && cp.types[0] == "array"
	cp.object = len(cp.types) == 1 && cp.types[0] == "object"
	if cp.array && sch.Items != nil && sch.Items.Value != nil {
		cp.items = typesOf(sch.Items.Value, 0)
	}
	if cp.object {
		cp.props = map[string][]string{}
		for name, ps := range sch.Properties {
			if ps != nil && ps.Value != nil {
				cp.props[name] = typesOf(ps.Value, 0)
			}
		}
	}
	switch cp.in + "/" + cp.style {
	case "query/form", "query/spaceDelimited", "query/pipeDelimited", "path/simple", "path/label",
		"path/matrix", "header/simple", "cookie/form":
	case "query/deepObject":
		if !cp.object {
			return nil, errors.New("style deepObject needs an object schema")
		}
	default:
		return nil, errors.New("style " + cp.style + " is not defined for this location")
	}
	if (cp.style == "spaceDelimited" || cp.style == "pipeDelimited") && !cp.array {
		return nil, errors.New("style " + cp.style + " is supported for arrays only")
	}
	if cp.in == openapi3.ParameterInPath && cp.style == "matrix" && cp.object {
		return nil, errors.New("matrix objects are not supported")
	}
	if cp.schema, err = b.compile(p.Schema); err != nil {
		return nil, err
	}
	return cp, nil
}

// typesOf returns the JSON types a schema allows, looking through allOf,
// anyOf and oneOf; nil when it does not say.
func typesOf(s *openapi3.Schema, depth int) []string {
	if s == nil || depth > 8 {
		return nil
	}
	if t := s.Type.Slice(); len(t) > 0 {
		out := slices.Clone(t)
		if s.Nullable && !slices.Contains(out, "null") {
			out = append(out, "null")
		}
		return out
	}
	var out []string
	for _, list := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range list {
			if r != nil {
				for _, t := range typesOf(r.Value, depth+1) {
					if !slices.Contains(out, t) {
						out = append(out, t)
					}
				}
			}
		}
	}
	return out
}

// coerce turns a parameter's text into the JSON value its types allow,
// preferring numbers, then booleans, then strings. Text that fits none of
// them stays a string, for the schema to refuse with "type".
func coerce(text string, types []string) any {
	if len(types) == 0 {
		return text
	}
	if slices.Contains(types, "integer") || slices.Contains(types, "number") {
		if isJSONNumber(text) {
			return json.Number(text)
		}
	}
	if slices.Contains(types, "boolean") && (text == "true" || text == "false") {
		return text == "true"
	}
	if slices.Contains(types, "null") && text == "" && !slices.Contains(types, "string") {
		return nil
	}
	return text
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s) && len(s) <= 64
}

// value builds the JSON value of a parameter from its pieces of text,
// split as its style says.
func (p *param) value(parts []string) any {
	switch {
	case p.array:
		out := make([]any, len(parts))
		for i, t := range parts {
			out[i] = coerce(t, p.items)
		}
		return out
	case p.object:
		out := make(map[string]any, len(parts)/2)
		for i := 0; i+1 < len(parts); i += 2 {
			out[parts[i]] = coerce(parts[i+1], p.props[parts[i]])
		}
		return out
	}
	return coerce(parts[0], p.types)
}

// split splits one serialized value by the style's delimiter.
func (p *param) split(text string) []string {
	if !p.array && !p.object {
		return []string{text}
	}
	sep := ","
	switch p.style {
	case "spaceDelimited":
		sep = " "
	case "pipeDelimited":
		sep = "|"
	}
	if p.object && p.explode && (p.style == "simple" || p.style == "label") {
		// "k=v,k2=v2"
		var out []string
		for kv := range strings.SplitSeq(text, sep) {
			k, v, _ := strings.Cut(kv, "=")
			out = append(out, k, v)
		}
		return out
	}
	return strings.Split(text, sep)
}

// parseQuery splits the raw query into decoded names and values, strictly:
// ";" is not a separator, and a bad escape or invalid UTF-8 marks it bad.
func parseQuery(raw string) (map[string][]string, bool) {
	if raw == "" {
		return nil, false
	}
	out := map[string][]string{}
	bad := false
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if strings.IndexByte(k, ';') >= 0 || strings.IndexByte(v, ';') >= 0 {
			bad = true
			continue
		}
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || !utf8.ValidString(dk) || !utf8.ValidString(dv) || dk == "" {
			bad = true
			continue
		}
		out[dk] = append(out[dk], dv)
	}
	return out, bad
}

func parseCookies(r *http.Request) map[string][]string {
	out := map[string][]string{}
	for _, c := range r.Cookies() {
		out[c.Name] = append(out[c.Name], c.Value)
	}
	return out
}

// violation helpers for parameters.
func pv(p *param, rule, msg string) Violation {
	return Violation{Parameter: p.name, In: p.in, Rule: rule, Message: msg}
}

// checkParams reads and checks every declared parameter, and refuses
// undeclared query parameters unless allowed.
func (s *Spec) checkParams(op *operation, r *http.Request, pathVals map[string]string, out []Violation) []Violation {
	query, qbad := parseQuery(r.URL.RawQuery)
	if qbad {
		out = append(out, Violation{In: "query", Rule: "malformed", Message: "the query string is not well-formed UTF-8 name=value pairs"})
	}
	var cookies map[string][]string
	for _, p := range op.params {
		var raw []string // one serialized value per occurrence
		var parts []string
		present := false
		switch p.in {
		case openapi3.ParameterInPath:
			v, ok := pathVals[p.name]
			if !ok {
				out = append(out, pv(p, "missing", "is required"))
				continue
			}
			text, ok := p.unstylePath(v)
			if !ok {
				out = append(out, pv(p, "malformed", "is not serialized as the style says"))
				continue
			}
			raw, present = []string{text}, true
		case openapi3.ParameterInQuery:
			switch {
			case p.style == "deepObject":
				var repeated bool
				if parts, present, repeated = deepObject(query, p); repeated {
					out = append(out, pv(p, "repeated", "is given more than once"))
					continue
				}
			case p.style == "form" && p.explode && p.object:
				for prop := range p.props {
					if vs, ok := query[prop]; ok {
						present = true
						if len(vs) > 1 {
							out = append(out, pv(p, "repeated", "is given more than once"))
						}
						parts = append(parts, prop, vs[0])
					}
				}
			default:
				raw, present = query[p.name]
			}
		case openapi3.ParameterInHeader:
			if ignoredHeaders[p.key] {
				continue
			}
			raw, present = r.Header[p.key]
			if present && p.array {
				raw = []string{strings.Join(raw, ",")}
			}
		case openapi3.ParameterInCookie:
			if cookies == nil {
				cookies = parseCookies(r)
			}
			raw, present = cookies[p.name]
		}
		if !present {
			if p.required {
				out = append(out, pv(p, "missing", "is required"))
			}
			continue
		}
		if parts == nil {
			if len(raw) > 1 && !(p.array && p.explode && p.in == openapi3.ParameterInQuery) {
				// ?id=1&id=2 for a single value: parsers disagree on which wins.
				out = append(out, pv(p, "repeated", "is given more than once"))
				continue
			}
			if p.array && p.explode && p.in == openapi3.ParameterInQuery {
				parts = raw
			} else {
				text := raw[0]
				if p.in == openapi3.ParameterInHeader {
					text = strings.TrimSpace(text)
				}
				parts = p.split(text)
				if p.in == openapi3.ParameterInHeader && p.array {
					for i := range parts {
						parts[i] = strings.TrimSpace(parts[i])
					}
				}
			}
		}
		if p.object && len(parts)%2 != 0 {
			out = append(out, pv(p, "malformed", "is not serialized as the style says"))
			continue
		}
		v := p.value(parts)
		if _, bad := jsonnum.OutOfRange(v, nil); bad {
			out = append(out, pv(p, "number_range", messageFor("number_range")))
			continue
		}
		if err := p.schema.Validate(v); err != nil {
			for _, l := range leaves(err) {
				out = append(out, pv(p, l.rule, messageFor(l.rule)))
			}
		}
	}
	if !s.allowQuery {
		for name := range query {
			if op.query[name] != nil {
				continue
			}
			if i := strings.IndexByte(name, '['); i > 0 {
				if dp := op.query[name[:i]]; dp != nil && dp.style == "deepObject" {
					continue
				}
			}
			// The name is the client's: it is not echoed.
			out = append(out, Violation{In: "query", Rule: "unknown", Message: "the operation declares no such query parameter"})
			break
		}
	}
	return out
}

// deepObject gathers name[prop]=value pairs.
func deepObject(query map[string][]string, p *param) (parts []string, present, repeated bool) {
	prefix := p.name + "["
	for k, vs := range query {
		if !strings.HasPrefix(k, prefix) || !strings.HasSuffix(k, "]") {
			continue
		}
		if len(vs) > 1 {
			return nil, true, true
		}
		parts = append(parts, k[len(prefix):len(k)-1], vs[0])
	}
	return parts, parts != nil, false
}

// unstylePath removes the label (".") or matrix (";name=") prefix of a
// path value and validates its UTF-8.
func (p *param) unstylePath(v string) (string, bool) {
	if !utf8.ValidString(v) {
		return "", false
	}
	switch p.style {
	case "label":
		if !strings.HasPrefix(v, ".") {
			return "", false
		}
		v = v[1:]
		if p.explode {
			v = strings.ReplaceAll(v, ".", ",")
		}
	case "matrix":
		prefix := ";" + p.name + "="
		if !strings.HasPrefix(v, prefix) {
			return "", false
		}
		v = v[len(prefix):]
		if p.explode && p.array {
			v = strings.ReplaceAll(v, prefix, ",")
		}
	}
	return v, true
}
