package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Two `bulwark serve` on one SQLite key store, each with a one-minute
// cache: `bulwark keys revoke` is refused by both within a second, through
// the store's channel (PRAGMA data_version), not the cache TTL.
func TestServeRevocationReachesBothInstances(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BULWARK_APIKEY_PEPPER", hex.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	cfgFile := filepath.Join(dir, "bulwark.yaml")
	cfg := "auth:\n  api_keys: {store: \"sqlite://keys.db\", cache_ttl: 1m}\nroutes: [{path: /, auth: required}]\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := func(args ...string) []byte {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"keys"}, append(args, "-config", cfgFile, "--json")...), &out, &errOut); code != 0 {
			t.Fatalf("bulwark keys %v = %d: %s", args, code, errOut.String())
		}
		return out.Bytes()
	}
	keys("list") // creates and migrates the store before both servers open it
	a, _, _ := startServe(t, cfgFile)
	b, _, _ := startServe(t, cfgFile)
	status := func(base, key string) int {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	var took []time.Duration
	for range 10 {
		var k struct{ ID, Key string }
		if err := json.Unmarshal(keys("create", "-name", "e2e"), &k); err != nil {
			t.Fatal(err)
		}
		for _, base := range []string{a, b} {
			if c := status(base, k.Key); c == http.StatusUnauthorized {
				t.Fatalf("new key refused by %s", base)
			}
		}
		start := time.Now()
		keys("revoke", k.ID)
		for _, base := range []string{a, b} {
			for status(base, k.Key) != http.StatusUnauthorized {
				if time.Since(start) > time.Second {
					t.Fatalf("%s still accepts the key 1 s after keys revoke", base)
				}
				time.Sleep(2 * time.Millisecond) // a real channel: no clock to move
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("keys revoke → refused by both serve instances: median %v, max %v", took[len(took)/2], took[len(took)-1])
}
