package validate

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// limits are the pre-pass bounds taken from [Config].
type limits struct {
	depth, values, keys, str int
}

// seg is one step of the path to the value being scanned. A step whose name
// came from the client (a map key, a key of an untyped object) is opaque:
// pointers stop before it so that no submitted text reaches a response.
type seg struct {
	name   string
	index  int
	kind   uint8 // segName, segIndex, segOpaque
	parent *node
}

const (
	segName uint8 = iota
	segIndex
	segOpaque
)

// scanner is the strict pre-pass: one pass over a complete JSON document
// that accepts a subset of what encoding/json accepts, and refuses what
// encoding/json would silently tolerate. It never allocates on valid input
// with objects of up to smallObject keys; larger objects use a map.
type scanner struct {
	data   []byte
	pos    int
	lim    limits
	values int
	path   []seg
	keys   [][]byte // keys of the objects being scanned, innermost last
	unesc  []byte   // backing store for unescaped keys
}

const smallObject = 16

// scan checks data as one JSON document for the type described by root.
func (s *scanner) scan(data []byte, root *node) *InputError {
	s.data, s.pos, s.values = data, 0, 0
	s.path, s.keys, s.unesc = s.path[:0], s.keys[:0], s.unesc[:0]
	s.skipSpace()
	if s.pos == len(s.data) {
		return badRequest(ErrEmpty)
	}
	if bytes.HasPrefix(s.data[s.pos:], []byte("null")) {
		end := s.pos + 4
		if end == len(s.data) || isDelim(s.data[end]) {
			return badRequest(ErrNullBody)
		}
	}
	if err := s.value(root, 0); err != nil {
		return err
	}
	s.skipSpace()
	if s.pos != len(s.data) {
		return badRequest(ErrTrailingData)
	}
	return nil
}

func isDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ']', '}', '[', '{', '"':
		return true
	}
	return false
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) fail(sentinel error) *InputError {
	return badRequest(sentinel)
}

// failAt reports sentinel with the pointer of the current path.
func (s *scanner) failAt(sentinel error, rule, msg string) *InputError {
	return badRequest(sentinel, FieldError{Pointer: s.pointer(), Rule: rule, Message: msg})
}

// pointer renders the current path as a JSON Pointer, stopping at the first
// opaque step.
func (s *scanner) pointer() string {
	var b []byte
	for _, p := range s.path {
		switch p.kind {
		case segOpaque:
			return string(b)
		case segIndex:
			b = append(b, '/')
			b = strconv.AppendInt(b, int64(p.index), 10)
		default:
			b = appendPointerToken(append(b, '/'), p.name)
		}
	}
	return string(b)
}

func appendPointerToken(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '~':
			b = append(b, '~', '0')
		case '/':
			b = append(b, '~', '1')
		default:
			b = append(b, name[i])
		}
	}
	return b
}

func (s *scanner) value(n *node, depth int) *InputError {
	s.values++
	if s.values > s.lim.values {
		return s.fail(ErrTooManyValues)
	}
	if s.pos >= len(s.data) {
		return s.fail(ErrSyntax)
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		if depth >= s.lim.depth {
			return s.fail(ErrTooDeep)
		}
		return s.object(n, depth+1)
	case c == '[':
		if depth >= s.lim.depth {
			return s.fail(ErrTooDeep)
		}
		return s.array(n, depth+1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || ('0' <= c && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.fail(ErrSyntax)
}

func (s *scanner) literal(lit string) *InputError {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return s.fail(ErrSyntax)
	}
	s.pos += len(lit)
	return nil
}

func (s *scanner) number() *InputError {
	d, i := s.data, s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return s.fail(ErrSyntax)
	}
	if i < len(d) && d[i] == '.' {
		i++
		start := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == start {
			return s.fail(ErrSyntax)
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		start := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		if i == start {
			return s.fail(ErrSyntax)
		}
	}
	if i-s.pos > s.lim.str {
		return s.fail(ErrStringTooLong)
	}
	s.pos = i
	return nil
}

// str scans a string starting at the opening quote. It returns the raw
// contents between the quotes and whether they contain escapes.
func (s *scanner) str() (raw []byte, escaped bool, err *InputError) {
	d := s.data
	start := s.pos + 1
	i := start
	for {
		// Fast path: plain printable ASCII.
		for i < len(d) && d[i] >= 0x20 && d[i] < utf8.RuneSelf && d[i] != '"' && d[i] != '\\' {
			i++
		}
		if i-start > s.lim.str {
			return nil, false, s.fail(ErrStringTooLong)
		}
		if i >= len(d) {
			return nil, false, s.fail(ErrSyntax)
		}
		switch c := d[i]; {
		case c == '"':
			s.pos = i + 1
			return d[start:i], escaped, nil
		case c == '\\':
			escaped = true
			n, e := s.escape(i)
			if e != nil {
				return nil, false, e
			}
			i += n
		case c < 0x20:
			return nil, false, s.fail(ErrSyntax)
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false, s.fail(ErrInvalidUTF8)
			}
			i += size
		}
	}
}

// escape checks the escape sequence at d[i] == '\\' and returns its length.
// A \u escape of a surrogate must be a high surrogate immediately followed
// by a \u escape of a low one.
func (s *scanner) escape(i int) (int, *InputError) {
	d := s.data
	if i+1 >= len(d) {
		return 0, s.fail(ErrSyntax)
	}
	switch d[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
	default:
		return 0, s.fail(ErrSyntax)
	}
	r, ok := hex4(d, i+2)
	if !ok {
		return 0, s.fail(ErrSyntax)
	}
	if !utf16.IsSurrogate(r) {
		return 6, nil
	}
	if r >= 0xDC00 || i+7 >= len(d) || d[i+6] != '\\' || d[i+7] != 'u' {
		return 0, s.fail(ErrInvalidUTF8)
	}
	r2, ok := hex4(d, i+8)
	if !ok {
		return 0, s.fail(ErrSyntax)
	}
	if r2 < 0xDC00 || r2 > 0xDFFF {
		return 0, s.fail(ErrInvalidUTF8)
	}
	return 12, nil
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (s *scanner) array(n *node, depth int) *InputError {
	s.pos++ // [
	var elem *node
	if n != nil {
		elem = n.elem
	}
	s.path = append(s.path, seg{kind: segIndex})
	defer func() { s.path = s.path[:len(s.path)-1] }()
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil
	}
	for idx := 0; ; idx++ {
		s.path[len(s.path)-1].index = idx
		s.skipSpace()
		if err := s.value(elem, depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail(ErrSyntax)
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.fail(ErrSyntax)
		}
	}
}

func (s *scanner) object(n *node, depth int) *InputError {
	s.pos++ // {
	first := len(s.keys)
	var set map[string]struct{}
	var decoded map[any]struct{}  // keys as a non-string map key type decodes them
	var folds map[string]struct{} // keys case-folded, in an object of unknown shape
	s.path = append(s.path, seg{kind: segOpaque, parent: n})
	defer func() {
		s.path = s.path[:len(s.path)-1]
		s.keys = s.keys[:first]
	}()
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	for count := 1; ; count++ {
		if count > s.lim.keys {
			return s.fail(ErrTooManyKeys)
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.fail(ErrSyntax)
		}
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := raw
		if escaped {
			key = s.unescape(raw)
		}
		child, err := s.member(n, key)
		if err != nil {
			return err
		}
		// Duplicate check: linear for small objects, a set beyond.
		if set == nil {
			for _, k := range s.keys[first:] {
				if bytes.Equal(k, key) {
					return s.failAt(ErrDuplicateKey, "duplicate_key", "must appear only once")
				}
			}
			s.keys = append(s.keys, key)
			if len(s.keys)-first > smallObject {
				set = make(map[string]struct{}, 2*smallObject)
				for _, k := range s.keys[first:] {
					set[string(k)] = struct{}{}
				}
			}
		} else {
			if _, dup := set[string(key)]; dup {
				return s.failAt(ErrDuplicateKey, "duplicate_key", "must appear only once")
			}
			set[string(key)] = struct{}{}
		}
		// An object of no known shape (json.RawMessage, any) goes on to
		// code that decodes it some other way, most often into a struct by
		// encoding/json, which matches keys case-insensitively: "role" and
		// "ROLE" would be one field there, and the last would win.
		if n == nil || n.kind == kindAny {
			f := foldName(string(key))
			if folds == nil {
				folds = make(map[string]struct{}, 8)
			}
			if _, hit := folds[f]; hit {
				return s.failAt(ErrCaseVariantKey, "case_variant_key", "must not differ from another key only in case")
			}
			folds[f] = struct{}{}
		}
		// "1", "01" and "+1" are one key of a map[int]T; two spellings of
		// an address one netip.Addr: compare keys as the target decodes
		// them, or the last would silently win.
		if n != nil && n.mapKey != nil {
			k, kerr := n.mapKey(raw, key)
			if kerr != nil {
				return s.failAt(ErrType, "type", "has a key of the wrong type")
			}
			if decoded == nil {
				decoded = make(map[any]struct{})
			}
			if _, dup := decoded[k]; dup {
				return s.failAt(ErrDuplicateKey, "duplicate_key", "must appear only once")
			}
			decoded[k] = struct{}{}
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.fail(ErrSyntax)
		}
		s.pos++
		s.skipSpace()
		if err := s.value(child, depth); err != nil {
			return err
		}
		s.skipSpace()
		if s.pos >= len(s.data) {
			return s.fail(ErrSyntax)
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.fail(ErrSyntax)
		}
	}
}

// member resolves key against the object's type and sets the path step.
func (s *scanner) member(n *node, key []byte) (*node, *InputError) {
	top := &s.path[len(s.path)-1]
	if n == nil || n.kind != kindStruct {
		top.kind = segOpaque
		if n == nil || n.kind != kindMap {
			return nil, nil
		}
		return n.elem, nil
	}
	if f, ok := n.fields[string(key)]; ok {
		top.kind, top.name = segName, f.json
		return f.node, nil
	}
	top.kind = segOpaque
	if exact, ok := n.folded[foldName(string(key))]; ok {
		top.kind, top.name = segName, exact
		return nil, s.failAt(ErrCaseVariantKey, "case_variant_key", "must be spelled exactly as the field name")
	}
	return nil, s.failAt(ErrUnknownField, "unknown_field", "is not a field of this object")
}

// unescape decodes the escapes of a key already checked by str. The result
// lives in s.unesc until the scan ends.
func (s *scanner) unescape(raw []byte) []byte {
	start := len(s.unesc)
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			s.unesc = append(s.unesc, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			s.unesc = append(s.unesc, '\b')
		case 'f':
			s.unesc = append(s.unesc, '\f')
		case 'n':
			s.unesc = append(s.unesc, '\n')
		case 'r':
			s.unesc = append(s.unesc, '\r')
		case 't':
			s.unesc = append(s.unesc, '\t')
		case 'u':
			r, _ := hex4(raw, i+2)
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(raw, i+8)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			s.unesc = utf8.AppendRune(s.unesc, r)
			i += 6
			continue
		default: // " \ /
			s.unesc = append(s.unesc, raw[i+1])
		}
		i += 2
	}
	return s.unesc[start:len(s.unesc):len(s.unesc)]
}
