package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/validate"
)

// Spec is a checked OpenAPI document, ready to check requests. Build it
// with [New]; it is safe for concurrent use.
type Spec struct {
	dec        *validate.Decoder[any]
	onError    problem.ErrorHandler
	base       []string // BasePath segments
	allowQuery bool
	responses  ResponseMode
	paths      []*pathEntry // fewest parameters first
	ops        []Operation
	schemes    map[string]SecurityScheme
}

// Operation describes one operation of the document, for callers that map
// it onto routing and authorization (the gateway).
type Operation struct {
	Method string // upper case
	Path   string // the document's path template, "/pets/{petId}"
	ID     string // operationId, if any
	// Security lists the alternative security requirements that apply (the
	// operation's own, else the document's). Empty means none: the
	// operation is public. An empty requirement among others means
	// authentication is optional.
	Security []SecurityRequirement
	// Body reports whether the operation accepts a request body.
	Body bool
}

// SecurityRequirement names security schemes that must all be satisfied,
// each with the scopes it needs.
type SecurityRequirement map[string][]string

// SecurityScheme is a security scheme of the document's components.
type SecurityScheme struct {
	Name   string // its key under components.securitySchemes
	Type   string // "http", "apiKey", "oauth2", "openIdConnect", "mutualTLS"
	Scheme string // for http: "bearer", "basic", … (lower case)
	In     string // for apiKey: "header", "query" or "cookie"
	Param  string // for apiKey: the header, query or cookie name
	Line   int    // where it is written in the document, when known
}

// New checks cfg and the document and returns a [Spec]. Every problem
// found is returned, joined, as [*ConfigError] values.
func New(cfg Config) (*Spec, error) {
	var errs []error
	bad := func(field, where string, line int, reason string) {
		errs = append(errs, &ConfigError{Name: cfg.Name, Field: field, Where: where, Line: line, Reason: reason})
	}
	defer func() {
		for _, e := range errs {
			if ce, ok := e.(*ConfigError); ok {
				ce.Name = cfg.Name
			}
		}
	}()
	s := &Spec{
		onError:    problem.Or(cfg.ErrorHandler),
		allowQuery: cfg.DangerouslyAllowUnknownQuery,
		responses:  cfg.Responses,
	}
	if cfg.Responses > ResponsesEnforce {
		bad("Responses", "", 0, "is not a ResponseMode")
	}
	if b := cfg.BasePath; b != "" {
		if !strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.ContainsAny(b, "{}?#%") {
			bad("BasePath", "", 0, `must start with "/", not end with "/", and hold no "{}?#%"`)
		} else {
			s.base = strings.Split(b[1:], "/")
		}
	}
	v := cfg.Validator
	if v == nil {
		var err error
		if v, err = validate.New(validate.Config{}); err != nil {
			return nil, err
		}
	}
	dec, err := validate.NewDecoder[any](v)
	if err != nil {
		return nil, err
	}
	s.dec = dec
	if len(bytes.TrimSpace(cfg.Document)) == 0 {
		bad("Document", "", 0, "is empty; give an OpenAPI 3.0 or 3.1 document")
		return nil, errors.Join(errs...)
	}
	doc, err := load(cfg.Document)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			errs = append(errs, ce)
		} else {
			bad("Document", "", 0, err.Error())
		}
		return nil, errors.Join(errs...)
	}
	if err := s.build(doc, cfg.Responses != ResponsesOff); err != nil {
		errs = append(errs, err...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// load parses and checks the document: version, $refs, structure. A
// panic in the parser on a malformed document is an error like any other.
func load(data []byte) (doc *openapi3.T, err error) {
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, fmt.Errorf("cannot be loaded: the parser failed on it (%v)", p)
		}
	}()
	if line, ptr, reason := checkRefs(data); reason != "" {
		return nil, &ConfigError{Field: "Document", Where: ptr, Line: line, Reason: reason}
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	loader.IncludeOrigin = true
	doc, err = loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("does not load: %w", err)
	}
	switch doc.OpenAPIMajorMinor() {
	case "3.0", "3.1":
	default:
		return nil, &ConfigError{Field: "Document", Where: "/openapi", Reason: fmt.Sprintf("version %q is not supported; want 3.0.x or 3.1.x", doc.OpenAPI)}
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("is not a valid OpenAPI document: %w", err)
	}
	return doc, nil
}

// build compiles the document's tables; a panic in a library on a
// document that passed its own checks is reported, not propagated.
func (s *Spec) build(doc *openapi3.T, responses bool) (errs []error) {
	defer func() {
		if p := recover(); p != nil {
			errs = []error{&ConfigError{Field: "Document", Reason: fmt.Sprintf("cannot be compiled: %v", p)}}
		}
	}()
	b, err := newBuilder(doc, responses)
	if err != nil {
		return []error{&ConfigError{Field: "Document", Reason: err.Error()}}
	}
	s.schemes = b.schemes()
	s.paths, s.ops = b.paths()
	return b.errs
}

// Operations lists the document's operations, sorted by path and method.
func (s *Spec) Operations() []Operation {
	out := slices.Clone(s.ops)
	for i := range out {
		out[i].Security = slices.Clone(out[i].Security)
	}
	return out
}

// SecuritySchemes returns the document's security schemes by name.
func (s *Spec) SecuritySchemes() map[string]SecurityScheme {
	out := make(map[string]SecurityScheme, len(s.schemes))
	for k, v := range s.schemes {
		out[k] = v
	}
	return out
}

// builder turns a loaded document into the Spec's tables.
type builder struct {
	doc       *openapi3.T
	v30       bool
	responses bool // compile response schemas too
	compiler  *jsonschema.Compiler
	n         int // schemas compiled
	errs      []error
}

// The document as requests see it (readOnly members refused) and as
// responses do (writeOnly members refused).
const (
	docURL  = "file:///openapi.json"
	respURL = "file:///openapi-responses.json"
)

func newBuilder(doc *openapi3.T, responses bool) (*builder, error) {
	b := &builder{doc: doc, v30: doc.IsOpenAPI30(), responses: responses}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	b.compiler = newCompiler()
	views := []struct{ url, drop string }{{docURL, "readOnly"}}
	if responses {
		views = append(views, struct{ url, drop string }{respURL, "writeOnly"})
	}
	for _, v := range views {
		root, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		t := &translator{base: v.url, v30: b.v30, drop: v.drop, root: root}
		t.doc(root, false)
		if err := b.compiler.AddResource(v.url, root); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// compile compiles one schema of the document for request checking.
func (b *builder) compile(sr *openapi3.SchemaRef) (*jsonschema.Schema, error) {
	return b.compileView(sr, docURL, "readOnly")
}

func (b *builder) compileView(sr *openapi3.SchemaRef, base, drop string) (*jsonschema.Schema, error) {
	raw, err := json.Marshal(sr)
	if err != nil {
		return nil, err
	}
	x, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	t := &translator{base: base, v30: b.v30, drop: drop, root: nil}
	x = t.top(x)
	b.n++
	loc := fmt.Sprintf("file:///schema/%d.json", b.n)
	if err := b.compiler.AddResource(loc, x); err != nil {
		return nil, err
	}
	return b.compiler.Compile(loc)
}

func (b *builder) fail(where string, line int, format string, args ...any) {
	b.errs = append(b.errs, &ConfigError{Field: "Document", Where: where, Line: line, Reason: fmt.Sprintf(format, args...)})
}

func (b *builder) schemes() map[string]SecurityScheme {
	out := map[string]SecurityScheme{}
	if b.doc.Components == nil {
		return out
	}
	for name, ref := range b.doc.Components.SecuritySchemes {
		if ref == nil || ref.Value == nil {
			continue
		}
		v := ref.Value
		ss := SecurityScheme{Name: name, Type: v.Type, Scheme: strings.ToLower(v.Scheme), In: v.In, Param: v.Name}
		if v.Origin != nil && v.Origin.Key != nil {
			ss.Line = v.Origin.Key.Line
		}
		out[name] = ss
	}
	return out
}

// paths builds the path table and the operation list.
func (b *builder) paths() ([]*pathEntry, []Operation) {
	var entries []*pathEntry
	var ops []Operation
	if b.doc.Paths == nil {
		return nil, nil
	}
	m := b.doc.Paths.Map()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, tmpl := range keys {
		item := m[tmpl]
		where := "/paths/" + escapeToken(tmpl)
		segs, err := parseTemplate(tmpl)
		if err != nil {
			b.fail(where, originLine(item.Origin), "%v", err)
			continue
		}
		e := &pathEntry{template: tmpl, segs: segs, methods: map[string]*operation{}}
		for _, sg := range segs {
			if sg.param != "" {
				e.nParams++
			}
		}
		var methods []string
		for method, op := range item.Operations() {
			method = strings.ToUpper(method)
			o := b.operation(where+"/"+strings.ToLower(method), tmpl, method, item, op)
			if o == nil {
				continue
			}
			e.methods[method] = o
			methods = append(methods, method)
			ops = append(ops, *o.info)
		}
		if e.methods[http.MethodGet] != nil && e.methods[http.MethodHead] == nil {
			e.methods[http.MethodHead] = e.methods[http.MethodGet]
			methods = append(methods, http.MethodHead)
		}
		sort.Strings(methods)
		e.allow = strings.Join(methods, ", ")
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].nParams < entries[j].nParams })
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	return entries, ops
}

func originLine(o *openapi3.Origin) int {
	if o == nil || o.Key == nil {
		return 0
	}
	return o.Key.Line
}

// operation compiles one operation: its parameters, body and security.
func (b *builder) operation(where, tmpl, method string, item *openapi3.PathItem, op *openapi3.Operation) *operation {
	o := &operation{
		info:  &Operation{Method: method, Path: tmpl, ID: op.OperationID},
		query: map[string]*param{},
	}
	sec := b.doc.Security
	if op.Security != nil {
		sec = *op.Security
	}
	for _, req := range sec {
		r := SecurityRequirement{}
		for name, scopes := range req {
			r[name] = slices.Clone(scopes)
		}
		o.info.Security = append(o.info.Security, r)
	}
	// Operation parameters override path-item ones of the same name and place.
	seen := map[string]bool{}
	var params []*openapi3.Parameter
	for _, list := range []openapi3.Parameters{op.Parameters, item.Parameters} {
		for _, pr := range list {
			if pr == nil || pr.Value == nil {
				continue
			}
			key := pr.Value.In + "\x00" + strings.ToLower(pr.Value.Name)
			if seen[key] {
				continue
			}
			seen[key] = true
			params = append(params, pr.Value)
		}
	}
	ok := true
	for _, p := range params {
		cp, err := b.param(p)
		if err != nil {
			b.fail(where, originLine(p.Origin), "parameter %q (in %s): %v", p.Name, p.In, err)
			ok = false
			continue
		}
		o.params = append(o.params, cp)
		if cp.in == openapi3.ParameterInQuery {
			o.query[cp.name] = cp
			if cp.style == openapi3.SerializationForm && cp.explode && cp.object {
				for prop := range cp.props {
					o.query[prop] = cp
				}
			}
		}
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		body, err := b.body(op.RequestBody.Value)
		if err != nil {
			b.fail(where+"/requestBody", originLine(op.RequestBody.Value.Origin), "%v", err)
			ok = false
		}
		o.body = body
		o.info.Body = true
	}
	if b.responses && op.Responses != nil {
		o.responses = map[string]*bodySpec{}
		for code, rr := range op.Responses.Map() {
			if rr == nil || rr.Value == nil {
				continue
			}
			rs, err := b.content(rr.Value.Content, respURL, "writeOnly")
			if err != nil {
				b.fail(where+"/responses/"+code, originLine(rr.Value.Origin), "%v", err)
				ok = false
				continue
			}
			o.responses[strings.ToUpper(code)] = rs
		}
	}
	if !ok {
		return nil
	}
	return o
}
