package headers

import (
	"strings"
)

// CSPDirective is the name of a Content-Security-Policy directive.
type CSPDirective string

// Directives understood by [ParseCSP] and [CSPBuilder]. A policy naming any
// other directive is refused: browsers ignore unknown directives, so a typo
// such as "defualt-src" would silently leave the policy open.
const (
	DefaultSrc              CSPDirective = "default-src"
	ScriptSrc               CSPDirective = "script-src"
	ScriptSrcElem           CSPDirective = "script-src-elem"
	ScriptSrcAttr           CSPDirective = "script-src-attr"
	StyleSrc                CSPDirective = "style-src"
	StyleSrcElem            CSPDirective = "style-src-elem"
	StyleSrcAttr            CSPDirective = "style-src-attr"
	ImgSrc                  CSPDirective = "img-src"
	FontSrc                 CSPDirective = "font-src"
	ConnectSrc              CSPDirective = "connect-src"
	MediaSrc                CSPDirective = "media-src"
	ObjectSrc               CSPDirective = "object-src"
	FrameSrc                CSPDirective = "frame-src"
	ChildSrc                CSPDirective = "child-src"
	WorkerSrc               CSPDirective = "worker-src"
	ManifestSrc             CSPDirective = "manifest-src"
	FencedFrameSrc          CSPDirective = "fenced-frame-src"
	BaseURI                 CSPDirective = "base-uri"
	FormAction              CSPDirective = "form-action"
	FrameAncestors          CSPDirective = "frame-ancestors"
	Sandbox                 CSPDirective = "sandbox"
	UpgradeInsecureRequests CSPDirective = "upgrade-insecure-requests"
	ReportURI               CSPDirective = "report-uri"
	ReportTo                CSPDirective = "report-to"
	RequireTrustedTypesFor  CSPDirective = "require-trusted-types-for"
	TrustedTypes            CSPDirective = "trusted-types"
)

// CSPSource is one source expression of a directive: a quoted keyword such
// as [Self], a scheme ("https:"), a host ("https://cdn.example.com"), a
// hash ("'sha256-…'") or the per-request nonce placeholder [NonceSource].
type CSPSource string

// Keyword sources. They are quoted, as CSP requires: a bare self is a host
// name, and a policy containing one is refused as a mistake.
const (
	Self           CSPSource = "'self'"
	None           CSPSource = "'none'"
	StrictDynamic  CSPSource = "'strict-dynamic'"
	UnsafeInline   CSPSource = "'unsafe-inline'"
	UnsafeEval     CSPSource = "'unsafe-eval'"
	UnsafeHashes   CSPSource = "'unsafe-hashes'"
	WasmUnsafeEval CSPSource = "'wasm-unsafe-eval'"
	ReportSample   CSPSource = "'report-sample'"

	// NonceSource is replaced in each response by 'nonce-<value>', the
	// value [Nonce] returns for the request. It is bulwark's placeholder,
	// not CSP syntax.
	NonceSource CSPSource = "'nonce'"
)

type directiveKind uint8

const (
	kindSources   directiveKind = iota // a source list
	kindAncestors                      // frame-ancestors: no script keywords
	kindNoValue                        // upgrade-insecure-requests
	kindTokens                         // sandbox, report-to, trusted types: tokens
	kindURIs                           // report-uri
)

func directiveKindOf(name string) (directiveKind, bool) {
	switch CSPDirective(name) {
	case DefaultSrc, ScriptSrc, ScriptSrcElem, ScriptSrcAttr, StyleSrc, StyleSrcElem, StyleSrcAttr,
		ImgSrc, FontSrc, ConnectSrc, MediaSrc, ObjectSrc, FrameSrc, ChildSrc, WorkerSrc, ManifestSrc,
		FencedFrameSrc, BaseURI, FormAction:
		return kindSources, true
	case FrameAncestors:
		return kindAncestors, true
	case UpgradeInsecureRequests:
		return kindNoValue, true
	case Sandbox, ReportTo, RequireTrustedTypesFor, TrustedTypes:
		return kindTokens, true
	case ReportURI:
		return kindURIs, true
	}
	return 0, false
}

// Directive is one directive of a [CSP]: a name and its values.
type Directive struct {
	Name   CSPDirective
	Values []CSPSource
}

// CSP is a validated Content-Security-Policy. Obtain one from [ParseCSP] or
// [CSPBuilder.Build]; the zero value is the empty policy. A CSP is immutable
// and safe for concurrent use.
type CSP struct {
	directives []Directive
}

// String returns the policy in canonical form: directives in order,
// separated by "; ", values separated by single spaces, directive names and
// keywords in lower case. ParseCSP(c.String()) returns an equal policy.
func (c CSP) String() string {
	var b strings.Builder
	for i, d := range c.directives {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(string(d.Name))
		for _, v := range d.Values {
			b.WriteByte(' ')
			b.WriteString(string(v))
		}
	}
	return b.String()
}

// Directives returns a copy of the policy's directives.
func (c CSP) Directives() []Directive {
	out := make([]Directive, len(c.directives))
	for i, d := range c.directives {
		out[i] = Directive{Name: d.Name, Values: append([]CSPSource(nil), d.Values...)}
	}
	return out
}

// Lookup returns a copy of the values of directive name and whether the
// policy has it.
func (c CSP) Lookup(name CSPDirective) ([]CSPSource, bool) {
	for _, d := range c.directives {
		if d.Name == name {
			return append([]CSPSource(nil), d.Values...), true
		}
	}
	return nil, false
}

// ParseCSP parses and validates a serialized policy. It accepts what
// browsers accept, and refuses, with a [*CSPError], what browsers would
// silently ignore or misread: unknown or repeated directives, unquoted
// keywords ("self"), 'none' beside other sources, malformed nonces and
// hashes, and characters that are not allowed in a policy.
func ParseCSP(s string) (CSP, error) {
	var ds []Directive
	for len(s) > 0 {
		var tok string
		tok, s, _ = strings.Cut(s, ";")
		tok = trimASCIISpace(tok)
		if tok == "" {
			continue // empty directive: allowed by the grammar
		}
		name, rest := cutSpace(tok)
		var vals []CSPSource
		for rest != "" {
			var v string
			v, rest = cutSpace(rest)
			vals = append(vals, CSPSource(v))
		}
		ds = append(ds, Directive{Name: CSPDirective(name), Values: vals})
	}
	return buildCSP(ds)
}

// CSPBuilder assembles a [CSP] directive by directive. The zero value is an
// empty builder. Errors are reported once, by [CSPBuilder.Build].
type CSPBuilder struct {
	directives []Directive
}

// Set adds directive name with the given sources, replacing an earlier Set
// of the same directive. It returns b for chaining.
func (b *CSPBuilder) Set(name CSPDirective, sources ...CSPSource) *CSPBuilder {
	d := Directive{Name: name, Values: append([]CSPSource(nil), sources...)}
	for i := range b.directives {
		if b.directives[i].Name == name {
			b.directives[i] = d
			return b
		}
	}
	b.directives = append(b.directives, d)
	return b
}

// Build validates the directives, as [ParseCSP] would, and returns the
// policy.
func (b *CSPBuilder) Build() (CSP, error) {
	ds := make([]Directive, len(b.directives))
	for i, d := range b.directives {
		ds[i] = Directive{Name: d.Name, Values: append([]CSPSource(nil), d.Values...)}
	}
	return buildCSP(ds)
}

// buildCSP validates and canonicalizes ds, which it owns.
func buildCSP(ds []Directive) (CSP, error) {
	seen := make(map[CSPDirective]bool, len(ds))
	for i := range ds {
		d := &ds[i]
		name := string(d.Name)
		if !isDirectiveName(name) {
			return CSP{}, &CSPError{Directive: name, Reason: "not a directive name"}
		}
		name = strings.ToLower(name)
		d.Name = CSPDirective(name)
		kind, ok := directiveKindOf(name)
		if !ok {
			return CSP{}, &CSPError{Directive: name, Reason: "unknown directive"}
		}
		if seen[d.Name] {
			return CSP{}, &CSPError{Directive: name, Reason: "directive repeated; browsers ignore all but the first"}
		}
		seen[d.Name] = true
		for j, v := range d.Values {
			if !isValueChars(string(v)) {
				return CSP{}, &CSPError{Directive: name, Value: string(v), Reason: "value contains a character not allowed in a policy"}
			}
			if kind == kindSources || kind == kindAncestors {
				canon, reason := checkSource(kind, string(v))
				if reason != "" {
					return CSP{}, &CSPError{Directive: name, Value: string(v), Reason: reason}
				}
				d.Values[j] = CSPSource(canon)
			}
		}
		switch kind {
		case kindSources, kindAncestors:
			if len(d.Values) == 0 {
				return CSP{}, &CSPError{Directive: name, Reason: "empty source list; write 'none' to allow nothing"}
			}
			if len(d.Values) > 1 {
				for _, v := range d.Values {
					if v == None {
						return CSP{}, &CSPError{Directive: name, Value: string(v), Reason: "'none' combined with other sources is ignored by browsers"}
					}
				}
			}
		case kindNoValue:
			if len(d.Values) > 0 {
				return CSP{}, &CSPError{Directive: name, Value: string(d.Values[0]), Reason: "directive takes no value"}
			}
		case kindURIs:
			if len(d.Values) == 0 {
				return CSP{}, &CSPError{Directive: name, Reason: "needs at least one URI"}
			}
		case kindTokens:
			if d.Name != Sandbox && len(d.Values) == 0 {
				return CSP{}, &CSPError{Directive: name, Reason: "needs a value"}
			}
		}
	}
	return CSP{directives: ds}, nil
}

var cspKeywords = [...]CSPSource{Self, None, StrictDynamic, UnsafeInline, UnsafeEval, UnsafeHashes,
	WasmUnsafeEval, ReportSample, NonceSource, "'unsafe-allow-redirects'", "'inline-speculation-rules'",
	"'trusted-types-eval'", "'report-sha256'"}

// checkSource validates one source expression and returns its canonical
// spelling, or a reason it is refused.
func checkSource(kind directiveKind, v string) (string, string) {
	if v[0] == '\'' {
		if len(v) < 3 || v[len(v)-1] != '\'' {
			return "", "unterminated quoted source"
		}
		inner := v[1 : len(v)-1]
		for _, k := range cspKeywords {
			if strings.EqualFold(v, string(k)) {
				lk := strings.ToLower(v)
				if kind == kindAncestors && CSPSource(lk) != Self && CSPSource(lk) != None {
					return "", "frame-ancestors accepts only 'self', 'none', schemes and hosts"
				}
				return lk, ""
			}
		}
		if kind == kindAncestors {
			return "", "frame-ancestors accepts only 'self', 'none', schemes and hosts"
		}
		alg, val, ok := strings.Cut(inner, "-")
		if !ok {
			return "", "unknown keyword"
		}
		switch strings.ToLower(alg) {
		case "nonce":
			if len(val) < 16 || !isBase64Value(val) {
				return "", "a nonce must be at least 16 base64 characters"
			}
		case "sha256", "sha384", "sha512":
			if !isBase64Value(val) {
				return "", "a hash must be base64"
			}
		default:
			return "", "unknown keyword"
		}
		return "'" + strings.ToLower(alg) + "-" + val + "'", ""
	}
	if v == "*" {
		return v, ""
	}
	lower := strings.ToLower(v)
	for _, k := range cspKeywords {
		if lower == string(k[1:len(k)-1]) {
			return "", "keyword must be quoted, as in " + string(k)
		}
	}
	if isSchemeSource(v) {
		return v, ""
	}
	if !isHostSource(v) {
		return "", "not a scheme, host or keyword source"
	}
	return v, ""
}

// isSchemeSource reports whether v is scheme ":" with RFC 3986 scheme.
func isSchemeSource(v string) bool {
	if len(v) < 2 || v[len(v)-1] != ':' || !isAlpha(v[0]) {
		return false
	}
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isHostSource reports whether v matches CSP3's host-source:
// [ scheme "://" ] host-part [ ":" port-part ] [ path-part ].
func isHostSource(v string) bool {
	if i := strings.Index(v, "://"); i >= 0 {
		if !isSchemeSource(v[:i+1]) {
			return false
		}
		v = v[i+3:]
	}
	end := len(v)
	if i := strings.IndexByte(v, '/'); i >= 0 {
		end = i
	}
	hostport, path := v[:end], v[end:]
	host, port, hasPort := strings.Cut(hostport, ":")
	if hasPort {
		if port != "*" {
			if port == "" {
				return false
			}
			for i := 0; i < len(port); i++ {
				if !isDigit(port[i]) {
					return false
				}
			}
		}
	}
	if host != "*" {
		host = strings.TrimPrefix(host, "*.")
		if host == "" {
			return false
		}
		for _, label := range strings.Split(host, ".") {
			if label == "" {
				return false
			}
			for i := 0; i < len(label); i++ {
				if c := label[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
					return false
				}
			}
		}
	}
	for i := 0; i < len(path); i++ {
		if c := path[i]; c == ',' || c == ';' {
			return false
		}
	}
	return true
}

func isBase64Value(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 || len(s)-n > 2 {
		return false
	}
	for i := 0; i < n; i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isDirectiveName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return s != ""
}

// isValueChars reports whether s is a non-empty run of the characters CSP
// allows in a directive value token (visible ASCII but ";" and ",").
func isValueChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == ';' || c == ',' {
			return false
		}
	}
	return s != ""
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func trimASCIISpace(s string) string {
	for s != "" && isASCIISpace(s[0]) {
		s = s[1:]
	}
	for s != "" && isASCIISpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// cutSpace returns the first whitespace-separated token of s (which has no
// leading whitespace) and the rest with its leading whitespace removed.
func cutSpace(s string) (string, string) {
	i := 0
	for i < len(s) && !isASCIISpace(s[i]) {
		i++
	}
	return s[:i], trimASCIISpace(s[i:])
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
