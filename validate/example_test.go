package validate_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/bulwark-go/bulwark/validate"
)

type createItem struct {
	Name  string `json:"name" validate:"required,min=1,max=40"`
	Price int    `json:"price" validate:"required,min=0"`
}

// send serves one request and prints the status and body.
func send(h http.Handler, method, target, body string) {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if b := strings.TrimSpace(w.Body.String()); b != "" {
		fmt.Println(w.Code, b)
		return
	}
	fmt.Println(w.Code)
}

// A typed JSON handler on the std mux, with the path parameter read by
// r.PathValue.
func ExampleJSON() {
	v, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	put, err := validate.JSON(v, func(w http.ResponseWriter, r *http.Request, in createItem) {
		fmt.Fprintf(w, "store %s: %s at %d\n", r.PathValue("store"), in.Name, in.Price)
	})
	if err != nil {
		panic(err) // a typo in a validate tag stops the program here
	}
	mux := http.NewServeMux()
	mux.Handle("POST /stores/{store}/items", put)

	send(mux, "POST", "/stores/berlin/items", `{"name":"lamp","price":0}`)
	send(mux, "POST", "/stores/berlin/items", `{"name":"lamp","price":-5}`)
	send(mux, "POST", "/stores/berlin/items", `{"name":"lamp","price":1,"price":0}`)
	// Output:
	// 200 store berlin: lamp at 0
	// 422 {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request does not satisfy the validation rules.","errors":[{"pointer":"/price","rule":"min","message":"must be at least 0"}]}
	// 400 {"type":"about:blank","title":"Bad Request","status":400,"detail":"The request body is not acceptable: duplicate key.","errors":[{"pointer":"/price","rule":"duplicate_key","message":"must appear only once"}]}
}

type itemPage struct {
	Store string `path:"store" validate:"required,alphanum"`
	Limit int    `query:"limit" validate:"omitempty,min=1,max=100"`
	Sort  string `query:"sort" validate:"omitempty,oneof=name price"`
}

// Query and path parameters into a typed struct on the std mux: the
// `path` tag reads r.PathValue.
func ExampleQuery() {
	v, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	list, err := validate.Query(v, func(w http.ResponseWriter, r *http.Request, p itemPage) {
		fmt.Fprintf(w, "%s limit=%d sort=%q\n", p.Store, p.Limit, p.Sort)
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /stores/{store}/items", list)

	send(mux, "GET", "/stores/berlin/items?limit=10&sort=price", "")
	send(mux, "GET", "/stores/berlin/items?sort=price%20DESC", "")
	// Output:
	// 200 berlin limit=10 sort="price"
	// 422 {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"The request does not satisfy the validation rules.","errors":[{"parameter":"sort","rule":"oneof","message":"must be one of: name price"}]}
}

// DecodeJSON inside an ordinary handler, for code that wants the error.
func ExampleDecodeJSON() {
	v, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := validate.DecodeJSON[createItem](v, w, r)
		if err != nil {
			var ie *validate.InputError
			if errorsAs(err, &ie) {
				fmt.Println("refused:", ie.Status, ie.Err)
			}
			return
		}
		fmt.Println("accepted:", in.Name)
	})
	send(h, "POST", "/", `{"name":"lamp","price":3}`)
	send(h, "POST", "/", `{"name":"lamp","price":3,"owner":"me"}`)
	send(h, "POST", "/", `{"NAME":"lamp","price":3}`)
	// Output:
	// accepted: lamp
	// 200
	// refused: 400 validate: unknown field
	// 200
	// refused: 400 validate: key differs from field name in case
	// 200
}

type grant struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// Example_incorrect shows what plain encoding/json does with the attacks
// this package refuses: the last duplicate wins, keys match in any case,
// and a second document is ignored.
func Example_incorrect() {
	for _, body := range []string{
		`{"user":"eve","role":"user","role":"admin"}`,
		`{"user":"eve","ROLE":"admin"}`,
	} {
		var g grant
		_ = json.NewDecoder(strings.NewReader(body)).Decode(&g) // lenient: do not do this
		fmt.Printf("%+v\n", g)
	}
	var g grant
	dec := json.NewDecoder(strings.NewReader(`{"user":"eve","role":"user"} {"role":"admin"}`))
	_ = dec.Decode(&g)
	_, err := dec.Token()
	fmt.Printf("%+v, trailing data left unread: %v\n", g, err != io.EOF)
	// Output:
	// {User:eve Role:admin}
	// {User:eve Role:admin}
	// {User:eve Role:user}, trailing data left unread: true
}
