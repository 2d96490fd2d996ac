package validate

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// node describes how encoding/json maps a JSON value onto a Go type, as far
// as the strict pre-pass needs: which keys an object accepts, exactly, and
// which keys of a map are one Go key.
type node struct {
	kind   nodeKind
	elem   *node             // array and map elements
	fields map[string]*field // struct: exact JSON name -> field
	folded map[string]string // struct: folded JSON name -> exact name
	byGo   map[string]*field // struct: direct Go field name -> field (embedded: json == "")
	// mapKey decodes an object key as the map's key type does (map only),
	// into a comparable value: two keys are one Go key exactly when their
	// values are equal. nil for string keys, compared as text.
	mapKey func(raw, key []byte) (any, error)
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

// builder builds the node tree of one type. trusted holds the struct types
// of [Config.DangerouslyTrustUnmarshalers].
type builder struct {
	seen    map[reflect.Type]*node
	trusted map[reflect.Type]bool
}

// schemaFor builds the node tree for t. Recursive types share nodes.
func schemaFor(t reflect.Type, trusted map[reflect.Type]bool) *node {
	b := &builder{seen: map[reflect.Type]*node{}, trusted: trusted}
	return b.node(t)
}

func (b *builder) node(t reflect.Type) *node {
	for t.Kind() == reflect.Pointer {
		if implementsUnmarshal(t) {
			return b.custom(t)
		}
		t = t.Elem()
	}
	if n, ok := b.seen[t]; ok {
		return n
	}
	if implementsUnmarshal(t) {
		return b.custom(t)
	}
	n := &node{kind: kindAny}
	b.seen[t] = n
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		n.kind = kindArray
		n.elem = b.node(t.Elem())
	case reflect.Map:
		n.kind = kindMap
		n.elem = b.node(t.Elem())
		n.mapKey = mapKeyDecoder(t.Key())
	case reflect.Struct:
		n.kind = kindStruct
		b.structFields(n, t)
	}
	return n
}

// custom describes a type with its own UnmarshalJSON or UnmarshalText. A
// struct type is held to its fields as if it had none, when its JSON is an
// object: the usual method decodes into its own fields, and strictness that
// stopped at its door would let {"ROLE":"admin"} or unknown keys through
// it. Other types (a map or slice with its own method, json.RawMessage) and
// the trusted struct types decide their JSON alone; their objects are
// still checked for duplicate keys, UTF-8, depth and size.
func (b *builder) custom(t reflect.Type) *node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || b.trusted[t] {
		return &node{kind: kindAny}
	}
	if n, ok := b.seen[t]; ok {
		return n
	}
	n := &node{kind: kindStruct}
	b.seen[t] = n
	b.structFields(n, t)
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

// mapKeyDecoder returns how encoding/json decodes an object key into the
// map key type kt: with kt's own UnmarshalJSON or UnmarshalText when
// *kt has UnmarshalText, else as a decimal integer for integer kinds. It
// returns nil for plain string kinds.
func mapKeyDecoder(kt reflect.Type) func(raw, key []byte) (any, error) {
	if reflect.PointerTo(kt).Implements(textUnmarshalerType) {
		return func(raw, key []byte) (k any, err error) {
			defer func() {
				if p := recover(); p != nil {
					err = errKeyPanicked // the type's method on client input
				}
			}()
			kv := reflect.New(kt)
			if u, ok := kv.Interface().(json.Unmarshaler); ok {
				// encoding/json prefers UnmarshalJSON, given the quoted key.
				q := make([]byte, 0, len(raw)+2)
				err = u.UnmarshalJSON(append(append(append(q, '"'), raw...), '"'))
			} else {
				err = kv.Interface().(encoding.TextUnmarshaler).UnmarshalText(key)
			}
			if err != nil {
				return nil, err
			}
			return kv.Elem().Interface(), nil
		}
	}
	switch kt.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(_, key []byte) (any, error) {
			n, err := strconv.ParseInt(string(key), 10, 64)
			if err != nil || kt.OverflowInt(n) {
				return nil, strconv.ErrRange
			}
			return n, nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(_, key []byte) (any, error) {
			n, err := strconv.ParseUint(string(key), 10, 64)
			if err != nil || kt.OverflowUint(n) {
				return nil, strconv.ErrRange
			}
			return n, nil
		}
	}
	return nil
}

var errKeyPanicked = errors.New("validate: map key type panicked")

// candidate is one JSON-visible field found while flattening embedded
// structs, before encoding/json's dominance rules pick one per name.
type candidate struct {
	name   string
	depth  int
	tagged bool
	f      *field
}

func (b *builder) structFields(n *node, t reflect.Type) {
	n.byGo = map[string]*field{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() && !sf.Anonymous {
			continue
		}
		n.byGo[sf.Name] = &field{json: fieldJSONName(sf), tag: sf.Tag.Get("validate"), node: b.node(sf.Type)}
		if name, tagged := fieldJSONTag(sf); sf.Anonymous && !tagged && name != "-" && derefKind(sf.Type) == reflect.Struct {
			n.byGo[sf.Name].json = ""
		}
	}
	var cands []candidate
	b.collect(t, 0, &cands, map[reflect.Type]bool{})
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
func (b *builder) collect(t reflect.Type, depth int, out *[]candidate, visiting map[reflect.Type]bool) {
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
			b.collect(ft, depth+1, out, visiting)
			continue
		}
		if !tagged {
			name = sf.Name
		}
		*out = append(*out, candidate{
			name: name, depth: depth, tagged: tagged,
			f: &field{json: name, tag: sf.Tag.Get("validate"), node: b.node(sf.Type)},
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
