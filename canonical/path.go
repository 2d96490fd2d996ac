package canonical

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// byteClass says how a byte found as such (not percent-encoded) in a path is
// treated.
type byteClass uint8

const (
	// classEscape: kept as data, but written percent-encoded in the
	// canonical form (space, '"', '<', '>', '[', ']', '^', '`', '{', '|',
	// '}', and bytes of UTF-8 sequences).
	classEscape byteClass = iota
	// classUnreserved: ALPHA / DIGIT / "-" / "." / "_" / "~" (RFC 3986
	// §2.3). An escape of one of them is decoded.
	classUnreserved
	// classPlain: a sub-delim or ":" / "@", legal in a segment as it is.
	// An escape of one of them is kept escaped: RFC 3986 §2.2 says the two
	// forms are not equivalent.
	classPlain
	// classRefused: a backslash, NUL or another control character.
	classRefused
	// classPercent: the start of an escape.
	classPercent
)

var classes = func() (t [256]byteClass) {
	for c := range 256 {
		switch {
		case c < 0x20 || c == 0x7f || c == '\\':
			t[c] = classRefused
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			t[c] = classUnreserved
		case strings.IndexByte("!$&'()*+,;=:@", byte(c)) >= 0:
			t[c] = classPlain
		case c == '%':
			t[c] = classPercent
		default:
			t[c] = classEscape
		}
	}
	return t
}()

const upperHex = "0123456789ABCDEF"

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isCanonical reports, cheaply, whether p is certainly canonical already:
// only unreserved and plain bytes, no escapes, no empty segment (unless
// kept) and no segment that starts with a dot. Anything else takes the
// full walk, which may still find p canonical.
func isCanonical(p string, keepSlashes bool) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); i++ {
		c := p[i]
		if c == '/' {
			if !keepSlashes && p[i-1] == '/' {
				return false
			}
			continue
		}
		if cl := classes[c]; cl != classUnreserved && cl != classPlain {
			return false
		}
		if c == '.' && p[i-1] == '/' {
			return false
		}
	}
	return true
}

// clean returns the canonical escaped form of the escaped path p and what
// it decodes to. See the package documentation for the rules.
func clean(p string, keepSlashes bool) (escaped, decoded string, err error) {
	if isCanonical(p, keepSlashes) {
		return p, p, nil
	}
	if p == "" || p[0] != '/' {
		return "", "", ErrNotOriginForm
	}
	var (
		esc, dec   []string // the output segments, escaped and decoded
		trailing   bool     // the output ends with "/"
		scratchEsc []byte
		scratchDec []byte
	)
	rest := p[1:]
	for {
		raw, next, more := strings.Cut(rest, "/")
		var e, d string
		e, d, scratchEsc, scratchDec, err = segment(raw, scratchEsc[:0], scratchDec[:0])
		if err != nil {
			return "", "", err
		}
		trailing = false
		switch d {
		case ".":
			trailing = !more
		case "..":
			if len(esc) == 0 {
				return "", "", ErrAboveRoot
			}
			esc, dec = esc[:len(esc)-1], dec[:len(dec)-1]
			trailing = !more
		case "":
			if !more {
				trailing = true
			} else if keepSlashes {
				esc, dec = append(esc, ""), append(dec, "")
			}
		default:
			esc, dec = append(esc, e), append(dec, d)
		}
		if !more {
			break
		}
		rest = next
	}
	return join(esc, trailing), join(dec, trailing), nil
}

func join(segs []string, trailing bool) string {
	if len(segs) == 0 {
		return "/"
	}
	n := len(segs) + 1
	for _, s := range segs {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if trailing {
		b.WriteByte('/')
	}
	return b.String()
}

// segment returns the canonical escaped form of one raw path segment and
// what it decodes to, or the reason it is refused. esc and dec are scratch
// buffers, returned for reuse.
func segment(raw string, esc, dec []byte) (e, d string, escBuf, decBuf []byte, err error) {
	plain := true
	for i := 0; i < len(raw); i++ {
		if cl := classes[raw[i]]; cl != classUnreserved && cl != classPlain {
			plain = false
			break
		}
	}
	if plain {
		if j := strings.IndexByte(raw, ';'); j >= 0 && isDots(raw[:j]) {
			return "", "", esc, dec, ErrDotSegmentParameter
		}
		return raw, raw, esc, dec, nil
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch classes[c] {
		case classUnreserved, classPlain:
			esc, dec = append(esc, c), append(dec, c)
		case classRefused:
			if c == '\\' {
				return "", "", esc, dec, ErrBackslash
			}
			return "", "", esc, dec, ErrControl
		case classEscape:
			esc, dec = append(esc, '%', upperHex[c>>4], upperHex[c&15]), append(dec, c)
		case classPercent:
			if i+2 >= len(raw) {
				return "", "", esc, dec, ErrInvalidEscape
			}
			hi, ok1 := unhex(raw[i+1])
			lo, ok2 := unhex(raw[i+2])
			if !ok1 || !ok2 {
				return "", "", esc, dec, ErrInvalidEscape
			}
			i += 2
			v := hi<<4 | lo
			switch {
			case v == '/':
				return "", "", esc, dec, ErrEncodedSlash
			case v == '\\':
				return "", "", esc, dec, ErrBackslash
			case v < 0x20 || v == 0x7f:
				return "", "", esc, dec, ErrControl
			case classes[v] == classUnreserved:
				esc = append(esc, v)
			default:
				esc = append(esc, '%', upperHex[v>>4], upperHex[v&15])
			}
			dec = append(dec, v)
		}
	}
	if !utf8.Valid(dec) {
		return "", "", esc, dec, ErrInvalidUTF8
	}
	for i := 0; i+2 < len(dec); i++ {
		if dec[i] == '%' {
			if _, ok := unhex(dec[i+1]); ok {
				if _, ok := unhex(dec[i+2]); ok {
					return "", "", esc, dec, ErrDoubleEncoding
				}
			}
		}
	}
	if j := bytes.IndexByte(dec, ';'); j >= 0 && isDots(string(dec[:j])) {
		return "", "", esc, dec, ErrDotSegmentParameter
	}
	return string(esc), string(dec), esc, dec, nil
}

// isDots reports whether s is a dot-segment.
func isDots(s string) bool { return s == "." || s == ".." }
