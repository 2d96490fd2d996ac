package openapi

import (
	"errors"
	"net/url"
	"strings"
)

// pathEntry is one path of the document with its operations.
type pathEntry struct {
	template string
	segs     []segment
	nParams  int
	methods  map[string]*operation // upper-case method -> operation
	allow    string
}

// segment is one segment of a path template: a literal, or a parameter
// with an optional literal prefix and suffix ("{name}.json").
type segment struct {
	lit            string
	param          string
	prefix, suffix string
}

func parseTemplate(tmpl string) ([]segment, error) {
	if !strings.HasPrefix(tmpl, "/") {
		return nil, errors.New(`path must start with "/"`)
	}
	var segs []segment
	for raw := range strings.SplitSeq(tmpl[1:], "/") {
		open := strings.IndexByte(raw, '{')
		if open < 0 {
			if strings.ContainsRune(raw, '}') {
				return nil, errors.New(`path segment has "}" without "{"`)
			}
			lit, err := url.PathUnescape(raw)
			if err != nil {
				return nil, errors.New("path segment is not a valid escaped segment")
			}
			segs = append(segs, segment{lit: lit})
			continue
		}
		end := strings.IndexByte(raw, '}')
		if end < open || strings.Count(raw, "{") != 1 || strings.Count(raw, "}") != 1 {
			return nil, errors.New("a path segment with more than one parameter is not supported")
		}
		name := raw[open+1 : end]
		if name == "" {
			return nil, errors.New("path parameter has no name")
		}
		segs = append(segs, segment{param: name, prefix: raw[:open], suffix: raw[end+1:]})
	}
	return segs, nil
}

// match finds the operation for the request's path segments (percent-
// decoded) and method. It returns the matched entry, or nil with the Allow
// list of the paths that matched without the method.
func (s *Spec) match(segs []string, method string) (*pathEntry, *operation, map[string]string, string) {
	var allow []string
	for _, e := range s.paths {
		if len(e.segs) != len(segs) {
			continue
		}
		params, ok := e.matchSegs(segs)
		if !ok {
			continue
		}
		if op := e.methods[method]; op != nil {
			return e, op, params, ""
		}
		allow = append(allow, e.allow)
	}
	return nil, nil, nil, strings.Join(allow, ", ")
}

func (e *pathEntry) matchSegs(segs []string) (map[string]string, bool) {
	var params map[string]string
	for i, sg := range e.segs {
		v := segs[i]
		if sg.param == "" {
			if v != sg.lit {
				return nil, false
			}
			continue
		}
		if len(v) <= len(sg.prefix)+len(sg.suffix) || !strings.HasPrefix(v, sg.prefix) || !strings.HasSuffix(v, sg.suffix) {
			return nil, false
		}
		if params == nil {
			params = make(map[string]string, e.nParams)
		}
		params[sg.param] = v[len(sg.prefix) : len(v)-len(sg.suffix)]
	}
	return params, true
}

// splitPath splits an escaped request path into percent-decoded segments
// after the base path. It reports false for a path that cannot match any
// operation: not absolute, badly escaped, with a "." or ".." segment, or
// outside the base path.
func (s *Spec) splitPath(escaped string) ([]string, bool) {
	if !strings.HasPrefix(escaped, "/") {
		return nil, false
	}
	raw := strings.Split(escaped[1:], "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		v := r
		if strings.IndexByte(r, '%') >= 0 {
			var err error
			if v, err = url.PathUnescape(r); err != nil {
				return nil, false
			}
		}
		if v == "." || v == ".." {
			return nil, false
		}
		segs[i] = v
	}
	if len(segs) < len(s.base) {
		return nil, false
	}
	for i, b := range s.base {
		if segs[i] != b {
			return nil, false
		}
	}
	return segs[len(s.base):], true
}
