package openapi

import (
	"bytes"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulwark-go/bulwark/secevent"
)

// maxResponseBytes bounds a buffered response; a larger one is not
// checked (logged as such, and refused under ResponsesEnforce).
const maxResponseBytes = 8 << 20

// recorder buffers a response so that it can be checked before it is
// sent. It deliberately has no Unwrap: a Flush or a hijack would send
// what was not checked.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.body.Len()+len(p) > maxResponseBytes {
		rec.overflow = true
		return len(p), nil // dropped: the response is not sent unchecked
	}
	return rec.body.Write(p)
}

// serveChecked runs next into a buffer, checks the response against the
// operation's responses, and sends it, or a 502 problem under
// ResponsesEnforce when it breaks them.
func (s *Spec) serveChecked(w http.ResponseWriter, r *http.Request, op *operation, next http.Handler) {
	rec := &recorder{header: http.Header{}}
	next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	vs := s.checkResponse(op, rec)
	if len(vs) > 0 {
		ptrs := make([]string, 0, min(len(vs), maxEventPointers))
		for _, v := range vs[:min(len(vs), maxEventPointers)] {
			ptrs = append(ptrs, v.Pointer+"#"+v.Rule)
		}
		secevent.Emit(r.Context(), secevent.Event{
			Name:   secevent.InputValidationFail,
			Reason: ErrResponse.Error(),
			Attrs: []slog.Attr{
				slog.String("direction", "response"),
				slog.Int("status", rec.status),
				slog.Any("pointers", ptrs),
			},
		})
		if s.responses == ResponsesEnforce || rec.overflow {
			s.onError(w, r, &Error{Status: http.StatusBadGateway, Err: ErrResponse})
			return
		}
	}
	h := w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	if !rec.overflow {
		h.Set("Content-Length", strconv.Itoa(rec.body.Len()))
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

// checkResponse lists how a buffered response breaks the document: a
// status it does not list, a content type it does not list, a body that
// breaks the schema (a member it does not declare, OWASP API3).
func (s *Spec) checkResponse(op *operation, rec *recorder) []Violation {
	if rec.overflow {
		return []Violation{{Rule: "too_large", Message: "the response is too large to check"}}
	}
	code := strconv.Itoa(rec.status)
	rs := op.responses[code]
	if rs == nil {
		rs = op.responses[code[:1]+"XX"]
	}
	if rs == nil {
		rs = op.responses["DEFAULT"]
	}
	if rs == nil {
		return []Violation{{Rule: "undocumented_status", Message: "the operation does not list this status"}}
	}
	if rec.body.Len() == 0 || len(rs.media) == 0 {
		if rec.body.Len() > 0 {
			return []Violation{{Rule: "undocumented_body", Message: "the response has a body the document does not describe"}}
		}
		return nil
	}
	ct := rec.header.Get("Content-Type")
	full, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return []Violation{{Rule: "content_type", Message: "the response's content type is not one the document lists"}}
	}
	typ, sub, _ := strings.Cut(full, "/")
	var m *media
	for _, c := range rs.media {
		if (c.typ == typ && (c.sub == sub || c.sub == "*")) || c.typ == "*" {
			m = c
			break
		}
	}
	if m == nil {
		return []Violation{{Rule: "content_type", Message: "the response's content type is not one the document lists"}}
	}
	if m.schema == nil || typ != "application" || (sub != "json" && !strings.HasSuffix(sub, "+json")) {
		return nil // only JSON bodies are checked
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(rec.body.Bytes()))
	if err != nil {
		return []Violation{{Rule: "malformed", Message: "the response body is not JSON"}}
	}
	if ls := m.validate(doc); len(ls) > 0 {
		return rs.bodyViolations(doc, ls, nil)
	}
	return nil
}
