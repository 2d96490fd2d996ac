// Package duration reads durations the way every part of bulwark's
// operator interface writes them: Go's syntax ("90s", "15m", "1h30m") with
// one more unit, d for 24 hours ("30d", "1.5d", "1d12h"). The YAML
// configuration of `bulwark serve` and the command-line flags share it, so
// that a value one accepts the other accepts too.
//
// A duration here is a length of time (a lifetime, a timeout, a period):
// a negative one is refused, and so is one past what a [time.Duration]
// holds (about 292 years), each with its own error.
package duration

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Day is the length of the d unit: 24 hours, with no calendar or
// daylight-saving meaning.
const Day = 24 * time.Hour

// Max is the longest duration [Parse] accepts, the largest whole number of
// days a time.Duration holds.
const Max = 106751 * Day

// The reasons a value is refused, for [errors.Is] on a [*Error].
var (
	ErrSyntax   = errors.New("duration: not a duration")
	ErrNegative = errors.New("duration: negative")
	ErrRange    = errors.New("duration: out of range")
)

// Error is a value [Parse] refused and why (Err is [ErrSyntax],
// [ErrNegative] or [ErrRange]).
type Error struct {
	Value string
	Err   error
}

// Error says the value and the reason: `"soon": not a duration (use e.g.
// 90s, 15m, 12h, 30d or 1d12h)`.
func (e *Error) Error() string { return fmt.Sprintf("%q: %s", e.Value, e.Reason()) }

// Unwrap returns the reason's sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Reason is the message without the value, for where the value is already
// shown (a flag's error names it).
func (e *Error) Reason() string {
	switch e.Err {
	case ErrNegative:
		return "must not be negative"
	case ErrRange:
		return "too long (at most " + Format(Max) + ", about 292 years)"
	}
	return "not a duration (use e.g. 90s, 15m, 12h, 30d or 1d12h)"
}

// units are time.ParseDuration's units and d, in nanoseconds.
var units = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5 micro sign
	"μs": uint64(time.Microsecond), // U+03BC Greek mu
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(Day),
}

// Parse parses s, trimmed of surrounding spaces, in [time.ParseDuration]'s
// syntax with d (24 hours) as one more unit, usable wherever the others
// are and with fractions: "30d", "1.5d", "1d12h", "2d3h4m5s". Without d
// the answer is time.ParseDuration's, except that a negative value is an
// error ([ErrNegative]), and so is one longer than [Max] ([ErrRange]). The
// error is a [*Error].
func Parse(s string) (time.Duration, error) {
	orig := strings.TrimSpace(s)
	s = orig
	if s != "" && s[0] == '-' {
		return 0, &Error{Value: orig, Err: ErrNegative}
	}
	s = strings.TrimPrefix(s, "+")
	if s == "0" {
		return 0, nil
	}
	bad := &Error{Value: orig, Err: ErrSyntax}
	if s == "" {
		return 0, bad
	}
	tooLong := &Error{Value: orig, Err: ErrRange}
	var total uint64
	for s != "" {
		// A number: [0-9]*(\.[0-9]*)?, with at least one digit.
		i := 0
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		whole := s[:i]
		frac := ""
		if i < len(s) && s[i] == '.' {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			frac = s[i+1 : j]
			i = j
		}
		if whole == "" && frac == "" {
			return 0, bad
		}
		// A unit: everything up to the next number.
		j := i
		for j < len(s) && s[j] != '.' && !isDigit(s[j]) {
			j++
		}
		unit, ok := units[s[i:j]]
		if !ok {
			return 0, bad
		}
		s = s[j:]
		v, ok := component(whole, frac, unit)
		if !ok || v > uint64(Max) || total > uint64(Max)-v {
			return 0, tooLong
		}
		total += v
	}
	return time.Duration(total), nil
}

// component is whole.frac times unit in nanoseconds, false past 1<<63-1.
// It computes as time.ParseDuration does (the fraction through float64,
// nanosecond-accurate up to the largest unit, truncated), so that a value
// without d gets exactly its answer.
func component(whole, frac string, unit uint64) (uint64, bool) {
	const limit = 1<<63 - 1
	var v uint64
	for _, c := range []byte(whole) {
		if v > limit/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if v > limit/unit {
		return 0, false
	}
	v *= unit
	// The fraction's digits while they fit, as time's leadingFraction.
	var f uint64
	scale := 1.0
	for _, c := range []byte(frac) {
		if f > limit/10 {
			break
		}
		y := f*10 + uint64(c-'0')
		if y > 1<<63 {
			break
		}
		f, scale = y, scale*10
	}
	if f > 0 {
		// f/scale < 1, so this adds less than one unit (≤ 8.64e13 ns, well
		// within float64's exact integers).
		add := uint64(float64(f) * (float64(unit) / scale))
		if v > limit-add {
			return 0, false
		}
		v += add
	}
	return v, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Format writes d so that [Parse] reads it back: a whole number of days as
// "30d", anything else as [time.Duration.String] does.
func Format(d time.Duration) string {
	if d > 0 && d%Day == 0 {
		return fmt.Sprintf("%dd", d/Day)
	}
	return d.String()
}

// FromYAML reads a YAML scalar with [Parse]. Its error is a
// [*yaml.TypeError] naming the line and column ("line 3:12: …"), which
// yaml's decoder collects while it goes on with the rest of the document.
func FromYAML(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d:%d: want a duration (e.g. 90s, 15m, 12h, 30d)", n.Line, n.Column)}}
	}
	d, err := Parse(n.Value)
	if err != nil {
		return 0, &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d:%d: %v", n.Line, n.Column, err)}}
	}
	return d, nil
}

// Var defines a flag on fs that [Parse] reads, with default value and
// usage as [flag.FlagSet.DurationVar] takes them; its default shows in
// the help in [Format]'s form ("1d", not "24h0m0s").
func Var(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*flagValue)(p), name, usage)
}

// flagValue is a time.Duration as a [flag.Value].
type flagValue time.Duration

func (v *flagValue) String() string {
	if v == nil {
		return "0s"
	}
	return Format(time.Duration(*v))
}

// Set parses s; its error says why without the value, which the flag
// package adds along with the flag's name.
func (v *flagValue) Set(s string) error {
	d, err := Parse(s)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return errors.New(e.Reason())
		}
		return err
	}
	*v = flagValue(d)
	return nil
}
