package openapi_test

import (
	"bytes"
	"regexp"
	"slices"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

// diffDocs are the documents whose request bodies the differential test
// checks: the Petstore examples and one per version that uses every
// keyword the fast validator implements.
var diffDocs = []string{
	"petstore-3.0.yaml", "petstore-expanded-3.0.yaml", "tictactoe-3.1.yaml", "webhook-example-3.1.yaml",
	"keywords-3.0.yaml", "keywords-3.1.yaml",
}

// diffSeeds are bodies for those documents, valid and not.
var diffSeeds = []string{
	`{"id":1,"name":"rex","tag":"dog"}`, `{"name":"rex"}`, `{"name":7,"tag":null}`, `[{"id":1,"name":"a"}]`,
	`{"winner":"X","board":[[".","X","O"],[".",".","."],["O","O","X"]]}`, `{"board":[["Y"]]}`,
	`{"name":"ab","qty":1}`, `{"id":"0b9f2f5e-6f0e-4b8e-9a57-3c1f0e5d7a21","name":"ab","qty":999}`,
	`{"name":"straße","qty":1000,"price":0.015,"big":9223372036854775808,"ratio":-150.0001}`,
	`{"name":"","qty":1.0,"price":12.30,"big":-9223372036854775808,"ratio":1.5e2,"email":null,"color":null}`,
	`{"name":"abcdefghi","qty":"1","email":"not an email","color":"pink","level":2.50,"tags":["a","a"]}`,
	`{"name":"a","qty":2e2,"level":"three","tags":[],"meta":{"x":11,"y":1,"z":"1"},"day":"2024-02-30","ip":"1.2.3.4"}`,
	`{"name":"a","qty":5,"both":{"b":1},"either":true,"notnull":"s","pair":[1,"y",2],"kind":{"a":[1.0,2]}}`,
	`{"name":"a","qty":5,"both":{"a":1,"b":true},"either":"ab","notnull":null,"pair":[1],"multi":5.0,"extra":1}`,
	`{"name":"a","qty":5,"multi":6,"sibling":{"value":7,"children":[]},"NAME":"b"}`,
	`{"value":14,"children":[{"value":7},{"value":1.5,"children":[{"value":"x"}]},{},{"value":0}]}`,
	`3`, `4.5`, `-2.5`, `-2`, `1e400`, `1e1000001`, `"2024-01-01T00:00:00Z"`, `[1,1.0]`, `[[],[]]`,
	`[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,-1,{"a":1,"b":[2]},{"b":[2.0],"a":1e0}]`, `[null,"a",{}]`, `true`, `null`,
}

// slowExp matches an exponent of five or six digits: big.Rat, which
// refuses seven, computes those powers of five.
var slowExp = regexp.MustCompile(`[eE][+-]?0*[1-9][0-9]{4,5}([^0-9]|$)`)

// FuzzCompiledMatchesJSONSchema: the fast validator and jsonschema/v6
// agree on every body of every test document: the same accept or refuse,
// the same failures at the same places; where the fast path defers, it is
// jsonschema/v6 that answers (and it may panic only then).
func FuzzCompiledMatchesJSONSchema(f *testing.F) {
	var specs []*openapi.Spec
	for _, name := range diffDocs {
		s := mustSpec(f, fromFile(f, name))
		if fast, all := openapi.FastSchemas(s); fast != all {
			f.Fatalf("%s: %d of %d body schemas have a fast path, want all", name, fast, all)
		}
		specs = append(specs, s)
	}
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if slowExp.Match(body) {
			return // jsonschema/v6 spends seconds on 5^99999 in big.Rat: the oracle, not under test
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			return
		}
		for i, s := range specs {
			for _, v := range openapi.CompareBodies(s, doc) {
				if v.RefPanicked && v.Fast {
					t.Fatalf("%s %s on %s: jsonschema/v6 panicked, the fast path answered", diffDocs[i], v.Where, body)
				}
				if !v.Fast {
					continue
				}
				if len(v.RefLeaves) >= 50 && len(v.FastLeaves) >= 50 {
					continue // both stopped at the limit, at places that depend on map order
				}
				if !slices.Equal(v.FastLeaves, v.RefLeaves) {
					t.Fatalf("%s %s on %s:\nfast %q\njsonschema/v6 %q", diffDocs[i], v.Where, body, v.FastLeaves, v.RefLeaves)
				}
			}
		}
	})
}

// fallbackDoc has body schemas the fast validator does not take: one with
// a keyword it does not implement, one that refers to itself for the same
// value (jsonschema/v6 reports that cycle), one with a recursive $ref it
// does take (and where it defers a number big.Rat cannot read).
const fallbackDoc = `
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /pattern:
    post:
      requestBody: {content: {application/json: {schema: {type: object, patternProperties: {"^x-": {type: integer}}, properties: {n: {type: integer}}}}}}
      responses: {'204': {description: ok}}
  /cycle:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Loop'}}}}
      responses: {'204': {description: ok}}
  /tree:
    post:
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Node'}}}}
      responses: {'204': {description: ok}}
components:
  schemas:
    Loop: {allOf: [{$ref: '#/components/schemas/Loop'}, {type: object}]}
    Node: {type: object, properties: {n: {type: integer}, kids: {type: array, items: {$ref: '#/components/schemas/Node'}}}}
`

func TestFastPathTakesOnlyWhatItImplements(t *testing.T) {
	s := mustSpec(t, openapi.Config{Document: []byte(fallbackDoc)})
	if fast, all := openapi.FastSchemas(s); fast != 1 || all != 3 {
		t.Fatalf("FastSchemas = %d of %d, want 1 of 3 (the recursive tree only)", fast, all)
	}
	h := s.Handler(&reached{})
	for _, tc := range []struct {
		req, body string
		status    int
		pointer   string
		rule      string
	}{
		{"POST /pattern", `{"x-a":"s","n":1}`, 400, "", "type"},
		{"POST /pattern", `{"x-a":1,"n":"s"}`, 400, "/n", "type"},
		{"POST /pattern", `{"x-a":1,"n":1}`, 204, "", ""},
		{"POST /cycle", `{}`, 422, "", "schema"},
		{"POST /tree", `{"kids":[{"kids":[{"n":1.5}]}]}`, 400, "/kids/0/kids/0/n", "type"},
		{"POST /tree", `{"kids":[{"kids":[{"n":1.0}]}]}`, 204, "", ""},
		// An exponent past ±10 000 is refused before either validator sees it.
		{"POST /tree", `{"n":1e1000001}`, 400, "/n", "number_range"},
		{"POST /tree", `{"n":1e10000}`, 204, "", ""}, // an integer, at the bound
	} {
		t.Run(tc.req+" "+tc.body, func(t *testing.T) {
			w, a := call(t, h, tc.req, tc.body)
			if w.Code != tc.status {
				t.Fatalf("%s %s: status %d, want %d (%+v)", tc.req, tc.body, w.Code, tc.status, a.Errors)
			}
			if tc.rule == "" {
				return
			}
			if len(a.Errors) != 1 || a.Errors[0].Pointer != tc.pointer || a.Errors[0].Rule != tc.rule {
				t.Fatalf("%s %s: errors %+v, want one %q at %q", tc.req, tc.body, a.Errors, tc.rule, tc.pointer)
			}
		})
	}
}
