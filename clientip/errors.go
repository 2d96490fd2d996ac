package clientip

import (
	"errors"
	"fmt"

	"github.com/bulwark-go/bulwark/problem"
)

// ErrNoAddress is returned when the request's RemoteAddr is not an IP
// address (a Unix socket listener, or a handler called outside a server).
// The middleware answers it with 500: it is a deployment problem, not the
// client's.
var ErrNoAddress = errors.New("clientip: RemoteAddr is not an IP address")

// ConfigError describes one problem with a [Config]. [New] returns all of
// them joined with errors.Join.
type ConfigError struct {
	Field  string // the Config field, e.g. "TrustedProxies"
	Value  string // the offending value, as written
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("clientip: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("clientip: %s %q: %s", e.Field, e.Value, e.Reason)
}

type noAddressError struct{}

func (noAddressError) Error() string { return ErrNoAddress.Error() }
func (noAddressError) Unwrap() error { return ErrNoAddress }
func (noAddressError) Problem() *problem.Details {
	return problem.InternalServerError("The client address could not be determined.")
}
