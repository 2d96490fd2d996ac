package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

// TestNotifyRedisDown: with notify: redis:// and Redis gone, `bulwark
// keys revoke` still revokes (exit 0) and warns that the running
// instances will see it only within their cache TTL.
func TestNotifyRedisDown(t *testing.T) {
	t.Setenv(pepperEnv, "0123456789abcdef0123456789abcdef-test-pepper")
	srv := redistest.StartServer(t)
	cfg := writeConfig(t, "    store: sqlite://keys.db\n    pepper_env: "+pepperEnv+"\n    notify: redis://"+srv.Addr+"/0\n")
	created := runJSON(t, "create", "-config", cfg, "--json")
	id := created["id"].(string)
	srv.Stop()
	code, out, errs := run(t, "revoke", "-config", cfg, id)
	if code != 0 || !strings.Contains(out, "revoked "+id) || !strings.Contains(errs, "within their cache_ttl") {
		t.Fatalf("revoke with Redis down = %d %q %q; want 0, revoked, and a warning", code, out, errs)
	}
	listed := runJSON(t, "list", "-config", cfg, "--json")
	if !strings.Contains(strings.Join(statuses(listed), " "), "revoked") {
		t.Errorf("list after revoke = %v", listed)
	}
}

func statuses(m map[string]any) []string {
	var out []string
	for _, k := range m["keys"].([]any) {
		out = append(out, k.(map[string]any)["status"].(string))
	}
	return out
}

func TestNotifyChecked(t *testing.T) {
	fc := cli.FileConfig{Store: "sqlite://" + filepath.Join(t.TempDir(), "k.db"), InsecureNoPepper: true, Notify: "kafka://x"}
	if _, _, err := fc.Open(context.Background(), "", -1); err == nil || !strings.Contains(err.Error(), "notify") {
		t.Fatalf("Open with notify kafka:// = %v, want a notify problem", err)
	}
}
