package canonical_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/canonical"
)

// TestChunkedRequestClosesTheConnection: a request with Content-Length
// and Transfer-Encoding (CL.TE) followed by a second request on the same
// connection. net/http alone reads the chunked body, keeps the connection
// and answers the second request too: a front hop that framed the first
// by Content-Length has had the second smuggled past it. Behind Handler
// there is one answer, then the connection closes (RFC 9112 §6.1).
func TestChunkedRequestClosesTheConnection(t *testing.T) {
	const payload = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	for _, tc := range []struct {
		name    string
		h       http.Handler
		answers int
	}{
		{"net/http alone", ok, 2},
		{"behind Handler", mustNew(t, canonical.Config{}).Handler(ok), 1},
	} {
		srv := httptest.NewServer(tc.h)
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, payload); err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(c)
		c.Close()
		srv.Close()
		if n := len(regexp.MustCompile(`(?m)^HTTP/1\.1 `).FindAll(out, -1)); n != tc.answers {
			t.Errorf("%s: %d answers, want %d:\n%s", tc.name, n, tc.answers, out)
		}
	}
}
