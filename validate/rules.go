package validate

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/go-playground/validator/v10"
)

// maxFieldErrors bounds the "errors" list of one response.
const maxFieldErrors = 50

// step is one resolved step of a validator namespace.
type step struct {
	name   string // JSON name (struct field) or raw map key
	index  int
	kind   uint8 // segName, segIndex, segOpaque (map key)
	field  *field
	parent *node // for a field: the struct node that holds it
	isElem bool
}

// validate runs the rules over out. A "required" failure on a field that
// was present in the body (as false, 0, "" …) is not a failure: the rest of
// that field's rules are checked instead, so required means present.
func (d *Decoder[T]) validate(out *T, data []byte) *InputError {
	var err error
	if rv := reflect.ValueOf(out).Elem(); rv.Kind() == reflect.Pointer {
		err = d.v.rules.Struct(rv.Interface())
	} else {
		err = d.v.rules.Struct(out)
	}
	if err == nil {
		return nil
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return inputErr(http.StatusInternalServerError, ErrRules)
	}
	var fields []FieldError
	for _, fe := range ves {
		ns := strings.TrimPrefix(fe.StructNamespace(), d.rootName)
		if d.rootName == "" && !strings.HasPrefix(ns, ".") {
			ns = "." + ns // an anonymous root struct has no name in the namespace
		}
		steps, n := resolve(d.root, ns, nil)
		// A namespace that did not resolve to the end (n == nil) keeps its
		// error: presence is only trusted where the path is known.
		if fe.Tag() == "required" && n != nil && present(data, steps) {
			rest, ok := afterRequired(steps)
			if !ok {
				continue
			}
			verr := d.v.rules.Var(fe.Value(), rest)
			var sub validator.ValidationErrors
			if !errors.As(verr, &sub) {
				continue
			}
			for _, se := range sub {
				ss, _ := resolve(n, se.StructNamespace(), steps)
				fields = append(fields, fieldError(ss, se))
			}
			continue
		}
		fields = append(fields, fieldError(steps, fe))
	}
	if len(fields) == 0 {
		return nil
	}
	if len(fields) > maxFieldErrors {
		fields = fields[:maxFieldErrors]
	}
	return inputErr(http.StatusUnprocessableEntity, ErrRules, fields...)
}

// resolve follows a validator struct namespace (".Items[0].Name", "[k]")
// through the schema from n, appending to steps. It returns the steps and
// the node reached.
func resolve(n *node, ns string, steps []step) ([]step, *node) {
	steps = append([]step(nil), steps...)
	for ns != "" && n != nil {
		switch ns[0] {
		case '.':
			end := strings.IndexAny(ns[1:], ".[")
			if end < 0 {
				end = len(ns) - 1
			}
			goName := ns[1 : 1+end]
			ns = ns[1+end:]
			if n.kind != kindStruct {
				return steps, nil
			}
			f, ok := n.byGo[goName]
			if !ok {
				return steps, nil
			}
			if f.json != "" {
				steps = append(steps, step{name: f.json, kind: segName, field: f, parent: n})
			}
			n = f.node
		case '[':
			var key string
			if n.kind == kindArray {
				end := strings.IndexByte(ns, ']')
				if end < 0 {
					return steps, nil
				}
				i, err := strconv.Atoi(ns[1:end])
				if err != nil {
					return steps, nil
				}
				steps = append(steps, step{index: i, kind: segIndex, isElem: true})
				ns = ns[end+1:]
			} else {
				// A map key runs to the first "]" that ends the namespace
				// or precedes the next step.
				end := -1
				for i := 1; i < len(ns); i++ {
					if ns[i] == ']' && (i+1 == len(ns) || ns[i+1] == '.' || ns[i+1] == '[') {
						end = i
						break
					}
				}
				if end < 0 {
					return steps, nil
				}
				key, ns = ns[1:end], ns[end+1:]
				steps = append(steps, step{name: key, kind: segOpaque, isElem: true})
			}
			n = n.elem
		default:
			return steps, nil
		}
	}
	return steps, n
}

// afterRequired returns the rules that follow the "required" that failed:
// for a field, the first "required" before any "dive"; for an element,
// the first one after the first "dive".
func afterRequired(steps []step) (string, bool) {
	var f *field
	elem := false
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].field != nil {
			f = steps[i].field
			break
		}
		elem = elem || steps[i].isElem
	}
	if f == nil {
		return "", false
	}
	tokens := strings.Split(f.tag, ",")
	start := 0
	if elem {
		start = -1
		for i, t := range tokens {
			if t == "dive" {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return "", false
		}
	}
	for i := start; i < len(tokens); i++ {
		switch tokens[i] {
		case "required":
			return strings.Join(tokens[i+1:], ","), true
		case "dive":
			return "", false
		}
	}
	return "", false
}

func fieldError(steps []step, fe validator.FieldError) FieldError {
	p, ok := crossParam(fe, func(goPath string) (string, bool) { return memberPointer(steps, goPath) })
	return FieldError{Pointer: stepsPointer(steps), Rule: fe.Tag(), Message: message(fe, p, ok)}
}

// How a rule's parameter names other fields of the struct that holds the
// field (the validator resolves them from there).
const (
	crossNone  = iota
	crossOne   // eqfield=Password, eqcsfield=Inner.Field
	crossPairs // required_if=Kind business Region eu
	crossList  // required_with=Phone Fax
)

func crossField(tag string) int {
	switch tag {
	case "eqfield", "nefield", "gtfield", "gtefield", "ltfield", "ltefield",
		"eqcsfield", "necsfield", "gtcsfield", "gtecsfield", "ltcsfield", "ltecsfield",
		"fieldcontains", "fieldexcludes":
		return crossOne
	case "required_if", "required_unless", "excluded_if", "excluded_unless", "skip_unless":
		return crossPairs
	case "required_with", "required_with_all", "required_without", "required_without_all",
		"excluded_with", "excluded_with_all", "excluded_without", "excluded_without_all":
		return crossList
	}
	return crossNone
}

// crossParam returns fe's parameter for the message: for a rule that names
// other fields, with each Go field path replaced by the name the client
// knows it by (name: a JSON Pointer, a query parameter). ok is false when a
// path has no name the response may show.
func crossParam(fe validator.FieldError, name func(goPath string) (string, bool)) (p string, ok bool) {
	kind := crossField(fe.Tag())
	if kind == crossNone {
		return fe.Param(), true
	}
	tokens := paramTokens(fe.Param())
	for i, tok := range tokens {
		if kind == crossPairs && i%2 == 1 {
			continue // a value from the tag, not a field
		}
		if tokens[i], ok = name(tok); !ok {
			return "", false
		}
	}
	return strings.Join(tokens, " "), true
}

// memberPointer is the JSON Pointer of the member at goPath, resolved from
// the struct holding the field steps lead to (for a dive element, the
// struct holding its slice or map), as the validator resolves it. It fails
// for a path through a map key, which a pointer does not show.
func memberPointer(steps []step, goPath string) (string, bool) {
	k := len(steps) - 1
	for k >= 0 && steps[k].field == nil {
		k--
	}
	if k < 0 {
		return "", false
	}
	ref, n := resolve(steps[k].parent, "."+goPath, steps[:k])
	if n == nil || slices.ContainsFunc(ref, func(s step) bool { return s.kind == segOpaque }) {
		return "", false
	}
	return stepsPointer(ref), true
}

// paramTokens splits a rule parameter as the validator does: on spaces,
// with 'single quoted' tokens kept whole.
func paramTokens(p string) []string {
	var out []string
	for p = strings.TrimLeft(p, " "); p != ""; p = strings.TrimLeft(p, " ") {
		end := strings.IndexByte(p, ' ')
		if p[0] == '\'' {
			if q := strings.IndexByte(p[1:], '\''); q >= 0 {
				end = q + 2
			}
		}
		if end < 0 || end > len(p) {
			end = len(p)
		}
		out = append(out, p[:end])
		p = p[end:]
	}
	return out
}

// stepsPointer renders steps as a JSON Pointer, stopping at the first map
// key (client input).
func stepsPointer(steps []step) string {
	var b []byte
	for _, s := range steps {
		switch s.kind {
		case segOpaque:
			return string(b)
		case segIndex:
			b = strconv.AppendInt(append(b, '/'), int64(s.index), 10)
		default:
			b = appendPointerToken(append(b, '/'), s.name)
		}
	}
	return string(b)
}

// message describes a rule in fixed wording. p is the rule's parameter,
// from the struct tag, never from the request; for a rule naming other
// fields, with those names as JSON Pointers (ok false when they cannot be
// named).
func message(fe validator.FieldError, p string, ok bool) string {
	if !ok {
		return "must satisfy " + fe.Tag() + " against another field"
	}
	switch fe.Tag() {
	case "required":
		return "is required"
	case "min", "gte":
		return "must be at least " + p + lengthUnit(fe)
	case "max", "lte":
		return "must be at most " + p + lengthUnit(fe)
	case "gt":
		return "must be greater than " + p + lengthUnit(fe)
	case "lt":
		return "must be less than " + p + lengthUnit(fe)
	case "len":
		return "must be exactly " + p + lengthUnit(fe)
	case "eq":
		return "must equal " + p
	case "ne":
		return "must not equal " + p
	case "oneof":
		return "must be one of: " + p
	case "email":
		return "must be an email address"
	case "url", "http_url":
		return "must be a URL"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "alphanum":
		return "must contain only letters and digits"
	case "eqfield", "eqcsfield":
		return "must equal " + p
	case "nefield", "necsfield":
		return "must not equal " + p
	case "gtfield", "gtcsfield":
		return "must be greater than " + p
	case "gtefield", "gtecsfield":
		return "must be at least " + p
	case "ltfield", "ltcsfield":
		return "must be less than " + p
	case "ltefield", "ltecsfield":
		return "must be at most " + p
	case "fieldcontains":
		return "must contain " + p
	case "fieldexcludes":
		return "must not contain " + p
	}
	if p != "" {
		return "must satisfy " + fe.Tag() + "=" + p
	}
	return "must satisfy " + fe.Tag()
}

func lengthUnit(fe validator.FieldError) string {
	switch fe.Kind().String() {
	case "string":
		return " characters long"
	case "slice", "array", "map":
		return " items"
	}
	return ""
}
