// Package validaterouters shows bulwark's validate package behind chi and
// gorilla/mux. It is its own module so that neither router enters the
// library's go.mod; the examples are runnable tests (go test ./...).
package validaterouters
