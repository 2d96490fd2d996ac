package claims

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Walk checks b exactly as [Decode] does (one JSON object, no duplicate or
// case-variant member names at any depth, valid UTF-8, numbers that fit a
// float64, bounded nesting, nothing after it) and, when it holds, calls fn
// with each top-level member's name and the JSON text of its value, in
// order. It builds nothing: a reader of a few known members (a DPoP proof)
// takes them from the text without a map. On a refusal fn may have been
// called for the members before the fault; the caller must then discard
// what it took.
func Walk(b []byte, fn func(name string, value []byte)) error {
	d := decoder{b: b}
	d.skipSpace()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return errJSONNotObject
	}
	if err := d.skipObject(0, fn); err != nil {
		return err
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return errJSONSyntax
	}
	return nil
}

// String returns the string a value from [Walk] holds, and whether it is
// a string. Without escapes it is the text itself, without a copy.
func String(value []byte) ([]byte, bool) {
	if len(value) < 2 || value[0] != '"' {
		return nil, false
	}
	inner := value[1 : len(value)-1]
	for _, c := range inner {
		if c == '\\' {
			d := decoder{b: value}
			s, err := d.string()
			return []byte(s), err == nil
		}
	}
	return inner, true
}

// Number returns the number a value from [Walk] holds, and whether it is
// a number.
func Number(value []byte) (float64, bool) {
	if len(value) == 0 || (value[0] != '-' && (value[0] < '0' || value[0] > '9')) {
		return 0, false
	}
	if f, ok := smallInt(value); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(string(value), 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// smallInt reads a plain non-negative integer of at most 15 digits, which
// a float64 holds exactly (strconv would give the same value).
func smallInt(b []byte) (float64, bool) {
	if len(b) == 0 || len(b) > 15 || (b[0] == '0' && len(b) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return float64(n), true
}

// skipObject checks the object at d.i like object does, calling fn (when
// not nil) for each member.
func (d *decoder) skipObject(depth int, fn func(string, []byte)) error {
	if depth > maxDepth {
		return errJSONDepth
	}
	d.i++ // '{'
	var seen memberSet
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return errJSONSyntax
		}
		k, err := d.name()
		if err != nil {
			return err
		}
		if !seen.add(k) {
			return errJSONDuplicate
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return errJSONSyntax
		}
		d.i++
		d.skipSpace()
		start := d.i
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		if fn != nil {
			fn(k, d.b[start:d.i])
		}
		d.skipSpace()
		if d.i >= len(d.b) {
			return errJSONSyntax
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// skip checks one value at d.i like value does, without building it.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return errJSONDepth
	}
	d.skipSpace()
	if d.i >= len(d.b) {
		return errJSONSyntax
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.skipObject(depth, nil)
	case c == '[':
		return d.skipArray(depth)
	case c == '"':
		return d.skipString()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		if _, ok := smallInt(d.b[start:d.scanDigits()]); ok {
			return nil
		}
		d.i = start
		_, err := d.number()
		return err
	}
	return errJSONSyntax
}

// scanDigits returns the end of the run of digits at d.i, and moves past it
// only when the number ends there (no fraction or exponent follows).
func (d *decoder) scanDigits() int {
	j := d.i
	for j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9' {
		j++
	}
	if j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E') {
		return d.i // not a plain integer: smallInt refuses the empty run
	}
	d.i = j
	return j
}

func (d *decoder) skipArray(depth int) error {
	d.i++ // '['
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return nil
	}
	for {
		if err := d.skip(depth + 1); err != nil {
			return err
		}
		d.skipSpace()
		if d.i >= len(d.b) {
			return errJSONSyntax
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// skipString checks a string like string does; only one with escapes is
// decoded (to check them).
func (d *decoder) skipString() error {
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			if !utf8.Valid(d.b[start:j]) {
				return errJSONUTF8
			}
			d.i = j + 1
			return nil
		case c == '\\':
			_, err := d.string()
			return err
		case c < 0x20:
			return errJSONSyntax
		}
	}
	return errJSONSyntax
}
