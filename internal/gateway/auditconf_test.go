package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAuditSection(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "audit.key"), []byte(strings.Repeat("42", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `routes: [{path: /, auth: none}]
audit:
  output: audit.log
  hmac_key_file: audit.key
  sync: every_record
  checkpoints: {file: audit.checkpoints, every: 1m}
  rotate: {max_size: 100MiB, max_age: 1d, keep: 10}
  aggregate: {after: 50/s}
`
	cfg, err := Parse([]byte(src), dir)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if a := cfg.Audit; a.Rotate.MaxSize != 100<<20 || time.Duration(a.Rotate.MaxAge) != 24*time.Hour || a.Checkpoints.Every != "1m" || a.Aggregate.After != "50/s" {
		t.Errorf("audit = %+v", a)
	}
	g, err := Build(cfg, Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if err := g.ReopenAudit(); err != nil {
		t.Errorf("ReopenAudit: %v", err)
	}
	if err := g.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, f := range []string{"audit.log", "audit.checkpoints"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v, want written", f, err)
		}
	}
}

// Every mistake in the audit section is reported in one pass, at its key.
func TestParseAuditErrors(t *testing.T) {
	src := `routes: [{path: /, auth: none}]
audit:
  output: stdout
  sync: sometimes
  checkpoints: {every: -5}
  rotate: {max_size: 10, max_age: 1s, keep: -1}
  aggregate: {after: lots}
`
	_, err := Parse([]byte(src), t.TempDir())
	want := []string{
		"line 4: audit.sync: must be every_record",
		"line 5: audit.checkpoints: needs output to be a file and hmac_key_file",
		"line 5: audit.checkpoints.every: must be a positive number",
		"line 6: audit.rotate: needs output to be a file",
		"line 6: audit.rotate.max_size: must be at least 4KiB",
		"line 6: audit.rotate.max_age: must be at least 1m",
		"line 6: audit.rotate.keep: must not be negative",
		"line 7: audit.aggregate.after: must be a rate such as 50/s",
	}
	if err == nil {
		t.Fatal("Parse accepted a bad audit section")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Parse errors lack %q:\n%v", w, err)
		}
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Errorf("errors are not *ConfigError: %v", err)
	}
	_, err = Parse([]byte("routes: [{path: /, auth: none}]\naudit: {rotat: {keep: 1}}\n"), ".")
	if err == nil || !strings.Contains(err.Error(), "audit.rotat: unknown key (did you mean rotate?)") {
		t.Errorf("misspelled key: %v", err)
	}
}

func TestAggregateAfter(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"50/s", 50, true}, {"600/m", 10, true}, {" 2 / s ", 2, true},
		{"50", 0, false}, {"0/s", 0, false}, {"5/h", 0, false}, {"-1/s", 0, false}, {"NaN/s", 0, false}, {"1/m", 0, true},
	}
	for _, tc := range tests {
		got, err := aggregateAfter(tc.in)
		if (err == nil) != tc.ok || (tc.ok && tc.want != 0 && got != tc.want) {
			t.Errorf("aggregateAfter(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// One line per request: 1,000 requests from one client at 10/s, all but
// the first refused by the rate limit, each have a record of their own,
// by default and under aggregate: {after: 50/s}.
func TestEveryDenialIsAudited(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer b.Close()
	for _, extra := range []string{"", "audit: {aggregate: {after: 50/s}}\n"} {
		clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		logs := &syncBuffer{}
		g := buildWith(t, "upstream: "+b.URL+"\nratelimit: {policies: [{name: tight, key: ip, limit: 1, period: 1h}]}\nroutes: [{path: /, auth: none, ratelimit: [tight]}]\n"+extra,
			Options{Now: clock.Now, AuditWriter: logs})
		denied := 0
		for range 1000 {
			if do(g.Handler(), "GET", "/x", nil, "").Code == http.StatusTooManyRequests {
				denied++
			}
			clock.Add(100 * time.Millisecond)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		ids := map[any]bool{}
		for _, r := range logs.records(t) {
			if r["msg"] == "audit.aggregate" {
				t.Fatalf("%q: an aggregate record at 10/s: %v", extra, r)
			}
			if r["http.response.status_code"] == float64(http.StatusTooManyRequests) {
				ids[r["request_id"]] = true
			}
		}
		if denied != 999 || len(ids) != 999 {
			t.Errorf("%q: %d denied, %d denial records with distinct request IDs; want 999 and 999", extra, denied, len(ids))
		}
	}
}

func FuzzAuditValues(f *testing.F) {
	for _, s := range []string{"50/s", "600/m", "1000", "1m", "every_record", "interval", "200ms", "NaN/s", "-1", "1e309/s", "0.5/s", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := aggregateAfter(s); err == nil && !(v >= 0.01 && v <= 1e6) {
			t.Errorf("aggregateAfter(%q) = %v, outside 0.01..1e6", s, v)
		}
		if n, d, err := checkpointEvery(s); err == nil && (n < 0 || d < 0 || (n > 0 && d > 0)) {
			t.Errorf("checkpointEvery(%q) = %d, %v", s, n, d)
		}
		if every, d, err := auditSync(s); err == nil && (d < 0 || (every && d != 0)) {
			t.Errorf("auditSync(%q) = %v, %v", s, every, d)
		}
	})
}

// TestAuditDurationsTakeDays: audit.sync and audit.checkpoints.every read
// durations as every other key does (internal/duration).
func TestAuditDurationsTakeDays(t *testing.T) {
	if n, d, err := checkpointEvery("1d"); err != nil || n != 0 || d != 24*time.Hour {
		t.Errorf("checkpointEvery(1d) = %d, %v, %v; want 24h", n, d, err)
	}
	if n, d, err := checkpointEvery("0.5d"); err != nil || n != 0 || d != 12*time.Hour {
		t.Errorf("checkpointEvery(0.5d) = %d, %v, %v; want 12h", n, d, err)
	}
	if _, d, err := auditSync("0.0001d"); err != nil || d != 8640*time.Millisecond {
		t.Errorf("auditSync(0.0001d) = %v, %v; want 8.64s", d, err)
	}
	for _, s := range []string{"1d", "-1s"} {
		if _, _, err := auditSync(s); err == nil {
			t.Errorf("auditSync(%q) accepted", s)
		}
	}
}
