package validate

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// node describes how encoding/json maps a JSON value onto a Go type, as far
// as the strict pre-pass needs: which keys an object accepts, exactly.
type node struct {
	kind   nodeKind
	elem   *node             // array and map elements
	fields map[string]*field // struct: exact JSON name -> field
	folded map[string]string // struct: folded JSON name -> exact name
	byGo   map[string]*field // struct: direct Go field name -> field (embedded: json == "")
}

type nodeKind uint8

const (
	kindAny    nodeKind = iota // any JSON; keys are not checked against a type
	kindStruct                 // object with a fixed set of exact keys
	kindMap                    // object with free keys
	kindArray                  // array
)

type field struct {
	json string // exact JSON name; "" for an embedded struct reached by Go name
	tag  string // the validate tag
	node *node
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// schemaFor builds the node tree for t. Recursive types share nodes.
func schemaFor(t reflect.Type) *node {
	return buildNode(t, map[reflect.Type]*node{})
}

func buildNode(t reflect.Type, seen map[reflect.Type]*node) *node {
	for t.Kind() == reflect.Pointer {
		if implementsUnmarshal(t) {
			return &node{kind: kindAny}
		}
		t = t.Elem()
	}
	if n, ok := seen[t]; ok {
		return n
	}
	if implementsUnmarshal(t) {
		return &node{kind: kindAny}
	}
	n := &node{kind: kindAny}
	seen[t] = n
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		n.kind = kindArray
		n.elem = buildNode(t.Elem(), seen)
	case reflect.Map:
		n.kind = kindMap
		n.elem = buildNode(t.Elem(), seen)
	case reflect.Struct:
		n.kind = kindStruct
		buildStruct(n, t, seen)
	}
	return n
}

func implementsUnmarshal(t reflect.Type) bool {
	if t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType) {
		return true
	}
	if t.Kind() != reflect.Pointer {
		p := reflect.PointerTo(t)
		return p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType)
	}
	return false
}

// candidate is one JSON-visible field found while flattening embedded
// structs, before encoding/json's dominance rules pick one per name.
type candidate struct {
	name   string
	depth  int
	tagged bool
	f      *field
}

func buildStruct(n *node, t reflect.Type, seen map[reflect.Type]*node) {
	n.byGo = map[string]*field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() && !sf.Anonymous {
			continue
		}
		n.byGo[sf.Name] = &field{json: fieldJSONName(sf), tag: sf.Tag.Get("validate"), node: buildNode(sf.Type, seen)}
		if name, tagged := fieldJSONTag(sf); sf.Anonymous && !tagged && name != "-" && derefKind(sf.Type) == reflect.Struct {
			n.byGo[sf.Name].json = ""
		}
	}
	var cands []candidate
	collect(t, 0, seen, &cands, map[reflect.Type]bool{})
	best := map[string][]candidate{}
	for _, c := range cands {
		best[c.name] = append(best[c.name], c)
	}
	n.fields = map[string]*field{}
	n.folded = map[string]string{}
	for name, cs := range best {
		if c, ok := dominant(cs); ok {
			n.fields[name] = c.f
			n.folded[foldName(name)] = name
		}
	}
}

func derefKind(t reflect.Type) reflect.Kind {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind()
}

// collect lists the JSON-visible fields of t with their embedding depth,
// following encoding/json: unexported non-embedded fields and `json:"-"`
// are skipped, untagged embedded structs are flattened.
func collect(t reflect.Type, depth int, seen map[reflect.Type]*node, out *[]candidate, visiting map[reflect.Type]bool) {
	if visiting[t] {
		return
	}
	visiting[t] = true
	defer delete(visiting, t)
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if !sf.IsExported() && ft.Kind() != reflect.Struct {
				continue
			}
		} else if !sf.IsExported() {
			continue
		}
		name, tagged := fieldJSONTag(sf)
		if name == "-" && !tagged {
			continue
		}
		ft := sf.Type
		if ft.Name() == "" && ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && !tagged && ft.Kind() == reflect.Struct {
			collect(ft, depth+1, seen, out, visiting)
			continue
		}
		if !tagged {
			name = sf.Name
		}
		*out = append(*out, candidate{
			name: name, depth: depth, tagged: tagged,
			f: &field{json: name, tag: sf.Tag.Get("validate"), node: buildNode(sf.Type, seen)},
		})
	}
}

// dominant applies encoding/json's rule: the shallowest field wins; among
// equals, the single tagged one; otherwise the name is dropped.
func dominant(cs []candidate) (candidate, bool) {
	minDepth := cs[0].depth
	for _, c := range cs[1:] {
		minDepth = min(minDepth, c.depth)
	}
	var top []candidate
	for _, c := range cs {
		if c.depth == minDepth {
			top = append(top, c)
		}
	}
	if len(top) == 1 {
		return top[0], true
	}
	var tagged []candidate
	for _, c := range top {
		if c.tagged {
			tagged = append(tagged, c)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return candidate{}, false
}

// fieldJSONTag returns the tag name and whether it is a valid name.
// A tag of exactly "-" returns ("-", false).
func fieldJSONTag(sf reflect.StructField) (string, bool) {
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return "-", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if !isValidTag(name) {
		return "", false
	}
	return name, true
}

func fieldJSONName(sf reflect.StructField) string {
	name, tagged := fieldJSONTag(sf)
	if !tagged {
		return sf.Name
	}
	return name
}

func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// foldName folds s the way encoding/json matches keys to field names: two
// names match case-insensitively exactly when their folds are equal. Each
// rune maps to the smallest rune of its Unicode simple-fold orbit, so "ſ"
// (U+017F) folds with "s" and "K" (U+212A, Kelvin) with "k".
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b.WriteByte(byte(r)) // #nosec G115 -- r < utf8.RuneSelf (0x80) here
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
		b.WriteRune(r)
	}
	return b.String()
}
