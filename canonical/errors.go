package canonical

import (
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/problem"
)

// The reasons a path is refused. [Canonicalizer.Request] returns them
// wrapped in a [*PathError]; match them with errors.Is.
var (
	ErrNotOriginForm       = errors.New("canonical: path does not start with /")
	ErrInvalidEscape       = errors.New("canonical: invalid percent-encoding")
	ErrEncodedSlash        = errors.New("canonical: encoded slash")
	ErrBackslash           = errors.New("canonical: backslash")
	ErrControl             = errors.New("canonical: NUL or control character")
	ErrInvalidUTF8         = errors.New("canonical: invalid or overlong UTF-8")
	ErrDoubleEncoding      = errors.New("canonical: double percent-encoding")
	ErrDotSegmentParameter = errors.New("canonical: dot-segment with parameters")
	ErrAboveRoot           = errors.New("canonical: dot-segments above the root")
)

// reasons are what a client is told, per sentinel: the rule, never the
// input.
var reasons = map[error]string{
	ErrNotOriginForm:       "The request path must start with a slash.",
	ErrInvalidEscape:       "The request path has an invalid percent-encoding.",
	ErrEncodedSlash:        "The request path has an encoded slash.",
	ErrBackslash:           "The request path has a backslash.",
	ErrControl:             "The request path has a NUL or control character.",
	ErrInvalidUTF8:         "The request path is not valid UTF-8.",
	ErrDoubleEncoding:      "The request path is percent-encoded twice.",
	ErrDotSegmentParameter: "The request path has a dot-segment with parameters.",
	ErrAboveRoot:           "The request path climbs above the root.",
}

// PathError is a path refused by [Canonicalizer.Request]: 400 Bad Request,
// saying which rule it broke.
type PathError struct {
	Err error // one of the Err… sentinels of this package
}

func (e *PathError) Error() string { return e.Err.Error() }

// Unwrap returns the sentinel.
func (e *PathError) Unwrap() error { return e.Err }

// Problem describes the refusal: 400, with the rule that was broken.
func (e *PathError) Problem() *problem.Details {
	return problem.BadRequest(reasons[e.Err])
}

// Reason is a short, bounded description of the rule, for logs and
// security events ("encoded slash").
func (e *PathError) Reason() string {
	s := e.Err.Error()
	if len(s) > len("canonical: ") {
		return s[len("canonical: "):]
	}
	return s
}

// ConfigError describes one problem with a [Config]. [New] returns all of
// them joined with errors.Join.
type ConfigError struct {
	Field  string // the Config field, e.g. "UnderscoreHeaders"
	Value  string // the offending value
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("canonical: %s %q: %s", e.Field, e.Value, e.Reason)
}
