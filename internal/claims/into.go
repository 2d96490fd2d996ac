package claims

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode"
)

// Errors from [Into].
var (
	// ErrCaseVariant means a member would fill a field whose name it
	// matches only by case folding: encoding/json would fill it, while
	// every check made by exact name (a Principal's claims, required
	// claims) saw no such member.
	ErrCaseVariant = errors.New("claims: member name differs in case from the field it would fill")
	// ErrTarget means the destination is not a non-nil pointer.
	ErrTarget = errors.New("claims: destination is not a non-nil pointer")
)

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Into decodes m (as [Decode] returned it) into dst, a non-nil pointer, as
// encoding/json would decode m's JSON, except that a member fills a struct
// field only if its name is the field's JSON name exactly: a member that
// matches a field only by case folding ("Tenant" for `json:"tenant"`) is
// refused with [ErrCaseVariant], where encoding/json would silently take
// it. A type with its own UnmarshalJSON or UnmarshalText decodes its value
// as it likes. Other errors are encoding/json's (a type mismatch, say).
func Into(m map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return ErrTarget
	}
	if err := exact(m, rv.Type().Elem(), 0); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(dst)
}

// exact walks v alongside t and refuses a member whose name matches a
// struct field of t only by case folding.
func exact(v any, t reflect.Type, depth int) error {
	if depth > maxDepth {
		return nil // Decode never nests deeper
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil // encoding/json reports the mismatch
		}
		fields := jsonFields(t, nil, 0)
		for name, val := range m {
			if ft, ok := fields[name]; ok {
				if err := exact(val, ft, depth+1); err != nil {
					return err
				}
				continue
			}
			for fname := range fields {
				if foldEqual(fname, name) {
					return fmt.Errorf("%w: %q for %q", ErrCaseVariant, name, fname)
				}
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for _, val := range m {
				if err := exact(val, t.Elem(), depth+1); err != nil {
					return err
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if a, ok := v.([]any); ok {
			for _, e := range a {
				if err := exact(e, t.Elem(), depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// jsonFields returns the JSON names of t's fields as encoding/json sees
// them (tags, "-", embedded structs promoted), with their types.
func jsonFields(t reflect.Type, into map[string]reflect.Type, depth int) map[string]reflect.Type {
	if into == nil {
		into = map[string]reflect.Type{}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			if depth < maxDepth {
				jsonFields(ft, into, depth+1)
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := into[name]; !dup {
			into[name] = f.Type
		}
	}
	return into
}

// foldEqual reports whether a and b are equal under Unicode case folding,
// by either of the rules in use: simple folding (strings.EqualFold), and
// encoding/json's (each rune upper-cased after lower-casing).
func foldEqual(a, b string) bool {
	return strings.EqualFold(a, b) || jsonFold(a) == jsonFold(b)
}

func jsonFold(s string) string {
	return strings.Map(func(r rune) rune { return unicode.ToUpper(unicode.ToLower(r)) }, s)
}
