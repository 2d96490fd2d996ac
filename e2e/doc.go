// Package e2e holds bulwark's real-browser tests. It is its own Go module so
// that the browser driver (chromedp) never enters the library's go.mod.
//
// The tests drive Debian's headless Chromium (/usr/bin/chromium, or the path
// in BULWARK_CHROMIUM). Without a browser they skip, except when
// BULWARK_REQUIRE_REAL=1 (set by .ci/run), where they fail.
package e2e
