package openapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/bulwark-go/bulwark/validate/openapi"
)

// send serves one request and prints the status and the problem, if any.
func send(h http.Handler, method, target, body string) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(method, target, "→", strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
}

func spec(file string, cfg openapi.Config) *openapi.Spec {
	doc, err := os.ReadFile("../../validate/openapi/testdata/" + file)
	if err != nil {
		panic(err)
	}
	cfg.Document = doc
	s, err := openapi.New(cfg)
	if err != nil {
		panic(err) // every problem of the document, with its line
	}
	return s
}

// The expanded Petstore (OpenAPI 3.0) in front of a std mux: the
// handlers can trust that id is an integer and that a new pet has a
// string name and nothing the document does not list.
func Example_petstore() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pets/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pet %s", r.PathValue("id"))
	})
	mux.HandleFunc("POST /pets", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	h := spec("petstore-expanded-3.0.yaml", openapi.Config{}).Handler(mux)

	send(h, "GET", "/pets/42", "")
	send(h, "GET", "/pets/42%20OR%201=1", "")
	send(h, "POST", "/pets", `{"name":"Rex"}`)
	send(h, "POST", "/pets", `{"name":"Rex","name":"Admin"}`)
	send(h, "PUT", "/pets/42", "")
	// Output:
	// GET /pets/42 → 200 pet 42
	// GET /pets/42%20OR%201=1 → 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"The request does not match the API description.","errors":[{"parameter":"id","in":"path","rule":"type","message":"has the wrong type"}]}
	// POST /pets → 201
	// POST /pets → 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"The request does not match the API description.","errors":[{"rule":"duplicate_key","message":"must appear only once"}]}
	// PUT /pets/42 → 405 {"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"The path does not accept this method."}
}

// Tic Tac Toe (OpenAPI 3.1): path parameters from $ref'd components,
// 1 to 3, and a mark that must be ".", "X" or "O".
func Example_tictactoe() {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /board/{row}/{column}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "marked %s,%s", r.PathValue("row"), r.PathValue("column"))
	})
	h := spec("tictactoe-3.1.yaml", openapi.Config{}).Handler(mux)

	send(h, "PUT", "/board/1/3", `"X"`)
	send(h, "PUT", "/board/1/4", `"Z"`)
	// Output:
	// PUT /board/1/3 → 200 marked 1,3
	// PUT /board/1/4 → 422 {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request does not match the API description.","errors":[{"parameter":"column","in":"path","rule":"maximum","message":"is above the maximum"},{"rule":"enum","message":"is not one of the allowed values"}]}
}
