package cli_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey/cli"
)

// TestAttackKeyStoreReadableByOthers: `bulwark keys` created the SQLite
// store 0644, readable by every local user (the audit log is 0600): a copy
// of the digests, owners and scopes for anyone on the machine. The store
// and the WAL and shared-memory files SQLite makes beside it are created
// 0600.
func TestAttackKeyStoreReadableByOthers(t *testing.T) {
	t.Setenv(pepperEnv, strings.Repeat("p", 40))
	cfg := writeConfig(t, "    store: sqlite:keys.db\n    pepper_env: "+pepperEnv+"\n")
	dir := filepath.Dir(cfg)
	if code, _, errs := run(t, "create", "-config", cfg, "-name", "ci"); code != 0 {
		t.Fatalf("keys create = %d: %s", code, errs)
	}
	// While a store is open (as the gateway keeps it), SQLite keeps its
	// -wal and -shm files beside it.
	fc, err := cli.LoadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, closer, err := fc.Open(context.Background(), "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closer.Close() }()
	if _, err := keys.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keys.db", "keys.db-wal", "keys.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m := fi.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group or others", name, m)
		}
	}
}

// TestAttackPepperFileReadableByOthers: a pepper that every local user
// can read makes a stolen copy of the store checkable offline, which is
// what the pepper is for. A pepper file accessible by group or others is
// refused, unless insecure_pepper_file_permissions says otherwise.
func TestAttackPepperFileReadableByOthers(t *testing.T) {
	tests := []struct {
		name     string
		mode     os.FileMode
		override bool
		ok       bool
	}{
		{"owner only", 0o600, false, true},
		{"owner read-only", 0o400, false, true},
		{"world-readable", 0o644, false, false},
		{"group-readable", 0o640, false, false},
		{"world-writable", 0o602, false, false},
		{"world-readable, explicitly accepted", 0o644, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			pf := filepath.Join(dir, "pepper")
			if err := os.WriteFile(pf, []byte(strings.Repeat("k", 48)+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(pf, tc.mode); err != nil {
				t.Fatal(err)
			}
			section := "    store: sqlite:" + filepath.Join(dir, "keys.db") + "\n    pepper_file: " + pf + "\n"
			if tc.override {
				section += "    insecure_pepper_file_permissions: true\n"
			}
			code, _, errs := run(t, "list", "-config", writeConfig(t, section))
			if ok := code == 0; ok != tc.ok {
				t.Fatalf("keys list with a %v pepper file = %d %q, want ok=%v", tc.mode, code, errs, tc.ok)
			}
			if !tc.ok && !strings.Contains(errs, "chmod 600") {
				t.Errorf("the refusal %q does not say how to fix it", errs)
			}
		})
	}
}

// TestAttackPepperFileResolvedAgainstWorkingDirectory: a relative
// pepper_file was read from the working directory while a relative sqlite
// store was found beside the configuration, so the gateway and
// `bulwark keys`, started from different directories, read different
// peppers, or one planted where the command happened to run. Every
// relative path of the section is relative to the configuration file.
func TestAttackPepperFileResolvedAgainstWorkingDirectory(t *testing.T) {
	cfg := writeConfig(t, "    store: sqlite:keys.db\n    pepper_file: pepper\n    header: Authorization\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "pepper"), []byte(strings.Repeat("r", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "pepper"), []byte(strings.Repeat("x", 48)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(elsewhere)
	created := runJSON(t, "create", "-config", cfg, "--json")

	// The gateway, started from yet another directory, reads the same
	// pepper and accepts the key.
	t.Chdir(t.TempDir())
	fc, err := cli.LoadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	keys, closer, err := fc.Open(context.Background(), "", -1)
	if err != nil {
		t.Fatalf("the gateway cannot open the section: %v", err)
	}
	defer func() { _ = closer.Close() }()
	if _, err := keys.Authenticate(bearerRequest(created["key"].(string))); err != nil {
		t.Fatalf("a key made by `bulwark keys` is refused by the gateway: %v", err)
	}
}

func bearerRequest(key string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+key)
	return r
}
