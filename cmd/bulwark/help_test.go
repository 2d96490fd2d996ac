package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestHelpAtEveryLevel: `bulwark help [command]` and -h, -help, --help
// after any command or subcommand exit 0 and print, on stdout only, what
// the command does in one line, its usage and examples.
func TestHelpAtEveryLevel(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"bulwark: the operator's tool", "usage: bulwark <command>", "  serve          run the API gateway", "  keys           create, list", "examples:"}},
		{[]string{"-h"}, []string{"usage: bulwark <command>", "  audit verify   check a tamper-evident audit log", "examples:"}},
		{[]string{"--help"}, []string{"usage: bulwark <command>", "  version        print the version"}},
		{[]string{"-help"}, []string{"usage: bulwark <command>"}},
		{[]string{"help", "help"}, []string{"bulwark help: show what a command does", "examples:"}},
		{[]string{"help", "serve"}, []string{"bulwark serve: run the API gateway", "usage: bulwark serve [-config FILE] [-check]", "-check", "examples:"}},
		{[]string{"serve", "-h"}, []string{"bulwark serve: run the API gateway", "-config file"}},
		{[]string{"serve", "--help"}, []string{"bulwark serve:", "examples:"}},
		{[]string{"help", "audit"}, []string{"bulwark audit: check and archive", "  verify   check a tamper-evident audit log", "examples:"}},
		{[]string{"audit", "-h"}, []string{"bulwark audit:", "  seal     encrypt a rotated audit log"}},
		{[]string{"audit", "help"}, []string{"bulwark audit:"}},
		{[]string{"audit", "help", "verify"}, []string{"bulwark audit verify:", "-allow-open"}},
		{[]string{"audit", "-h", "seal"}, []string{"bulwark audit seal:"}},
		{[]string{"help", "audit", "verify"}, []string{"bulwark audit verify: check a tamper-evident audit log", "usage: bulwark audit verify", "-key-file string", "examples:"}},
		{[]string{"audit", "verify", "-h"}, []string{"bulwark audit verify:", "examples:"}},
		{[]string{"audit", "seal", "--help"}, []string{"bulwark audit seal: encrypt", "-keys-file string", "examples:"}},
		{[]string{"help", "audit", "unseal"}, []string{"bulwark audit unseal: decrypt", "examples:"}},
		{[]string{"help", "keys"}, []string{"bulwark keys: create, list", "  pepper  print a new random pepper", "examples:"}},
		{[]string{"keys", "--help"}, []string{"bulwark keys:", "commands:"}},
		{[]string{"help", "keys", "create"}, []string{"bulwark keys create: create a key", "-ttl duration", "-ttl 30d", "examples:"}},
		{[]string{"keys", "create", "-h"}, []string{"bulwark keys create:", "examples:"}},
		{[]string{"keys", "rotate", "-help"}, []string{"bulwark keys rotate:", "(default 1d)"}},
		{[]string{"keys", "pepper", "-h"}, []string{"bulwark keys pepper:", "openssl rand -base64 32", "examples:"}},
		{[]string{"help", "probe"}, []string{"bulwark probe: run the attack suite", "usage: bulwark probe -target URL", "-rate second", "examples:"}},
		{[]string{"probe", "--help"}, []string{"bulwark probe:", "flags:"}},
		{[]string{"help", "version"}, []string{"bulwark version: print the version", "examples:"}},
		{[]string{"version", "-h"}, []string{"bulwark version:"}},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != 0 || errOut.Len() != 0 {
			t.Errorf("bulwark %s = %d, stderr %q; want 0 and nothing on stderr", strings.Join(tc.args, " "), code, errOut.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("bulwark %s: stdout lacks %q:\n%s", strings.Join(tc.args, " "), w, out.String())
			}
		}
	}
}

// TestUsageErrorsGoToStderr: no command, an unknown one or a bad flag is a
// usage error: status 2, the usage on stderr, nothing on stdout.
func TestUsageErrorsGoToStderr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"usage: bulwark <command>", "  serve "}},
		{[]string{"frobnicate"}, []string{`bulwark: unknown command "frobnicate"`, "usage: bulwark <command>", "  keys "}},
		{[]string{"help", "frobnicate"}, []string{`unknown command "frobnicate"`, "usage: bulwark <command>"}},
		{[]string{"--frobnicate"}, []string{`unknown command "--frobnicate"`}},
		{[]string{"serve", "-nope"}, []string{"flag provided but not defined: -nope", "usage: bulwark serve", "-check"}},
		{[]string{"serve", "extra"}, []string{`unexpected arguments ["extra"]`, "usage: bulwark serve"}},
		{[]string{"version", "extra"}, []string{"usage: bulwark version"}},
		{[]string{"audit"}, []string{"usage: bulwark audit verify"}},
		{[]string{"audit", "frobnicate"}, []string{`bulwark audit: unknown command "frobnicate"`, "usage: bulwark audit verify"}},
		{[]string{"help", "audit", "frobnicate"}, []string{`bulwark audit: unknown command "frobnicate"`}},
		{[]string{"audit", "seal", "-nope"}, []string{"flag provided but not defined: -nope", "usage: bulwark audit seal"}},
		{[]string{"keys"}, []string{"usage: bulwark keys <command>"}},
		{[]string{"probe", "-nope"}, []string{"flag provided but not defined: -nope", "usage: bulwark probe"}},
		{[]string{"probe", "extra"}, []string{"usage: bulwark probe"}},
		{[]string{"keys", "frobnicate"}, []string{`bulwark keys: unknown command "frobnicate"`}},
		{[]string{"help", "keys", "frobnicate"}, []string{`bulwark keys: unknown command "frobnicate"`}},
		{[]string{"keys", "create", "-ttl", "-1d"}, []string{`invalid value "-1d" for flag -ttl: must not be negative`, "usage: bulwark keys create"}},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		if code != 2 || out.Len() != 0 {
			t.Errorf("bulwark %s = %d, stdout %q; want 2 and nothing on stdout", strings.Join(tc.args, " "), code, out.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut.String(), w) {
				t.Errorf("bulwark %s: stderr lacks %q:\n%s", strings.Join(tc.args, " "), w, errOut.String())
			}
		}
	}
}

// TestHelpListsEveryCommand: the list `bulwark help` prints names every
// command run dispatches to, and nothing else.
func TestHelpListsEveryCommand(t *testing.T) {
	listed := map[string]bool{}
	for _, tp := range topics {
		listed[strings.Fields(tp.name)[0]] = true
	}
	for name := range commands {
		if !listed[name] {
			t.Errorf("command %q is missing from bulwark help", name)
		}
		delete(listed, name)
	}
	delete(listed, "help")
	for name := range listed {
		t.Errorf("bulwark help lists %q, which is no command", name)
	}
}

func TestVersionText(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"go install module@version", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/bulwark-go/bulwark", Version: "v0.4.0"}},
			"bulwark v0.4.0\ngo1.26.1 " + platform + "\n"},
		{"go build in a clean checkout", &debug.BuildInfo{GoVersion: "go1.26.1",
			Main:     debug.Module{Version: "v0.4.1-0.20261202134722-87da8b5e1f2a"},
			Settings: vcs("vcs", "git", "vcs.revision", "87da8b5e1f2a0000000000000000000000000000", "vcs.time", "2026-12-02T13:47:22Z", "vcs.modified", "false")},
			"bulwark v0.4.1-0.20261202134722-87da8b5e1f2a\nrevision 87da8b5e1f2a0000000000000000000000000000 (2026-12-02T13:47:22Z)\ngo1.26.1 " + platform + "\n"},
		{"go build with uncommitted changes", &debug.BuildInfo{GoVersion: "go1.26.1",
			Main:     debug.Module{Version: "v0.0.0-20261202134722-87da8b5e1f2a+dirty"},
			Settings: vcs("vcs.revision", "87da8b5e1f2a", "vcs.time", "2026-12-02T13:47:22Z", "vcs.modified", "true")},
			"bulwark v0.0.0-20261202134722-87da8b5e1f2a+dirty\nrevision 87da8b5e1f2a (2026-12-02T13:47:22Z), with uncommitted changes\ngo1.26.1 " + platform + "\n"},
		{"a revision without a version", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
			Settings: vcs("vcs.revision", "87da8b5e1f2a")},
			"bulwark (devel)\nrevision 87da8b5e1f2a\ngo1.26.1 " + platform + "\n"},
		{"neither", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			"bulwark (devel)\ngo1.26.1 " + platform + "\n"},
		{"no build information", nil, "bulwark (devel)\n" + runtime.Version() + " " + platform + "\n"},
	} {
		if got := versionText(tc.bi); got != tc.want {
			t.Errorf("%s: versionText = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVersionOfABuildFromACheckout builds the binary from this checkout as
// an operator would and runs `bulwark version`: it names the commit. Go
// stamps the revision only where the module sits in a Git repository whose
// .git is a directory (not in a linked worktree, whose .git is a file:
// golang/go#58218), so elsewhere the test skips.
func TestVersionOfABuildFromACheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		t.Skip("not a Git checkout with a .git directory: Go stamps no revision here")
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	head, err := exec.Command(git, "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("git rev-parse HEAD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "bulwark")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/bulwark")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("bulwark version: %v", err)
	}
	if !strings.Contains(string(out), "revision "+strings.TrimSpace(string(head))) || strings.HasPrefix(string(out), "bulwark (devel)") {
		t.Errorf("bulwark version printed %q, want the version and revision %s", out, head)
	}
}
