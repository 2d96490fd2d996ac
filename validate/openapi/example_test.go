package openapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

// The OpenAPI Initiative's Petstore in front of an application's mux: the
// handlers see only requests the document describes.
func ExampleSpec_Handler() {
	doc, err := os.ReadFile("testdata/petstore-expanded-3.0.yaml")
	if err != nil {
		panic(err)
	}
	spec, err := openapi.New(openapi.Config{Document: doc})
	if err != nil {
		panic(err) // the document is checked at start-up
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pets", func(w http.ResponseWriter, r *http.Request) {
		op, _ := openapi.OperationFromContext(r.Context())
		fmt.Println("handler:", op.ID)
		w.WriteHeader(http.StatusCreated)
	})
	h := spec.Handler(mux)

	for _, body := range []string{
		`{"name":"Rex","tag":"dog"}`,
		`{"tag":7}`,
	} {
		r := httptest.NewRequest("POST", "/pets", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
	}
	// Output:
	// handler: addPet
	// 201
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"The request does not match the API description.","errors":[{"pointer":"/name","rule":"required","message":"is required"},{"pointer":"/tag","rule":"type","message":"has the wrong type"}]}
}
