package problem_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/bulwark-go/bulwark/problem"
)

func ExampleWrite() {
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "30")
	problem.Write(rec, problem.TooManyRequests("Rate limit exceeded.").With("policy", "burst"))

	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(rec.Body.String())
	// Output:
	// 429 application/problem+json
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit exceeded.","policy":"burst"}
}

// ExampleErrorHandler shows a custom error handler that logs the full error
// privately and answers with the default problem response.
func ExampleErrorHandler() {
	var logged []string
	var h problem.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		logged = append(logged, err.Error()) // the log may see everything
		problem.WriteError(w, r, err)        // the client sees only the problem
	}

	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest("GET", "/", nil), fmt.Errorf("db: connection refused to 10.0.0.5"))
	fmt.Println(rec.Code, rec.Body.String())
	fmt.Println(logged[0])
	// Output:
	// 500 {"type":"about:blank","title":"Internal Server Error","status":500}
	// db: connection refused to 10.0.0.5
}
