package openapi

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkRefs finds the first $ref of the document that is not local or
// does not resolve, with its line and the JSON Pointer of the $ref itself.
// It reports a document that is not YAML (JSON is YAML) the same way.
func checkRefs(data []byte) (line int, where, reason string) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return 0, "", "does not parse: " + err.Error()
	}
	if len(root.Content) == 0 {
		return 0, "", "is empty"
	}
	doc := root.Content[0]
	var walk func(n *yaml.Node, ptr string, depth int) bool
	walk = func(n *yaml.Node, ptr string, depth int) bool {
		if depth > 200 {
			line, where, reason = n.Line, ptr, "nests too deeply"
			return false
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := ptr + "/" + escapeToken(k.Value)
				if k.Value == "$ref" && v.Kind == yaml.ScalarNode {
					if !strings.HasPrefix(v.Value, "#") {
						line, where, reason = v.Line, p, fmt.Sprintf("$ref %q is not local: only \"#/…\" references are read", v.Value)
						return false
					}
					if resolveNode(doc, v.Value[1:]) == nil {
						line, where, reason = v.Line, p, fmt.Sprintf("$ref %q does not resolve", v.Value)
						return false
					}
					continue
				}
				if !walk(v, p, depth+1) {
					return false
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if !walk(c, ptr+"/"+strconv.Itoa(i), depth+1) {
					return false
				}
			}
		case yaml.AliasNode:
			// Aliases point at nodes already walked (or being walked).
		}
		return true
	}
	walk(doc, "", 0)
	return line, where, reason
}

// resolveNode follows a JSON Pointer ("" or "/a/b") through a YAML tree.
func resolveNode(n *yaml.Node, ptr string) *yaml.Node {
	if ptr == "" {
		return n
	}
	if !strings.HasPrefix(ptr, "/") {
		return nil
	}
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		tok = unescapeToken(tok)
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == tok {
					next = n.Content[i+1]
					break
				}
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
		default:
			return nil
		}
	}
	return n
}

func escapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
