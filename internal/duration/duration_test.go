package duration_test

import (
	"errors"
	"flag"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bulwark-go/bulwark/internal/duration"
)

const day = 24 * time.Hour

var parseCases = []struct {
	in   string
	want time.Duration
	err  error // nil: accepted
}{
	{"30d", 30 * day, nil},
	{"1d", day, nil},
	{"0d", 0, nil},
	{"1.5d", 36 * time.Hour, nil},
	{".5d", 12 * time.Hour, nil},
	{"0.1d", 144 * time.Minute, nil},
	{"1d12h", 36 * time.Hour, nil},
	{"1.5d30m", 36*time.Hour + 30*time.Minute, nil},
	{"2d3h4m5s", 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second, nil},
	{"12h1d", 36 * time.Hour, nil}, // units in any order, as time.ParseDuration allows
	{"+2d", 2 * day, nil},
	{" 7d ", 7 * day, nil},
	{"720h", 720 * time.Hour, nil},
	{"90s", 90 * time.Second, nil},
	{"1.5h", 90 * time.Minute, nil},
	{"0", 0, nil},
	{"300ms", 300 * time.Millisecond, nil},
	{"106751d", duration.Max, nil}, // the largest whole number of days a time.Duration holds

	{"", 0, duration.ErrSyntax},
	{"d", 0, duration.ErrSyntax},
	{"1", 0, duration.ErrSyntax},
	{"soon", 0, duration.ErrSyntax},
	{"1dd", 0, duration.ErrSyntax},
	{"1 d", 0, duration.ErrSyntax},
	{"d1", 0, duration.ErrSyntax},
	{".d", 0, duration.ErrSyntax},
	{"1D", 0, duration.ErrSyntax},
	{"1day", 0, duration.ErrSyntax},
	{"1w", 0, duration.ErrSyntax},
	{"1d-1h", 0, duration.ErrSyntax},
	{"1e3d", 0, duration.ErrSyntax},
	{"1..5d", 0, duration.ErrSyntax},
	{"+", 0, duration.ErrSyntax},
	{"+-1d", 0, duration.ErrSyntax},

	{"-1d", 0, duration.ErrNegative},
	{"-1h", 0, duration.ErrNegative},
	{"-0", 0, duration.ErrNegative},

	{"106752d", 0, duration.ErrRange},               // past time.Duration's range
	{"106751d1h", 0, duration.ErrRange},             // the sum past Max
	{"106751.5d", 0, duration.ErrRange},             // the fraction past Max
	{"99999999999999999999d", 0, duration.ErrRange}, // the number itself past 64 bits
	{"9223372036854775807ns", 0, duration.ErrRange},
	{"2562048h", 0, duration.ErrRange},
}

// TestParseAcceptsDaysWhereverGoAcceptsUnits: d is one more unit of Go's
// duration syntax; a refusal says why, as a *duration.Error.
func TestParseAcceptsDaysWhereverGoAcceptsUnits(t *testing.T) {
	for _, tc := range parseCases {
		got, err := duration.Parse(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
		var e *duration.Error
		if err != nil && (!errors.As(err, &e) || e.Value != strings.TrimSpace(tc.in)) {
			t.Errorf("Parse(%q) error = %#v, want a *duration.Error with the value", tc.in, err)
		}
	}
}

// TestParseAgreesWithTimeParseDurationWithoutDays: a value without d gets
// exactly time.ParseDuration's result, so the YAML and the flags mean the
// same as before for every value they already took, negatives and values
// past Max (about 292 years) aside.
func TestParseAgreesWithTimeParseDurationWithoutDays(t *testing.T) {
	for _, s := range []string{"1h", "1h30m", "1.5h", "0", "0s", "+5m", "2562000h", "1.000000001s",
		"0.333333333333333333333h", "1.0000000000000000000001h", "12.345678901234567890123456789m",
		"1x", "", "1", "+", ".s", "1µs", "1μs", "1us", "1h.5m", "5.s", ".5h", "1.h1m"} {
		want, wantErr := time.ParseDuration(s)
		got, err := duration.Parse(s)
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("Parse(%q) = %v, %v; time.ParseDuration says %v, %v", s, got, err, want, wantErr)
		}
	}
}

func TestParseErrorSaysWhy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"soon", `"soon": not a duration (use e.g. 90s, 15m, 12h, 30d or 1d12h)`},
		{"-1d", `"-1d": must not be negative`},
		{"200000d", `"200000d": too long (at most 106751d, about 292 years)`},
	} {
		if _, err := duration.Parse(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestFormatPrintsWholeDaysAsDays(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{30 * day, "30d"},
		{day, "1d"},
		{-2 * day, "-48h0m0s"},
		{36 * time.Hour, "36h0m0s"},
		{90 * time.Second, "1m30s"},
		{0, "0s"},
		{math.MinInt64, time.Duration(math.MinInt64).String()},
	} {
		if got := duration.Format(tc.in); got != tc.want {
			t.Errorf("Format(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in < 0 {
			continue // Parse refuses negatives
		}
		if back, err := duration.Parse(duration.Format(tc.in)); err != nil || back != tc.in {
			t.Errorf("Parse(Format(%v)) = %v, %v; want it back", tc.in, back, err)
		}
	}
}

// TestFlagTakesDays: a command-line flag made with [duration.Var] takes
// what the YAML takes.
func TestFlagTakesDays(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var ttl time.Duration
	duration.Var(fs, &ttl, "ttl", day, "lifetime")
	if ttl != day {
		t.Fatalf("default = %v, want %v", ttl, day)
	}
	if err := fs.Parse([]string{"-ttl", "30d"}); err != nil || ttl != 30*day {
		t.Fatalf("-ttl 30d: %v, %v; want %v", ttl, err, 30*day)
	}
	var out strings.Builder
	fs.SetOutput(&out)
	for _, tc := range []struct{ arg, want string }{
		{"soon", `invalid value "soon" for flag -ttl: not a duration (use e.g. 90s, 15m, 12h, 30d or 1d12h)`},
		{"-1d", `invalid value "-1d" for flag -ttl: must not be negative`},
		{"106752d", `invalid value "106752d" for flag -ttl: too long (at most 106751d, about 292 years)`},
	} {
		out.Reset()
		if err := fs.Parse([]string{"-ttl", tc.arg}); err == nil || !strings.Contains(out.String(), tc.want) {
			t.Errorf("-ttl %s: %v, %q; want an error and %q", tc.arg, err, out.String(), tc.want)
		}
	}
	if got := fs.Lookup("ttl").DefValue; got != "1d" {
		t.Errorf("DefValue = %q, want 1d", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := duration.Parse(s)
		if err != nil {
			return
		}
		if d < 0 || d > duration.Max {
			t.Fatalf("Parse(%q) = %v, outside [0, Max]", s, d)
		}
		if !strings.Contains(s, "d") {
			if want, werr := time.ParseDuration(strings.TrimSpace(s)); werr != nil || want != d {
				t.Fatalf("Parse(%q) = %v; time.ParseDuration = %v, %v", s, d, want, werr)
			}
		}
		if back, err := duration.Parse(duration.Format(d)); err != nil || back != d {
			t.Fatalf("Parse(Format(Parse(%q))) = %v, %v; want %v", s, back, err, d)
		}
	})
}

// TestFromYAMLNamesTheLine: a bad value in the YAML is a *yaml.TypeError
// with its line and column, which the decoder collects and goes on.
func TestFromYAMLNamesTheLine(t *testing.T) {
	var doc struct {
		A yamlDuration `yaml:"a"`
		B yamlDuration `yaml:"b"`
		C yamlDuration `yaml:"c"`
		D yamlDuration `yaml:"d"`
	}
	err := yaml.Unmarshal([]byte("a: 1d12h\nb: -1d\nc: [1d]\nd: 2x\n"), &doc)
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		t.Fatalf("Unmarshal error = %v, want a *yaml.TypeError", err)
	}
	want := []string{
		`line 2:4: "-1d": must not be negative`,
		`line 3:4: want a duration (e.g. 90s, 15m, 12h, 30d)`,
		`line 4:4: "2x": not a duration (use e.g. 90s, 15m, 12h, 30d or 1d12h)`,
	}
	if strings.Join(te.Errors, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors = %q, want %q", te.Errors, want)
	}
	if time.Duration(doc.A) != 36*time.Hour {
		t.Errorf("a = %v, want 36h", time.Duration(doc.A))
	}
}

type yamlDuration time.Duration

func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := duration.FromYAML(n)
	if err != nil {
		return err
	}
	*d = yamlDuration(v)
	return nil
}
