package validate

// present reports whether the body holds a non-null value at steps. data
// has passed the pre-pass, so it is well-formed.
func present(data []byte, steps []step) bool {
	p := &peeker{data: data}
	p.space()
	for _, s := range steps {
		switch s.kind {
		case segIndex:
			if !p.index(s.index) {
				return false
			}
		default:
			if !p.member(s.name) {
				return false
			}
		}
	}
	return p.pos < len(data) && data[p.pos] != 'n'
}

// peeker walks well-formed JSON to find one value.
type peeker struct {
	data []byte
	pos  int
	sc   scanner // for unescaping keys
}

func (p *peeker) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// member moves to the value of key in the object at pos.
func (p *peeker) member(key string) bool {
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return false
	}
	p.pos++
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return false
		}
		raw, escaped := p.str()
		k := raw
		if escaped {
			p.sc.unesc = p.sc.unesc[:0]
			k = p.sc.unescape(raw)
		}
		p.space()
		p.pos++ // :
		p.space()
		if string(k) == key {
			return true
		}
		p.skip()
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ',' {
			return false
		}
		p.pos++
	}
}

// index moves to element i of the array at pos.
func (p *peeker) index(i int) bool {
	if p.pos >= len(p.data) || p.data[p.pos] != '[' {
		return false
	}
	p.pos++
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		return false
	}
	for ; i > 0; i-- {
		p.skip()
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ',' {
			return false
		}
		p.pos++
		p.space()
	}
	return true
}

// str returns the raw contents of the string at pos.
func (p *peeker) str() ([]byte, bool) {
	start := p.pos + 1
	escaped := false
	for i := start; i < len(p.data); i++ {
		switch p.data[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			p.pos = i + 1
			return p.data[start:i], escaped
		}
	}
	p.pos = len(p.data)
	return nil, false
}

// skip moves past the value at pos.
func (p *peeker) skip() {
	depth := 0
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; c {
		case '"':
			p.str()
			if depth == 0 {
				return
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return
			}
			depth--
			if depth == 0 {
				p.pos++
				return
			}
		case ',':
			if depth == 0 {
				return
			}
		}
		p.pos++
	}
}
