// Package jsonstr appends JSON strings that are safe wherever they end up:
// in a response body a client might sniff as HTML, in a log line a terminal
// or a JavaScript viewer renders. problem and audit share it.
package jsonstr

import "unicode/utf8"

// Append appends s to b as a JSON string. It escapes quotes, backslashes,
// control characters, DEL, the HTML-significant <, > and &, and the
// JavaScript line separators U+2028 and U+2029, and replaces each byte of
// invalid UTF-8 with U+FFFD, as encoding/json does.
func Append(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
