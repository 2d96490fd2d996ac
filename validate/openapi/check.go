package openapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/bulwark-go/bulwark/validate"
)

// operation is one compiled operation.
type operation struct {
	info   *Operation
	params []*param
	query  map[string]*param // query names this operation declares
	body   *bodySpec         // nil: no body accepted
	// responses by status code ("200", "2XX", "DEFAULT"), when responses
	// are checked.
	responses map[string]*bodySpec
}

type ctxKey struct{}

// OperationFromContext returns the operation a [Spec] matched for the
// request, in the request its handler passes on.
func OperationFromContext(ctx context.Context) (Operation, bool) {
	op, ok := ctx.Value(ctxKey{}).(*Operation)
	if !ok {
		return Operation{}, false
	}
	return *op, true
}

// Match finds the operation for r's path and method without reading
// anything else: an [*Error] with [ErrNoOperation] or [ErrMethodNotAllowed]
// (and Allow) otherwise. HEAD finds the GET operation when the path
// declares no HEAD. It lets a caller act on the operation (authenticate
// for its security requirements) before [Spec.Check] reads the body.
func (s *Spec) Match(r *http.Request) (Operation, error) {
	op, _, e := s.find(r)
	if e != nil {
		return Operation{}, e
	}
	return *op.info, nil
}

func (s *Spec) find(r *http.Request) (*operation, map[string]string, *Error) {
	segs, ok := s.splitPath(r.URL.EscapedPath())
	var op *operation
	var pathVals map[string]string
	var allow string
	if ok {
		_, op, pathVals, allow = s.match(segs, r.Method)
	}
	if op == nil {
		if allow != "" {
			return nil, nil, &Error{Status: http.StatusMethodNotAllowed, Err: ErrMethodNotAllowed, Allow: allow}
		}
		return nil, nil, &Error{Status: http.StatusNotFound, Err: ErrNoOperation}
	}
	return op, pathVals, nil
}

// Check decides whether r is a request the document describes. It reads
// and checks the body, if any, and returns the request to pass on: r with
// the matched operation in its context and, when a body was read, that
// body. It never changes r. w is used to bound the body read; it may be
// nil. A refusal is an [*Error] (or a [*validate.InputError] when the body
// could not be read within the limits) and has emitted a secevent.
func (s *Spec) Check(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	r2, _, err := s.check(w, r)
	return r2, err
}

func (s *Spec) check(w http.ResponseWriter, r *http.Request) (*http.Request, *operation, error) {
	op, pathVals, e := s.find(r)
	if e != nil {
		emit(r.Context(), e)
		return nil, nil, e
	}
	vs := s.checkParams(op, r, pathVals, nil)
	var raw []byte
	strict := false
	has := hasBody(r)
	switch {
	case op.body == nil && has:
		vs = append(vs, Violation{Rule: "no_body", Message: messageFor("no_body")})
		if w != nil {
			w.Header().Set("Connection", "close") // the body stays unread
		}
	case op.body != nil && !has && op.body.required:
		vs = append(vs, Violation{Rule: "missing", Message: "a request body is required"})
	case op.body != nil && has:
		m, ok := op.body.mediaFor(r.Header.Values("Content-Type"))
		if !ok {
			e := &Error{Status: http.StatusUnsupportedMediaType, Err: ErrUnsupportedMediaType}
			if w != nil {
				w.Header().Set("Connection", "close")
			}
			emit(r.Context(), e)
			return nil, nil, e
		}
		// The bytes validate reads are kept as they came, to be forwarded
		// as checked; validate decodes them once, strictly, for the schema.
		tee := &teeBody{rc: r.Body}
		r1 := r.WithContext(r.Context())
		r1.Body = tee
		doc, err := s.dec.Decode(w, r1) // size, coding, strict JSON; emits its own event
		var ie *validate.InputError
		switch {
		case err == nil:
			raw = tee.buf.Bytes()
			vs = s.checkBody(op.body, m, doc, vs)
		case errors.As(err, &ie) && ie.Status == http.StatusBadRequest:
			strict = true
			if len(ie.Fields) == 0 {
				vs = append(vs, Violation{Rule: "strict_json", Message: fixedText(ie.Err)})
			}
			for _, f := range ie.Fields {
				vs = append(vs, Violation{Pointer: f.Pointer, Rule: f.Rule, Message: f.Message})
			}
		default:
			return nil, nil, err // 413, 415 (coding), 408: nothing more to say
		}
	}
	if len(vs) > 0 {
		if len(vs) > maxViolations {
			vs = vs[:maxViolations]
		}
		e := &Error{Status: statusOf(vs, strict), Err: ErrInvalid, Violations: vs}
		emit(r.Context(), e)
		return nil, nil, e
	}
	r2 := r.WithContext(context.WithValue(r.Context(), ctxKey{}, op.info))
	if raw != nil {
		r2.Body = io.NopCloser(bytes.NewReader(raw))
		r2.ContentLength = int64(len(raw))
		r2.TransferEncoding = nil // the bytes as sent, Content-Encoding and all
	}
	return r2, op, nil
}

// fixedText is a sentinel's fixed wording, without its package prefix.
func fixedText(err error) string {
	t := err.Error()
	if i := bytes.IndexByte([]byte(t), ':'); i >= 0 && i+2 <= len(t) {
		return t[i+2:]
	}
	return t
}

// teeBody keeps a copy of what is read through it.
type teeBody struct {
	rc  io.ReadCloser
	buf bytes.Buffer
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	t.buf.Write(p[:n])
	return n, err
}

func (t *teeBody) Close() error { return t.rc.Close() }

func (s *Spec) checkBody(bs *bodySpec, m *media, doc any, vs []Violation) []Violation {
	vs = bs.caseCheck(doc, make([]string, 0, 16), vs, 0)
	if m.schema == nil {
		return vs
	}
	if ls := m.validate(doc); len(ls) > 0 {
		vs = bs.bodyViolations(doc, ls, vs)
	}
	return vs
}

func hasBody(r *http.Request) bool {
	if len(r.TransferEncoding) > 0 {
		return true
	}
	if r.ContentLength > 0 {
		return true
	}
	return r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody
}

// Handler returns next behind the checks. A refusal is answered through
// [Config.ErrorHandler], with Allow on a 405.
func (s *Spec) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, op, err := s.check(w, r)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Allow != "" {
				w.Header().Set("Allow", e.Allow)
			}
			s.onError(w, r, err)
			return
		}
		if s.responses != ResponsesOff {
			s.serveChecked(w, r2, op, next)
			return
		}
		next.ServeHTTP(w, r2)
	})
}
