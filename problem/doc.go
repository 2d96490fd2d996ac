// Package problem writes RFC 9457 problem details: the one way every bulwark
// package answers "no".
//
// A rejection is written as application/problem+json with the members
// "type", "title", "status", "detail" and "instance", plus extension members
// where a standard asks for them (a JSON Pointer per invalid field, the name
// of the violated rate-limit policy). The writer also sets
// X-Content-Type-Options: nosniff and Cache-Control: no-store, so a refusal
// is never sniffed as HTML and never cached by an intermediary.
//
// What it protects against: leaking internal error text or echoing attacker
// input in error bodies (reflected content, information disclosure). A
// [Details] carries only what its creator put in it; no constructor copies a
// request value, and [WriteError] never writes err.Error() for an error that
// does not describe itself as a problem.
//
// Where it sits: every feature package accepts an [ErrorHandler]; the default
// is [WriteError], which asks the error for its [Details] through the
// [Problem] interface and falls back to a bare 500.
package problem
