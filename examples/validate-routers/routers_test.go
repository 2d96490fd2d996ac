package validaterouters_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/bulwark-go/bulwark/validate"
)

type rename struct {
	Name string `json:"name" validate:"required,min=1,max=40"`
}

// send serves one request and prints the status and body.
func send(h http.Handler, target, body string) {
	r := httptest.NewRequest(http.MethodPut, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
}

// With chi, the decoded body arrives typed; chi.URLParam reads the route
// parameter as usual.
func Example_chi() {
	v, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	put, err := validate.JSON(v, func(w http.ResponseWriter, r *http.Request, in rename) {
		fmt.Fprintf(w, "item %s renamed to %s", chi.URLParam(r, "id"), in.Name)
	})
	if err != nil {
		panic(err)
	}
	r := chi.NewRouter()
	r.Method(http.MethodPut, "/items/{id}", put)

	send(r, "/items/42", `{"name":"lamp"}`)
	send(r, "/items/42", `{"name":"lamp","owner":"eve"}`)
	// Output:
	// 200 item 42 renamed to lamp
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"The request body is not acceptable: unknown field.","errors":[{"rule":"unknown_field","message":"is not a field of this object"}]}
}

// With gorilla/mux, the same handler; mux.Vars reads the route parameter.
func Example_gorilla() {
	v, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	put, err := validate.JSON(v, func(w http.ResponseWriter, r *http.Request, in rename) {
		fmt.Fprintf(w, "item %s renamed to %s", mux.Vars(r)["id"], in.Name)
	})
	if err != nil {
		panic(err)
	}
	r := mux.NewRouter()
	r.Handle("/items/{id}", put).Methods(http.MethodPut)

	send(r, "/items/42", `{"name":"lamp"}`)
	send(r, "/items/42", `{"name":""}`)
	// Output:
	// 200 item 42 renamed to lamp
	// 422 {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request does not satisfy the validation rules.","errors":[{"pointer":"/name","rule":"min","message":"must be at least 1 characters long"}]}
}
