package headers

import (
	"io"
	"net/http"
)

// The state is the ResponseWriter the next handler sees. It applies the
// headers at the first WriteHeader, Write, ReadFrom or Flush, or when the
// handler returns without writing (the implicit 200). Other optional
// interfaces (Hijacker, deadlines, full duplex) are reached through Unwrap
// by [http.ResponseController].
var (
	_ http.ResponseWriter = (*state)(nil)
	_ http.Flusher        = (*state)(nil)
	_ io.ReaderFrom       = (*state)(nil)
)

// Header returns the underlying writer's header map.
func (s *state) Header() http.Header { return s.w.Header() }

// WriteHeader applies the security headers, then writes the status.
// Informational statuses (1xx but 101) pass through without the
// fingerprint headers (a reverse-proxied upstream's 103 Early Hints may
// carry its Server): the final response comes later and gets the security
// headers then.
func (s *state) WriteHeader(code int) {
	if !s.applied {
		if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
			s.stripFingerprints()
		} else {
			s.apply()
		}
	}
	s.w.WriteHeader(code)
}

// stripFingerprints removes the fingerprint headers from the header map.
func (s *state) stripFingerprints() {
	h := s.w.Header()
	for _, k := range s.h.strip {
		delete(h, k)
	}
}

// stripTrailers removes fingerprint headers sent as trailers: those the
// handler announced in Trailer (apply drops them from the announcement)
// and those set with the [http.TrailerPrefix].
func (s *state) stripTrailers() {
	h := s.w.Header()
	for _, k := range s.h.stripAll {
		delete(h, k)
	}
}

// Write applies the security headers if not yet done, then writes p.
func (s *state) Write(p []byte) (int, error) {
	if !s.applied {
		s.apply()
	}
	return s.w.Write(p)
}

// ReadFrom applies the security headers if not yet done, then copies from
// r, using the underlying writer's ReadFrom (sendfile) when it has one.
func (s *state) ReadFrom(r io.Reader) (int64, error) {
	if !s.applied {
		s.apply()
	}
	if rf, ok := s.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{s.w}, r)
}

// writerOnly hides every method of a writer but Write, so that io.Copy
// cannot loop back into ReadFrom.
type writerOnly struct{ io.Writer }

// Flush applies the security headers if not yet done and flushes.
func (s *state) Flush() { _ = s.FlushError() }

// FlushError is Flush reporting the underlying writer's error, as
// [http.ResponseController] expects.
func (s *state) FlushError() error {
	if !s.applied {
		s.apply()
	}
	return http.NewResponseController(s.w).Flush()
}

// Unwrap returns the underlying ResponseWriter, for
// [http.ResponseController].
func (s *state) Unwrap() http.ResponseWriter { return s.w }

// finish applies the headers when the handler returned without writing:
// the server then sends an implicit 200 with the header map as it is.
// After the handler, what is in the header map are trailers: fingerprints
// go from them too.
func (s *state) finish() {
	if !s.applied {
		s.apply()
	}
	s.stripTrailers()
}
