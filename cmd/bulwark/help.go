package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// help is what `bulwark help COMMAND` and `bulwark COMMAND -h` print, on
// standard output, with exit status 0: what the command does in one line,
// its usage, its flags and examples. A usage error prints the usage and
// flags on standard error instead, with exit status 2.
type help struct {
	summary  string   // one line: what the command does
	usage    string   // the usage line(s) and any notes, ending in a newline
	examples []string // command lines, each on its own line
}

// write prints h, with the flags of fs when fs is not nil.
func (h help) write(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\n%s", h.summary, h.usage)
	writeFlags(w, fs)
	if len(h.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range h.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

// writeUsage prints what a usage error shows: the usage and the flags.
func (h help) writeUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, h.usage)
	writeFlags(w, fs)
}

func writeFlags(w io.Writer, fs *flag.FlagSet) {
	if fs == nil {
		return
	}
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintln(w, "\nflags:")
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
}

// isHelp tells whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// parseFlags parses args with fs. Asked for help (-h, -help, --help) it
// prints h and fs's flags on stdout and returns 0, false; on a bad flag
// it prints the flag package's message, the usage and the flags on stderr
// and returns 2, false. Otherwise it returns 0, true.
func parseFlags(fs *flag.FlagSet, args []string, h help, stdout, stderr io.Writer) (int, bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed below, to the stream that fits
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		h.write(stdout, fs)
		return 0, false
	case err != nil:
		h.writeUsage(stderr, fs)
		return 2, false
	}
	return 0, true
}

// topics is the list `bulwark help` prints: each command, with its
// subcommands where they differ in purpose.
var topics = []struct{ name, summary string }{
	{"audit verify", "check a tamper-evident audit log"},
	{"audit seal", "encrypt a rotated audit log for archiving"},
	{"audit unseal", "decrypt an archive made by audit seal"},
	{"help", "show what a command does, its flags and examples"},
	{"keys", "create, list, rotate, revoke and delete API keys; make a pepper"},
	{"probe", "run the attack suite against an API, bulwark or not"},
	{"serve", "run the API gateway from a YAML configuration, or check one"},
	{"version", "print the version and the VCS revision built from"},
}

var mainHelp = help{
	summary: "bulwark: the operator's tool for bulwark deployments",
	usage:   "usage: bulwark <command> [arguments]\n",
	examples: []string{
		"bulwark serve -config gateway.yaml -check",
		"bulwark keys pepper > /run/secrets/apikey-pepper",
		`bulwark keys create -config gateway.yaml -name ci -scopes "orders:read" -ttl 30d`,
		"bulwark audit verify -key-env BULWARK_AUDIT_KEY /var/log/bulwark/audit.log",
		"bulwark probe -target http://127.0.0.1:8080",
		"bulwark help keys create",
	},
}

// writeMain prints the list of commands under the usage line.
func writeMain(w io.Writer, full bool) {
	if full {
		fmt.Fprintf(w, "%s\n\n", mainHelp.summary)
	}
	fmt.Fprint(w, mainHelp.usage)
	fmt.Fprintln(w, "\ncommands:")
	for _, t := range topics {
		fmt.Fprintf(w, "  %-14s %s\n", t.name, t.summary)
	}
	if full {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range mainHelp.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintln(w, "\nRun 'bulwark help <command>' or 'bulwark <command> -h' for a command's flags and examples.")
}

// runHelp implements `bulwark help [command [subcommand]]`: the command's
// own help, as its -h flag prints it.
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeMain(stdout, true)
		return 0
	}
	if args[0] == "help" {
		runHelpHelp.write(stdout, nil)
		return 0
	}
	return run(append(append([]string(nil), args...), "-h"), stdout, stderr)
}

var runHelpHelp = help{
	summary:  "bulwark help: show what a command does, its flags and examples",
	usage:    "usage: bulwark help [command [subcommand]]\n",
	examples: []string{"bulwark help", "bulwark help serve", "bulwark help audit verify"},
}

// wantsHelpOnly tells whether args is a lone request for help, as in
// `bulwark audit -h`.
func wantsHelpOnly(args []string) bool {
	return len(args) == 1 && isHelp(args[0])
}

// The audit commands' help. The usage texts are audit.go's and
// archive.go's, beside the code they describe.
var (
	verifyHelp = help{
		summary: "bulwark audit verify: check a tamper-evident audit log",
		usage:   auditUsage,
		examples: []string{
			"bulwark audit verify -key-file /etc/bulwark/audit.key /var/log/bulwark/audit.log",
			"bulwark audit verify -key-env BULWARK_AUDIT_KEY -allow-open -checkpoints /var/log/bulwark/audit.checkpoints '/var/log/bulwark/audit.log*'",
		},
	}
	sealHelp = help{
		summary:  "bulwark audit seal: encrypt a rotated audit log for archiving",
		usage:    archiveUsage,
		examples: []string{"bulwark audit seal -keys-file /etc/bulwark/archive.keys /var/log/bulwark/audit.log.1"},
	}
	unsealHelp = help{
		summary:  "bulwark audit unseal: decrypt an archive made by audit seal",
		usage:    archiveUsage,
		examples: []string{"bulwark audit unseal -keys-env BULWARK_ARCHIVE_KEYS audit.log.1.sealed > audit.log.1"},
	}
)

// writeAuditHelp prints `bulwark audit -h`: the audit subcommands.
func writeAuditHelp(w io.Writer) {
	fmt.Fprintln(w, "bulwark audit: check and archive tamper-evident audit logs")
	fmt.Fprintln(w, "\nusage: bulwark audit <verify|seal|unseal> [flags] FILE")
	fmt.Fprintln(w, "\ncommands:")
	for _, t := range topics {
		if n, ok := strings.CutPrefix(t.name, "audit "); ok {
			fmt.Fprintf(w, "  %-8s %s\n", n, t.summary)
		}
	}
	fmt.Fprintln(w, "\nexamples:")
	fmt.Fprintf(w, "  %s\n  %s\n", verifyHelp.examples[0], sealHelp.examples[0])
	fmt.Fprintln(w, "\nRun 'bulwark help audit <command>' for a command's flags.")
}
