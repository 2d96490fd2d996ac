package validate_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/validate"
)

type credentials struct {
	Secret string `json:"secret_value"`
}

type pwBase struct {
	Nick  string `json:"nick"`
	Nick2 string `json:"nick_again" validate:"omitempty,eqfield=Nick"`
}

type signup struct {
	pwBase
	Password string      `json:"password" validate:"required,min=8"`
	Confirm  string      `json:"password_confirmation" validate:"required,eqfield=Password"`
	Start    int         `json:"start_at"`
	End      int         `json:"end_at" validate:"gtfield=Start"`
	Creds    credentials `json:"creds"`
	Echo     string      `json:"echo" validate:"omitempty,necsfield=Creds.Secret"`
	Email    string      `json:"email" validate:"required_with=Phone Fax"`
	Phone    string      `json:"phone"`
	Fax      string      `json:"fax"`
	Kind     string      `json:"kind"`
	Company  string      `json:"company" validate:"required_if=Kind business"`
	Rows     []signupRow `json:"rows" validate:"dive"`
}

type signupRow struct {
	Min int `json:"min"`
	Max int `json:"max" validate:"gtefield=Min"`
}

// TestCrossFieldRulesNameJSONMembers: a rule comparing two fields names the
// other one as the client knows it, by JSON Pointer ("must equal
// /password"), never by its Go name ("must equal Password"), which tells
// the client nothing and the attacker about the code.
func TestCrossFieldRulesNameJSONMembers(t *testing.T) {
	d := newDecoder[signup](t, validate.Config{})
	const valid = `"password":"longenough","password_confirmation":"longenough","start_at":1,"end_at":2`
	for _, tc := range []struct {
		body    string
		pointer string
		message string
	}{
		{`{"password":"longenough","password_confirmation":"different1","start_at":1,"end_at":2}`, "/password_confirmation", "must equal /password"},
		{`{"password":"longenough","password_confirmation":"longenough","start_at":5,"end_at":2}`, "/end_at", "must be greater than /start_at"},
		{`{` + valid + `,"creds":{"secret_value":"x"},"echo":"x"}`, "/echo", "must not equal /creds/secret_value"},
		{`{` + valid + `,"phone":"1"}`, "/email", "must satisfy required_with=/phone /fax"},
		{`{` + valid + `,"kind":"business"}`, "/company", "must satisfy required_if=/kind business"},
		{`{` + valid + `,"rows":[{"min":1,"max":2},{"min":3,"max":2}]}`, "/rows/1/max", "must be at least /rows/1/min"},
		{`{` + valid + `,"nick":"a","nick_again":"b"}`, "/nick_again", "must equal /nick"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			_, err := d.DecodeBytes([]byte(tc.body))
			var ie *validate.InputError
			if !errorsAs(err, &ie) || len(ie.Fields) != 1 {
				t.Fatalf("DecodeBytes(%s) = %v, want one field error", tc.body, err)
			}
			f := ie.Fields[0]
			if f.Pointer != tc.pointer || f.Message != tc.message {
				t.Errorf("field error %q %q, want %q %q", f.Pointer, f.Message, tc.pointer, tc.message)
			}
			for _, goName := range []string{"Password", "Start", "Creds", "Secret", "Phone", "Fax", "Kind", "Min", "Nick"} {
				if strings.Contains(f.Message, goName) {
					t.Errorf("message %q names the Go field %s", f.Message, goName)
				}
			}
		})
	}
}

type rangeQuery struct {
	From int `query:"from"`
	To   int `query:"to" validate:"gtfield=From"`
}

// TestCrossFieldQueryRulesNameParameters: the same for query parameters,
// named as the client sent them.
func TestCrossFieldQueryRulesNameParameters(t *testing.T) {
	v, err := validate.New(validate.Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate.NewQueryDecoder[rangeQuery](v)
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Decode(httptest.NewRequest(http.MethodGet, "/?from=5&to=2", nil))
	var ie *validate.InputError
	if !errorsAs(err, &ie) || len(ie.Fields) != 1 || ie.Fields[0].Parameter != "to" || ie.Fields[0].Message != "must be greater than from" {
		t.Errorf("Decode(?from=5&to=2) = %v %+v, want ?to: must be greater than from", err, ie)
	}
}
