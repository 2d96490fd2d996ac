// Package token checks RFC 9110 tokens (§5.6.2), the syntax of header
// field names, for the packages that take header names from configuration.
package token

// Valid reports whether s is an RFC 9110 token: one or more of
// A-Z a-z 0-9 ! # $ % & ' * + - . ^ _ ` | ~.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
