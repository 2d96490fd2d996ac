// Command bulwark is the operator's tool for bulwark deployments.
//
// Usage:
//
//	bulwark <command> [arguments]
//
// Commands:
//
//	audit verify   check a tamper-evident audit log (see package audit)
//	audit seal     encrypt a rotated audit log for archiving (see package seal); audit unseal reverses it
//	keys           create, list, rotate, revoke and delete API keys (see package auth/apikey)
//	probe          run the attack suite against an API (see package probe)
//	serve          run the API gateway (see README.md for the configuration)
//	version        print the version
//
// Exit status: 0 on success, 1 when the command's check fails, 2 on a
// usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"

	keyscli "github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/internal/gateway"
)

// command runs one top-level command with the arguments after its name and
// returns the exit status.
type command func(args []string, stdout, stderr io.Writer) int

// commands is the dispatch table: one entry per top-level command, each in
// its own file.
var commands = map[string]command{
	"audit":   runAudit,
	"probe":   runProbe,
	"serve":   runServe,
	"version": runVersion,
	"keys": func(args []string, stdout, stderr io.Writer) int {
		return keyscli.RunWith(context.Background(), args, stdout, stderr, keyscli.RunOptions{Sealer: gateway.SealerFor})
	},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a command and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bulwark: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: bulwark <command> [arguments]")
	fmt.Fprintln(w, "commands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// runVersion prints the module version the binary was built from.
func runVersion(_ []string, stdout, _ io.Writer) int {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	fmt.Fprintln(stdout, "bulwark", v)
	return 0
}
