package openapi

import (
	"fmt"
	"strings"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/validate"
)

// ResponseMode says what a [Spec] does with responses. The zero value,
// [ResponsesOff], leaves them alone.
type ResponseMode uint8

const (
	// ResponsesOff does not check responses (the default).
	ResponsesOff ResponseMode = iota
	// ResponsesLog checks JSON responses against the operation's responses
	// and emits a secevent for each one that breaks them; the response is
	// sent unchanged.
	ResponsesLog
	// ResponsesEnforce also replaces a response that breaks the document
	// with a 502 problem, so that undocumented fields never leave (OWASP
	// API3, excessive data exposure).
	ResponsesEnforce
)

// Config configures a [Spec]. [New] copies it.
type Config struct {
	// Document is the OpenAPI 3.0 or 3.1 document, YAML or JSON. Required.
	// Its $refs must be local ("#/components/…"): the document never makes
	// the process read a file or fetch a URL.
	Document []byte

	// Name names the document in errors from [New] (a file name). Optional.
	Name string

	// Validator reads and strictly checks JSON bodies before their schema
	// is applied; its MaxBodyBytes bounds every body. Default: one built
	// with validate.New(validate.Config{}), 1 MiB bodies.
	Validator *validate.Validator

	// BasePath is a prefix the requests carry before the document's paths
	// (the path of the document's server URL, "/v1"). It is removed before
	// matching; a request outside it matches no operation. Default "":
	// paths are matched as the document writes them.
	BasePath string

	// DangerouslyAllowUnknownQuery lets query parameters the operation
	// does not declare through. Default false: they are refused, since an
	// upstream may act on a parameter that was never checked.
	DangerouslyAllowUnknownQuery bool

	// Responses turns response checking on. Default [ResponsesOff].
	Responses ResponseMode

	// ErrorHandler writes every refusal. Default [problem.WriteError].
	ErrorHandler problem.ErrorHandler
}

// ConfigError reports one problem with a [Config] or with the document,
// with the place in the document where it was found when known.
type ConfigError struct {
	Name   string // Config.Name, if set
	Field  string // the Config field ("Document", "BasePath")
	Where  string // where in the document: a JSON Pointer, or "" for the whole
	Line   int    // the line in the document, when known (0 otherwise)
	Reason string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("openapi: ")
	if e.Name != "" && e.Field == "Document" {
		b.WriteString(e.Name)
	} else {
		b.WriteString(e.Field)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Where != "" {
		b.WriteString(" at ")
		b.WriteString(e.Where)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}
