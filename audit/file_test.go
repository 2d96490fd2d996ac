package audit_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwark-go/bulwark/audit"
)

func openFile(t *testing.T, path string, cfg audit.FileConfig) *audit.File {
	t.Helper()
	cfg.Key, cfg.KeyID = testKey, "k1"
	l, err := audit.OpenFile(path, cfg)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	return l
}

// rotatedSet writes records through a File rotating every ~600 bytes
// until there are 5 files, closes it, and returns the files oldest first
// and the checkpoint file.
func rotatedSet(t *testing.T) (files []string, cps string) {
	t.Helper()
	dir := t.TempDir()
	path, cps := filepath.Join(dir, "audit.log"), filepath.Join(dir, "audit.checkpoints")
	clk := newClock()
	l := openFile(t, path, audit.FileConfig{MaxSize: 600, Checkpoints: cps, Now: clk.Now})
	log := slog.New(l)
	for i := 0; ; i++ {
		clk.Advance(time.Millisecond)
		log.Info("http.request", "n", i)
		if old, _ := audit.Rotated(path); len(old) == 4 {
			break
		}
	}
	log.Info("http.request", "n", "last")
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	old, err := audit.Rotated(path)
	if err != nil {
		t.Fatal(err)
	}
	return append(old, path), cps
}

func verifyFiles(files []string, cps string, allowOpen bool) (audit.VerifyResult, error) {
	cfg := audit.VerifyConfig{Keys: map[string][]byte{"k1": testKey}, AllowOpen: allowOpen}
	if cps != "" {
		f, err := os.Open(cps)
		if err != nil {
			return audit.VerifyResult{}, err
		}
		defer f.Close()
		cfg.Checkpoints = f
	}
	return audit.VerifyFiles(files, cfg)
}

func TestFileRotationVerifiesAsOneChain(t *testing.T) {
	files, cps := rotatedSet(t)
	if len(files) != 5 {
		t.Fatalf("%d files, want 5: %v", len(files), files)
	}
	res, err := verifyFiles(files, cps, false)
	if err != nil || res.Chains != 5 || len(res.Unclean) != 0 || res.Open || res.Earlier != nil {
		t.Fatalf("VerifyFiles(5 rotated files) = %+v, %v; want 5 linked, closed chains", res, err)
	}
	if res.Checkpoints < 10 { // start and end of each segment
		t.Errorf("%d checkpoints matched, want at least 10", res.Checkpoints)
	}
}

// Attack: remove a whole file (a chain segment) from the middle, cut the
// tail, or hand the files over out of order.
func TestFileCheckpointsCatchRemovalTruncationReordering(t *testing.T) {
	files, cps := rotatedSet(t)
	truncated := filepath.Join(t.TempDir(), "audit.log")
	data, err := os.ReadFile(files[4])
	if err != nil {
		t.Fatal(err)
	}
	ls := lines(data)
	if err := os.WriteFile(truncated, bytes.Join(ls[:len(ls)-3], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files []string
	}{
		{"middle segment deleted", slices.Concat(files[:2], files[3:])},
		{"last file deleted", files[:4]},
		{"tail of the current file truncated", append(slices.Clone(files[:4]), truncated)},
		{"files reordered", []string{files[0], files[2], files[1], files[3], files[4]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyFiles(tc.files, cps, true)
			var te *audit.TamperError
			if !errors.As(err, &te) {
				t.Fatalf("VerifyFiles -checkpoints -allow-open (%s) = %v, want a *TamperError", tc.name, err)
			}
		})
	}
	// Dropping the oldest files is what rotation with keep does: the
	// rest still verifies, and names the segment it continues.
	res, err := verifyFiles(files[2:], cps, false)
	if err != nil || res.Earlier == nil {
		t.Errorf("VerifyFiles(newest 3 files) = %+v, %v; want intact, continuing an earlier segment", res, err)
	}
}

func TestFileKeep(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	clk := newClock()
	l := openFile(t, path, audit.FileConfig{MaxSize: 400, Keep: 2, Now: clk.Now})
	for i := range 40 {
		clk.Advance(time.Millisecond)
		slog.New(l).Info("record", "n", i)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := audit.Rotated(path)
	if len(old) != 2 {
		t.Errorf("%d rotated files kept, want 2", len(old))
	}
	if _, err := verifyFiles(append(old, path), "", false); err != nil {
		t.Errorf("VerifyFiles(kept files) = %v", err)
	}
}

// A gateway killed mid-write (SIGKILL, OOM, power loss) and restarted: the
// new chain links to the last record on disk, so verify names an unclean
// end, and tampering stays tampering.
func TestFileRestartAfterCrash(t *testing.T) {
	for _, torn := range []bool{false, true} {
		dir := t.TempDir()
		path, cps := filepath.Join(dir, "audit.log"), filepath.Join(dir, "cp")
		l := openFile(t, path, audit.FileConfig{Checkpoints: cps, CheckpointEvery: 2})
		for i := range 5 {
			slog.New(l).Info("before", "n", i)
		}
		audit.Crash(l)
		if torn {
			f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			_, _ = f.WriteString(`{"time":"2026-03-01T12:00:00Z","level":"INFO","msg":"half a rec`)
			_ = f.Close()
		}
		l = openFile(t, path, audit.FileConfig{Checkpoints: cps, CheckpointEvery: 2})
		slog.New(l).Info("after")
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := verifyFiles([]string{path}, cps, true)
		if err != nil || len(res.Unclean) != 1 || !res.Unclean[0].Linked || res.Unclean[0].Torn != torn || res.Unclean[0].Line != 6 {
			t.Fatalf("torn=%v: VerifyFiles(-allow-open) = %+v, %v; want one linked unclean end at line 6", torn, res, err)
		}
		if !strings.Contains(res.Unclean[0].String(), "without an end record") {
			t.Errorf("finding = %q", res.Unclean[0])
		}
		if _, err := verifyFiles([]string{path}, cps, false); !errors.Is(err, audit.ErrUnclean) || errors.Is(err, audit.ErrTampered) {
			t.Errorf("torn=%v: VerifyFiles without -allow-open = %v, want ErrUnclean, not ErrTampered", torn, err)
		}
	}
}

// logrotate renames the file and sends SIGUSR1: Reopen ends the chain in
// the renamed file and starts a linked one at the path.
func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openFile(t, path, audit.FileConfig{SyncEveryRecord: true})
	slog.New(l).Info("one")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	slog.New(l).Info("two") // still into the renamed file, as with any open file
	if err := l.Reopen(); err != nil {
		t.Fatalf("Reopen: %v", err)
	}
	slog.New(l).With("k", "v").Info("three")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := verifyFiles([]string{path + ".1", path}, "", false)
	if err != nil || res.Chains != 2 || res.Records != 7 {
		t.Errorf("VerifyFiles(renamed, new) = %+v, %v; want 2 chains, 7 records", res, err)
	}
}

func TestFileConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   audit.FileConfig
		field string
	}{
		{"no key", audit.FileConfig{}, "Key"},
		{"sync both", audit.FileConfig{Key: testKey, SyncEveryRecord: true, SyncInterval: time.Second}, "SyncInterval"},
		{"checkpoint interval without file", audit.FileConfig{Key: testKey, CheckpointEvery: 5}, "CheckpointEvery"},
		{"keep without rotation", audit.FileConfig{Key: testKey, Keep: 3}, "Keep"},
		{"negative size", audit.FileConfig{Key: testKey, MaxSize: -1}, "MaxSize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.OpenFile(filepath.Join(t.TempDir(), "a.log"), tc.cfg)
			var ce *audit.ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("OpenFile(%s) = %v, want a *ConfigError for %s", tc.name, err, tc.field)
			}
		})
	}
}

// Checkpoints by time and rotation by age follow the configured clock.
func TestFileCheckpointIntervalAndMaxAge(t *testing.T) {
	dir := t.TempDir()
	path, cps := filepath.Join(dir, "audit.log"), filepath.Join(dir, "cp")
	clk := newClock()
	l := openFile(t, path, audit.FileConfig{Checkpoints: cps, CheckpointInterval: time.Minute, MaxAge: time.Hour, Now: clk.Now})
	count := func() int {
		b, _ := os.ReadFile(cps)
		return bytes.Count(b, []byte(`"msg":"audit.checkpoint"`))
	}
	start := count() // the chain's start
	slog.New(l).Info("one")
	audit.Tick(l)
	if got := count(); got != start {
		t.Errorf("checkpoints before a minute passed: %d, want %d", got, start)
	}
	clk.Advance(2 * time.Minute)
	audit.Tick(l)
	if got := count(); got != start+1 {
		t.Errorf("checkpoints after a minute with a record: %d, want %d", got, start+1)
	}
	audit.Tick(l) // nothing new to checkpoint
	if got := count(); got != start+1 {
		t.Errorf("checkpoints after an idle tick: %d, want %d", got, start+1)
	}
	clk.Advance(time.Hour)
	audit.Tick(l)
	if old, _ := audit.Rotated(path); len(old) != 1 {
		t.Errorf("after max_age: %d rotated files, want 1", len(old))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := audit.Rotated(path)
	if _, err := verifyFiles(append(old, path), cps, false); err != nil {
		t.Errorf("VerifyFiles = %v", err)
	}
}
