package validate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/validate"
)

func TestDuplicateKeyPrivilegeEscalation(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, body := range []string{
		`{"name":"zqx","role":"user","role":"admin"}`,
		`{"name":"zqx","role":"user","\u0072ole":"admin"}`,
		`{"name":"zqx","role":"admin","role":"user"}`,
		`{"name":"zqx","extra":{"a":1,"b":2,"a":"admin"}}`,
	} {
		t.Run(body, func(t *testing.T) {
			got := hs.do(jsonRequest(body))
			wantRefused(t, got, http.StatusBadRequest, validate.ErrDuplicateKey, "admin", "zqx")
		})
	}
}

func TestDuplicateKeyInWideObject(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	var b strings.Builder
	b.WriteString(`{"name":"zqx","extra":{`)
	for i := range 40 {
		b.WriteString(`"k` + strconv.Itoa(i) + `":1,`)
	}
	b.WriteString(`"k7":2}}`)
	got := hs.do(jsonRequest(b.String()))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrDuplicateKey)
}

func TestCaseVariantKey(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, body := range []string{
		`{"name":"zqx","ROLE":"admin"}`,
		`{"name":"zqx","Role":"admin"}`,
		`{"NAME":"zqx"}`,
	} {
		t.Run(body, func(t *testing.T) {
			got := hs.do(jsonRequest(body))
			wantRefused(t, got, http.StatusBadRequest, validate.ErrCaseVariantKey, "admin", "zqx", "ROLE", "Role", "NAME")
		})
	}
}

func TestUnicodeFoldedKey(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, body := range []string{
		`{"name":"zqx","ſkip":true}`,        // U+017F LATIN SMALL LETTER LONG S folds to "s"
		`{"name":"zqx","\u017fkip":true}`,   // the same, escaped
		`{"name":"zqx","\u212aind":"root"}`, // U+212A KELVIN SIGN folds to "k"
	} {
		t.Run(body, func(t *testing.T) {
			got := hs.do(jsonRequest(body))
			wantRefused(t, got, http.StatusBadRequest, validate.ErrCaseVariantKey, "ſ", "root", "\u212a")
		})
	}
}

func TestUnknownFieldMassAssignment(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	got := hs.do(jsonRequest(`{"name":"zqx","is_admin":true}`))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrUnknownField, "is_admin", "zqx")
	if !strings.Contains(got.body, `"rule":"unknown_field"`) {
		t.Errorf("body %s lacks the unknown_field rule", got.body)
	}
}

func TestInvalidUTF8(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for name, body := range map[string]string{
		"raw byte":            "{\"name\":\"zq\xffx\"}",
		"overlong encoding":   "{\"name\":\"\xc0\xafb\"}",
		"encoded surrogate":   "{\"name\":\"\xed\xa0\x80\"}",
		"lone high surrogate": `{"name":"\ud800"}`,
		"lone low surrogate":  `{"name":"\udc00x"}`,
		"high then non-low":   `{"name":"\ud800\u0041"}`,
		"invalid in key":      "{\"na\xffme\":\"zqx\"}",
	} {
		t.Run(name, func(t *testing.T) {
			got := hs.do(jsonRequest(body))
			wantRefused(t, got, http.StatusBadRequest, validate.ErrInvalidUTF8, "zq")
		})
	}
}

func TestTrailingSecondDocument(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, body := range []string{
		`{"name":"zqx"}{"name":"eve","role":"admin"}`,
		`{"name":"zqx"} {"role":"admin"}`,
		`{"name":"zqx"}]`,
		`{"name":"zqx"} x`,
	} {
		t.Run(body, func(t *testing.T) {
			got := hs.do(jsonRequest(body))
			wantRefused(t, got, http.StatusBadRequest, validate.ErrTrailingData, "admin", "eve")
		})
	}
}

func TestNullBody(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, body := range []string{"null", " \n null \t"} {
		got := hs.do(jsonRequest(body))
		wantRefused(t, got, http.StatusBadRequest, validate.ErrNullBody)
	}
	got := hs.do(jsonRequest(""))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrEmpty)
}

func TestDeepNestingBomb(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	deep := `{"name":"zqx","extra":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`
	got := hs.do(jsonRequest(deep))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrTooDeep)

	// Exactly at the limit passes: the root object is depth 1.
	ok := `{"name":"zqx","extra":` + strings.Repeat("[", 31) + strings.Repeat("]", 31) + `}`
	if got := hs.do(jsonRequest(ok)); got.status != http.StatusNoContent {
		t.Errorf("depth 32: status %d, want 204 (%s)", got.status, got.body)
	}
	over := `{"name":"zqx","extra":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`
	wantRefused(t, hs.do(jsonRequest(over)), http.StatusBadRequest, validate.ErrTooDeep)
}

func TestWideArrayBomb(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	const size = 1 << 20
	body := `{"name":"zqx","extra":[` + strings.Repeat("0,", (size-40)/2) + `0]}`
	if len(body) > size {
		t.Fatalf("bomb is %d bytes, want at most 1 MiB", len(body))
	}
	got := hs.do(jsonRequest(body))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrTooManyValues)

	var b strings.Builder
	b.WriteString(`{"name":"zqx","extra":{`)
	for i := range 1001 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strconv.Itoa(i) + `":0`)
	}
	b.WriteString(`}}`)
	wantRefused(t, hs.do(jsonRequest(b.String())), http.StatusBadRequest, validate.ErrTooManyKeys)
}

func TestOverlongString(t *testing.T) {
	hs := newHarness(t, validate.Config{MaxStringBytes: 1024})
	got := hs.do(jsonRequest(`{"name":"` + strings.Repeat("a", 1025) + `"}`))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrStringTooLong, "aaaa")
	got = hs.do(jsonRequest(`{"` + strings.Repeat("k", 1025) + `":1}`))
	wantRefused(t, got, http.StatusBadRequest, validate.ErrStringTooLong, "kkkk")
}

// TestTenMiBBodyWithContentLength: the declared length alone refuses the
// request; not one body byte is read.
func TestTenMiBBodyWithContentLength(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	src := &countingReader{r: io.LimitReader(repeatReader{[]byte("0,")}, 10<<20)}
	r := httptest.NewRequest(http.MethodPost, "/accounts", src)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = 10 << 20
	got := hs.do(r)
	wantRefused(t, got, http.StatusRequestEntityTooLarge, validate.ErrTooLarge)
	if src.n != 0 {
		t.Errorf("read %d body bytes, want 0", src.n)
	}
	if c := got.header.Get("Connection"); c != "close" {
		t.Errorf("Connection = %q, want close", c)
	}
}

// TestTenMiBBodyWithoutContentLength: an undeclared length is cut off by
// http.MaxBytesReader just past the cap.
func TestTenMiBBodyWithoutContentLength(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	src := &countingReader{r: io.LimitReader(repeatReader{[]byte("0,")}, 10<<20)}
	r := httptest.NewRequest(http.MethodPost, "/accounts", src)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = -1
	got := hs.do(r)
	wantRefused(t, got, http.StatusRequestEntityTooLarge, validate.ErrTooLarge)
	if src.n > 2<<20 {
		t.Errorf("read %d body bytes, want about 1 MiB", src.n)
	}
}

// TestChunkedBodyOverLimit sends a chunked body over a real connection.
func TestChunkedBodyOverLimit(t *testing.T) {
	hs := newHarness(t, validate.Config{MaxBodyBytes: 64 << 10})
	chunked := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunked <- r.ContentLength == -1 && len(r.TransferEncoding) == 1 && r.TransferEncoding[0] == "chunked"
		hs.h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("0,"), 4096)
		_, _ = pw.Write([]byte(`{"name":"zqx","extra":[`))
		for { // until the transport stops reading: far past the cap
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_ = pr.Close()
	if !<-chunked {
		t.Errorf("request reached the server without chunked encoding")
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", resp.StatusCode)
	}
}

// TestSlowBody: a client that sends half a body and stalls is cut off by the
// read deadline set through http.ResponseController.
func TestSlowBody(t *testing.T) {
	hs := newHarness(t, validate.Config{ReadTimeout: 50 * time.Millisecond})
	srv := httptest.NewServer(hs.h)
	defer srv.Close()
	pr, pw := io.Pipe()
	defer func() { _ = pw.Close() }()
	go func() { _, _ = pw.Write([]byte(`{"name":"zq`)) }() // and nothing more
	req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408 (%s)", resp.StatusCode, body)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if !errorsIs(hs.last.err, validate.ErrTimeout) {
		t.Errorf("error = %v, want ErrTimeout", hs.last.err)
	}
}

// TestReadDeadlineFromNow: the deadline is computed from Config.Now.
func TestReadDeadlineFromNow(t *testing.T) {
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	hs := newHarness(t, validate.Config{Now: past})
	srv := httptest.NewServer(hs.h)
	defer srv.Close()
	pr, pw := io.Pipe()
	defer func() { _ = pw.Close() }()
	req, err := http.NewRequest(http.MethodPost, srv.URL, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status = %d, want 408", resp.StatusCode)
	}
}

func TestSQLInjectionStringsReachHandlerOnlyAsData(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	for _, name := range []string{
		`x' OR '1'='1`,
		`'; DROP TABLE accounts; --`,
		`" OR ""="`,
		`1; SELECT pg_sleep(10)`,
	} {
		t.Run(name, func(t *testing.T) {
			body, _ := jsonMarshal(map[string]any{"name": name, "role": "user"})
			got := hs.do(jsonRequest(string(body)))
			if got.status != http.StatusNoContent || got.got == nil {
				t.Fatalf("status %d, want 204 (%s)", got.status, got.body)
			}
			if got.got.Name != name || got.got.Role != "user" {
				t.Errorf("handler got %+v, want name %q role user exactly", *got.got, name)
			}
		})
	}
	// Where a rule narrows the field, the string is refused without echo.
	body, _ := jsonMarshal(map[string]any{"name": "zqx", "role": `user' OR '1'='1`})
	got := hs.do(jsonRequest(string(body)))
	wantRefused(t, got, http.StatusUnprocessableEntity, validate.ErrRules, "OR", "'1'")
}

type consent struct {
	Accept bool   `json:"accept" validate:"required,eq=true"`
	Count  int    `json:"count" validate:"required,min=1"`
	Note   string `json:"note" validate:"required,max=4"`
	Opt    bool   `json:"opt" validate:"required"`
}

func TestRulesOnPresentFalseAndZero(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[consent](v)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body  string
		rules string // pointer=rule pairs, in order
	}{
		{`{"accept":false,"count":0,"note":"","opt":false}`, "/accept=eq /count=min"},
		{`{"accept":true,"count":1,"note":"","opt":false}`, ""},
		{`{}`, "/accept=required /count=required /note=required /opt=required"},
		{`{"accept":null,"count":null,"note":null,"opt":null}`, "/accept=required /count=required /note=required /opt=required"},
		{`{"accept":true,"count":2,"note":"toolong","opt":true}`, "/note=max"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			_, err := d.DecodeBytes([]byte(tc.body))
			if got := fieldRules(err); got != tc.rules {
				t.Errorf("DecodeBytes(%s) rules = %q, want %q", tc.body, got, tc.rules)
			}
			if tc.rules != "" {
				var ie *validate.InputError
				if !errorsAs(err, &ie) || ie.Status != http.StatusUnprocessableEntity {
					t.Errorf("DecodeBytes(%s) = %v, want a 422 InputError", tc.body, err)
				}
			}
		})
	}
}

func TestDecodeBytesHonoursMaxBodyBytes(t *testing.T) {
	v, err := validate.New(validate.Config{MaxBodyBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[account](v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.DecodeBytes([]byte(`{"name":"abcdefghij"}`)); !errorsIs(err, validate.ErrTooLarge) {
		t.Errorf("DecodeBytes(21 bytes) = %v, want ErrTooLarge", err)
	}
}

// TestCaseVariantKeysInOpaqueJSON: a body decoded as json.RawMessage (the
// gateway's json: true without a schema) goes on to an upstream that most
// likely decodes it into a struct with encoding/json, which matches
// "role" and "ROLE" to one field, the last winning. Found by the probe's
// input.case-variant-keys against bulwark serve.
func TestCaseVariantKeysInOpaqueJSON(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewDecoder[json.RawMessage](v)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"role":"user","ROLE":"admin"}`, `{"a":{"Role":"user","rOLE":"admin"}}`, `[{"k":1,"\u212a":2}]`} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if _, err := d.Decode(httptest.NewRecorder(), r); !errors.Is(err, validate.ErrCaseVariantKey) {
			t.Errorf("%s: err %v, want ErrCaseVariantKey", body, err)
		}
	}
	// A map's keys are its own: "a" and "A" are two entries.
	m, err := validate.NewDecoder[map[string]int](v)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"a":1,"A":2}`))
	r.Header.Set("Content-Type", "application/json")
	if got, err := m.Decode(httptest.NewRecorder(), r); err != nil || len(got) != 2 {
		t.Errorf("map: %v %v", got, err)
	}
}
