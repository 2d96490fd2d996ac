package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

var versionHelp = help{
	summary:  "bulwark version: print the version and the VCS revision built from",
	usage:    "usage: bulwark version\n",
	examples: []string{"bulwark version"},
}

// runVersion prints the module version and the VCS revision the binary
// was built from.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bulwark version", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, versionHelp, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		versionHelp.writeUsage(stderr, fs)
		return 2
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	fmt.Fprint(stdout, versionText(bi))
	return 0
}

// versionText says what bi (nil when the binary has none) tells of the
// build: the main module's version (a release tag from `go install
// …@v1.2.3`, a pseudo-version from `go build` in a checkout), then the VCS
// revision, its commit time and whether the tree had uncommitted changes,
// then the Go version and platform. "(devel)" stands for the version only
// when the build recorded neither a version nor a revision.
func versionText(bi *debug.BuildInfo) string {
	var b strings.Builder
	version, goVersion := "", runtime.Version()
	var rev, at, modified string
	if bi != nil {
		version = bi.Main.Version
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(&b, "bulwark %s\n", version)
	if rev != "" {
		fmt.Fprintf(&b, "revision %s", rev)
		if at != "" {
			fmt.Fprintf(&b, " (%s)", at)
		}
		if modified == "true" {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	return b.String()
}
