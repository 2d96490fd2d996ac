package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-go/bulwark/audit"
)

const auditUsage = `usage: bulwark audit verify [-key-file F | -key-env NAME] [-checkpoints F] [-allow-open] FILE|DIR|GLOB...

Checks a log written through audit.Chain. The key is hex or base64 text.
Several files are verified as one chain: named files in the order given;
the files of a directory or a glob ('/var/log/bulwark/audit.log*') in the
order of their first record's time (rotated files, then the current one).
A chain that stopped without its end record (the gateway was killed, ran
out of memory or lost power) is an unclean end: reported, and accepted
with -allow-open. -checkpoints also catches removed files and a truncated
tail.
Exit status: 0 intact, 1 tampered (the first bad record's file, line and
reason on stdout, "TAMPERED") or an unclean end without -allow-open
("UNCLEAN END"), 2 usage error or unreadable input.
`

func runAudit(args []string, stdout, stderr io.Writer) int {
	switch {
	case wantsHelpOnly(args):
		writeAuditHelp(stdout)
		return 0
	case len(args) > 1 && isHelp(args[0]):
		return runAudit(append(args[1:2:2], "-h"), stdout, stderr)
	case len(args) > 0 && args[0] == "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "seal":
		return runArchive(false, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "unseal":
		return runArchive(true, args[1:], stdout, stderr)
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "bulwark audit: unknown command %q\n\n", args[0])
	}
	fmt.Fprint(stderr, auditUsage)
	fmt.Fprint(stderr, archiveUsage)
	return 2
}

func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bulwark audit verify", flag.ContinueOnError)
	keyFile := fs.String("key-file", "", "file holding the chain key (hex or base64)")
	keyEnv := fs.String("key-env", "", "environment variable holding the chain key (hex or base64)")
	cpFile := fs.String("checkpoints", "", "checkpoint file the chain wrote to its second sink")
	allowOpen := fs.Bool("allow-open", false, "accept a last chain without an end record (log still being written)")
	if code, ok := parseFlags(fs, args, verifyHelp, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() == 0 || (*keyFile == "") == (*keyEnv == "") {
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
	names, err := logFiles(fs.Args(), *cpFile, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark audit verify: %v\n", err)
		return 2
	}
	res, err := audit.VerifyFiles(names, cfg)
	var te *audit.TamperError
	var ue *audit.UncleanError
	switch {
	case errors.As(err, &te):
		fmt.Fprintf(stdout, "%s:%d: TAMPERED: %s\n", place(te.File, *cpFile), te.Line, te.Reason)
		return 1
	case errors.As(err, &ue):
		for _, u := range ue.Ends {
			fmt.Fprintf(stdout, "%s:%d: UNCLEAN END: %s\n", u.File, u.Line, u)
		}
		fmt.Fprintf(stdout, "every record verifies; -allow-open accepts an unclean end, -checkpoints tells a truncated tail from one\n")
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "bulwark audit verify: %v\n", err)
		return 2
	}
	for _, u := range res.Unclean {
		fmt.Fprintf(stdout, "%s:%d: unclean end: %s\n", u.File, u.Line, u)
	}
	state := "closed"
	if res.Open {
		state = "open"
	}
	what := names[0]
	if len(names) > 1 {
		what = fmt.Sprintf("%s … %s (%d files)", names[0], names[len(names)-1], len(names))
	}
	fmt.Fprintf(stdout, "%s: intact: %d records in %d chain(s), last chain %s", what, res.Records, res.Chains, state)
	if len(res.Unclean) > 0 {
		fmt.Fprintf(stdout, ", %d unclean end(s)", len(res.Unclean))
	}
	if cfg.Checkpoints != nil {
		fmt.Fprintf(stdout, ", %d checkpoint(s) matched", res.Checkpoints)
	}
	fmt.Fprintln(stdout)
	return 0
}

// place names the file of a finding: the checkpoint file by its name.
func place(file, cpFile string) string {
	if file == "checkpoints" && cpFile != "" {
		return cpFile
	}
	return file
}

// logFiles expands the operands: a file as it is, a directory to its
// files, a glob to its matches; the files of a directory or glob ordered
// by the time of their first record (then by name). The checkpoint file
// is never one of the log files.
func logFiles(args []string, cpFile string, stdout io.Writer) ([]string, error) {
	var out []string
	skip := map[string]bool{}
	if cpFile != "" {
		if abs, err := filepath.Abs(cpFile); err == nil {
			skip[abs] = true
		}
	}
	keep := func(p string) bool {
		abs, err := filepath.Abs(p)
		return err != nil || !skip[abs]
	}
	for _, a := range args {
		st, err := os.Stat(a)
		switch {
		case err == nil && !st.IsDir():
			out = append(out, a)
			continue
		case err == nil:
			ents, err := os.ReadDir(a)
			if err != nil {
				return nil, err
			}
			var group []string
			for _, e := range ents {
				p := filepath.Join(a, e.Name())
				if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || !keep(p) {
					continue
				}
				if why := notALog(p); why != "" {
					fmt.Fprintf(stdout, "%s: skipped: %s\n", p, why)
					continue
				}
				group = append(group, p)
			}
			if len(group) == 0 {
				return nil, fmt.Errorf("%s: no log files", a)
			}
			out = append(out, byFirstRecord(group)...)
		case strings.ContainsAny(a, "*?["):
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", a, err)
			}
			var group []string
			for _, p := range m {
				if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && keep(p) {
					group = append(group, p)
				}
			}
			if len(group) == 0 {
				return nil, fmt.Errorf("%s: no files match", a)
			}
			out = append(out, byFirstRecord(group)...)
		default:
			return nil, err
		}
	}
	return out, nil
}

// notALog says why a file in a directory is not one of the log's files:
// it has no chained record at all (a key, a note), or it is a checkpoint
// file. Anything else that is not intact is verified, and fails.
func notALog(name string) string {
	f, err := os.Open(name) // #nosec G304 -- the operator names the log folder
	if err != nil {
		return ""
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	first, _ := br.ReadSlice('\n')
	if !bytes.Contains(first, []byte(`"chain.mac":"`)) {
		return "not a chained log"
	}
	second, _ := br.ReadSlice('\n')
	var rec struct {
		Msg string `json:"msg"`
	}
	if json.Unmarshal(second, &rec) == nil && rec.Msg == audit.MsgCheckpoint {
		return "a checkpoint file (give it with -checkpoints)"
	}
	return ""
}

// byFirstRecord sorts files by the time of their first record, then by
// name; a file whose first line has no time sorts first (and fails
// verification there).
func byFirstRecord(names []string) []string {
	type file struct {
		name string
		t    time.Time
	}
	fs := make([]file, len(names))
	for i, n := range names {
		fs[i] = file{name: n, t: firstRecordTime(n)}
	}
	slices.SortStableFunc(fs, func(a, b file) int {
		return cmp.Or(a.t.Compare(b.t), cmp.Compare(a.name, b.name))
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

func firstRecordTime(name string) time.Time {
	f, err := os.Open(name) // #nosec G304 -- the operator names the log files
	if err != nil {
		return time.Time{}
	}
	defer f.Close()
	line, _ := bufio.NewReaderSize(f, 64<<10).ReadSlice('\n')
	var rec struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal(line, &rec) != nil {
		return time.Time{}
	}
	return rec.Time
}
