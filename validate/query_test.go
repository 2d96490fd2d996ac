package validate_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/bulwark-go/bulwark/validate"
)

type listQuery struct {
	ID     int64      `path:"id" validate:"required,min=1"`
	Limit  int        `query:"limit" validate:"required,max=100"`
	Sort   string     `query:"sort" validate:"omitempty,oneof=name created"`
	Tags   []string   `query:"tag" validate:"max=3,dive,alphanum"`
	Active *bool      `query:"active"`
	From   netip.Addr `query:"from"`
	Cursor string     `query:"-"`
}

func TestQueryWithPathValue(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got listQuery
	h, err := validate.Query(v, func(w http.ResponseWriter, r *http.Request, q listQuery) {
		got = q
		w.WriteHeader(http.StatusNoContent)
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /lists/{id}/items", h)
	for _, tc := range []struct {
		name   string
		target string
		status int
		err    error
		rules  string
	}{
		{"ok", "/lists/7/items?limit=10&sort=name&tag=a&tag=b&active=false&from=192.0.2.1", 204, nil, ""},
		{"limit zero is present", "/lists/7/items?limit=0", 204, nil, ""},
		{"limit missing", "/lists/7/items", 422, validate.ErrRules, "?limit=required"},
		{"limit over max", "/lists/7/items?limit=101", 422, validate.ErrRules, "?limit=max"},
		{"path id zero", "/lists/0/items?limit=1", 422, validate.ErrRules, "?id=min"},
		{"path id not a number", "/lists/x/items?limit=1", 400, validate.ErrType, "?id=type"},
		{"limit not a number", "/lists/7/items?limit=ten", 400, validate.ErrType, "?limit=type"},
		{"parameter pollution", "/lists/7/items?limit=1&limit=100", 400, validate.ErrDuplicateKey, "?limit=duplicate_key"},
		{"unknown parameter", "/lists/7/items?limit=1&is_admin=1", 400, validate.ErrUnknownField, "=unknown_field"},
		{"case variant is unknown", "/lists/7/items?LIMIT=1", 400, validate.ErrUnknownField, "=unknown_field"},
		{"ignored field not settable", "/lists/7/items?limit=1&Cursor=x", 400, validate.ErrUnknownField, "=unknown_field"},
		{"invalid UTF-8", "/lists/7/items?limit=1&sort=%ff", 400, validate.ErrInvalidUTF8, "?sort=utf8"},
		{"bad escape", "/lists/7/items?limit=%zz", 400, validate.ErrSyntax, ""},
		{"semicolon", "/lists/7/items?limit=1;sort=name", 400, validate.ErrSyntax, ""},
		{"tag rule", "/lists/7/items?limit=1&tag=a-b", 422, validate.ErrRules, "?tag=alphanum"},
		{"sort injection", "/lists/7/items?limit=1&sort=name%3BDROP", 422, validate.ErrRules, "?sort=oneof"},
		{"bad addr", "/lists/7/items?limit=1&from=999.1.1.1", 400, validate.ErrType, "?from=type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = listQuery{}
			var captured error
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			mux.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Errorf("GET %s: status %d, want %d (%s)", tc.target, w.Code, tc.status, w.Body)
			}
			// The decision without the handler, same request.
			pr := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if _, pat := mux.Handler(pr); pat != "" {
				pr.SetPathValue("id", pathID(tc.target))
			}
			_, captured = validate.DecodeQuery[listQuery](v, pr)
			if tc.err == nil && captured != nil || tc.err != nil && !errors.Is(captured, tc.err) {
				t.Errorf("DecodeQuery(%s) = %v, want %v", tc.target, captured, tc.err)
			}
			if r := fieldRules(captured); r != tc.rules {
				t.Errorf("DecodeQuery(%s) rules = %q, want %q", tc.target, r, tc.rules)
			}
		})
	}
	// The accepted values.
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/lists/7/items?limit=10&tag=a&tag=b&active=false&from=192.0.2.1", nil))
	if got.ID != 7 || got.Limit != 10 || len(got.Tags) != 2 || got.Active == nil || *got.Active || got.From != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("handler got %+v", got)
	}
}

// pathID extracts the {id} segment of /lists/{id}/items.
func pathID(target string) string {
	const prefix = "/lists/"
	rest := target[len(prefix):]
	for i := range len(rest) {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return rest
}

type badQueryTags struct {
	A int               `query:"a" path:"a"`
	B string            // no tag
	C []int             `path:"c"`
	D map[string]string `query:"d"`
	E int               `query:"e" validate:"mni=1"`
}

func TestQueryTagErrors(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = validate.NewQueryDecoder[badQueryTags](v)
	if n := len(unjoin(err)); n != 4 {
		t.Errorf("NewQueryDecoder errors = %v (%d), want 4", err, n)
	}
	type typo struct {
		E int `query:"e" validate:"mni=1"`
	}
	if _, err := validate.NewQueryDecoder[typo](v); !isConfigError(err) {
		t.Errorf("NewQueryDecoder[typo] = %v, want *ConfigError", err)
	}
	if _, err := validate.NewQueryDecoder[int](v); !isConfigError(err) {
		t.Errorf("NewQueryDecoder[int] = %v, want *ConfigError", err)
	}
}

func FuzzQuery(f *testing.F) {
	for _, s := range []string{"limit=1", "limit=0&tag=a&tag=b", "limit=1;x", "limit=%ff", "sort=name&limit=1&active=true&from=::1", "a=b&a=c"} {
		f.Add(s, "7")
	}
	v, err := validate.New(validate.Config{})
	if err != nil {
		f.Fatal(err)
	}
	q, err := validate.NewQueryDecoder[listQuery](v)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, rawQuery, id string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = rawQuery
		r.SetPathValue("id", id)
		got, err := q.Decode(r)
		if err != nil {
			var ie *validate.InputError
			if !errors.As(err, &ie) || (ie.Status != 400 && ie.Status != 422) {
				t.Fatalf("Decode(%q) = %v, want an InputError with 400 or 422", rawQuery, err)
			}
			return
		}
		if got.Limit > 100 || got.ID < 1 || len(got.Tags) > 3 {
			t.Fatalf("Decode(%q) accepted %+v, which breaks its rules", rawQuery, got)
		}
	})
}
