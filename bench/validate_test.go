package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"

	"github.com/bulwark-go/bulwark/problem"
	"github.com/bulwark-go/bulwark/validate"
)

// order is the payload type for the validate benchmarks: nested structs, a
// slice, strings and numbers with typical rules.
type order struct {
	ID       string      `json:"id" validate:"required,uuid"`
	Customer customer    `json:"customer" validate:"required"`
	Items    []orderItem `json:"items" validate:"required,min=1,max=1000,dive"`
	Note     string      `json:"note" validate:"max=512"`
	Express  bool        `json:"express"`
}

type customer struct {
	Name  string `json:"name" validate:"required,min=1,max=80"`
	Email string `json:"email" validate:"required,email"`
}

type orderItem struct {
	SKU   string   `json:"sku" validate:"required,alphanum,max=16"`
	Title string   `json:"title" validate:"required,max=120"`
	Qty   int      `json:"qty" validate:"required,min=1,max=999"`
	Price float64  `json:"price" validate:"min=0"`
	Tags  []string `json:"tags" validate:"max=8,dive,max=24"`
}

// orderPayload returns an order document of about size bytes.
func orderPayload(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id":"0b9f2f5e-6f0e-4b8e-9a57-3c1f0e5d7a21","customer":{"name":"Ada Lovelace","email":"ada@example.com"},"note":"leave at the door","express":false,"items":[`)
	for i := 0; b.Len() < size-120; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"SKU%05d","title":"Item number %d, blue","qty":%d,"price":%d.99,"tags":["home","blue"]}`, i, i, i%9+1, i%50)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// lenientHandler is what applications write without this package: a
// Decoder straight on the body, then validator.Struct.
func lenientHandler(val *validator.Validate) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o order
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
			problem.Write(w, problem.BadRequest(""))
			return
		}
		if err := val.Struct(&o); err != nil {
			problem.Write(w, problem.UnprocessableContent(""))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func strictHandler(b *testing.B) http.Handler {
	v, err := validate.New(validate.Config{})
	if err != nil {
		b.Fatal(err)
	}
	h, err := validate.JSON(v, func(w http.ResponseWriter, _ *http.Request, _ order) {
		w.WriteHeader(http.StatusNoContent)
	})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// serveBody runs h b.N times with a fresh reader over payload each time
// and checks the final status.
func serveBody(b *testing.B, h http.Handler, payload []byte, want int) {
	b.Helper()
	rd := bytes.NewReader(payload)
	r := httptest.NewRequest(http.MethodPost, "http://api.example.com/v1/orders", nil)
	r.Header.Set("Content-Type", "application/json")
	r.ContentLength = int64(len(payload))
	w := newDiscardWriter()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rd.Reset(payload)
		r.Body = io.NopCloser(rd)
		w.reset()
		h.ServeHTTP(w, r)
	}
	b.StopTimer()
	if w.status != want {
		b.Fatalf("status %d, want %d", w.status, want)
	}
}

// BenchmarkValidate compares the strict path (pre-decode checks, token
// pre-pass, decoding with unknown fields rejected, rules with presence)
// with the lenient one on the same valid payloads.
func BenchmarkValidate(b *testing.B) {
	val := validator.New(validator.WithRequiredStructEnabled())
	for _, size := range []int{1 << 10, 64 << 10} {
		payload := orderPayload(size)
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run(name+"/lenient", func(b *testing.B) {
			serveBody(b, lenientHandler(val), payload, http.StatusNoContent)
		})
		b.Run(name+"/strict", func(b *testing.B) {
			serveBody(b, strictHandler(b), payload, http.StatusNoContent)
		})
	}
}

// BenchmarkValidateWideArrayBomb sends 1 MiB of [0,0,…] to a field of
// type any. B/op is the memory one such request costs: the lenient path
// decodes half a million values; the strict one refuses at MaxValues.
func BenchmarkValidateWideArrayBomb(b *testing.B) {
	type sink struct {
		Data any `json:"data"`
	}
	payload := []byte(`{"data":[` + strings.Repeat("0,", (1<<20-16)/2) + `0]}`)
	b.Run("lenient", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var s sink
			if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
				problem.Write(w, problem.BadRequest(""))
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})
		serveBody(b, h, payload, http.StatusNoContent)
	})
	b.Run("strict", func(b *testing.B) {
		v, err := validate.New(validate.Config{})
		if err != nil {
			b.Fatal(err)
		}
		h, err := validate.JSON(v, func(w http.ResponseWriter, _ *http.Request, _ sink) {
			w.WriteHeader(http.StatusNoContent)
		})
		if err != nil {
			b.Fatal(err)
		}
		serveBody(b, h, payload, http.StatusBadRequest)
	})
}
