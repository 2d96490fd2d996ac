// Package bench measures bulwark beside the libraries users would pick
// instead, in one run, so that the ratios in bench/README.md are comparable.
//
// It is its own Go module so that peers (unrolled/secure, go-chi/httprate,
// rs/cors used bare, …) never enter the root go.mod. Run it with ./run.
package bench
