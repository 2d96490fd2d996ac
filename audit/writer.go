package audit

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// recWriter is the ResponseWriter the next handler sees: it notes the
// status and the body size. Other optional interfaces (deadlines, full
// duplex) are reached through Unwrap by [http.ResponseController].
type recWriter struct {
	w        http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

var (
	_ http.ResponseWriter = (*recWriter)(nil)
	_ http.Flusher        = (*recWriter)(nil)
	_ http.Hijacker       = (*recWriter)(nil)
	_ io.ReaderFrom       = (*recWriter)(nil)
)

func (w *recWriter) Header() http.Header { return w.w.Header() }

func (w *recWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.w.WriteHeader(code)
}

func (w *recWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.w.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.w.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(writerOnly{w.w}, r)
	}
	w.bytes += n
	return n, err
}

// writerOnly hides every method but Write, so io.Copy cannot loop back into
// ReadFrom.
type writerOnly struct{ io.Writer }

func (w *recWriter) Flush() { _ = w.FlushError() }

// FlushError flushes, reporting the underlying writer's error as
// [http.ResponseController] expects.
func (w *recWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.w).Flush()
}

// Hijack takes over the connection (WebSocket upgrades); the record then
// shows status 101 when the handler wrote none.
func (w *recWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.w).Hijack()
	if err == nil {
		w.hijacked = true
	}
	return c, rw, err
}

// Unwrap returns the underlying ResponseWriter.
func (w *recWriter) Unwrap() http.ResponseWriter { return w.w }
