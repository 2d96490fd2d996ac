package main

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/audit"
	"github.com/bulwark-go/bulwark/secevent"
)

var key = bytes.Repeat([]byte{0x5a}, 32)

// writeLog runs requests through an audit handler chain writing to files
// in dir, as a server would, and returns the log and checkpoint paths.
func writeLog(t *testing.T, dir string, closeChain bool) (logPath, cpPath string) {
	t.Helper()
	logPath, cpPath = filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit.cp")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cf, err := os.Create(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	ch, err := audit.NewChain(lf, audit.ChainConfig{Key: key, KeyID: "2026-03", Checkpoints: cf, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	a, err := audit.New(audit.Config{Handler: ch})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secevent.Emit(r.Context(), secevent.Event{Name: secevent.InputValidationFail, Reason: "bad field"})
		w.WriteHeader(http.StatusBadRequest)
	}))
	for i, p := range []string{"/a", "/b", "/c", "/d", "/e"} {
		r := httptest.NewRequest("POST", p, nil)
		r.RemoteAddr = "192.0.2." + string(rune('1'+i)) + ":1000" // distinct clients: no flood aggregation
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if closeChain {
		if err := ch.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return logPath, cpPath
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BULWARK_TEST_AUDIT_KEY", hex.EncodeToString(key))
	logPath, cpPath := writeLog(t, dir, true)
	orig, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	openDir := t.TempDir()
	openLog, openCP := writeLog(t, openDir, false)

	edit := func(f func([][]byte) [][]byte) string {
		ls := bytes.SplitAfter(bytes.Clone(orig), []byte("\n"))
		p := filepath.Join(t.TempDir(), "edited.log")
		if err := os.WriteFile(p, bytes.Join(f(ls), nil), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		wantOut  string
		wantLine string
	}{
		{"intact with key file", []string{"audit", "verify", "-key-file", keyFile, logPath}, 0, "intact: 7 records", ""},
		{"intact with key env and checkpoints", []string{"audit", "verify", "-key-env", "BULWARK_TEST_AUDIT_KEY", "-checkpoints", cpPath, logPath}, 0, "intact", ""},
		{"open log with allow-open", []string{"audit", "verify", "-key-file", keyFile, "-allow-open", "-checkpoints", openCP, openLog}, 0, "last chain open", ""},
		{"open log without allow-open", []string{"audit", "verify", "-key-file", keyFile, openLog}, 1, "UNCLEAN END", ":6:"},
		{"flip a byte", []string{"audit", "verify", "-key-file", keyFile, edit(func(ls [][]byte) [][]byte {
			ls[3] = bytes.Replace(ls[3], []byte(`"/c"`), []byte(`"/x"`), 1)
			return ls
		})}, 1, "MAC mismatch", ":4:"},
		{"delete a line", []string{"audit", "verify", "-key-file", keyFile, edit(func(ls [][]byte) [][]byte {
			return append(ls[:2:2], ls[3:]...)
		})}, 1, "sequence gap", ":3:"},
		{"swap two lines", []string{"audit", "verify", "-key-file", keyFile, edit(func(ls [][]byte) [][]byte {
			ls[4], ls[5] = ls[5], ls[4]
			return ls
		})}, 1, "sequence gap", ":5:"},
		{"truncate the tail", []string{"audit", "verify", "-key-file", keyFile, edit(func(ls [][]byte) [][]byte {
			return ls[:5]
		})}, 1, "UNCLEAN END", ":5:"},
		{"truncate the tail of an open log against checkpoints", []string{"audit", "verify", "-key-file", keyFile, "-allow-open", "-checkpoints", cpPath, edit(func(ls [][]byte) [][]byte {
			return ls[:5]
		})}, 1, "checkpointed record is missing", ":6:"},
		{"usage: no command", nil, 2, "", ""},
		{"usage: unknown command", []string{"frobnicate"}, 2, "", ""},
		{"usage: audit without verify", []string{"audit"}, 2, "", ""},
		{"usage: no key", []string{"audit", "verify", logPath}, 2, "", ""},
		{"usage: two keys", []string{"audit", "verify", "-key-file", keyFile, "-key-env", "X", logPath}, 2, "", ""},
		{"usage: no file", []string{"audit", "verify", "-key-file", keyFile}, 2, "", ""},
		{"usage: missing file", []string{"audit", "verify", "-key-file", keyFile, filepath.Join(dir, "nope")}, 2, "", ""},
		{"usage: unset env", []string{"audit", "verify", "-key-env", "BULWARK_TEST_UNSET_VAR", logPath}, 2, "", ""},
		{"usage: bad flag", []string{"audit", "verify", "-nope", logPath}, 2, "", ""},
		{"usage: short key", []string{"audit", "verify", "-key-file", logPath, logPath}, 2, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(tc.args...)
			if code != tc.code {
				t.Fatalf("bulwark %s = exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, out, errOut)
			}
			if !strings.Contains(out, tc.wantOut) || !strings.Contains(out, tc.wantLine) {
				t.Errorf("stdout = %q, want %q and %q", out, tc.wantOut, tc.wantLine)
			}
			if tc.code == 2 && errOut == "" {
				t.Errorf("usage error with empty stderr")
			}
		})
	}
}
