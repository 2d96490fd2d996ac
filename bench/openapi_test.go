package bench

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/validate/openapi"
)

// ordersDoc describes the same order as the validate benchmarks' struct
// tags, rule for rule.
const ordersDoc = `
openapi: 3.0.3
info: {title: orders, version: "1"}
paths:
  /v1/orders:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Order'}
      responses: {'204': {description: stored}}
components:
  schemas:
    Order:
      type: object
      additionalProperties: false
      required: [id, customer, items]
      properties:
        id: {type: string, format: uuid}
        customer:
          type: object
          additionalProperties: false
          required: [name, email]
          properties:
            name: {type: string, minLength: 1, maxLength: 80}
            email: {type: string, format: email}
        items:
          type: array
          minItems: 1
          maxItems: 1000
          items: {$ref: '#/components/schemas/Item'}
        note: {type: string, maxLength: 512}
        express: {type: boolean}
    Item:
      type: object
      additionalProperties: false
      required: [sku, title, qty]
      properties:
        sku: {type: string, pattern: '^[A-Za-z0-9]+$', maxLength: 16}
        title: {type: string, maxLength: 120}
        qty: {type: integer, minimum: 1, maximum: 999}
        price: {type: number, minimum: 0}
        tags: {type: array, maxItems: 8, items: {type: string, maxLength: 24}}
`

func noContent(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

// ordersDoc31 is the same document as OpenAPI 3.1 (JSON Schema 2020-12).
var ordersDoc31 = strings.Replace(ordersDoc, "openapi: 3.0.3", "openapi: 3.1.0", 1)

func bulwarkOpenAPI(b *testing.B, doc string) http.Handler {
	s, err := openapi.New(openapi.Config{Document: []byte(doc)})
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler(http.HandlerFunc(noContent))
}

// kinFilter is kin-openapi's own request filter on the same document:
// its gorilla/mux router, then openapi3filter.ValidateRequest.
func kinFilter(b *testing.B, spec string) http.Handler {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(spec))
	if err != nil {
		b.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		b.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		b.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err != nil {
			problem.Write(w, problem.NotFound(""))
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			problem.Write(w, problem.BadRequest(""))
			return
		}
		noContent(w, r)
	})
}

// BenchmarkOpenAPI: one valid 1 KiB order through validate's struct path
// (validate.JSON[order]), through validate/openapi on a document saying
// the same, and through kin-openapi's openapi3filter on that document;
// then both on the document as OpenAPI 3.1.
func BenchmarkOpenAPI(b *testing.B) {
	payload := orderPayload(1 << 10)
	b.Run("1KiB/struct", func(b *testing.B) {
		serveBody(b, strictHandler(b), payload, http.StatusNoContent)
	})
	b.Run("1KiB/openapi", func(b *testing.B) {
		serveBody(b, bulwarkOpenAPI(b, ordersDoc), payload, http.StatusNoContent)
	})
	b.Run("1KiB/kin-openapi3filter", func(b *testing.B) {
		serveBody(b, kinFilter(b, ordersDoc), payload, http.StatusNoContent)
	})
	b.Run("1KiB-3.1/openapi", func(b *testing.B) {
		serveBody(b, bulwarkOpenAPI(b, ordersDoc31), payload, http.StatusNoContent)
	})
	b.Run("1KiB-3.1/kin-openapi3filter", func(b *testing.B) {
		serveBody(b, kinFilter(b, ordersDoc31), payload, http.StatusNoContent)
	})
}
