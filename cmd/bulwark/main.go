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
//	help           show what a command does, its flags and examples
//	keys           create, list, rotate, revoke and delete API keys; make a pepper (see package auth/apikey)
//	probe          run the attack suite against an API (see package probe)
//	serve          run the API gateway (see README.md for the configuration)
//	version        print the version and the VCS revision built from
//
// `bulwark help COMMAND` and `bulwark COMMAND -h` (also -help, --help)
// print a command's help on standard output and exit 0.
//
// Exit status: 0 on success, 1 when the command's check fails, 2 on a
// usage error (the usage then goes to standard error).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	keyscli "github.com/bulwark-go/bulwark/auth/apikey/cli"
	"github.com/bulwark-go/bulwark/internal/gateway"
)

// command runs one top-level command with the arguments after its name and
// returns the exit status.
type command func(args []string, stdout, stderr io.Writer) int

// commands is the dispatch table: one entry per top-level command, each in
// its own file; help is run's own (it runs the others).
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
	if len(args) == 0 {
		writeMain(stderr, false)
		return 2
	}
	if isHelp(args[0]) {
		return runHelp(args[1:], stdout, stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bulwark: unknown command %q\n\n", args[0])
		writeMain(stderr, false)
		return 2
	}
	return cmd(args[1:], stdout, stderr)
}
