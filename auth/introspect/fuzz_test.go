package introspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/bulwark-go/bulwark/auth"
	"github.com/bulwark-go/bulwark/auth/introspect"
)

// bodyTransport answers every request with the body in the request's
// context, in process: the fuzzer runs thousands of answers a second.
type bodyKey struct{}

type bodyTransport struct{}

func (bodyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", "application/json")
	_, _ = rec.Write(r.Context().Value(bodyKey{}).([]byte))
	return rec.Result(), nil
}

// FuzzIntrospectionResponse throws arbitrary answers at the introspection
// response decoder: nothing panics, every refusal is a typed credential
// error, and an accepted answer is valid JSON that encoding/json reads the
// same way, says active: true, and names the principal's subject exactly.
func FuzzIntrospectionResponse(f *testing.F) {
	for _, s := range []string{
		`{"active":true,"sub":"alice","scope":"a b","exp":1793534460,"aud":["https://api.example"],"roles":["admin"]}`,
		`{"active":true,"client_id":"batch"}`,
		`{"active":false}`,
		`{"active":false,"ACTIVE":true,"sub":"alice","SUB":"admin"}`,
		`{"active":true,"sub":"alice","\u017fub":"admin"}`,
		`{"active":"true","sub":"x"}`,
		`{"active":true,"sub":"x","exp":1e300}`,
		`{"active":true,"sub":"x","nbf":-1}`,
		`{"active":true,"sub":"x","token_type":"refresh_token"}`,
		`[{"active":true}]`,
		`{"active":true,"sub":"x","ext":{"a":[1,{"b":null}]}}`,
	} {
		f.Add([]byte(s))
	}
	in, err := introspect.New(introspect.Config{
		Endpoint: "https://idp.example/introspect", ClientID: "rs", ClientSecret: "secret",
		HTTPClient: &http.Client{Transport: bodyTransport{}}, Now: newClock().Now,
		CacheTTL: -1, NegativeTTL: -1,
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.WithValue(context.Background(), bodyKey{}, body)
		p, err := in.Introspect(ctx, "opaque-token")
		if err != nil {
			var ce *auth.CredentialError
			if !errors.As(err, &ce) || !(errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrUnavailable)) {
				t.Fatalf("Introspect(%q) = %v, want an invalid-token or unavailable CredentialError", body, err)
			}
			return
		}
		var std map[string]any
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(std, p.Claims) {
			t.Fatalf("accepted %q as %#v; encoding/json reads %#v", body, p.Claims, std)
		}
		if p.Claims["active"] != true {
			t.Fatalf("accepted %q without active: true", body)
		}
		want, _ := p.Claims["sub"].(string)
		if want == "" {
			want, _ = p.Claims["client_id"].(string)
		}
		if p.Subject == "" || p.Subject != want {
			t.Fatalf("accepted %q with subject %q, want %q", body, p.Subject, want)
		}
	})
}
