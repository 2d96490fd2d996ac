package validate

import (
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
)

// checkContentType accepts one Content-Type field line, application/json
// or application/*+json with no parameters other than charset=utf-8 (in
// any case). Several lines are refused, whatever they say: Content-Type is
// a singleton field (RFC 9110 section 5.3), and a checker that read one of
// them while the next hop reads another (or joins them) would pass what it
// never checked.
func checkContentType(lines []string) *InputError {
	if len(lines) != 1 || lines[0] == "" {
		return inputErr(http.StatusUnsupportedMediaType, ErrUnsupportedMediaType)
	}
	mt, params, err := mime.ParseMediaType(lines[0])
	if err != nil {
		return inputErr(http.StatusUnsupportedMediaType, ErrUnsupportedMediaType)
	}
	typ, sub, _ := strings.Cut(mt, "/")
	if typ != "application" || (sub != "json" && !strings.HasSuffix(sub, "+json")) {
		return inputErr(http.StatusUnsupportedMediaType, ErrUnsupportedMediaType)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return inputErr(http.StatusUnsupportedMediaType, ErrUnsupportedMediaType)
		}
	}
	return nil
}

// readBody applies the pre-decode checks and returns the whole body, held
// to v.maxBody as sent and as decoded. The returned buffer comes from the
// pool; the caller returns it with v.putBuf.
func (v *Validator) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, *InputError) {
	if err := checkContentType(r.Header.Values("Content-Type")); err != nil {
		return nil, err
	}
	coding, ierr := v.contentCoding(r.Header.Values("Content-Encoding"))
	if ierr != nil {
		return nil, ierr
	}
	if r.ContentLength > v.maxBody {
		return nil, inputErr(http.StatusRequestEntityTooLarge, ErrTooLarge)
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, badRequest(ErrEmpty)
	}
	if w != nil && v.timeout > 0 {
		// Writers without deadline support (ErrNotSupported) are read
		// without one; the server's own ReadTimeout still applies. Once the
		// body is in, the deadline is lifted: left in place it would fail the
		// server's background read and cancel the request context while a
		// slow handler still runs.
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(v.now().Add(v.timeout)) == nil {
			defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
		}
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, v.maxBody)
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, readErr(err)
		}
		defer func() { _ = zr.Close() }()
		body = zr
	case "deflate":
		// RFC 9110 section 8.4.1.2: "deflate" is the zlib format (RFC 1950),
		// a DEFLATE stream in a header and an Adler-32 checksum. Raw
		// DEFLATE, which some old servers sent in responses, is refused: a
		// request body has no such legacy, and zlib's checksum proves the
		// body decoded whole.
		zr, err := zlib.NewReader(body)
		if err != nil {
			return nil, readErr(err)
		}
		defer func() { _ = zr.Close() }()
		body = zr
	}
	// The buffer grows with the bytes that arrive, never ahead of them: a
	// client declaring 1 MiB and sending one byte holds one small buffer.
	// One byte past the most the body may be tells an oversized body.
	most := v.maxBody + 1
	if coding == "" && r.ContentLength >= 0 {
		most = min(most, r.ContentLength+1) // a server's body is never longer than declared
	}
	bp := v.getBuf()
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			if most <= int64(len(buf)) {
				most = v.maxBody + 1 // longer than declared (not from net/http's server)
			}
			grow := min(int64(max(cap(buf), firstBuf)), most-int64(len(buf)))
			buf = slices.Grow(buf, int(grow)) // #nosec G115 -- grow <= MaxBodyBytes+1 <= 1 GiB+1
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > v.maxBody {
			*bp = buf
			v.putBuf(bp)
			return nil, inputErr(http.StatusRequestEntityTooLarge, ErrTooLarge)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = buf
			v.putBuf(bp)
			return nil, readErr(err)
		}
	}
	*bp = buf
	return bp, nil
}

func readErr(err error) *InputError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return inputErr(http.StatusRequestEntityTooLarge, ErrTooLarge)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return inputErr(http.StatusRequestTimeout, ErrTimeout)
	}
	return badRequest(ErrRead)
}

// contentCoding returns the single allowed coding named by the
// Content-Encoding header field lines, "" for identity.
func (v *Validator) contentCoding(lines []string) (string, *InputError) {
	coding := ""
	for _, line := range lines {
		for c := range strings.SplitSeq(line, ",") {
			c = strings.ToLower(strings.TrimSpace(c))
			switch {
			case c == "" || c == "identity":
				continue
			case coding != "" || !v.encodings[c]:
				// Stacked codings are refused: each layer multiplies the bomb.
				return "", inputErr(http.StatusUnsupportedMediaType, ErrUnsupportedEncoding)
			}
			coding = c
		}
	}
	return coding, nil
}

const (
	// firstBuf is the first read buffer's size, and the least a buffer
	// grows by; it doubles from there as data arrives.
	firstBuf = 4 << 10
	// maxPooledBuf is the largest buffer kept for reuse.
	maxPooledBuf = 256 << 10
)

// getBuf returns an empty body buffer: a pooled one, or none at all yet
// (readBody grows it as the body arrives).
func (v *Validator) getBuf() *[]byte {
	if bp, ok := v.bufs.Get().(*[]byte); ok {
		return bp
	}
	return new([]byte)
}

func (v *Validator) putBuf(bp *[]byte) {
	if cap(*bp) > maxPooledBuf {
		return
	}
	*bp = (*bp)[:0]
	v.bufs.Put(bp)
}
