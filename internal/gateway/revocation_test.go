package gateway

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey/apikeytest"
	"github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/internal/redistest"
)

// fleet is two gateway instances on one API-key store, and the
// configuration file `bulwark keys` reads.
type fleet struct {
	a, b   *Gateway
	config string
}

func newFleet(t *testing.T, apiKeys string) *fleet {
	t.Helper()
	t.Setenv("BULWARK_APIKEY_PEPPER", "revocation-e2e-pepper-0123456789abcdef")
	up := newBackend(t, "up", nil)
	dir := t.TempDir()
	yaml := "upstream: " + up.URL + "\nauth:\n  api_keys: " + apiKeys + "\nroutes: [{path: /, auth: required}]\n"
	path := filepath.Join(dir, "bulwark.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	build := func() *Gateway {
		cfg, err := Parse([]byte(yaml), dir)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		g, err := Build(cfg, Options{AuditWriter: &syncBuffer{}, Logf: t.Logf})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		t.Cleanup(func() { _ = g.Close() })
		return g
	}
	return &fleet{a: build(), b: build(), config: path}
}

// keys runs `bulwark keys` in-process.
func (f *fleet) keys(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), append(args, "-config", f.config, "--json"), &out, &errOut); code != 0 {
		t.Fatalf("bulwark keys %v = %d: %s", args, code, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Logf("bulwark keys %v: %s", args, errOut.String())
	}
	return out.Bytes()
}

func (f *fleet) create(t *testing.T) (id, key string) {
	t.Helper()
	var k struct{ ID, Key string }
	if err := json.Unmarshal(f.keys(t, "create", "-name", "e2e"), &k); err != nil {
		t.Fatal(err)
	}
	return k.ID, k.Key
}

func keyStatus(g *Gateway, key string) int {
	return call(g.Handler(), "GET", "http://example.com/x", client, map[string]string{"X-API-Key": key}).Code
}

// refusedWithin polls g until it refuses key, or fails t after limit.
func refusedWithin(t *testing.T, g *Gateway, key string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if keyStatus(g, key) == http.StatusUnauthorized {
			return time.Since(start)
		}
		time.Sleep(time.Millisecond) // polling a real channel: there is no clock to move
	}
	t.Fatalf("key still accepted %v after revoke", limit)
	return 0
}

func metric(t *testing.T, g *Gateway, line string) bool {
	t.Helper()
	return strings.Contains(do(g.AdminHandler(), "GET", "/metrics", nil, "").Body.String(), line)
}

// revocationTrials revokes a fresh key n times with `bulwark keys revoke`
// and measures how long each takes to be refused by both instances, whose
// cache (cache_ttl 1m) would otherwise keep the key for a minute.
func revocationTrials(t *testing.T, f *fleet, n int) {
	t.Helper()
	var took []time.Duration
	for range n {
		id, key := f.create(t)
		for _, g := range []*Gateway{f.a, f.b} {
			if c := keyStatus(g, key); c != 200 {
				t.Fatalf("new key = %d, want 200", c)
			}
		}
		revoked := time.Now()
		f.keys(t, "revoke", id)
		refusedWithin(t, f.b, key, time.Second)
		refusedWithin(t, f.a, key, time.Second)
		took = append(took, time.Since(revoked))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	p := func(q float64) time.Duration { return took[min(len(took)-1, int(q*float64(len(took))))] }
	t.Logf("revoke → refused on both instances, %d trials: p50 %v, p99 %v, max %v", n, p(0.50), p(0.99), took[len(took)-1])
	if p(0.99) > time.Second {
		t.Errorf("p99 %v > 1s", p(0.99))
	}
}

func trials() int {
	if n, err := strconv.Atoi(os.Getenv("BULWARK_REVOCATION_TRIALS")); err == nil && n > 0 {
		return n
	}
	return 10
}

// TestRevocationReachesTheFleetSQLite: two instances on one SQLite file
// hear of a revocation through PRAGMA data_version.
func TestRevocationReachesTheFleetSQLite(t *testing.T) {
	f := newFleet(t, "{store: sqlite://keys.db, cache_ttl: 1m}")
	revocationTrials(t, f, trials())
}

// TestRevocationReachesTheFleetPostgres: through LISTEN/NOTIFY; then the
// listener is killed (pg_terminate_backend): the loss is in the metrics,
// and a key revoked while the channel is down is still refused within the
// cache TTL.
func TestRevocationReachesTheFleetPostgres(t *testing.T) {
	pg := apikeytest.StartPostgres(t)
	url := pg.NewDatabase(t)
	f := newFleet(t, "{store: \""+url+"\", cache_ttl: 1m}")
	revocationTrials(t, f, trials())

	t.Run("attack: listener killed", func(t *testing.T) {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = db.Close() }()
		var killed int
		if err := db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'`).Scan(&killed); err != nil || killed == 0 {
			t.Fatalf("terminating the listeners: %d, %v", killed, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !metric(t, f.b, `bulwark_revocation_channel_losses_total{channel="api_keys"}`) {
			if time.Now().After(deadline) {
				t.Fatal("channel loss not in the metrics")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// It comes back by itself, and what was revoked meanwhile is refused.
		id, key := f.create(t)
		if keyStatus(f.b, key) != 200 {
			t.Fatal("new key refused")
		}
		f.keys(t, "revoke", id)
		refusedWithin(t, f.b, key, time.Minute)
	})
}

// TestRevocationReachesTheFleetRedis: announced on Redis pub/sub; then
// Redis is stopped: the channel's loss is in the metrics, and a key
// revoked meanwhile is refused within the cache TTL (here 2s), not
// kept.
func TestRevocationReachesTheFleetRedis(t *testing.T) {
	rs := redistest.StartServer(t)
	f := newFleet(t, "{store: sqlite://keys.db, notify: \"redis://"+rs.Addr+"/0\", cache_ttl: 2s}")
	// cache_ttl 2s is also how long a key would be kept without a channel;
	// the trials prove they are refused faster than that.
	revocationTrials(t, f, trials())

	t.Run("attack: notification channel killed", func(t *testing.T) {
		id, key := f.create(t)
		if keyStatus(f.b, key) != 200 {
			t.Fatal("new key refused")
		}
		rs.Stop()
		deadline := time.Now().Add(10 * time.Second)
		for !metric(t, f.b, `bulwark_revocation_channel_up{channel="api_keys"} 0`) {
			if time.Now().After(deadline) {
				t.Fatal("channel loss not in the metrics")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !metric(t, f.b, `bulwark_revocation_channel_losses_total{channel="api_keys"}`) {
			t.Error("no loss counted")
		}
		// The loss emptied the cache; the key is cached again, with the
		// channel down.
		if keyStatus(f.b, key) != 200 {
			t.Fatal("key refused before its revocation")
		}
		cached := time.Now()
		f.keys(t, "revoke", id) // stored; not announced (a warning)
		refusedWithin(t, f.b, key, 2*time.Second+500*time.Millisecond)
		took := time.Since(cached)
		t.Logf("with the channel down, refused %v after the key was cached (cache_ttl 2s)", took)
		if !metric(t, f.b, `bulwark_revocation_channel_up{channel="api_keys"} 0`) {
			t.Error("the metric no longer says the channel is down")
		}
	})
}
