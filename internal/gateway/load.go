package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigError is one problem in the configuration, with its line and the
// key path in YAML terms ("routes[1].methods[0]").
type ConfigError struct {
	Line int    // 0 when unknown
	Key  string // the key path
	Msg  string

	suggest string // for an unknown key: the key path it probably meant
}

func (e *ConfigError) Error() string {
	switch {
	case e.Line > 0 && e.Key != "":
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Key, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.Key != "":
		return fmt.Sprintf("%s: %s", e.Key, e.Msg)
	}
	return e.Msg
}

// LoadFile reads and checks a configuration file.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the operator names the config file
	if err != nil {
		return nil, err
	}
	return Parse(data, filepath.Dir(path))
}

// Parse decodes and checks a configuration. Relative paths resolve against
// dir. ${VAR} and ${VAR:-default} in string values are replaced from the
// environment first. Every problem found is returned in one pass, joined,
// each a [*ConfigError] with its line and key path, sorted by line.
func Parse(data []byte, dir string) (*Config, error) {
	cfg := &Config{dir: dir, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, syntaxError(err)
	}
	var errs []error
	if len(root.Content) > 0 {
		doc := root.Content[0]
		if doc.Kind != yaml.MappingNode {
			return nil, &ConfigError{Line: doc.Line, Msg: "the configuration must be a mapping of keys (listen:, routes:, …)"}
		}
		scalars := map[lineCol]scalar{}
		index(doc, "", cfg.lines, scalars)
		interpolate(doc, "", &errs)
		checkKeys(doc, reflect.TypeFor[Config](), "", &errs)
		if err := doc.Decode(cfg); err != nil {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				return nil, syntaxError(err)
			}
			for _, m := range te.Errors {
				errs = append(errs, typeError(m, scalars))
			}
		}
	}
	// A key that was misspelled or held a value of the wrong type is
	// already reported: the checks say nothing more about it (no
	// "required" for the key the misspelling meant).
	cfg.reported = map[string]bool{}
	for _, err := range errs {
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Key != "" {
			cfg.reported[ce.Key] = true
			if ce.suggest != "" {
				cfg.reported[ce.suggest] = true
			}
		}
	}
	errs = append(errs, cfg.check()...)
	if len(errs) > 0 {
		return nil, joinSorted(errs)
	}
	return cfg, nil
}

// joinSorted joins errs sorted by line and key, without duplicates.
func joinSorted(errs []error) error {
	slices.SortStableFunc(errs, func(a, b error) int {
		var x, y *ConfigError
		errors.As(a, &x)
		errors.As(b, &y)
		if x == nil || y == nil {
			return 0
		}
		return cmp.Or(cmp.Compare(x.Line, y.Line), cmp.Compare(x.Key, y.Key))
	})
	errs = slices.CompactFunc(errs, func(a, b error) bool { return a.Error() == b.Error() })
	return errors.Join(errs...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return &ConfigError{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	return &ConfigError{Line: line, Msg: "not valid YAML: " + m[2]}
}

type lineCol struct{ line, col int }

// index records the line of every key path, and the key path of every
// scalar by position, so that decoding errors can name their key.
// scalar is a scalar's key path and value, for placing decoding errors.
type scalar struct{ path, value string }

func index(n *yaml.Node, prefix string, lines map[string]int, scalars map[lineCol]scalar) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(prefix, n.Content[i].Value)
			lines[p] = n.Content[i].Line
			index(n.Content[i+1], p, lines, scalars)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := prefix + "[" + strconv.Itoa(i) + "]"
			lines[p] = c.Line
			index(c, p, lines, scalars)
		}
	case yaml.ScalarNode:
		scalars[lineCol{n.Line, n.Column}] = scalar{prefix, n.Value}
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

var envRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// interpolate replaces ${VAR} and ${VAR:-default} in every scalar value
// from the environment ("$$" is a literal "$"). An unset variable without
// a default is an error at its line; ${VAR:-default} also takes the
// default when VAR is empty, as in the shell.
func interpolate(n *yaml.Node, path string, errs *[]error) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			interpolate(n.Content[i+1], join(path, n.Content[i].Value), errs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			interpolate(c, path+"["+strconv.Itoa(i)+"]", errs)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		n.Value = envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			sm := envRE.FindStringSubmatch(m)
			v, set := os.LookupEnv(sm[1])
			switch {
			case sm[2] != "" && v == "":
				return sm[3]
			case !set:
				*errs = append(*errs, &ConfigError{Line: n.Line, Key: path, Msg: fmt.Sprintf("environment variable %s is not set (use ${%s:-default} for a default)", sm[1], sm[1])})
			}
			return v
		})
		// Resolve the type from the value it now has, quoted or not:
		// limit: "${LIMIT}" is a number when LIMIT is one.
		n.Tag, n.Style = "", 0
	}
}

// checkKeys reports every key that is not part of t, with a suggestion
// when one is close. It walks the same types the decoder fills.
func checkKeys(n *yaml.Node, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				ce := &ConfigError{Line: k.Line, Key: join(path, k.Value), Msg: "unknown key"}
				if s := closest(k.Value, fields); s != "" {
					ce.Msg += fmt.Sprintf(" (did you mean %s?)", s)
					ce.suggest = join(path, s)
				}
				*errs = append(*errs, ce)
				continue
			}
			checkKeys(n.Content[i+1], ft, join(path, k.Value), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
		}
	}
}

// yamlFields maps the YAML keys of struct t to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// closest returns the key of fields within two edits of k, if one is.
func closest(k string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	for name := range fields {
		if d := editDistance(k, name); d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var (
	typeErrRE   = regexp.MustCompile(`^line (\d+)(?::(\d+))?: (.*)$`)
	unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (.+)$")
)

// typeError turns a decoder message into a ConfigError in YAML terms,
// with the key found by the value's position (or its line).
func typeError(m string, scalars map[lineCol]scalar) error {
	sm := typeErrRE.FindStringSubmatch(m)
	if sm == nil {
		return &ConfigError{Msg: m}
	}
	line, _ := strconv.Atoi(sm[1])
	col, _ := strconv.Atoi(sm[2])
	msg := sm[3]
	key := scalars[lineCol{line, col}].path
	if u := unmarshalRE.FindStringSubmatch(msg); u != nil {
		msg = fmt.Sprintf("%q is not %s", u[2], describeType(u[3]))
		if key == "" {
			key = keyOnLine(line, u[2], scalars)
		}
	}
	return &ConfigError{Line: line, Key: key, Msg: msg}
}

// keyOnLine finds the key of the scalar on line with the value, when only
// one there has it.
func keyOnLine(line int, value string, scalars map[lineCol]scalar) string {
	var found []string
	for lc, s := range scalars {
		if lc.line == line && s.value == value {
			found = append(found, s.path)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return ""
}

// describeType names a Go type as the YAML value it expects.
func describeType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "gateway."), strings.HasPrefix(goType, "cli."):
		return "a mapping of keys"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "text"
	case goType == "time.Duration":
		return "a duration (e.g. 10s, 1m, 1d)"
	}
	return "a " + goType
}
