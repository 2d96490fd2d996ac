// Package gateway proves `bulwark serve`'s boundary against real next hops:
// nginx, whose own path resolution shows that what nginx serves is what
// bulwark routed, and a Python stdlib WSGI app (wsgiref), which folds
// header names the way CGI, WSGI, Rack and PHP do and so shows that no
// underscore or override header reaches the application.
//
// The test builds the bulwark binary from the repository and runs it as
// an operator would. It is its own module so that it runs as a separate
// step of .ci/run; it needs nothing but the standard library, nginx and
// python3 (Debian's nginx and python3 packages). Without them the tests
// skip, except with BULWARK_REQUIRE_REAL=1 (set by .ci/run), where they
// fail.
package gateway
