package validate

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeTree builds the value encoding/json (with UseNumber) decodes data
// into as an any: map[string]any, []any, string, json.Number, bool, nil.
// It reads only what the pre-pass accepted (one value, well-formed, valid
// UTF-8, no duplicate keys, within the depth), so it checks no syntax of
// its own; a string with an escape is unquoted by encoding/json itself.
// The plain strings and numbers of the tree share one copy of data.
// ok is false on anything unexpected, and the caller decodes with
// encoding/json instead.
func decodeTree(data []byte) (v any, ok bool) {
	// One copy of the text backs every plain string and number of the
	// tree: one allocation for all of them.
	t := treeReader{d: data, s: string(data)}
	v, ok = t.value()
	if !ok {
		return nil, false
	}
	t.space()
	return v, t.i == len(t.d)
}

type treeReader struct {
	d []byte
	s string // d as a string
	i int
}

func (t *treeReader) space() {
	for t.i < len(t.d) {
		switch t.d[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

func (t *treeReader) value() (any, bool) {
	t.space()
	if t.i >= len(t.d) {
		return nil, false
	}
	switch c := t.d[t.i]; {
	case c == '{':
		t.i++
		m := map[string]any{}
		t.space()
		if t.i < len(t.d) && t.d[t.i] == '}' {
			t.i++
			return m, true
		}
		for {
			t.space()
			k, ok := t.str()
			if !ok {
				return nil, false
			}
			t.space()
			if t.i >= len(t.d) || t.d[t.i] != ':' {
				return nil, false
			}
			t.i++
			v, ok := t.value()
			if !ok {
				return nil, false
			}
			m[k] = v
			t.space()
			if t.i >= len(t.d) {
				return nil, false
			}
			t.i++
			switch t.d[t.i-1] {
			case ',':
			case '}':
				return m, true
			default:
				return nil, false
			}
		}
	case c == '[':
		t.i++
		a := []any{}
		t.space()
		if t.i < len(t.d) && t.d[t.i] == ']' {
			t.i++
			return a, true
		}
		for {
			v, ok := t.value()
			if !ok {
				return nil, false
			}
			a = append(a, v)
			t.space()
			if t.i >= len(t.d) {
				return nil, false
			}
			t.i++
			switch t.d[t.i-1] {
			case ',':
			case ']':
				return a, true
			default:
				return nil, false
			}
		}
	case c == '"':
		s, ok := t.str()
		return s, ok
	case c == 't':
		return true, t.literal("true")
	case c == 'f':
		return false, t.literal("false")
	case c == 'n':
		return nil, t.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		start := t.i
		for t.i < len(t.d) {
			switch c := t.d[t.i]; {
			case '0' <= c && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				t.i++
				continue
			}
			break
		}
		return json.Number(t.s[start:t.i]), true
	}
	return nil, false
}

func (t *treeReader) literal(lit string) bool {
	if len(t.d)-t.i < len(lit) || string(t.d[t.i:t.i+len(lit)]) != lit {
		return false
	}
	t.i += len(lit)
	return true
}

// str reads a string token.
func (t *treeReader) str() (string, bool) {
	if t.i >= len(t.d) || t.d[t.i] != '"' {
		return "", false
	}
	start := t.i
	t.i++
	plain := true
	for t.i < len(t.d) {
		switch c := t.d[t.i]; {
		case c == '"':
			t.i++
			raw := t.d[start+1 : t.i-1]
			if plain && utf8.Valid(raw) {
				return t.s[start+1 : t.i-1], true
			}
			var s string
			if err := json.Unmarshal(t.d[start:t.i], &s); err != nil {
				return "", false
			}
			return s, true
		case c == '\\':
			plain = false
			t.i += 2
		case c < 0x20:
			return "", false
		default:
			t.i++
		}
	}
	return "", false
}
