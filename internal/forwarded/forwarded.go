// Package forwarded parses the RFC 7239 Forwarded header without allocating.
//
// It is shared by clientip (the for= parameter) and headers (proto= and
// host=). Parsing is strict where strictness keeps an attacker from choosing
// the result: an element with a syntax error is reported as invalid rather
// than guessed at, and callers stop trusting the chain there.
package forwarded

// Element is one forwarded-element. Values are the raw parameter values with
// surrounding quotes removed; a value that needed unescaping (a quoted-pair)
// makes the element invalid, since no legitimate for/proto/host/by value
// contains one.
type Element struct {
	For, By, Host, Proto string
	// Valid is false when the element did not parse or repeated a
	// parameter (RFC 7239 §4: each parameter at most once per element).
	Valid bool
}

// Walk calls fn for each element of the header field values in order, first
// value first. It stops early when fn returns false. Each value is parsed on
// its own, so an unterminated quote in one value cannot swallow the
// elements a later proxy added as a separate header line.
func Walk(values []string, fn func(Element) bool) {
	for _, v := range values {
		for i := 0; i < len(v); {
			// RFC 9110 §5.6.1: recipients accept and ignore empty list
			// elements ("a, , b", a trailing comma, an empty line).
			i = skipOWS(v, i)
			if i >= len(v) {
				break
			}
			if v[i] == ',' {
				i++
				continue
			}
			e, next := parseElement(v, i)
			if !fn(e) {
				return
			}
			i = next
		}
	}
}

// Last returns the last element of the header field values, and whether
// there was one.
func Last(values []string) (Element, bool) {
	var last Element
	found := false
	Walk(values, func(e Element) bool {
		last, found = e, true
		return true
	})
	return last, found
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

func skipOWS(s string, i int) int {
	for i < len(s) && isOWS(s[i]) {
		i++
	}
	return i
}

// isTchar reports whether c is an RFC 9110 token character.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// skipToComma returns the index just past the next comma outside a quoted
// string, or len(s)+1 when there is none.
func skipToComma(s string, i int) int {
	inQuote := false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ',':
			return i + 1
		}
	}
	return len(s) + 1
}

// parseElement parses the non-empty element starting at s[i:] and returns
// it with the index of the next element (greater than len(s) after the last
// one). It always advances.
func parseElement(s string, i int) (Element, int) {
	var e Element
	seen := 0
	for {
		i = skipOWS(s, i)
		// token
		start := i
		for i < len(s) && isTchar(s[i]) {
			i++
		}
		name := s[start:i]
		if name == "" || i >= len(s) || s[i] != '=' {
			return Element{}, skipToComma(s, i)
		}
		i++
		var val string
		if i < len(s) && s[i] == '"' {
			i++
			start = i
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					return Element{}, skipToComma(s, i)
				}
				i++
			}
			if i >= len(s) {
				return Element{}, len(s) + 1
			}
			val = s[start:i]
			i++
		} else {
			start = i
			for i < len(s) && isTchar(s[i]) {
				i++
			}
			val = s[start:i]
			if val == "" {
				return Element{}, skipToComma(s, i)
			}
		}
		var bit int
		switch {
		case equalFold(name, "for"):
			e.For, bit = val, 1
		case equalFold(name, "by"):
			e.By, bit = val, 2
		case equalFold(name, "host"):
			e.Host, bit = val, 4
		case equalFold(name, "proto"):
			e.Proto, bit = val, 8
		}
		if seen&bit != 0 {
			return Element{}, skipToComma(s, i)
		}
		seen |= bit
		i = skipOWS(s, i)
		switch {
		case i >= len(s):
			e.Valid = true
			return e, len(s) + 1
		case s[i] == ',':
			e.Valid = true
			return e, i + 1
		case s[i] == ';':
			i++
		default:
			return Element{}, skipToComma(s, i)
		}
	}
}

// equalFold reports whether ASCII s equals lower-case t, ignoring case.
func equalFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
