package claims

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The strict JSON decoder used for JOSE headers, JWT claims and
// introspection responses. It differs from encoding/json in what it
// refuses: duplicate member names, member names that are equal under
// Unicode simple case folding ("iss" and "ISS", which encoding/json would
// silently merge into one struct field), invalid UTF-8 (including in
// escapes: lone surrogates), numbers that do not fit a float64, nesting
// deeper than maxDepth, and anything after the value. Decoding produces the
// same shapes as encoding/json into an any: map[string]any, []any, string,
// float64, bool and nil.

const maxDepth = 32

// Decoding errors. Each is also an [ErrJSON], for callers that only need to
// know the document was refused.
var (
	// ErrJSON is what every decoding error wraps.
	ErrJSON = errors.New("claims: invalid JSON")

	errJSONSyntax    = fmt.Errorf("%w: syntax", ErrJSON)
	errJSONDuplicate = fmt.Errorf("%w: duplicate or case-variant member", ErrJSON)
	errJSONUTF8      = fmt.Errorf("%w: invalid UTF-8", ErrJSON)
	errJSONDepth     = fmt.Errorf("%w: nested too deeply", ErrJSON)
	errJSONNotObject = fmt.Errorf("%w: not an object", ErrJSON)
)

// Decode decodes b, which must hold exactly one JSON object.
func Decode(b []byte) (map[string]any, error) {
	d := decoder{b: b}
	d.skipSpace()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return nil, errJSONNotObject
	}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.i != len(d.b) {
		return nil, errJSONSyntax
	}
	return v.(map[string]any), nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) skipSpace() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, errJSONDepth
	}
	d.skipSpace()
	if d.i >= len(d.b) {
		return nil, errJSONSyntax
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		return d.string()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, errJSONSyntax
}

func (d *decoder) literal(s string) error {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return errJSONSyntax
	}
	d.i += len(s)
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	d.i++ // '{'
	m := make(map[string]any, 8)
	var seen memberSet
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return m, nil
	}
	for {
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, errJSONSyntax
		}
		k, err := d.name()
		if err != nil {
			return nil, err
		}
		if !seen.add(k) {
			return nil, errJSONDuplicate
		}
		d.skipSpace()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, errJSONSyntax
		}
		d.i++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, errJSONSyntax
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, nil
		default:
			return nil, errJSONSyntax
		}
	}
}

// name decodes a member name. The names JOSE headers, access tokens and
// introspection responses use are returned as constants, which saves an allocation for each.
func (d *decoder) name() (string, error) {
	if end := d.i + 1 + 10; end <= len(d.b) {
		// Fast path: a short name without escapes, followed by '"'.
		for j := d.i + 1; j < end; j++ {
			if c := d.b[j]; c == '"' {
				if s, ok := commonName(d.b[d.i+1 : j]); ok {
					d.i = j + 1
					return s, nil
				}
				break
			} else if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
		}
	}
	return d.string()
}

func commonName(b []byte) (string, bool) {
	switch string(b) { // no allocation: the compiler compares in place
	case "alg":
		return "alg", true
	case "kid":
		return "kid", true
	case "typ":
		return "typ", true
	case "iss":
		return "iss", true
	case "sub":
		return "sub", true
	case "aud":
		return "aud", true
	case "exp":
		return "exp", true
	case "nbf":
		return "nbf", true
	case "iat":
		return "iat", true
	case "jti":
		return "jti", true
	case "sid":
		return "sid", true
	case "scope":
		return "scope", true
	case "scp":
		return "scp", true
	case "roles":
		return "roles", true
	case "client_id":
		return "client_id", true
	case "auth_time":
		return "auth_time", true
	case "azp":
		return "azp", true
	case "acr":
		return "acr", true
	case "amr":
		return "amr", true
	case "active":
		return "active", true
	case "username":
		return "username", true
	// DPoP proofs (RFC 9449) and their jwk (RFC 7517)
	case "jwk":
		return "jwk", true
	case "htm":
		return "htm", true
	case "htu":
		return "htu", true
	case "ath":
		return "ath", true
	case "nonce":
		return "nonce", true
	case "crit":
		return "crit", true
	case "b64":
		return "b64", true
	case "kty":
		return "kty", true
	case "crv":
		return "crv", true
	case "x":
		return "x", true
	case "y":
		return "y", true
	case "n":
		return "n", true
	case "e":
		return "e", true
	}
	return "", false
}

// memberSet records the member names of one object and refuses a name
// equal to an earlier one under Unicode simple case folding (which covers
// exact duplicates). The first few names are compared pairwise from an
// array on the stack; past that, through a set of folded names, so a
// hostile object of thousands of members costs linear time.
type memberSet struct {
	small  [8]string
	n      int
	folded map[string]struct{}
}

func (s *memberSet) add(k string) bool {
	if s.folded == nil {
		ascii := isASCII(k)
		for _, name := range s.small[:s.n] {
			// Two ASCII names fold equal only if of the same length; with
			// non-ASCII it differs (U+212A KELVIN SIGN is three bytes, 'k'
			// one).
			if (len(name) == len(k) || !ascii || !isASCII(name)) && strings.EqualFold(name, k) {
				return false
			}
		}
		if s.n < len(s.small) {
			s.small[s.n] = k
			s.n++
			return true
		}
		s.folded = make(map[string]struct{}, 4*len(s.small))
		for _, name := range s.small {
			s.folded[foldKey(name)] = struct{}{}
		}
	}
	fk := foldKey(k)
	if _, dup := s.folded[fk]; dup {
		return false
	}
	s.folded[fk] = struct{}{}
	return true
}

// foldKey maps s to a canonical form such that foldKey(a) == foldKey(b)
// exactly when a and b are equal under Unicode simple case folding: each
// rune is replaced by the smallest rune of its folding orbit.
func foldKey(s string) string {
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 'a' && c <= 'z' {
				return asciiUpper(s)
			}
		}
		return s
	}
	out := make([]rune, 0, len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		out = append(out, m)
	}
	return string(out)
}

// asciiUpper upper-cases ASCII letters: the smallest rune of the orbit of
// 'k' is 'K' (U+212A KELVIN SIGN is larger), and likewise for every ASCII
// letter, so this agrees with foldKey's rule.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func (d *decoder) array(depth int) (any, error) {
	d.i++ // '['
	a := make([]any, 0, 4)
	d.skipSpace()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return a, nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.i >= len(d.b) {
			return nil, errJSONSyntax
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return a, nil
		default:
			return nil, errJSONSyntax
		}
	}
}

// string decodes a JSON string starting at the opening quote.
func (d *decoder) string() (string, error) {
	d.i++ // '"'
	start := d.i
	// Fast path: no escapes.
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !utf8.Valid(s) {
				return "", errJSONUTF8
			}
			return string(s), nil
		case c == '\\':
			return d.slowString(start)
		case c < 0x20:
			return "", errJSONSyntax
		}
		d.i++
	}
	return "", errJSONSyntax
}

func (d *decoder) slowString(start int) (string, error) {
	out := make([]byte, 0, d.i-start+16)
	out = append(out, d.b[start:d.i]...)
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			if !utf8.Valid(out) {
				return "", errJSONUTF8
			}
			return string(out), nil
		case c < 0x20:
			return "", errJSONSyntax
		case c != '\\':
			out = append(out, c)
			d.i++
			continue
		}
		d.i++ // '\\'
		if d.i >= len(d.b) {
			return "", errJSONSyntax
		}
		e := d.b[d.i]
		d.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", errJSONSyntax
			}
			if utf16.IsSurrogate(r) {
				// Must be a high surrogate followed by \u and a low one.
				if r >= 0xdc00 || d.i+1 >= len(d.b) || d.b[d.i] != '\\' || d.b[d.i+1] != 'u' {
					return "", errJSONUTF8
				}
				d.i += 2
				r2, ok := d.hex4()
				if !ok {
					return "", errJSONSyntax
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					return "", errJSONUTF8
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errJSONSyntax
		}
	}
	return "", errJSONSyntax
}

func (d *decoder) hex4() (rune, bool) {
	if len(d.b)-d.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.b[d.i : d.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.i += 4
	return r, true
}

// number checks the JSON number grammar (RFC 8259 §6) and converts it.
func (d *decoder) number() (any, error) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && d.b[d.i] >= '1' && d.b[d.i] <= '9':
		d.digits()
	default:
		return nil, errJSONSyntax
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, errJSONSyntax
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, errJSONSyntax
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, errJSONSyntax
	}
	return f, nil
}

func (d *decoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}
