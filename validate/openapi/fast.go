package openapi

import (
	"encoding/json"
	"hash/maphash"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A fastSchema validates a body against one schema of the document the
// way jsonschema/v6 does, keyword for keyword and failure for failure,
// without its per-subschema state and big.Rat per number. It is built in
// [New] from the schema jsonschema/v6 compiled (so $refs, formats and
// patterns are the ones it resolved) when every keyword reachable from it
// is one it implements; a schema with any other keyword keeps jsonschema/v6.
// For a value it cannot decide exactly (a number whose exponent big.Rat
// would refuse) it says so, and the caller asks jsonschema/v6.
type fastSchema struct {
	boolean  int8 // 0: a schema object; 1: the true schema; -1: false
	types    uint8
	constant *any
	enum     []any
	enumStr  map[string]bool // the enum's strings, when it holds only strings
	format   *jsonschema.Format
	ref      *fastSchema

	minProps, maxProps int // -1: none
	required           []string
	props              map[string]*fastSchema
	noAdditional       bool
	additional         *fastSchema

	minItems, maxItems int
	unique             bool
	prefix             []*fastSchema
	items              *fastSchema

	minLen, maxLen int
	pattern        jsonschema.Regexp

	bounds     []bound
	multipleOf *big.Rat
	multDec    decimal

	not                 *fastSchema
	allOf, anyOf, oneOf []*fastSchema
}

type bound struct {
	rule string // "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"
	d    decimal
}

const (
	tNull uint8 = 1 << iota
	tBool
	tNumber
	tInteger
	tString
	tArray
	tObject
)

var typeBits = map[string]uint8{
	"null": tNull, "boolean": tBool, "number": tNumber, "integer": tInteger,
	"string": tString, "array": tArray, "object": tObject,
}

// fastCompile builds the fast validator for s, or nil when s uses a
// keyword it does not implement or refers to itself without reading
// deeper into the value (jsonschema/v6 reports a cycle there).
func fastCompile(s *jsonschema.Schema) *fastSchema {
	c := &fastCompiler{done: map[*jsonschema.Schema]*fastSchema{}}
	f := c.schema(s)
	if c.failed {
		return nil
	}
	// Every schema reached is the start of a same-value chain.
	state := map[*jsonschema.Schema]int{}
	for sch := range c.done {
		if c.cycle(sch, state) {
			return nil
		}
	}
	return f
}

type fastCompiler struct {
	done   map[*jsonschema.Schema]*fastSchema
	failed bool
}

func (c *fastCompiler) schema(s *jsonschema.Schema) *fastSchema {
	if s == nil || c.failed {
		return nil
	}
	if f, ok := c.done[s]; ok {
		return f
	}
	f := &fastSchema{minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
	c.done[s] = f
	if s.Bool != nil {
		f.boolean = -1
		if *s.Bool {
			f.boolean = 1
		}
		return f
	}
	if s.DraftVersion != 2020 || s.ID != "" || s.Anchor != "" || s.RecursiveRef != nil || s.RecursiveAnchor ||
		s.DynamicRef != nil || s.DynamicAnchor != "" || s.If != nil || s.Then != nil || s.Else != nil ||
		s.PropertyNames != nil || len(s.PatternProperties) > 0 || len(s.Dependencies) > 0 ||
		len(s.DependentRequired) > 0 || len(s.DependentSchemas) > 0 || s.UnevaluatedProperties != nil ||
		s.Contains != nil || s.MinContains != nil || s.MaxContains != nil || s.Items != nil ||
		s.AdditionalItems != nil || s.UnevaluatedItems != nil || s.ContentEncoding != nil ||
		s.ContentMediaType != nil || s.ContentSchema != nil || len(s.Extensions) > 0 {
		c.failed = true
		return nil
	}
	if s.Types != nil {
		for _, t := range s.Types.ToStrings() {
			f.types |= typeBits[t]
		}
	}
	if s.Const != nil {
		if !c.value(*s.Const) {
			return nil
		}
		f.constant = s.Const
	}
	if s.Enum != nil {
		f.enum = s.Enum.Values
		strs := map[string]bool{}
		for _, v := range f.enum {
			if !c.value(v) {
				return nil
			}
			if str, ok := v.(string); ok {
				strs[str] = true
			}
		}
		if len(strs) == len(f.enum) {
			f.enumStr = strs
		}
	}
	f.format = s.Format
	f.ref = c.schema(s.Ref)
	intp := func(p *int) int {
		if p == nil {
			return -1
		}
		return *p
	}
	f.minProps, f.maxProps = intp(s.MinProperties), intp(s.MaxProperties)
	f.required = s.Required
	if len(s.Properties) > 0 {
		f.props = make(map[string]*fastSchema, len(s.Properties))
		for name, ps := range s.Properties {
			f.props[name] = c.schema(ps)
		}
	}
	switch a := s.AdditionalProperties.(type) {
	case bool:
		f.noAdditional = !a
	case *jsonschema.Schema:
		f.additional = c.schema(a)
	}
	f.minItems, f.maxItems = intp(s.MinItems), intp(s.MaxItems)
	f.unique = s.UniqueItems
	for _, p := range s.PrefixItems {
		f.prefix = append(f.prefix, c.schema(p))
	}
	f.items = c.schema(s.Items2020)
	f.minLen, f.maxLen = intp(s.MinLength), intp(s.MaxLength)
	f.pattern = s.Pattern
	for _, b := range []struct {
		rule string
		r    *big.Rat
	}{{"minimum", s.Minimum}, {"maximum", s.Maximum}, {"exclusiveMinimum", s.ExclusiveMinimum}, {"exclusiveMaximum", s.ExclusiveMaximum}} {
		if b.r == nil {
			continue
		}
		d, ok := ratDecimal(b.r)
		if !ok {
			c.failed = true
			return nil
		}
		f.bounds = append(f.bounds, bound{b.rule, d})
	}
	if s.MultipleOf != nil {
		d, ok := ratDecimal(s.MultipleOf)
		if !ok || s.MultipleOf.Sign() <= 0 {
			c.failed = true
			return nil
		}
		f.multipleOf, f.multDec = s.MultipleOf, d
	}
	f.not = c.schema(s.Not)
	for _, l := range []struct {
		in  []*jsonschema.Schema
		out *[]*fastSchema
	}{{s.AllOf, &f.allOf}, {s.AnyOf, &f.anyOf}, {s.OneOf, &f.oneOf}} {
		for _, sub := range l.in {
			*l.out = append(*l.out, c.schema(sub))
		}
	}
	return f
}

// value checks that a const or enum value is one the fast path compares
// as jsonschema/v6 does.
func (c *fastCompiler) value(v any) bool {
	ok := true
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case nil, bool, string:
		case json.Number:
			if _, good := parseDecimal(string(x)); !good {
				ok = false
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		default:
			ok = false
		}
	}
	walk(v)
	if !ok {
		c.failed = true
	}
	return ok
}

// cycle reports whether s reaches a schema on the current chain through
// keywords that apply to the same value ($ref, allOf, anyOf, oneOf, not);
// state marks schemas on the chain (1) and those already cleared (2).
func (c *fastCompiler) cycle(s *jsonschema.Schema, state map[*jsonschema.Schema]int) bool {
	if s == nil {
		return false
	}
	switch state[s] {
	case 1:
		return true
	case 2:
		return false
	}
	state[s] = 1
	for _, n := range sameValue(s) {
		if c.cycle(n, state) {
			return true
		}
	}
	state[s] = 2
	return false
}

// sameValue lists the schemas s applies to the value s itself checks.
func sameValue(s *jsonschema.Schema) []*jsonschema.Schema {
	return slices.Concat([]*jsonschema.Schema{s.Ref, s.Not}, s.AllOf, s.AnyOf, s.OneOf)
}

// verdict is the fast path's answer for one value.
type verdict int8

const (
	pass      verdict = iota
	fail              // the value breaks the schema
	undecided         // the fast path cannot decide: ask jsonschema/v6
)

// valid decides v without collecting failures.
func (f *fastSchema) valid(v any) verdict {
	if f.boolean != 0 {
		if f.boolean > 0 {
			return pass
		}
		return fail
	}
	var num decimal
	isNum := false
	if n, ok := v.(json.Number); ok {
		d, ok := parseDecimal(string(n))
		if !ok {
			return undecided
		}
		num, isNum = d, true
	}
	if r := f.early(v, num); r != pass {
		return r
	}
	if f.ref != nil {
		if r := f.ref.valid(v); r != pass {
			return r
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if f.minProps >= 0 && len(x) < f.minProps || f.maxProps >= 0 && len(x) > f.maxProps {
			return fail
		}
		for _, name := range f.required {
			if _, ok := x[name]; !ok {
				return fail
			}
		}
		for k, c := range x {
			sub, declared := f.props[k]
			switch {
			case declared:
			case f.noAdditional:
				return fail
			case f.additional != nil:
				sub = f.additional
			default:
				continue
			}
			if r := sub.valid(c); r != pass {
				return r
			}
		}
	case []any:
		if f.minItems >= 0 && len(x) < f.minItems || f.maxItems >= 0 && len(x) > f.maxItems {
			return fail
		}
		if f.unique && len(x) > 1 {
			dup, r := duplicate(x)
			if r != pass {
				return r
			}
			if dup {
				return fail
			}
		}
		for i, c := range x {
			sub := f.items
			if i < len(f.prefix) {
				sub = f.prefix[i]
			}
			if sub == nil {
				continue
			}
			if r := sub.valid(c); r != pass {
				return r
			}
		}
	case string:
		if f.strFails(x) {
			return fail
		}
	}
	if isNum && f.numFails(num) {
		return fail
	}
	return f.cond(v)
}

func (f *fastSchema) cond(v any) verdict {
	if f.not != nil {
		switch f.not.valid(v) {
		case pass:
			return fail
		case undecided:
			return undecided
		}
	}
	for _, s := range f.allOf {
		if r := s.valid(v); r != pass {
			return r
		}
	}
	if len(f.anyOf) > 0 {
		r := fail
		for _, s := range f.anyOf {
			switch s.valid(v) {
			case pass:
				r = pass
			case undecided:
				return undecided
			}
			if r == pass {
				break
			}
		}
		if r != pass {
			return r
		}
	}
	if len(f.oneOf) > 0 {
		n, r := f.oneOfMatches(v)
		if r != pass {
			return r
		}
		if n != 1 {
			return fail
		}
	}
	return pass
}

// oneOfMatches counts the matching subschemas of oneOf, up to two.
func (f *fastSchema) oneOfMatches(v any) (int, verdict) {
	n := 0
	for _, s := range f.oneOf {
		switch s.valid(v) {
		case pass:
			n++
			if n == 2 {
				return n, pass
			}
		case undecided:
			return 0, undecided
		}
	}
	return n, pass
}

// early runs the keywords after which jsonschema/v6 stops at the first
// failure: type, const, enum, format. It returns fail or undecided then.
func (f *fastSchema) early(v any, num decimal) verdict {
	rule, r := f.earlyRule(v, num)
	if r != pass {
		return r
	}
	if rule != "" {
		return fail
	}
	return pass
}

func (f *fastSchema) earlyRule(v any, num decimal) (string, verdict) {
	if f.types != 0 {
		var t uint8
		switch v.(type) {
		case nil:
			t = tNull
		case bool:
			t = tBool
		case string:
			t = tString
		case []any:
			t = tArray
		case map[string]any:
			t = tObject
		case json.Number:
			t = tNumber
		default:
			return "", undecided
		}
		if f.types&t == 0 && !(t == tNumber && f.types&tInteger != 0 && num.isInt()) {
			return "type", pass
		}
	}
	if f.constant != nil {
		eq, r := equal(v, *f.constant)
		if r != pass {
			return "", r
		}
		if !eq {
			return "const", pass
		}
	}
	if f.enum != nil {
		if !f.inEnum(v) {
			return "enum", pass
		}
	}
	if f.format != nil && f.format.Validate(v) != nil {
		return "format", pass
	}
	return "", pass
}

func (f *fastSchema) inEnum(v any) bool {
	if f.enumStr != nil {
		s, ok := v.(string)
		return ok && f.enumStr[s]
	}
	for _, e := range f.enum {
		if eq, _ := equal(v, e); eq {
			return true
		}
	}
	return false
}

// strFails reports whether a string breaks a length or the pattern.
func (f *fastSchema) strFails(s string) bool {
	if f.minLen >= 0 || f.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if f.minLen >= 0 && n < f.minLen || f.maxLen >= 0 && n > f.maxLen {
			return true
		}
	}
	return f.pattern != nil && !f.pattern.MatchString(s)
}

func (f *fastSchema) strRules(s string, out []string) []string {
	if f.minLen >= 0 || f.maxLen >= 0 {
		n := utf8.RuneCountInString(s)
		if f.minLen >= 0 && n < f.minLen {
			out = append(out, "minLength")
		}
		if f.maxLen >= 0 && n > f.maxLen {
			out = append(out, "maxLength")
		}
	}
	if f.pattern != nil && !f.pattern.MatchString(s) {
		out = append(out, "pattern")
	}
	return out
}

// numFails reports whether a number breaks a bound or multipleOf.
func (f *fastSchema) numFails(d decimal) bool {
	for _, b := range f.bounds {
		if b.broken(d) {
			return true
		}
	}
	return f.multipleOf != nil && !multipleOf(d, f.multDec, f.multipleOf)
}

func (b bound) broken(d decimal) bool {
	c := cmpDecimal(d, b.d)
	switch b.rule {
	case "minimum":
		return c < 0
	case "maximum":
		return c > 0
	case "exclusiveMinimum":
		return c <= 0
	default:
		return c >= 0
	}
}

// equal compares two JSON values as jsonschema/v6 does: numbers by value.
func equal(a, b any) (bool, verdict) {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false, pass
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok {
				return false, pass
			}
			if eq, r := equal(xv, yv); !eq || r != pass {
				return eq, r
			}
		}
		return true, pass
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false, pass
		}
		for i := range x {
			if eq, r := equal(x[i], y[i]); !eq || r != pass {
				return eq, r
			}
		}
		return true, pass
	case nil:
		return b == nil, pass
	case bool:
		y, ok := b.(bool)
		return ok && x == y, pass
	case string:
		y, ok := b.(string)
		return ok && x == y, pass
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false, pass
		}
		dx, ok1 := parseDecimal(string(x))
		dy, ok2 := parseDecimal(string(y))
		if !ok1 || !ok2 {
			return false, undecided
		}
		return cmpDecimal(dx, dy) == 0, pass
	}
	return false, undecided
}

// duplicate reports whether two items of arr are equal: pairwise for a
// short array, by a hash of each item's value for a long one (as
// jsonschema/v6 does), so that a long array costs linear time.
func duplicate(arr []any) (bool, verdict) {
	if len(arr) <= 20 {
		for i := 1; i < len(arr); i++ {
			for j := range i {
				eq, r := equal(arr[i], arr[j])
				if r != pass {
					return false, r
				}
				if eq {
					return true, pass
				}
			}
		}
		return false, pass
	}
	seed := maphash.MakeSeed()
	seen := make(map[uint64][]int, len(arr))
	var h maphash.Hash
	for i, item := range arr {
		h.SetSeed(seed)
		if !hashValue(&h, item) {
			return false, undecided
		}
		sum := h.Sum64()
		for _, j := range seen[sum] {
			eq, r := equal(item, arr[j])
			if r != pass {
				return false, r
			}
			if eq {
				return true, pass
			}
		}
		seen[sum] = append(seen[sum], i)
	}
	return false, pass
}

// hashValue writes v to h so that equal values (numbers by value, objects
// whatever their order) hash alike.
func hashValue(h *maphash.Hash, v any) bool {
	switch x := v.(type) {
	case map[string]any:
		_ = h.WriteByte(0)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			_, _ = h.WriteString(k)
			_ = h.WriteByte(0)
			if !hashValue(h, x[k]) {
				return false
			}
		}
	case []any:
		_ = h.WriteByte(1)
		for _, e := range x {
			if !hashValue(h, e) {
				return false
			}
		}
		_ = h.WriteByte(1)
	case nil:
		_ = h.WriteByte(2)
	case bool:
		_ = h.WriteByte(3)
		if x {
			_ = h.WriteByte(1)
		}
	case string:
		_ = h.WriteByte(4)
		_, _ = h.WriteString(x)
		_ = h.WriteByte(0)
	case json.Number:
		d, ok := parseDecimal(string(x))
		if !ok {
			return false
		}
		_ = h.WriteByte(5)
		if d.neg && !d.zero() {
			_ = h.WriteByte('-')
		}
		_, _ = h.WriteString(d.hi)
		_, _ = h.WriteString(d.lo)
		_, _ = h.WriteString(strconv.FormatInt(d.exp, 10))
	default:
		return false
	}
	return true
}

// collect lists the failures of v as jsonschema/v6 reports them (its leaf
// errors: a location and a rule), in its order, up to maxViolations.
// It reports false when the fast path cannot decide.
func (f *fastSchema) collect(v any, loc []string, out *[]leaf) bool {
	if len(*out) >= maxViolations {
		return true
	}
	add := func(rule string, missing []string) {
		if len(*out) < maxViolations {
			*out = append(*out, leaf{loc: slices.Clone(loc), rule: rule, missing: missing})
		}
	}
	if f.boolean != 0 {
		if f.boolean < 0 {
			add("false", nil)
		}
		return true
	}
	var num decimal
	isNum := false
	if n, ok := v.(json.Number); ok {
		d, ok := parseDecimal(string(n))
		if !ok {
			return false
		}
		num, isNum = d, true
	}
	rule, r := f.earlyRule(v, num)
	if r != pass {
		return false
	}
	if rule != "" {
		add(rule, nil)
		return true
	}
	if f.ref != nil && !f.ref.collect(v, loc, out) {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		if f.minProps >= 0 && len(x) < f.minProps {
			add("minProperties", nil)
		}
		if f.maxProps >= 0 && len(x) > f.maxProps {
			add("maxProperties", nil)
		}
		var missing []string
		for _, name := range f.required {
			if _, ok := x[name]; !ok {
				missing = append(missing, name)
			}
		}
		if missing != nil {
			add("required", missing)
		}
		extra := false
		for k, c := range x {
			sub, declared := f.props[k]
			switch {
			case declared:
			case f.noAdditional:
				extra = true
				continue
			case f.additional != nil:
				sub = f.additional
			default:
				continue
			}
			if !sub.collect(c, append(loc, k), out) {
				return false
			}
		}
		if extra {
			add("additionalProperties", nil)
		}
	case []any:
		if f.minItems >= 0 && len(x) < f.minItems {
			add("minItems", nil)
		}
		if f.maxItems >= 0 && len(x) > f.maxItems {
			add("maxItems", nil)
		}
		if f.unique && len(x) > 1 {
			dup, r := duplicate(x)
			if r != pass {
				return false
			}
			if dup {
				add("uniqueItems", nil)
			}
		}
		for i, c := range x {
			sub := f.items
			if i < len(f.prefix) {
				sub = f.prefix[i]
			}
			if sub != nil && !sub.collect(c, append(loc, strconv.Itoa(i)), out) {
				return false
			}
		}
	case string:
		for _, rule := range f.strRules(x, nil) {
			add(rule, nil)
		}
	}
	if isNum {
		for _, b := range f.bounds {
			if b.broken(num) {
				add(b.rule, nil)
			}
		}
		if f.multipleOf != nil && !multipleOf(num, f.multDec, f.multipleOf) {
			add("multipleOf", nil)
		}
	}
	if f.not != nil {
		switch f.not.valid(v) {
		case pass:
			add("schema", nil) // jsonschema/v6's "not" names no keyword
		case undecided:
			return false
		}
	}
	for _, s := range f.allOf {
		if !s.collect(v, loc, out) {
			return false
		}
	}
	if len(f.anyOf) > 0 {
		matched := false
		for _, s := range f.anyOf {
			switch s.valid(v) {
			case pass:
				matched = true
			case undecided:
				return false
			}
			if matched {
				break
			}
		}
		if !matched {
			for _, s := range f.anyOf {
				if !s.collect(v, loc, out) {
					return false
				}
			}
		}
	}
	if len(f.oneOf) > 0 {
		n, r := f.oneOfMatches(v)
		if r != pass {
			return false
		}
		switch n {
		case 0:
			for _, s := range f.oneOf {
				if !s.collect(v, loc, out) {
					return false
				}
			}
		case 2:
			add("oneOf", nil)
		}
	}
	return true
}
