package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulwark-go/bulwark/internal/jsonnum"
	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/secevent"
	"github.com/bulwark-go/bulwark/validate"
)

const defaultMaxBody = 1 << 20

// bodyPolicy enforces a route's body rules before the request is
// forwarded: a size cap always, validate's strict JSON rules with json:
// true, and a JSON Schema with schema:.
type bodyPolicy struct {
	max     int64
	decoder *validate.Decoder[json.RawMessage] // nil without json: true
	schema  *jsonschema.Schema                 // nil without schema:
}

func newBodyPolicy(r Route, schemaPath string) (*bodyPolicy, error) {
	b := &bodyPolicy{max: int64(r.MaxBody)}
	if b.max == 0 {
		b.max = defaultMaxBody
	}
	if r.JSON {
		v, err := validate.New(validate.Config{MaxBodyBytes: b.max})
		if err != nil {
			return nil, err
		}
		if b.decoder, err = validate.NewDecoder[json.RawMessage](v); err != nil {
			return nil, err
		}
	}
	if schemaPath != "" {
		s, err := compileSchema(schemaPath)
		if err != nil {
			return nil, err
		}
		b.schema = s
	}
	return b, nil
}

// compileSchema compiles a JSON Schema (draft 2020-12 unless it says
// otherwise) from a local file. Only local files can be referenced: a
// schema never makes the gateway fetch a URL.
func compileSchema(file string) (*jsonschema.Schema, error) {
	f, err := os.Open(file) // #nosec G304 -- the operator's config names the schema file
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{"file": jsonschema.FileLoader{}})
	loc := "file://" + path.Clean("/"+strings.TrimPrefix(file, "/"))
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", file, err)
	}
	return s, nil
}

// wrap returns next behind the body rules.
func (b *bodyPolicy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hasBody(r) {
			next.ServeHTTP(w, r)
			return
		}
		if b.decoder == nil {
			if r.ContentLength > b.max {
				problem.Write(w, problem.ContentTooLarge("The request body is too large."))
				return
			}
			r2 := r.Clone(r.Context())
			r2.Body = http.MaxBytesReader(w, r.Body, b.max)
			next.ServeHTTP(w, r2)
			return
		}
		raw, err := b.decoder.Decode(w, r) // content type, size, strict JSON; emits its own event
		if err != nil {
			problem.WriteError(w, r, err)
			return
		}
		if b.schema != nil {
			if err := b.checkSchema(r, raw); err != nil {
				problem.WriteError(w, r, err)
				return
			}
		}
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(raw))
		r2.ContentLength = int64(len(raw))
		r2.Header.Del("Content-Encoding") // validate decoded it, if it was allowed at all
		next.ServeHTTP(w, r2)
	})
}

func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

// schemaError is a 422 listing where the body breaks the schema: JSON
// Pointers and keywords, never values.
type schemaError struct {
	fields []map[string]string
}

func (e *schemaError) Error() string {
	return fmt.Sprintf("body does not match the schema (%d problems)", len(e.fields))
}

func (e *schemaError) Problem() *problem.Details {
	return problem.UnprocessableContent("The request body does not match the schema.").With("errors", e.fields)
}

// numberRangeError is a 400 for a number written with an exponent past
// jsonnum.MaxExponent, which the schema validator must not be handed.
type numberRangeError struct{ pointer string }

func (e *numberRangeError) Error() string {
	return "a number's exponent is out of range at " + e.pointer
}

func (e *numberRangeError) Problem() *problem.Details {
	return problem.BadRequest("The request body has a number with an exponent out of range.").
		With("errors", []map[string]string{{"pointer": e.pointer, "rule": "number_range", "message": "is a number with an exponent out of range"}})
}

// jsonPointer is the RFC 6901 pointer of the location loc (its tokens).
func jsonPointer(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	s := b.String()
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

func (b *bodyPolicy) checkSchema(r *http.Request, raw []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return &schemaError{} // cannot happen after validate's pass; refuse anyway
	}
	if loc, bad := jsonnum.OutOfRange(doc, nil); bad {
		ptr := jsonPointer(loc)
		secevent.Emit(r.Context(), secevent.Event{
			Name: secevent.InputValidationFail, Reason: "a number's exponent is out of range",
			Attrs: []slog.Attr{slog.Int("status", http.StatusBadRequest), slog.Any("pointers", []string{ptr})},
		})
		return &numberRangeError{pointer: ptr}
	}
	err = b.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	se := &schemaError{}
	if errors.As(err, &ve) {
		for _, u := range ve.BasicOutput().Errors {
			if u.Error == nil || u.KeywordLocation == "" {
				continue
			}
			kw := u.KeywordLocation[strings.LastIndexByte(u.KeywordLocation, '/')+1:]
			if kw == "properties" || kw == "items" || kw == "allOf" || kw == "$ref" {
				continue // containers of the real failures
			}
			ptr := u.InstanceLocation
			if len(ptr) > 128 {
				ptr = ptr[:128]
			}
			se.fields = append(se.fields, map[string]string{"pointer": ptr, "rule": kw, "message": "does not satisfy " + kw})
			if len(se.fields) == 50 {
				break
			}
		}
	}
	pointers := make([]string, 0, len(se.fields))
	for _, f := range se.fields {
		pointers = append(pointers, f["pointer"])
	}
	secevent.Emit(r.Context(), secevent.Event{
		Name: secevent.InputValidationFail, Reason: "body does not match the schema",
		Attrs: []slog.Attr{slog.Int("status", http.StatusUnprocessableEntity), slog.Any("pointers", pointers)},
	})
	return se
}
