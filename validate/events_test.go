package validate_test

import (
	"log/slog"
	"net/http"
	"slices"
	"testing"

	"github.com/bulwark-go/bulwark/validate"
)

// TestEventCarriesPointersNotValues: the input_validation_fail event names
// the status and the failing pointers, and none of the submitted values.
func TestEventCarriesPointersNotValues(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	got := hs.do(jsonRequest(`{"name":"","role":"superuser-zqx","tags":["ok"]}`))
	wantRefused(t, got, http.StatusUnprocessableEntity, validate.ErrRules, "superuser-zqx")
	e := got.events[0]
	var ptrs []string
	var status int64
	for _, a := range e.Attrs {
		switch a.Key {
		case "pointers":
			ptrs, _ = a.Value.Any().([]string)
		case "status":
			status = a.Value.Int64()
		}
		if a.Value.Kind() == slog.KindString && a.Value.String() == "superuser-zqx" {
			t.Errorf("event attr %s carries the submitted value", a.Key)
		}
	}
	if status != http.StatusUnprocessableEntity {
		t.Errorf("event status = %d, want 422", status)
	}
	if !slices.Equal(ptrs, []string{"/name", "/role"}) {
		t.Errorf("event pointers = %q, want [/name /role]", ptrs)
	}
	if e.Reason != validate.ErrRules.Error() {
		t.Errorf("event reason = %q, want %q", e.Reason, validate.ErrRules.Error())
	}
}

// TestAcceptedRequestEmitsNothing: a valid body reaches the handler with
// its values and raises no event.
func TestAcceptedRequestEmitsNothing(t *testing.T) {
	hs := newHarness(t, validate.Config{})
	got := hs.do(jsonRequest(`{"name":"zqx","role":"viewer","skip":false,"kind":"k","age":0,"accept":false,"extra":{"n":1.50},"tags":["a"]}`))
	if got.status != http.StatusNoContent || got.got == nil {
		t.Fatalf("status %d, want 204 (%s)", got.status, got.body)
	}
	if got.got.Name != "zqx" || got.got.Accept == nil || *got.got.Accept {
		t.Errorf("handler got %+v", *got.got)
	}
	if len(got.events) != 0 {
		t.Errorf("events = %+v, want none", got.events)
	}
}
