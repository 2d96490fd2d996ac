// Package probe is the side-by-side proof of bulwark's attack suite
// (package probe of the library): the same API behind bulwark serve,
// behind a bare httputil.ReverseProxy and behind the peer stack users
// assemble today (unrolled/secure, rs/cors, go-chi/httprate and
// auth0/go-jwt-middleware in front of httputil.ReverseProxy), probed with
// the same options. bulwark serve passes every applicable check; the
// failures of the other two are asserted, so the suite is shown to tell
// them apart. It is a module of its own so that the peers stay out of the
// library's go.mod.
package probe
