package validate

import (
	"encoding"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
)

// QueryDecoder decodes query and path parameters into T, a flat struct
// whose exported fields each carry a `query:"name"` or `path:"name"` tag
// (or `query:"-"` to be left alone). Fields may be strings, booleans,
// integers, floats, [encoding.TextUnmarshaler]s, pointers to those, or
// slices of those (a repeated query parameter). Path parameters come from
// [http.Request.PathValue], so std mux patterns like "GET /items/{id}"
// work as they are.
//
// Parameters are strict: an unknown query parameter, a repeated one for a
// non-slice field, invalid UTF-8 or an over-long value is refused with 400.
type QueryDecoder[T any] struct {
	v      *Validator
	fields []queryField
	byName map[string]int // query name -> index in fields
	byGo   map[string]int // Go name -> index in fields
	root   string
}

type queryField struct {
	name   string
	path   bool
	index  int
	typ    reflect.Type
	tag    string
	isList bool
}

// NewQueryDecoder returns a [QueryDecoder] for T, checking its tags.
func NewQueryDecoder[T any](v *Validator) (*QueryDecoder[T], error) {
	t := reflect.TypeFor[T]()
	if v == nil {
		return nil, &ConfigError{Field: "Validator", Value: nil, Reason: "is nil; build one with validate.New"}
	}
	if t.Kind() != reflect.Struct {
		return nil, &ConfigError{Field: t.String(), Value: t.Kind(), Reason: "query target must be a struct"}
	}
	q := &QueryDecoder[T]{v: v, byName: map[string]int{}, byGo: map[string]int{}, root: t.Name()}
	var errs []error
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		qn, hasQ := sf.Tag.Lookup("query")
		pn, hasP := sf.Tag.Lookup("path")
		switch {
		case hasQ && hasP:
			errs = append(errs, &ConfigError{Field: t.String() + "." + sf.Name, Value: sf.Tag, Reason: "has both query and path tags"})
			continue
		case qn == "-":
			continue
		case !hasQ && !hasP, hasQ && qn == "", hasP && pn == "":
			errs = append(errs, &ConfigError{Field: t.String() + "." + sf.Name, Value: sf.Tag, Reason: `needs a query:"name" or path:"name" tag, or query:"-"`})
			continue
		}
		f := queryField{name: qn, path: hasP, index: i, typ: sf.Type, tag: sf.Tag.Get("validate")}
		if hasP {
			f.name = pn
		}
		elem := sf.Type
		if elem.Kind() == reflect.Slice && !isTextType(elem) {
			f.isList, elem = true, elem.Elem()
			if hasP {
				errs = append(errs, &ConfigError{Field: t.String() + "." + sf.Name, Value: sf.Type, Reason: "a path parameter cannot be a slice"})
				continue
			}
		}
		if !scalarType(elem) {
			errs = append(errs, &ConfigError{Field: t.String() + "." + sf.Name, Value: sf.Type, Reason: "unsupported parameter type"})
			continue
		}
		if _, dup := q.byName[f.name]; dup && !hasP {
			errs = append(errs, &ConfigError{Field: t.String() + "." + sf.Name, Value: f.name, Reason: "parameter name used twice"})
			continue
		}
		q.fields = append(q.fields, f)
		if !hasP {
			q.byName[f.name] = len(q.fields) - 1
		}
		q.byGo[sf.Name] = len(q.fields) - 1
	}
	if len(errs) == 0 {
		if err := checkTags(v, t); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return q, nil
}

func isTextType(t reflect.Type) bool {
	return t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

func scalarType(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isTextType(t) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// Decode reads r's query and path parameters into T and validates it. On
// failure it returns an [*InputError] and emits input_validation_fail.
func (q *QueryDecoder[T]) Decode(r *http.Request) (T, error) {
	out, err := q.decode(r)
	if err != nil {
		emit(r.Context(), err)
		var zero T
		return zero, err
	}
	return out, nil
}

func (q *QueryDecoder[T]) decode(r *http.Request) (T, *InputError) {
	var out T
	rv := reflect.ValueOf(&out).Elem()
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return out, badRequest(ErrSyntax)
	}
	if len(vals) > q.v.lim.keys {
		return out, badRequest(ErrTooManyKeys)
	}
	seen := make([]bool, len(q.fields))
	total := 0
	for name, vs := range vals {
		i, ok := q.byName[name]
		if !ok {
			// The name is client input: the response does not repeat it.
			return out, badRequest(ErrUnknownField, FieldError{Rule: "unknown_field", Message: "is not an accepted query parameter"})
		}
		f := q.fields[i]
		if total += len(vs); total > q.v.lim.values {
			return out, badRequest(ErrTooManyValues)
		}
		if len(vs) > 1 && !f.isList {
			return out, badRequest(ErrDuplicateKey, FieldError{Parameter: f.name, Rule: "duplicate_key", Message: "must appear only once"})
		}
		if ierr := q.set(rv.Field(f.index), f, vs); ierr != nil {
			return out, ierr
		}
		seen[i] = true
	}
	for i, f := range q.fields {
		if !f.path {
			continue
		}
		if s := r.PathValue(f.name); s != "" {
			if ierr := q.set(rv.Field(f.index), f, []string{s}); ierr != nil {
				return out, ierr
			}
			seen[i] = true
		}
	}
	if ierr := q.validate(&out, seen); ierr != nil {
		return out, ierr
	}
	return out, nil
}

func (q *QueryDecoder[T]) set(fv reflect.Value, f queryField, vs []string) *InputError {
	for _, s := range vs {
		if len(s) > q.v.lim.str {
			return badRequest(ErrStringTooLong, FieldError{Parameter: f.name, Rule: "max_length", Message: "is too long"})
		}
		if !utf8.ValidString(s) {
			return badRequest(ErrInvalidUTF8, FieldError{Parameter: f.name, Rule: "utf8", Message: "must be valid UTF-8"})
		}
	}
	if f.isList {
		list := reflect.MakeSlice(f.typ, len(vs), len(vs))
		for i, s := range vs {
			if !parseScalar(list.Index(i), s) {
				return typeErr(f)
			}
		}
		fv.Set(list)
		return nil
	}
	if !parseScalar(fv, vs[0]) {
		return typeErr(f)
	}
	return nil
}

func typeErr(f queryField) *InputError {
	return badRequest(ErrType, FieldError{Parameter: f.name, Rule: "type", Message: "has the wrong type"})
}

// parseScalar sets v from s; it reports false when s does not parse.
func parseScalar(v reflect.Value, s string) bool {
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		if !parseScalar(p.Elem(), s) {
			return false
		}
		v.Set(p)
		return true
	}
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return tu.UnmarshalText([]byte(s)) == nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return false
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			return false
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			return false
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil {
			return false
		}
		v.SetFloat(n)
	default:
		return false
	}
	return true
}

// validate runs the rules; required means the parameter was present.
func (q *QueryDecoder[T]) validate(out *T, seen []bool) *InputError {
	err := q.v.rules.Struct(out)
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return inputErr(http.StatusInternalServerError, ErrRules)
	}
	var fields []FieldError
	// A rule naming another field names its parameter.
	param := func(goPath string) (string, bool) {
		i, ok := q.byGo[goPath]
		if !ok {
			return "", false
		}
		return q.fields[i].name, true
	}
	msg := func(fe validator.FieldError) string {
		p, ok := crossParam(fe, param)
		return message(fe, p, ok)
	}
	for _, fe := range ves {
		goName, elem, isElem := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(fe.StructNamespace(), q.root), "."), "[")
		i, ok := q.byGo[goName]
		if !ok {
			fields = append(fields, FieldError{Rule: fe.Tag(), Message: msg(fe)})
			continue
		}
		f := q.fields[i]
		if fe.Tag() == "required" && seen[i] {
			steps := []step{{field: &field{tag: f.tag}}}
			if isElem && elem != "" {
				steps = append(steps, step{isElem: true})
			}
			rest, ok := afterRequired(steps)
			if !ok {
				continue
			}
			var sub validator.ValidationErrors
			if errors.As(q.v.rules.Var(fe.Value(), rest), &sub) {
				for _, se := range sub {
					fields = append(fields, FieldError{Parameter: f.name, Rule: se.Tag(), Message: msg(se)})
				}
			}
			continue
		}
		fields = append(fields, FieldError{Parameter: f.name, Rule: fe.Tag(), Message: msg(fe)})
	}
	if len(fields) == 0 {
		return nil
	}
	if len(fields) > maxFieldErrors {
		fields = fields[:maxFieldErrors]
	}
	return inputErr(http.StatusUnprocessableEntity, ErrRules, fields...)
}

// Handler returns a handler that decodes each request's parameters into T
// and calls fn, or answers through the ErrorHandler.
func (q *QueryDecoder[T]) Handler(fn func(http.ResponseWriter, *http.Request, T)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := q.Decode(r)
		if err != nil {
			q.v.onError(w, r, err)
			return
		}
		fn(w, r, v)
	})
}

// Query returns a handler that calls fn with r's query and path parameters
// decoded into T and validated. It fails, at start-up, on invalid tags.
func Query[T any](v *Validator, fn func(http.ResponseWriter, *http.Request, T)) (http.Handler, error) {
	q, err := NewQueryDecoder[T](v)
	if err != nil {
		return nil, err
	}
	return q.Handler(fn), nil
}

// DecodeQuery decodes r's parameters into T like [QueryDecoder.Decode],
// with a decoder built on first use and kept in v.
func DecodeQuery[T any](v *Validator, r *http.Request) (T, error) {
	var zero T
	if v == nil {
		return zero, &ConfigError{Field: "Validator", Value: nil, Reason: "is nil; build one with validate.New"}
	}
	key := reflect.TypeFor[*QueryDecoder[T]]()
	c, ok := v.decoders.Load(key)
	if !ok {
		d, err := NewQueryDecoder[T](v)
		c, _ = v.decoders.LoadOrStore(key, &cached{dec: d, err: err})
	}
	ce := c.(*cached)
	if ce.err != nil {
		return zero, ce.err
	}
	return ce.dec.(*QueryDecoder[T]).Decode(r)
}
