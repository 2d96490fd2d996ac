// Package openapi shows validate/openapi in front of a std mux, with the
// OpenAPI Initiative's Petstore (3.0) and Tic Tac Toe (3.1) documents
// that validate/openapi's conformance tests use: the mux's handlers are
// written for what the document describes, and see nothing else.
package openapi
