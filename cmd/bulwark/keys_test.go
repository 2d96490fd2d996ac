package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/seal"
)

// With seal keys configured, a key's owner and metadata are encrypted in
// the SQLite file (a stolen database or backup does not say who owns which
// key), and `bulwark keys list` still shows them.
func TestKeysSealOwnerAtRest(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BULWARK_APIKEY_PEPPER", hex.EncodeToString(bytes.Repeat([]byte{3}, 32)))
	line, err := seal.NewKey("2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seal.keys"), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "bulwark.yaml")
	cfg := "auth:\n  api_keys: {store: \"sqlite://keys.db\", seal_keys_file: seal.keys}\nroutes: [{path: /, auth: required}]\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const owner = "alice.owner@example.com"
	var out, errOut bytes.Buffer
	if code := run([]string{"keys", "create", "-config", cfgFile, "-owner", owner, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("keys create: %d %s", code, errOut.String())
	}
	db, err := os.ReadFile(filepath.Join(dir, "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(dir, "keys.db-wal"))
	if bytes.Contains(db, []byte(owner)) || bytes.Contains(wal, []byte(owner)) {
		t.Error("the owner is in the SQLite file in clear")
	}
	out.Reset()
	if code := run([]string{"keys", "list", "-config", cfgFile, "--json"}, &out, &errOut); code != 0 {
		t.Fatalf("keys list: %d %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), owner) {
		t.Errorf("keys list does not show the opened owner: %s", out.String())
	}
	var anyJSON any
	if json.Unmarshal(out.Bytes(), &anyJSON) != nil {
		t.Errorf("keys list --json is not JSON: %s", out.String())
	}

	// The gateway opens the same store with the same keys: -check passes.
	out.Reset()
	if code := run([]string{"serve", "-config", cfgFile, "-check"}, &out, &errOut); code != 0 {
		t.Errorf("serve -check with seal keys: %d %s", code, errOut.String())
	}
	// Without the seal keys only the sealed form can be listed.
	if err := os.WriteFile(cfgFile, []byte(strings.Replace(cfg, ", seal_keys_file: seal.keys", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	_ = run([]string{"keys", "list", "-config", cfgFile, "--json"}, &out, &errOut)
	if strings.Contains(out.String(), owner) || !strings.Contains(out.String(), "bws1.") {
		t.Errorf("without seal keys, list shows %s", out.String())
	}
}

// Audit log archives: sealed, unreadable and tamper-evident; renamed, they
// do not open.
func TestAuditArchiveSeal(t *testing.T) {
	dir := t.TempDir()
	line, _ := seal.NewKey("archive-2026")
	keys := filepath.Join(dir, "seal.keys")
	if err := os.WriteFile(keys, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "audit-2026-11-28.log")
	content := `{"msg":"http.request","user.id":"alice","http.response.status_code":403}` + "\n"
	if err := os.WriteFile(logFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "seal", "-keys-file", keys, logFile}, &out, &errOut); code != 0 {
		t.Fatalf("audit seal: %d %s", code, errOut.String())
	}
	sealed, err := os.ReadFile(logFile + ".sealed")
	if err != nil || bytes.Contains(sealed, []byte("alice")) {
		t.Fatalf("sealed archive: %v, holds clear text: %v", err, bytes.Contains(sealed, []byte("alice")))
	}
	out.Reset()
	if code := run([]string{"audit", "unseal", "-keys-file", keys, logFile + ".sealed"}, &out, &errOut); code != 0 || out.String() != content {
		t.Errorf("audit unseal: %d %q", code, out.String())
	}
	// Tampered and renamed archives are refused.
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-3] ^= 1
	_ = os.WriteFile(filepath.Join(dir, "t.log.sealed"), tampered, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "audit-2026-11-27.log.sealed"), sealed, 0o600)
	for _, f := range []string{"t.log.sealed", "audit-2026-11-27.log.sealed"} {
		out.Reset()
		if code := run([]string{"audit", "unseal", "-keys-file", keys, filepath.Join(dir, f)}, &out, &errOut); code != 1 || out.Len() != 0 {
			t.Errorf("unseal %s: %d, %d bytes out; want refused", f, code, out.Len())
		}
	}
}

// TestCheckNamesThePepperFormat: `serve -check` with a missing or short
// pepper names the key, the length and two commands that make one; what
// `bulwark keys pepper` prints, and what `openssl rand -base64 32` prints,
// pass the check as they are.
func TestCheckNamesThePepperFormat(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "bulwark.yaml")
	cfg := "upstream: http://127.0.0.1:9\nauth:\n  api_keys:\n    store: sqlite://keys.db\n    pepper_env: BULWARK_TEST_PEPPER\nroutes: [{path: /, auth: required}]\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	check := func() (int, string) {
		var out, errOut bytes.Buffer
		code := run([]string{"serve", "-config", cfgFile, "-check"}, &out, &errOut)
		return code, errOut.String()
	}
	for _, pepper := range []string{"", "too-short-a-pepper"} {
		t.Setenv("BULWARK_TEST_PEPPER", pepper)
		code, errs := check()
		for _, w := range []string{"line 5: auth.api_keys.pepper_env:", "make one with `bulwark keys pepper` or `openssl rand -base64 32`"} {
			if code != 1 || !strings.Contains(errs, w) {
				t.Errorf("pepper %q: -check = %d, stderr lacks %q:\n%s", pepper, code, w, errs)
			}
		}
		if pepper != "" && (!strings.Contains(errs, "at least 32 bytes") || strings.Contains(errs, pepper)) {
			t.Errorf("pepper %q: the message should give the length, never the pepper:\n%s", pepper, errs)
		}
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"keys", "pepper"}, &out, &errOut); code != 0 {
		t.Fatalf("keys pepper = %d: %s", code, errOut.String())
	}
	peppers := []string{out.String()}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		b, err := exec.Command(openssl, "rand", "-base64", "32").Output()
		if err != nil {
			t.Fatalf("openssl rand: %v", err)
		}
		peppers = append(peppers, string(b))
	} else {
		t.Log("no openssl: only the pepper of `bulwark keys pepper` is checked")
	}
	for _, p := range peppers {
		t.Setenv("BULWARK_TEST_PEPPER", p)
		if code, errs := check(); code != 0 {
			t.Errorf("pepper %q: -check = %d:\n%s", p, code, errs)
		}
	}
}
