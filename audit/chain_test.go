package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

// chainedLog writes n request records through an auditor on a chain and
// returns the log and the checkpoint sink.
func chainedLog(t *testing.T, n, every int, closeChain bool) (log, cps []byte) {
	t.Helper()
	var lb, cb bytes.Buffer
	clk := newClock()
	ch, err := audit.NewChain(&lb, audit.ChainConfig{Key: testKey, KeyID: "k1", Checkpoints: &cb, CheckpointEvery: every, Now: clk.Now})
	if err != nil {
		t.Fatalf("NewChain: %v", err)
	}
	a, err := audit.New(audit.Config{Handler: ch, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			secevent.Emit(r.Context(), secevent.Event{Name: secevent.AuthzFail, Reason: "no"})
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	for i := range n {
		clk.Advance(1e6)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("/item/%d", i), nil))
	}
	if closeChain {
		if err := ch.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	return lb.Bytes(), cb.Bytes()
}

func verify(log, cps []byte, allowOpen bool) (audit.VerifyResult, error) {
	cfg := audit.VerifyConfig{Keys: map[string][]byte{"k1": testKey}, AllowOpen: allowOpen}
	if cps != nil {
		cfg.Checkpoints = bytes.NewReader(cps)
	}
	return audit.Verify(bytes.NewReader(log), cfg)
}

func lines(b []byte) [][]byte { return bytes.SplitAfter(b, []byte("\n")) }

func TestChainIntact(t *testing.T) {
	log, cps := chainedLog(t, 10, 4, true)
	res, err := verify(log, cps, false)
	if err != nil || res.Records != 12 || res.Chains != 1 || res.Open {
		t.Fatalf("Verify = %+v, %v; want 12 records (start, 10, end) in 1 closed chain", res, err)
	}
	// Records are still plain slog JSON with the chain fields at the end.
	recs := records(t, log)
	if recs[0]["msg"] != audit.MsgChainStart || recs[5]["msg"] != audit.MsgRequest || recs[5]["chain.seq"] != float64(6) ||
		recs[11]["msg"] != audit.MsgChainEnd || recs[5]["chain.kid"] != "k1" {
		t.Errorf("records = %v", recs)
	}
	// Checkpoints at seq 1 (every chain is in the checkpoints), 4, 8 and
	// 12; Close adds none since 12 was one.
	if n := bytes.Count(cps, []byte("\n")); n != 4 {
		t.Errorf("%d checkpoints, want 4:\n%s", n, cps)
	}
}

func TestTamper(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(log []byte) []byte
		useCPs   bool
		wantLine int
	}{
		{"flip a byte", func(b []byte) []byte {
			ls := lines(b)
			i := bytes.Index(ls[4], []byte("/item/"))
			ls[4][i+6] ^= 0x01 // /item/2 → /item/3
			return bytes.Join(ls, nil)
		}, false, 5},
		{"flip a byte in a MAC", func(b []byte) []byte {
			ls := lines(b)
			ls[6][len(ls[6])-5] ^= 0x01
			return bytes.Join(ls, nil)
		}, false, 7},
		{"delete a line", func(b []byte) []byte {
			ls := lines(b)
			return bytes.Join(append(ls[:3:3], ls[4:]...), nil)
		}, false, 4},
		{"swap two lines", func(b []byte) []byte {
			ls := lines(b)
			ls[2], ls[3] = ls[3], ls[2]
			return bytes.Join(ls, nil)
		}, false, 3},
		{"truncate the tail of an open log with checkpoints", func(b []byte) []byte {
			ls := lines(b)
			return bytes.Join(ls[:6], nil)
		}, true, 7},
		{"truncate mid-line", func(b []byte) []byte { return b[:len(b)-40] }, false, 12},
		{"truncate the final newline", func(b []byte) []byte { return b[:len(b)-1] }, false, 12},
		{"insert a forged line", func(b []byte) []byte {
			ls := lines(b)
			forged := []byte(`{"time":"2026-03-01T12:00:00Z","level":"INFO","msg":"http.request"}` + "\n")
			return bytes.Join(append(ls[:5:5], append([][]byte{forged}, ls[5:]...)...), nil)
		}, false, 6},
		{"rewrite one record and re-MAC without the key", func(b []byte) []byte {
			ls := lines(b)
			ls[3] = bytes.Replace(ls[3], []byte(`"http.response.status_code":200`), []byte(`"http.response.status_code":201`), 1)
			return bytes.Join(ls, nil)
		}, false, 4},
		{"remove the first records", func(b []byte) []byte {
			ls := lines(b)
			return bytes.Join(ls[2:], nil)
		}, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, cps := chainedLog(t, 10, 4, !tc.useCPs)
			if !tc.useCPs {
				cps = nil
			}
			if _, err := verify(log, cps, tc.useCPs); err != nil {
				t.Fatalf("untouched log: Verify = %v", err)
			}
			_, err := verify(tc.edit(bytes.Clone(log)), cps, tc.useCPs)
			var te *audit.TamperError
			if !errors.As(err, &te) || !errors.Is(err, audit.ErrTampered) {
				t.Fatalf("Verify after %s = %v, want a *TamperError", tc.name, err)
			}
			if te.Line != tc.wantLine {
				t.Errorf("Verify after %s: line %d (%s), want line %d", tc.name, te.Line, te.Reason, tc.wantLine)
			}
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	log, _ := chainedLog(t, 2, 0, true)
	_, err := audit.Verify(bytes.NewReader(log), audit.VerifyConfig{Keys: map[string][]byte{"": bytes.Repeat([]byte{1}, 32)}})
	if !errors.Is(err, audit.ErrTampered) {
		t.Errorf("Verify with the wrong key = %v, want ErrTampered", err)
	}
	_, err = audit.Verify(bytes.NewReader(log), audit.VerifyConfig{Keys: map[string][]byte{"other": testKey}})
	if err == nil || errors.Is(err, audit.ErrTampered) {
		t.Errorf("Verify without a key for k1 = %v, want a key error", err)
	}
}

// A key rotation closes one chain and starts the next with a new key;
// both verify in one file, each with its key.
func TestChainKeyRotation(t *testing.T) {
	var b bytes.Buffer
	key2 := bytes.Repeat([]byte{7}, 32)
	for _, c := range []audit.ChainConfig{{Key: testKey, KeyID: "k1"}, {Key: key2, KeyID: "k2"}} {
		ch, err := audit.NewChain(&b, c)
		if err != nil {
			t.Fatal(err)
		}
		slog.New(ch).Info("record", "kid", c.KeyID)
		if err := ch.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := audit.Verify(bytes.NewReader(b.Bytes()), audit.VerifyConfig{Keys: map[string][]byte{"k1": testKey, "k2": key2}})
	if err != nil || res.Chains != 2 || res.Records != 6 {
		t.Errorf("Verify across a rotation = %+v, %v; want 2 chains, 6 records", res, err)
	}
}

// A caller cannot write a record that looks like the chain's own start or
// end record, to hide a truncation.
func TestChainForgedEndRecord(t *testing.T) {
	var b bytes.Buffer
	ch, err := audit.NewChain(&b, audit.ChainConfig{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	slog.New(ch).Info(audit.MsgChainEnd)
	slog.New(ch).Info("after", "msg", audit.MsgChainEnd)
	if _, err := audit.Verify(bytes.NewReader(b.Bytes()), audit.VerifyConfig{Keys: map[string][]byte{"": testKey}}); !errors.Is(err, audit.ErrUnclean) {
		t.Errorf("Verify of an unclosed chain with a forged end message = %v, want ErrUnclean (no end record)", err)
	}
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(bytes.NewReader(b.Bytes()), audit.VerifyConfig{Keys: map[string][]byte{"": testKey}}); err != nil {
		t.Errorf("Verify after Close = %v", err)
	}
	if err := ch.Handle(t.Context(), slog.NewRecord(newClock().Now(), slog.LevelInfo, "late", 0)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Handle after Close = %v, want ErrClosed", err)
	}
}

func TestChainConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   audit.ChainConfig
		field string
	}{
		{"no key", audit.ChainConfig{}, "Key"},
		{"short key", audit.ChainConfig{Key: []byte("0123456789")}, "Key"},
		{"bad key id", audit.ChainConfig{Key: testKey, KeyID: "a\nb"}, "KeyID"},
		{"interval without sink", audit.ChainConfig{Key: testKey, CheckpointEvery: 5}, "CheckpointEvery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.NewChain(&bytes.Buffer{}, tc.cfg)
			var ce *audit.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("NewChain(%s) = %v, want a *ConfigError for %s", tc.name, err, tc.field)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"4242424242424242424242424242424242424242424242424242424242424242\n", true},
		{"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=", true},
		{"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI", true},
		{"42424242", false},
		{"not a key at all, not even close!!", false},
	}
	for _, tc := range tests {
		k, err := audit.ParseKey(tc.in)
		if (err == nil) != tc.ok || (tc.ok && !bytes.Equal(k, testKey)) {
			t.Errorf("ParseKey(%q) = %x, %v; want ok=%v", tc.in, k, err, tc.ok)
		}
		if !tc.ok && !errors.Is(err, audit.ErrBadKey) {
			t.Errorf("ParseKey(%q) error %v, want ErrBadKey", tc.in, err)
		}
	}
}
