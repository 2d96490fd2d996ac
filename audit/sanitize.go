package audit

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// truncMark ends a string that was cut at the length cap.
const truncMark = "…[truncated]"

// needsEscape reports whether r must not reach a log line as itself:
// C0 and C1 controls, DEL, invalid UTF-8, line and paragraph separators and
// every format character (Cf), which includes the bidirectional overrides
// and isolates (U+202A–U+202E, U+2066–U+2069) of "Trojan Source" and the
// zero-width characters.
func needsEscape(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError ||
		r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r)
}

// sanitize returns s with every character that [needsEscape] escaped as
// visible text (\x1b, \u202e) and the result cut to at most max bytes
// (plus [truncMark]). It does not allocate when s is printable ASCII within
// the cap, the common case.
func sanitize(s string, max int) string {
	clean := len(s) <= max
	if clean {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x7f {
				clean = false
				break
			}
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(min(len(s), max) + len(truncMark))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		var buf [10]byte
		switch {
		case r == utf8.RuneError && size <= 1:
			buf = [10]byte{'\\', 'x', hex[s[i]>>4], hex[s[i]&0xf]}
			piece = string(buf[:4])
			size = 1
		case needsEscape(r) && r < 0x100:
			buf = [10]byte{'\\', 'x', hex[r>>4], hex[r&0xf]}
			piece = string(buf[:4])
		case needsEscape(r):
			n := 2
			buf[0], buf[1] = '\\', 'u'
			for shift := 12; shift >= 0; shift -= 4 {
				buf[n] = hex[(r>>shift)&0xf]
				n++
			}
			if r > 0xffff {
				buf = [10]byte{'\\', 'U', hex[(r>>20)&0xf], hex[(r>>16)&0xf], hex[(r>>12)&0xf], hex[(r>>8)&0xf], hex[(r>>4)&0xf], hex[r&0xf]}
				n = 8
			}
			piece = string(buf[:n])
		default:
			piece = s[i : i+size]
		}
		if b.Len()+len(piece) > max {
			b.WriteString(truncMark)
			return b.String()
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}

// authSchemes are the HTTP authentication schemes whose credentials
// follow them in free text ("Bearer eyJ…").
var authSchemes = [...]string{"bearer", "basic", "digest", "negotiate"}

func isAuthScheme(w string) bool {
	for _, s := range authSchemes {
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// isValueEnd reports whether c ends a secret value in free text.
func isValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '&', ';', ',', '"', '\'', '\\', ')', ']', '}', '>':
		return true
	}
	return false
}

// scrub finds credentials in free text — an error string, a reason, a
// logged body that is not JSON — and replaces them with hide(secret):
// the credential after an authentication scheme ("Bearer …", "Basic …"),
// the userinfo of a URL ("https://user:pass@host"), and the value after a
// sensitive name ("password=…", "api_key: …", `"token":"…"`). It is a
// second line of defence behind emitters that keep secrets out of errors.
func (r *Redactor) scrub(s string) string {
	var b strings.Builder
	last := 0 // s[last:i] not yet copied
	redact := func(from, to int) {
		b.WriteString(s[last:from])
		b.WriteString(r.hide(s[from:to]))
		last = to
	}
	for i := 0; i < len(s); {
		// URL userinfo: "://" then user[:pass]@ before any '/'.
		if s[i] == ':' && strings.HasPrefix(s[i:], "://") {
			start := i + 3
			j := start
			for j < len(s) && !isValueEnd(s[j]) && s[j] != '/' && s[j] != '@' && s[j] != '?' && s[j] != '#' {
				j++
			}
			if j < len(s) && s[j] == '@' && j > start {
				redact(start, j)
			}
			i = j
			continue
		}
		if !isWordByte(s[i]) || (i > 0 && isWordByte(s[i-1])) {
			i++
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		word := s[i:j]
		switch {
		case isAuthScheme(word) && j+1 < len(s) && s[j] == ' ' && !isValueEnd(s[j+1]):
			k := j + 1
			for k < len(s) && !isValueEnd(s[k]) {
				k++
			}
			redact(j+1, k)
			j = k
		case r.sensitive(word):
			// separator: optional quotes/backslashes, then '=' or ':', then
			// optional spaces, quotes or backslashes.
			k := j
			for k < len(s) && (s[k] == '"' || s[k] == '\\' || s[k] == '\'') {
				k++
			}
			if k >= len(s) || (s[k] != '=' && s[k] != ':') {
				break
			}
			k++
			for k < len(s) && (s[k] == ' ' || s[k] == '"' || s[k] == '\\' || s[k] == '\'') {
				k++
			}
			v := k
			for k < len(s) && !isValueEnd(s[k]) {
				k++
			}
			// "Authorization: Bearer xyz": the scheme and its credential.
			if isAuthScheme(s[v:k]) && k+1 < len(s) && s[k] == ' ' {
				k++
				for k < len(s) && !isValueEnd(s[k]) {
					k++
				}
			}
			if k > v {
				redact(v, k)
			}
			j = k
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
