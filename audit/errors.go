package audit

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is.
var (
	// ErrTampered is matched by every [*TamperError] that [Verify] returns:
	// a chained log was altered, reordered, truncated or had records
	// removed.
	ErrTampered = errors.New("audit: log tampered")

	// ErrUnclean is matched by the [*UncleanError] that [Verify] returns
	// for an intact log in which a chain ends without its end record (the
	// writer was killed, crashed or is still writing), without
	// [VerifyConfig.AllowOpen]. It is not [ErrTampered].
	ErrUnclean = errors.New("audit: chain ended uncleanly")

	// ErrClosed is returned by [*Chain] and [*Async] handlers after Close.
	ErrClosed = errors.New("audit: handler closed")

	// ErrBadKey is returned by [ParseKey] for a key that is not hex or
	// base64 text of at least [MinKeyLen] bytes.
	ErrBadKey = errors.New("audit: key must be hex or base64 of at least 32 bytes")
)

// ConfigError describes one problem with a [Config], [RedactConfig],
// [ChainConfig] or [AsyncConfig]. The constructors return all of them
// joined with errors.Join.
type ConfigError struct {
	Field  string // the field, e.g. "RequestIDHeader"
	Value  string // the offending value, as written; empty for secrets
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("audit: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("audit: %s %q: %s", e.Field, e.Value, e.Reason)
}

// TamperError locates the first record of a chained log that fails
// verification. It matches [ErrTampered].
type TamperError struct {
	File   string // the file, with [VerifyFiles] ("checkpoints" for the checkpoint file)
	Line   int    // 1-based line number of the first bad record (or where a missing one belongs)
	Seq    uint64 // the sequence number expected there, when known
	Reason string // fixed wording: "MAC mismatch", "sequence gap", …
}

func (e *TamperError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("audit: log tampered at %s:%d (seq %d): %s", e.File, e.Line, e.Seq, e.Reason)
	}
	return fmt.Sprintf("audit: log tampered at line %d (seq %d): %s", e.Line, e.Seq, e.Reason)
}

// Unwrap returns [ErrTampered].
func (e *TamperError) Unwrap() error { return ErrTampered }
