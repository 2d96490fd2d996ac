package probe

import (
	"context"
	"net/http"
	"testing"
)

// Handler runs the suite against h in process, as a test: every check
// that fails (or could not run) at o.FailOn or above is a test error
// naming the check, its severity and its evidence; the checks that do not
// apply are logged. No network is used: each request is written as bytes,
// parsed by net/http's own request parser and served by h. It returns the
// report for further assertions.
func Handler(t testing.TB, h http.Handler, o Options) *Report {
	t.Helper()
	o.Handler = h
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("probe: %v", err)
		return nil
	}
	for _, r := range rep.Failures(o.FailOn) {
		t.Errorf("probe %s (%s, %s): %s: %s", r.Check.ID, r.Check.Severity, r.Status, r.Check.Title, r.Evidence)
	}
	for _, r := range rep.Results {
		if r.Status == NotApplicable {
			t.Logf("probe %s: not applicable: %s", r.Check.ID, r.Evidence)
		}
	}
	return rep
}
