package openapi

import (
	"math/big"
	"math/bits"
	"strconv"
	"strings"
)

// decimal is a JSON number read exactly, without allocating: the value is
// ±0.D × 10^exp, where D, the significant digits, is hi followed by lo
// (two pieces of the text, either side of its decimal point) with no
// leading or trailing zeros. Zero has no digits.
type decimal struct {
	neg    bool
	hi, lo string
	exp    int64
}

func (d decimal) n() int { return len(d.hi) + len(d.lo) }

func (d decimal) digit(i int) byte {
	if i < len(d.hi) {
		return d.hi[i]
	}
	if i-len(d.hi) < len(d.lo) {
		return d.lo[i-len(d.hi)]
	}
	return '0'
}

func (d decimal) zero() bool { return d.n() == 0 }

// maxExp5 keeps a number within what math/big.Rat.SetString reads (it
// refuses a power of five past 1e6), so that a number the reference
// validator cannot read is never decided differently here.
const maxExp5 = 900_000

// parseDecimal reads a JSON number's text. ok is false for text that is
// not a JSON number and for one whose exponent is out of big.Rat's range:
// the caller then defers to the reference validator.
func parseDecimal(t string) (d decimal, ok bool) {
	if strings.HasPrefix(t, "-") {
		d.neg = true
		t = t[1:]
	}
	i := 0
	for i < len(t) && '0' <= t[i] && t[i] <= '9' {
		i++
	}
	intp := t[:i]
	if intp == "" || (len(intp) > 1 && intp[0] == '0') {
		return d, false
	}
	var frac string
	if i < len(t) && t[i] == '.' {
		j := i + 1
		for j < len(t) && '0' <= t[j] && t[j] <= '9' {
			j++
		}
		frac = t[i+1 : j]
		if frac == "" {
			return d, false
		}
		i = j
	}
	var exp int64
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		es := t[i+1:]
		if len(es) > 0 && (es[0] == '+' || es[0] == '-') {
			es = es[1:]
		}
		if es == "" || len(es) > 7 || strings.Trim(es, "0123456789") != "" {
			return d, false
		}
		exp, _ = strconv.ParseInt(es, 10, 64)
		if t[i+1] == '-' {
			exp = -exp
		}
		i = len(t)
	}
	if i != len(t) {
		return d, false
	}
	if e5 := exp - int64(len(frac)); e5 > maxExp5 || e5 < -maxExp5 {
		return d, false
	}
	// Strip leading zeros (they can only be a lone "0" before the point,
	// then zeros after it) and trailing zeros.
	pos := int64(len(intp)) // digits before the point
	hi, lo := intp, frac
	if hi == "0" {
		hi = ""
		pos = 0
		k := 0
		for k < len(lo) && lo[k] == '0' {
			k++
		}
		lo = lo[k:]
		pos -= int64(k)
	}
	lo = strings.TrimRight(lo, "0")
	if lo == "" {
		hi = strings.TrimRight(hi, "0")
	}
	if hi == "" && lo == "" {
		return decimal{}, true // zero, of either sign
	}
	d.hi, d.lo, d.exp = hi, lo, pos+exp
	return d, true
}

// cmpDecimal compares a and b exactly: -1, 0 or +1.
func cmpDecimal(a, b decimal) int {
	switch {
	case a.zero() && b.zero():
		return 0
	case a.zero():
		if b.neg {
			return 1
		}
		return -1
	case b.zero():
		if a.neg {
			return -1
		}
		return 1
	case a.neg != b.neg:
		if a.neg {
			return -1
		}
		return 1
	}
	c := cmpMagnitude(a, b)
	if a.neg {
		return -c
	}
	return c
}

func cmpMagnitude(a, b decimal) int {
	if a.exp != b.exp {
		if a.exp > b.exp {
			return 1
		}
		return -1
	}
	n := max(a.n(), b.n())
	for i := range n {
		if x, y := a.digit(i), b.digit(i); x != y {
			if x > y {
				return 1
			}
			return -1
		}
	}
	return 0
}

// isInt reports whether d is an integer.
func (d decimal) isInt() bool { return d.zero() || int64(d.n()) <= d.exp }

// uint64Digits returns D as an integer and the power of ten that scales it
// to d's magnitude (|d| = D × 10^scale), when D fits.
func (d decimal) uint64Digits() (v uint64, scale int64, ok bool) {
	if d.n() > 19 {
		return 0, 0, false
	}
	for i := range d.n() {
		v = v*10 + uint64(d.digit(i)-'0')
	}
	return v, d.exp - int64(d.n()), true
}

// multipleOf reports whether v is an integer multiple of m (m > 0).
func multipleOf(v, m decimal, mrat *big.Rat) bool {
	if v.zero() {
		return true
	}
	V, vs, ok1 := v.uint64Digits()
	M, ms, ok2 := m.uint64Digits()
	if ok1 && ok2 && M != 0 {
		d := vs - ms // v/m = (V/M) × 10^d
		switch {
		case d >= 0:
			// M divides V × 10^d.
			return mulMod(V%M, powMod(10%M, d, M), M) == 0
		case d >= -19:
			// V must be a multiple of M × 10^-d.
			p := uint64(1)
			for range -d {
				p *= 10
			}
			hi, q := bits.Mul64(M, p)
			if hi != 0 {
				return false // M × 10^-d > V > 0
			}
			return V%q == 0
		default:
			return false // M × 10^-d ≥ 10^20 > V > 0
		}
	}
	r, ok := new(big.Rat).SetString(v.String())
	if !ok {
		return false
	}
	return r.Quo(r, mrat).IsInt()
}

// mulMod returns a × b mod m, for a, b < m.
func mulMod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	_, r := bits.Div64(hi, lo, m) // hi < m, as a, b < m
	return r
}

// powMod returns b^e mod m, for b < m.
func powMod(b uint64, e int64, m uint64) uint64 {
	r := 1 % m
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = mulMod(r, b, m)
		}
		b = mulMod(b, b, m)
	}
	return r
}

// String writes d back as JSON number text (used off the fast path).
func (d decimal) String() string {
	if d.zero() {
		return "0"
	}
	var b strings.Builder
	if d.neg {
		b.WriteByte('-')
	}
	b.WriteString("0.")
	b.WriteString(d.hi)
	b.WriteString(d.lo)
	b.WriteString("e")
	b.WriteString(strconv.FormatInt(d.exp, 10))
	return b.String()
}

// ratDecimal converts a schema's bound to a decimal, when it is a finite
// decimal within range (a JSON number in a schema always is).
func ratDecimal(r *big.Rat) (decimal, bool) {
	den := new(big.Int).Set(r.Denom())
	k := 0
	ten := big.NewInt(10)
	for ; k <= 400; k++ {
		if new(big.Int).Mod(new(big.Int).Exp(ten, big.NewInt(int64(k)), nil), den).Sign() == 0 {
			break
		}
	}
	if k > 400 {
		return decimal{}, false
	}
	num := new(big.Int).Mul(r.Num(), new(big.Int).Exp(ten, big.NewInt(int64(k)), nil))
	num.Quo(num, den)
	s := num.String()
	if k > 0 {
		s += "e-" + strconv.Itoa(k)
	}
	return parseDecimal(s)
}
