package openapi_test

import (
	"math/big"
	"regexp"
	"testing"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

var numberCases = [][2]string{
	{"0", "-0"}, {"0.0", "0e5"}, {"1", "1.0"}, {"1", "10e-1"}, {"-1", "1"}, {"12.99", "13"},
	{"9223372036854775807", "9223372036854775808"}, {"-9223372036854775808", "-9223372036854775809"},
	{"1e2", "100"}, {"1.5E+2", "150.0"}, {"0.01", "0.015"}, {"99999.99", "99999.990001"},
	{"123456789012345678901234567890", "123456789012345678901234567891"}, {"1e-7", "0.0000001"},
	{"-0.5", "-0.25"}, {"5e-324", "0"}, {"1e400", "1e399"}, {"0.30", "0.3"},
	{"1e300", "7"}, {"7e300", "7"}, {"1e-300", "1e-301"}, {"3", "1e-40"}, {"18446744073709551615", "5"},
}

// bigExp matches an exponent of five digits or more.
var bigExp = regexp.MustCompile(`[eE][+-]?0*[1-9][0-9]{4,}`)

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// checkNumbers compares the fast path's exact arithmetic with big.Rat's.
func checkNumbers(t *testing.T, a, b string) {
	t.Helper()
	ra, ok1 := new(big.Rat).SetString(a)
	rb, ok2 := new(big.Rat).SetString(b)
	c, ok := openapi.CompareNumbers(a, b)
	if !jsonNumber.MatchString(a) || !jsonNumber.MatchString(b) || !ok1 || !ok2 {
		if ok && (!jsonNumber.MatchString(a) || !jsonNumber.MatchString(b)) {
			t.Fatalf("CompareNumbers(%q, %q) decided on text that is not a JSON number", a, b)
		}
		return
	}
	if !ok {
		return // deferred: jsonschema/v6 decides
	}
	if want := ra.Cmp(rb); c != want {
		t.Fatalf("CompareNumbers(%q, %q) = %d, want %d", a, b, c, want)
	}
	if rb.Sign() > 0 {
		mult, integer, ok := openapi.MultipleOf(a, b)
		if !ok {
			t.Fatalf("MultipleOf(%q, %q) deferred", a, b)
		}
		if want := new(big.Rat).Quo(ra, rb).IsInt(); mult != want {
			t.Fatalf("MultipleOf(%q, %q) = %v, want %v", a, b, mult, want)
		}
		if integer != ra.IsInt() {
			t.Fatalf("MultipleOf(%q, …) says integer %v, want %v", a, integer, ra.IsInt())
		}
	}
}

func TestNumbersCompareExactly(t *testing.T) {
	for _, tc := range numberCases {
		t.Run(tc[0]+" vs "+tc[1], func(t *testing.T) {
			checkNumbers(t, tc[0], tc[1])
			checkNumbers(t, tc[1], tc[0])
		})
	}
}

// FuzzNumbers: the fast path's comparisons, multipleOf and integer test
// agree with big.Rat on every pair of JSON numbers it decides.
func FuzzNumbers(f *testing.F) {
	for _, tc := range numberCases {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 64 || len(b) > 64 || bigExp.MatchString(a) || bigExp.MatchString(b) {
			return // big.Rat takes seconds on 5^999999: it is the oracle, not under test
		}
		checkNumbers(t, a, b)
	})
}
