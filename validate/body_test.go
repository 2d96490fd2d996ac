package validate_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/validate"
)

// The checks on a body before it is decoded: its media type and its
// content coding.

// compressed returns data written through the compressor newWriter makes.
func compressed(t *testing.T, data []byte, newWriter func(io.Writer) (io.WriteCloser, error)) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, err := newWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipped(t *testing.T, data []byte) []byte {
	return compressed(t, data, func(w io.Writer) (io.WriteCloser, error) { return gzip.NewWriter(w), nil })
}

func TestGzipBomb(t *testing.T) {
	// 10 MiB of JSON-looking padding compresses to about 10 KiB: a gzip
	// stream may hold many members, so one 256 KiB member is repeated 40 times.
	bomb := gzipped(t, append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 256<<10)...))
	bomb = append(bomb, bytes.Repeat(gzipped(t, bytes.Repeat([]byte("a"), 256<<10)), 39)...)
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes compressed", len(bomb))
	}
	request := func() *http.Request {
		r := jsonRequest(string(bomb))
		r.Header.Set("Content-Encoding", "gzip")
		return r
	}
	t.Run("gzip allowed: decoded size capped", func(t *testing.T) {
		hs := newHarness(t, validate.Config{ContentEncodings: []string{"gzip"}})
		wantRefused(t, hs.do(request()), http.StatusRequestEntityTooLarge, validate.ErrTooLarge)
	})
	t.Run("gzip not allowed", func(t *testing.T) {
		hs := newHarness(t, validate.Config{})
		wantRefused(t, hs.do(request()), http.StatusUnsupportedMediaType, validate.ErrUnsupportedEncoding)
	})
	t.Run("stacked codings", func(t *testing.T) {
		hs := newHarness(t, validate.Config{ContentEncodings: []string{"gzip"}})
		r := request()
		r.Header.Set("Content-Encoding", "gzip, gzip")
		wantRefused(t, hs.do(r), http.StatusUnsupportedMediaType, validate.ErrUnsupportedEncoding)
	})
	t.Run("small gzip body accepted", func(t *testing.T) {
		hs := newHarness(t, validate.Config{ContentEncodings: []string{"gzip"}})
		r := jsonRequest(string(gzipped(t, []byte(`{"name":"zqx"}`))))
		r.Header.Set("Content-Encoding", "gzip")
		if got := hs.do(r); got.status != http.StatusNoContent || got.got == nil || got.got.Name != "zqx" {
			t.Errorf("status %d, got %+v; want 204 with name bob", got.status, got.got)
		}
	})
}

func TestContentTypeRefused(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"text/plain", http.StatusUnsupportedMediaType},
		{"application/json; charset=utf-16", http.StatusUnsupportedMediaType},
		{"application/json; charset=UTF-16LE", http.StatusUnsupportedMediaType},
		{"application/json; charset=iso-8859-1", http.StatusUnsupportedMediaType},
		{"", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"application/jsonp", http.StatusUnsupportedMediaType},
		{"application/json; boundary=x", http.StatusUnsupportedMediaType},
		{"application/json;;", http.StatusUnsupportedMediaType},
		{"application/json", http.StatusNoContent},
		{"Application/JSON; charset=UTF-8", http.StatusNoContent},
		{"application/merge-patch+json", http.StatusNoContent},
	} {
		t.Run(tc.ct, func(t *testing.T) {
			r := jsonRequest(`{"name":"zqx"}`)
			r.Header.Set("Content-Type", tc.ct)
			got := hs.do(r)
			if tc.status != http.StatusUnsupportedMediaType {
				if got.status != tc.status {
					t.Errorf("Content-Type %q: status %d, want %d", tc.ct, got.status, tc.status)
				}
				return
			}
			wantRefused(t, got, tc.status, validate.ErrUnsupportedMediaType, "zqx")
		})
	}
}

// TestSecondContentTypeLineRefused: a request with two Content-Type lines
// is ambiguous (the checker read the first, a framework or proxy behind it
// may read the last or join them), so it is refused, in either order.
func TestSecondContentTypeLineRefused(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, lines := range [][]string{
		{"application/json", "text/plain"},
		{"text/plain", "application/json"},
		{"application/json", "application/json"},
		{"application/json", ""},
	} {
		t.Run(strings.Join(lines, " + "), func(t *testing.T) {
			r := jsonRequest(`{"name":"zqx"}`)
			r.Header["Content-Type"] = lines
			wantRefused(t, hs.do(r), http.StatusUnsupportedMediaType, validate.ErrUnsupportedMediaType, "zqx")
		})
	}
}

// TestDeflateBodyIsZlib: Content-Encoding: deflate is the zlib format
// (RFC 9110 section 8.4.1.2: a deflate stream inside a zlib wrapper, with
// its checksum), as compress/zlib and every conforming client write it; a
// correct client got 400 when it was read as raw DEFLATE. A raw DEFLATE
// stream without the wrapper is refused, and a zlib bomb is held to
// MaxBodyBytes once decoded.
func TestDeflateBodyIsZlib(t *testing.T) {
	zlibbed := func(data []byte) []byte {
		return compressed(t, data, func(w io.Writer) (io.WriteCloser, error) { return zlib.NewWriterLevel(w, zlib.BestCompression) })
	}
	rawDeflated := func(data []byte) []byte {
		return compressed(t, data, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestCompression) })
	}
	hs := newHarness(t, validate.Config{ContentEncodings: []string{"deflate"}, MaxBodyBytes: 64 << 10})
	request := func(body []byte) *http.Request {
		r := jsonRequest(string(body))
		r.Header.Set("Content-Encoding", "deflate")
		return r
	}
	if got := hs.do(request(zlibbed([]byte(`{"name":"zqx"}`)))); got.status != http.StatusNoContent || got.got == nil || got.got.Name != "zqx" {
		t.Errorf("zlib body: status %d (%s), want 204 with the name decoded", got.status, got.body)
	}
	wantRefused(t, hs.do(request(rawDeflated([]byte(`{"name":"zqx"}`)))), http.StatusBadRequest, validate.ErrRead)
	corrupt := zlibbed([]byte(`{"name":"zqx"}`))
	corrupt[len(corrupt)-1] ^= 1 // the Adler-32 checksum
	wantRefused(t, hs.do(request(corrupt)), http.StatusBadRequest, validate.ErrRead)
	bomb := zlibbed(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 1<<20)...))
	wantRefused(t, hs.do(request(bomb)), http.StatusRequestEntityTooLarge, validate.ErrTooLarge)
}
