package validate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// Decoder decodes and validates request bodies into T. Build one per type
// at start-up with [NewDecoder]; it is safe for concurrent use.
type Decoder[T any] struct {
	v        *Validator
	root     *node
	rootName string
	rules    bool // T is a struct (or pointer to one): run the validator
	tree     bool // T is any: the pre-passed bytes are read by decodeTree
	scanners sync.Pool
}

// NewDecoder returns a [Decoder] for T. It checks T's validate tags once,
// here: an unknown rule or a malformed tag is a [*ConfigError], not a panic
// on the first request. Rules run when T is a struct or a pointer to one;
// other types (a slice, a map, any) get the strict decoding alone.
func NewDecoder[T any](v *Validator) (*Decoder[T], error) {
	if v == nil {
		return nil, &ConfigError{Field: "Validator", Value: nil, Reason: "is nil; build one with validate.New"}
	}
	t := reflect.TypeFor[T]()
	d := &Decoder[T]{v: v, root: schemaFor(t, v.trusted), tree: t == reflect.TypeFor[any]()}
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		d.rules = true
		d.rootName = st.Name()
		if err := checkTags(v, st); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// checkTags runs the validator once over a value of t in which every
// pointer, slice and map holds one element, so that the validator parses
// (and caches) the tags of every reachable struct type. Its panics on bad
// tags become a *ConfigError.
func checkTags(v *Validator, t reflect.Type) (err error) {
	val := populated(t, map[reflect.Type]int{})
	defer func() {
		if p := recover(); p != nil {
			err = &ConfigError{Field: t.String(), Value: "validate tag", Reason: fmt.Sprint(p)}
		}
	}()
	var inv *validator.InvalidValidationError
	if e := v.rules.Struct(val.Addr().Interface()); errors.As(e, &inv) {
		return &ConfigError{Field: t.String(), Value: "validate tag", Reason: e.Error()}
	}
	return nil
}

// populated returns an addressable value of t with one element in each
// pointer, slice and map, stopping at the second visit of a type.
func populated(t reflect.Type, visiting map[reflect.Type]int) reflect.Value {
	v := reflect.New(t).Elem()
	if visiting[t] > 1 {
		return v
	}
	visiting[t]++
	defer func() { visiting[t]-- }()
	switch t.Kind() {
	case reflect.Pointer:
		v.Set(populated(t.Elem(), visiting).Addr())
	case reflect.Slice:
		v.Set(reflect.Append(v, populated(t.Elem(), visiting)))
	case reflect.Array:
		if t.Len() > 0 {
			v.Index(0).Set(populated(t.Elem(), visiting))
		}
	case reflect.Map:
		m := reflect.MakeMapWithSize(t, 1)
		m.SetMapIndex(reflect.New(t.Key()).Elem(), populated(t.Elem(), visiting))
		v.Set(m)
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(populated(t.Field(i).Type, visiting))
			}
		}
	}
	return v
}

// Decode reads r's body with the pre-decode checks, decodes it strictly
// into T and validates it. On failure it returns an [*InputError] and
// emits a secevent input_validation_fail into r's context. w is used for
// [http.MaxBytesReader] and the read deadline; it may be nil.
func (d *Decoder[T]) Decode(w http.ResponseWriter, r *http.Request) (T, error) {
	var zero T
	bp, ierr := d.v.readBody(w, r)
	if ierr != nil {
		emit(r.Context(), ierr)
		if w != nil && ierr.Status != http.StatusBadRequest {
			// The rest of the body is unread: do not reuse the connection.
			w.Header().Set("Connection", "close")
		}
		return zero, ierr
	}
	defer d.v.putBuf(bp)
	out, ierr := d.decode(*bp)
	if ierr != nil {
		emit(r.Context(), ierr)
		return zero, ierr
	}
	return out, nil
}

// DecodeBytes decodes and validates one JSON document without HTTP: the
// decision that [Decoder.Decode] makes once the body is read. It applies
// the same limits and emits no event.
func (d *Decoder[T]) DecodeBytes(data []byte) (T, error) {
	if int64(len(data)) > d.v.maxBody {
		var zero T
		return zero, inputErr(http.StatusRequestEntityTooLarge, ErrTooLarge)
	}
	out, ierr := d.decode(data)
	if ierr != nil {
		return out, ierr
	}
	return out, nil
}

func (d *Decoder[T]) decode(data []byte) (T, *InputError) {
	var out T
	s, _ := d.scanners.Get().(*scanner)
	if s == nil {
		s = &scanner{}
	}
	s.lim = d.v.lim
	ierr := s.scan(data, d.root)
	s.data = nil
	d.scanners.Put(s)
	if ierr != nil {
		return out, ierr
	}
	if d.tree {
		if v, ok := decodeTree(data); ok {
			out, _ = v.(T) // nil for a null body
			return out, nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		var zero T
		return zero, d.decodeErr(err)
	}
	if d.rules {
		if ierr := d.validate(&out, data); ierr != nil {
			var zero T
			return zero, ierr
		}
	}
	return out, nil
}

// decodeErr maps an encoding/json error on input the pre-pass accepted:
// a value of the wrong type, or an unknown field the schema missed.
func (d *Decoder[T]) decodeErr(err error) *InputError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return badRequest(ErrType, FieldError{
			Pointer: typeErrPointer(d.root, te.Field),
			Rule:    "type",
			Message: "has the wrong type",
		})
	}
	if strings.HasPrefix(err.Error(), "json: unknown field") {
		return badRequest(ErrUnknownField)
	}
	return badRequest(ErrSyntax)
}

// typeErrPointer turns encoding/json's dotted field path into a pointer,
// stopping at the first array or map (the path carries no indexes, and map
// keys are client input).
func typeErrPointer(n *node, path string) string {
	var b []byte
	for name := range strings.SplitSeq(path, ".") {
		if n == nil || n.kind != kindStruct || name == "" {
			break
		}
		f, ok := n.fields[name]
		if !ok {
			break
		}
		b = appendPointerToken(append(b, '/'), f.json)
		n = f.node
	}
	return string(b)
}

// Handler returns a handler that decodes each request into T and calls fn
// with it, or answers through the ErrorHandler when the body is refused.
func (d *Decoder[T]) Handler(fn func(http.ResponseWriter, *http.Request, T)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := d.Decode(w, r)
		if err != nil {
			d.v.onError(w, r, err)
			return
		}
		fn(w, r, v)
	})
}

// JSON returns a handler that calls fn with the request body decoded
// strictly into T and validated. It fails, at start-up, when T's validate
// tags are invalid.
func JSON[T any](v *Validator, fn func(http.ResponseWriter, *http.Request, T)) (http.Handler, error) {
	d, err := NewDecoder[T](v)
	if err != nil {
		return nil, err
	}
	return d.Handler(fn), nil
}

// cached is a per-type decoder or the error building it, kept in the
// Validator for [DecodeJSON] and [DecodeQuery].
type cached struct {
	dec any
	err error
}

// DecodeJSON decodes r's body into T like [Decoder.Decode], with a decoder
// built on first use for T and kept in v. If T's tags are invalid, every
// call returns the [*ConfigError] (answered as a bare 500); prefer
// [NewDecoder] at start-up to fail earlier.
func DecodeJSON[T any](v *Validator, w http.ResponseWriter, r *http.Request) (T, error) {
	var zero T
	if v == nil {
		return zero, &ConfigError{Field: "Validator", Value: nil, Reason: "is nil; build one with validate.New"}
	}
	key := reflect.TypeFor[*Decoder[T]]()
	c, ok := v.decoders.Load(key)
	if !ok {
		d, err := NewDecoder[T](v)
		c, _ = v.decoders.LoadOrStore(key, &cached{dec: d, err: err})
	}
	ce := c.(*cached)
	if ce.err != nil {
		return zero, ce.err
	}
	return ce.dec.(*Decoder[T]).Decode(w, r)
}
