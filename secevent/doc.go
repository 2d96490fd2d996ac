// Package secevent carries security events from the package that notices
// them to the package that records them.
//
// A feature package that refuses or notices something (a rate limit hit, a
// bad token, a disallowed CORS origin) calls [Emit] with an [Event] named from
// the OWASP Logging Vocabulary (the constants in this package). [Emit] hands the event
// to the [Recorder] installed in the request context — bulwark's audit
// package installs one — and does nothing when none is installed, at the
// cost of one context lookup.
//
// Events name what happened and why in terms an operator can alert on; they
// must not carry secrets (tokens, keys, passwords, cookies) in Reason or
// Attrs. The recorder is expected to redact as a second line of defence, not
// the first.
//
// The package depends only on the standard library, so that every other
// bulwark package can import it.
package secevent
