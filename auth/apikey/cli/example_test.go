package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwark-go/bulwark/auth/apikey/cli"
)

// ExampleRun creates and revokes a key in a SQLite store, as
// `bulwark keys create` and `bulwark keys revoke` do.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "bulwark-keys-example-")
	defer func() { _ = os.RemoveAll(dir) }()
	config := filepath.Join(dir, "bulwark.yaml")
	_ = os.WriteFile(config, []byte("auth:\n  api_keys:\n    store: sqlite://keys.db\n    pepper_env: EXAMPLE_PEPPER\n"), 0o600)
	_ = os.Setenv("EXAMPLE_PEPPER", "example-pepper-from-a-secret-store-0123456789")

	var out, errs bytes.Buffer
	ctx := context.Background()
	code := cli.Run(ctx, []string{"create", "-config", config, "-name", "ci", "-scopes", "orders:read", "--json"}, &out, &errs)
	var created struct{ ID, Key string }
	_ = json.Unmarshal(out.Bytes(), &created)
	fmt.Println(code, strings.HasPrefix(created.Key, "bwk_live_"), len(created.Key))

	out.Reset()
	code = cli.Run(ctx, []string{"revoke", "-config", config, created.ID, "--json"}, &out, &errs)
	fmt.Println(code, strings.Replace(out.String(), created.ID, "ID", 1))
	// Output:
	// 0 true 48
	// 0 {"id":"ID","revoked":true}
}
