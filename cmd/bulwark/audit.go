package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bulwark-go/bulwark/audit"
)

const auditUsage = `usage: bulwark audit verify [-key-file F | -key-env NAME] [-checkpoints F] [-allow-open] FILE

Checks a log written through audit.Chain. The key is hex or base64 text.
Exit status: 0 intact, 1 tampered (the first bad record's line and reason
on stdout), 2 usage error or unreadable input.
`

func runAudit(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && args[0] == "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "seal":
		return runArchive(false, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "unseal":
		return runArchive(true, args[1:], stdout, stderr)
	}
	fmt.Fprint(stderr, auditUsage)
	fmt.Fprint(stderr, archiveUsage)
	return 2
}

func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bulwark audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditUsage) }
	keyFile := fs.String("key-file", "", "file holding the chain key (hex or base64)")
	keyEnv := fs.String("key-env", "", "environment variable holding the chain key (hex or base64)")
	cpFile := fs.String("checkpoints", "", "checkpoint file the chain wrote to its second sink")
	allowOpen := fs.Bool("allow-open", false, "accept a last chain without an end record (log still being written)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || (*keyFile == "") == (*keyEnv == "") {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	var keyText string
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile) // #nosec G304 -- the operator names the key file
		if err != nil {
			fmt.Fprintf(stderr, "bulwark audit verify: reading key file: %v\n", err)
			return 2
		}
		keyText = string(b)
	} else {
		v, ok := os.LookupEnv(*keyEnv)
		if !ok {
			fmt.Fprintf(stderr, "bulwark audit verify: environment variable %s is not set\n", *keyEnv)
			return 2
		}
		keyText = v
	}
	key, err := audit.ParseKey(keyText)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit verify: %v\n", err)
		return 2
	}
	cfg := audit.VerifyConfig{Keys: map[string][]byte{"": key}, AllowOpen: *allowOpen}
	if *cpFile != "" {
		f, err := os.Open(*cpFile) // #nosec G304 -- the operator names the checkpoint file
		if err != nil {
			fmt.Fprintf(stderr, "bulwark audit verify: %v\n", err)
			return 2
		}
		defer f.Close()
		cfg.Checkpoints = f
	}
	name := fs.Arg(0)
	f, err := os.Open(name) // #nosec G304 -- the operator names the log file
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit verify: %v\n", err)
		return 2
	}
	defer f.Close()
	res, err := audit.Verify(f, cfg)
	var te *audit.TamperError
	switch {
	case errors.As(err, &te):
		fmt.Fprintf(stdout, "%s:%d: TAMPERED: %s\n", name, te.Line, te.Reason)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "bulwark audit verify: %v\n", err)
		return 2
	}
	state := "closed"
	if res.Open {
		state = "open"
	}
	fmt.Fprintf(stdout, "%s: intact: %d records in %d chain(s), last chain %s\n", name, res.Records, res.Chains, state)
	return 0
}
