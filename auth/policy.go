package auth

import (
	"fmt"
	"slices"
	"strings"
)

// Policy is a compiled authorization rule over a [Principal]'s scopes and
// roles. It is immutable and safe for concurrent use.
//
// The expression language:
//
//	expr    = term / expr "or" expr / expr "and" expr / "not" expr / "(" expr ")"
//	term    = NAME            ; granted as a scope or a role
//	        / "scope(" NAME ")" ; granted as a scope only
//	        / "role(" NAME ")"  ; a role only
//
// "and" binds tighter than "or"; "not" tighter than both. NAME is an OAuth
// scope token (RFC 6749 §3.3: printable ASCII except space, '"' and '\')
// without parentheses. Keywords are lower-case. Example:
//
//	orders:read and (orders:write or role(admin))
type Policy struct {
	src    string
	root   node
	scopes []string // scope-capable names, for the insufficient_scope challenge
}

type nodeKind uint8

const (
	nodeAny nodeKind = iota // scope or role
	nodeScope
	nodeRole
	nodeAnd
	nodeOr
	nodeNot
)

type node struct {
	kind nodeKind
	name string
	kids []node
}

const (
	maxPolicyLen   = 4096
	maxPolicyDepth = 32
)

// Compile parses expr into a [Policy]. Errors are [*ConfigError]s naming
// the position.
func Compile(expr string) (*Policy, error) {
	if len(expr) > maxPolicyLen {
		return nil, &ConfigError{Field: "policy", Reason: "longer than 4096 bytes"}
	}
	toks, err := tokenize(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{src: expr, toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, p.errorf("unexpected %q", p.toks[p.pos])
	}
	pol := &Policy{src: expr, root: root}
	collectScopes(root, &pol.scopes)
	return pol, nil
}

// RequireScopes returns a policy that needs every one of scopes.
func RequireScopes(scopes ...string) (*Policy, error) {
	return requireAll("scope", scopes)
}

// RequireRoles returns a policy that needs every one of roles.
func RequireRoles(roles ...string) (*Policy, error) {
	return requireAll("role", roles)
}

func requireAll(fn string, names []string) (*Policy, error) {
	if len(names) == 0 {
		return nil, &ConfigError{Field: "policy", Reason: "no " + fn + "s given: a policy that requires nothing is a mistake"}
	}
	parts := make([]string, len(names))
	for i, n := range names {
		if !validName(n) {
			return nil, &ConfigError{Field: "policy", Value: n, Reason: "not a valid " + fn + " name"}
		}
		parts[i] = fn + "(" + n + ")"
	}
	return Compile(strings.Join(parts, " and "))
}

// String returns the expression the policy was compiled from.
func (p *Policy) String() string { return p.src }

// Scopes returns the scope names that can satisfy the policy, as the
// insufficient_scope challenge lists them.
func (p *Policy) Scopes() []string { return slices.Clone(p.scopes) }

// Allows reports whether pr satisfies the policy. A nil principal satisfies
// nothing, not even "not x".
func (p *Policy) Allows(pr *Principal) bool {
	return pr != nil && eval(p.root, pr)
}

func eval(n node, pr *Principal) bool {
	switch n.kind {
	case nodeAny:
		return pr.HasScope(n.name) || pr.HasRole(n.name)
	case nodeScope:
		return pr.HasScope(n.name)
	case nodeRole:
		return pr.HasRole(n.name)
	case nodeAnd:
		for _, k := range n.kids {
			if !eval(k, pr) {
				return false
			}
		}
		return true
	case nodeOr:
		for _, k := range n.kids {
			if eval(k, pr) {
				return true
			}
		}
		return false
	case nodeNot:
		return !eval(n.kids[0], pr)
	}
	return false
}

func collectScopes(n node, out *[]string) {
	switch n.kind {
	case nodeAny, nodeScope:
		if !slices.Contains(*out, n.name) {
			*out = append(*out, n.name)
		}
	case nodeNot:
		// a negated name is never what a client should ask for
	default:
		for _, k := range n.kids {
			collectScopes(k, out)
		}
	}
}

// validName reports whether s is an RFC 6749 scope token without
// parentheses.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '(' || c == ')' {
			return false
		}
	}
	return true
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		default:
			j := i
			for j < len(s) && s[j] > 0x20 && s[j] < 0x7f && s[j] != '(' && s[j] != ')' && s[j] != '"' && s[j] != '\\' {
				j++
			}
			if j == i {
				return nil, &ConfigError{Field: "policy", Value: s, Reason: fmt.Sprintf("invalid character at byte %d", i)}
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	if len(toks) == 0 {
		return nil, &ConfigError{Field: "policy", Reason: "empty"}
	}
	return toks, nil
}

type parser struct {
	src  string
	toks []string
	pos  int
}

func (p *parser) errorf(format string, args ...any) error {
	return &ConfigError{Field: "policy", Value: p.src, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) or(depth int) (node, error) {
	left, err := p.and(depth)
	if err != nil {
		return node{}, err
	}
	kids := []node{left}
	for p.peek() == "or" {
		p.pos++
		right, err := p.and(depth)
		if err != nil {
			return node{}, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return node{kind: nodeOr, kids: kids}, nil
}

func (p *parser) and(depth int) (node, error) {
	left, err := p.unary(depth)
	if err != nil {
		return node{}, err
	}
	kids := []node{left}
	for p.peek() == "and" {
		p.pos++
		right, err := p.unary(depth)
		if err != nil {
			return node{}, err
		}
		kids = append(kids, right)
	}
	if len(kids) == 1 {
		return left, nil
	}
	return node{kind: nodeAnd, kids: kids}, nil
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxPolicyDepth {
		return node{}, p.errorf("nested deeper than %d", maxPolicyDepth)
	}
	t := p.peek()
	switch t {
	case "":
		return node{}, p.errorf("unexpected end of expression")
	case "not":
		p.pos++
		k, err := p.unary(depth + 1)
		if err != nil {
			return node{}, err
		}
		return node{kind: nodeNot, kids: []node{k}}, nil
	case "(":
		p.pos++
		n, err := p.or(depth + 1)
		if err != nil {
			return node{}, err
		}
		if p.peek() != ")" {
			return node{}, p.errorf("missing )")
		}
		p.pos++
		return n, nil
	case ")", "and", "or":
		return node{}, p.errorf("unexpected %q", t)
	}
	p.pos++
	if (t == "scope" || t == "role") && p.peek() == "(" {
		// p.toks[p.pos:] must start with "(" NAME ")".
		if p.pos+2 >= len(p.toks) || p.toks[p.pos+2] != ")" || !validName(p.toks[p.pos+1]) {
			return node{}, p.errorf("%s( must hold exactly one name", t)
		}
		name := p.toks[p.pos+1]
		p.pos += 3
		if t == "scope" {
			return node{kind: nodeScope, name: name}, nil
		}
		return node{kind: nodeRole, name: name}, nil
	}
	if t == "not" || t == "and" || t == "or" {
		return node{}, p.errorf("keyword %q used as a name", t)
	}
	return node{kind: nodeAny, name: t}, nil
}
