package validate_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
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

func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
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

func TestDeflateBodyAndBomb(t *testing.T) {
	deflated := func(data []byte) []byte {
		var b bytes.Buffer
		fw, err := flate.NewWriter(&b, flate.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	hs := newHarness(t, validate.Config{ContentEncodings: []string{"deflate"}, MaxBodyBytes: 64 << 10})
	r := jsonRequest(string(deflated([]byte(`{"name":"zqx"}`))))
	r.Header.Set("Content-Encoding", "deflate")
	if got := hs.do(r); got.status != http.StatusNoContent {
		t.Errorf("small deflate body: status %d, want 204 (%s)", got.status, got.body)
	}
	r = jsonRequest(string(deflated(append([]byte(`{"name":"`), bytes.Repeat([]byte("a"), 1<<20)...))))
	r.Header.Set("Content-Encoding", "deflate")
	wantRefused(t, hs.do(r), http.StatusRequestEntityTooLarge, validate.ErrTooLarge)
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
