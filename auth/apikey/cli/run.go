package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
	"github.com/bulwark-go/bulwark/internal/duration"
)

// command is one subcommand of `bulwark keys`: what it does in one line,
// its usage and examples, for -h and `bulwark keys help`.
type command struct {
	name, summary, usage string
	examples             []string
	notes                string // for -h, after the usage
}

var commands = []command{
	{"create", "create a key and print it, once",
		`create -config FILE [-name NAME] [-owner OWNER] [-scopes "a b"] [-roles "r s"] [-tier TIER] [-ttl 30d] [--json]`,
		[]string{`bulwark keys create -config gateway.yaml -name ci -owner team-ci -scopes "orders:read" -ttl 30d`}, ""},
	{"list", "list the keys, without their secrets", "list -config FILE [--json]",
		[]string{"bulwark keys list -config gateway.yaml"}, ""},
	{"rotate", "replace a key; the old one keeps working for -overlap", "rotate -config FILE [-overlap 1d] [--json] ID",
		[]string{"bulwark keys rotate -config gateway.yaml -overlap 12h k7Hq2xZ1"}, ""},
	{"revoke", "refuse a key from now on (it stays listed)", "revoke -config FILE [--json] ID",
		[]string{"bulwark keys revoke -config gateway.yaml k7Hq2xZ1"}, ""},
	{"delete", "remove a key's record from the store", "delete -config FILE [--json] ID",
		[]string{"bulwark keys delete -config gateway.yaml k7Hq2xZ1"}, ""},
	{"pepper", "print a new random pepper (32 bytes, base64) for pepper_env or pepper_file", "pepper",
		[]string{
			"(umask 077; bulwark keys pepper > /run/secrets/apikey-pepper)",
			`export BULWARK_APIKEY_PEPPER="$(bulwark keys pepper)"`,
		}, `
The key store digests keys under the pepper with HMAC-SHA256; the pepper
is the text as it is (trailing newlines trimmed), at least 32 bytes.
` + "`openssl rand -base64 32`" + ` makes an equivalent one. Keep it out of the
YAML file and out of the store's backups; see "Rotating the pepper" in
package auth/apikey to change it.
`},
}

const usageNotes = `
Every command but pepper reads the auth.api_keys section of the -config
file and also takes -store URL (sqlite://PATH or postgres://…) to override
its store. The plaintext key is printed once, by create and rotate: store
it now. Durations take s, m, h and d (30d, 1d12h).
`

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// writeUsage prints the usage of every command (a usage error, or -h).
func writeUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: bulwark keys <command> [flags] [ID]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, usageNotes)
}

// writeHelp prints `bulwark keys -h`: what the command does, every
// subcommand in one line, examples.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, "bulwark keys: create, list, rotate, revoke and delete API keys; make a pepper\n\n")
	writeUsage(w)
	fmt.Fprintln(w, "\nexamples:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n", c.examples[0])
	}
	fmt.Fprintln(w, "\nRun 'bulwark keys <command> -h' (or 'bulwark help keys <command>') for a command's flags.")
}

// writeCommandHelp prints `bulwark keys CMD -h`.
func writeCommandHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "bulwark keys %s: %s\n\nusage: bulwark keys %s\n%s", c.name, c.summary, c.usage, c.notes)
	if c.name != "pepper" {
		fmt.Fprint(w, usageNotes)
		fmt.Fprintln(w, "\nflags:")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	fmt.Fprintln(w, "\nexamples:")
	for _, e := range c.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// Run runs `bulwark keys` with args (after "keys") and returns the exit
// status: 0 on success, 1 on failure, 2 on a usage error. Output goes to
// stdout, diagnostics to stderr. Help (-h, -help, --help, or help [CMD],
// at the top or after a command) goes to stdout, with status 0.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunWith(ctx, args, stdout, stderr, RunOptions{})
}

// RunOptions are what the binary adds to [Run].
type RunOptions struct {
	// Sealer builds the [apikey.Sealer] for a configuration whose
	// api_keys section names seal keys (seal_keys_env or seal_keys_file).
	// cmd/bulwark sets it with the seal package, which this package does
	// not import. Without it such a configuration is refused.
	Sealer func(FileConfig) (apikey.Sealer, error)
}

// RunWith is [Run] with options.
func RunWith(ctx context.Context, args []string, stdout, stderr io.Writer, opts RunOptions) int {
	switch {
	case len(args) == 0:
		writeUsage(stderr)
		return 2
	case isHelp(args[0]) && len(args) == 1:
		writeHelp(stdout)
		return 0
	case isHelp(args[0]):
		return RunWith(ctx, []string{args[1], "-h"}, stdout, stderr, opts)
	}
	cmd, args := args[0], args[1:]
	c, ok := lookup(cmd)
	if !ok {
		fmt.Fprintf(stderr, "bulwark keys: unknown command %q\n\n", cmd)
		writeUsage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("bulwark keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // help goes to stdout, a usage error's usage to stderr: see parse below
	if cmd == "pepper" {
		return runPepper(fs, c, args, stdout, stderr)
	}
	var (
		config  = fs.String("config", "", "configuration `file` (YAML) with an auth.api_keys section")
		store   = fs.String("store", "", "store `URL`, overriding the configuration")
		asJSON  = fs.Bool("json", false, "print one JSON object")
		name    = new(string)
		owner   = new(string)
		scopes  = new(string)
		roles   = new(string)
		tier    = new(string)
		ttl     = new(time.Duration)
		overlap = new(time.Duration)
	)
	wantID := true
	switch cmd {
	case "create":
		wantID = false
		fs.StringVar(name, "name", "", "what the key is for")
		fs.StringVar(owner, "owner", "", "who answers for the key")
		fs.StringVar(scopes, "scopes", "", "space-separated scopes")
		fs.StringVar(roles, "roles", "", "space-separated roles")
		fs.StringVar(tier, "tier", "", "rate-limit tier")
		duration.Var(fs, ttl, "ttl", 0, "lifetime, a `duration` such as 30d, 12h or 1d12h (default: no expiry)")
	case "list":
		wantID = false
	case "rotate":
		duration.Var(fs, overlap, "overlap", 24*time.Hour, "how long the old key keeps working, a `duration` such as 1d or 12h")
	}
	parse := func(args []string) (int, bool) {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			writeCommandHelp(stdout, c, fs)
			return 0, false
		case err != nil:
			fmt.Fprintf(stderr, "usage: bulwark keys %s\n", c.usage)
			return 2, false
		}
		return 0, true
	}
	// Flags may come before or after the key id.
	var pos []string
	for {
		if code, ok := parse(args); !ok {
			return code
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	switch {
	case *config == "":
		fmt.Fprintf(stderr, "bulwark keys %s: -config is required\n", cmd)
		return 2
	case wantID && len(pos) != 1:
		fmt.Fprintf(stderr, "bulwark keys %s: want exactly one key id\n", cmd)
		return 2
	case !wantID && len(pos) != 0:
		fmt.Fprintf(stderr, "bulwark keys %s: unexpected arguments %q\n", cmd, pos)
		return 2
	}
	fc, err := LoadFile(*config)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark keys: %v\n", err)
		return 1
	}
	if u := *store; u == "memory" || u == "memory:" || (u == "" && (fc.Store == "memory" || fc.Store == "memory:")) {
		fmt.Fprintln(stderr, "bulwark keys: the memory store keeps no keys between runs: use sqlite:// or postgres://")
		return 1
	}
	if fc.SealKeysEnv != "" || fc.SealKeysFile != "" {
		if opts.Sealer == nil {
			fmt.Fprintln(stderr, "bulwark keys: the configuration names seal keys, but this program cannot seal")
			return 1
		}
		if fc.Sealer, err = opts.Sealer(fc); err != nil {
			fmt.Fprintf(stderr, "bulwark keys: seal keys: %v\n", err)
			return 1
		}
	}
	keys, closer, err := fc.Open(ctx, *store, -1)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark keys: %v\n", err)
		return 1
	}
	defer func() { _ = closer.Close() }()

	out := &printer{w: stdout, json: *asJSON}
	switch cmd {
	case "create":
		key, rec, err := keys.Create(ctx, apikey.Spec{
			Name: *name, Owner: *owner, Tier: *tier, TTL: *ttl,
			Scopes: strings.Fields(*scopes), Roles: strings.Fields(*roles),
		})
		if err != nil {
			return fail(stderr, cmd, err)
		}
		out.created(key, rec)
	case "list":
		recs, err := keys.List(ctx)
		if err != nil {
			return fail(stderr, cmd, err)
		}
		out.list(recs, time.Now())
	case "rotate":
		key, rec, err := keys.Rotate(ctx, pos[0], *overlap)
		if err != nil && !warnNotAnnounced(stderr, cmd, err) {
			return fail(stderr, cmd, err)
		}
		out.created(key, rec)
	case "revoke":
		if err := keys.Revoke(ctx, pos[0]); err != nil && !warnNotAnnounced(stderr, cmd, err) {
			return fail(stderr, cmd, err)
		}
		out.done(pos[0], "revoked")
	case "delete":
		if err := keys.Delete(ctx, pos[0]); err != nil && !warnNotAnnounced(stderr, cmd, err) {
			return fail(stderr, cmd, err)
		}
		out.done(pos[0], "deleted")
	}
	if out.err != nil {
		fmt.Fprintf(stderr, "bulwark keys %s: %v\n", cmd, out.err)
		return 1
	}
	return 0
}

// PepperBytes is how many random bytes `bulwark keys pepper` prints, in
// base64: [apikey.MinPepperLen], as `openssl rand -base64 32` makes.
const PepperBytes = apikey.MinPepperLen

// runPepper prints a new pepper: PepperBytes from crypto/rand in standard
// base64 (44 characters), which pepper_env and pepper_file take as they
// are (the pepper is the text, at least 32 bytes of it).
func runPepper(fs *flag.FlagSet, c command, args []string, stdout, stderr io.Writer) int {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		writeCommandHelp(stdout, c, fs)
		return 0
	case err != nil || fs.NArg() > 0:
		if err == nil {
			fmt.Fprintf(stderr, "bulwark keys pepper: unexpected arguments %q\n", fs.Args())
		}
		fmt.Fprintf(stderr, "usage: bulwark keys %s\n", c.usage)
		return 2
	}
	b := make([]byte, PepperBytes)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintf(stderr, "bulwark keys pepper: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(b)); err != nil {
		return 1
	}
	return 0
}

// warnNotAnnounced reports a change that is stored but was not announced
// to the running instances (they see it within their cache TTL), and
// reports whether err was that.
func warnNotAnnounced(stderr io.Writer, cmd string, err error) bool {
	if !errors.Is(err, apikey.ErrNotAnnounced) {
		return false
	}
	cause := err // errors.Join(ErrNotAnnounced, why): say why
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !errors.Is(e, apikey.ErrNotAnnounced) {
				cause = e
			}
		}
	}
	fmt.Fprintf(stderr, "bulwark keys %s: warning: done, but the running instances could not be told at once (%v): they see it within their cache_ttl\n", cmd, cause)
	return true
}

func fail(stderr io.Writer, cmd string, err error) int {
	switch {
	case errors.Is(err, apikey.ErrNotFound):
		fmt.Fprintf(stderr, "bulwark keys %s: no such key\n", cmd)
	case errors.Is(err, apikey.ErrConflict):
		fmt.Fprintf(stderr, "bulwark keys %s: the key is revoked or already rotated\n", cmd)
	default:
		fmt.Fprintf(stderr, "bulwark keys %s: %v\n", cmd, err)
	}
	return 1
}

// printer writes results as a table for people or one JSON object.
type printer struct {
	w    io.Writer
	json bool
	err  error
}

func (p *printer) emit(v any) {
	enc := json.NewEncoder(p.w)
	p.err = enc.Encode(v)
}

func (p *printer) printf(format string, a ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, a...)
	}
}

// keyJSON is a record as the command prints it.
type keyJSON struct {
	ID         string            `json:"id"`
	Start      string            `json:"start"`
	Name       string            `json:"name,omitempty"`
	Owner      string            `json:"owner,omitempty"`
	Scopes     []string          `json:"scopes,omitempty"`
	Roles      []string          `json:"roles,omitempty"`
	Tier       string            `json:"tier,omitempty"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	Status     string            `json:"status,omitempty"`
	CreatedAt  time.Time         `json:"created_at"`
	ExpiresAt  *time.Time        `json:"expires_at,omitempty"`
	RevokedAt  *time.Time        `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time        `json:"last_used_at,omitempty"`
	Replaces   string            `json:"replaces,omitempty"`
	ReplacedBy string            `json:"replaced_by,omitempty"`
}

func opt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toJSON(r apikey.Record, now time.Time) keyJSON {
	return keyJSON{
		ID: r.ID, Start: r.Start, Name: r.Name, Owner: r.Owner, Scopes: r.Scopes, Roles: r.Roles,
		Tier: r.Tier, Metadata: r.Metadata, Status: status(r, now), CreatedAt: r.CreatedAt,
		ExpiresAt: opt(r.ExpiresAt), RevokedAt: opt(r.RevokedAt), LastUsedAt: opt(r.LastUsedAt),
		Replaces: r.Replaces, ReplacedBy: r.ReplacedBy,
	}
}

func status(r apikey.Record, now time.Time) string {
	switch {
	case !r.RevokedAt.IsZero():
		return "revoked"
	case !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) && r.ReplacedBy != "":
		return "rotated"
	case !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt):
		return "expired"
	case r.ReplacedBy != "":
		return "rotating"
	}
	return "active"
}

func (p *printer) created(key string, r apikey.Record) {
	if p.json {
		p.emit(struct {
			Key string `json:"key"`
			keyJSON
		}{key, toJSON(r, r.CreatedAt)})
		return
	}
	p.printf("id:      %s\n", r.ID)
	if r.Replaces != "" {
		p.printf("replaces: %s\n", r.Replaces)
	}
	if !r.ExpiresAt.IsZero() {
		p.printf("expires: %s\n", r.ExpiresAt.UTC().Format(time.RFC3339))
	}
	p.printf("key:     %s\n\nThis is the only time the key is shown. Store it securely now.\n", key)
}

func (p *printer) list(recs []apikey.Record, now time.Time) {
	if p.json {
		out := make([]keyJSON, 0, len(recs))
		for _, r := range recs {
			out = append(out, toJSON(r, now))
		}
		p.emit(struct {
			Keys []keyJSON `json:"keys"`
		}{out})
		return
	}
	orig := p.w
	tw := tabwriter.NewWriter(orig, 0, 0, 2, ' ', 0)
	p.w = tw
	p.printf("ID\tSTART\tNAME\tSCOPES\tSTATUS\tCREATED\tEXPIRES\tLAST USED\n")
	for _, r := range recs {
		p.printf("%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Start, dash(r.Name), dash(strings.Join(r.Scopes, " ")),
			status(r, now), day(r.CreatedAt), day(r.ExpiresAt), day(r.LastUsedAt))
	}
	p.w = orig
	if err := tw.Flush(); p.err == nil {
		p.err = err
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (p *printer) done(id, what string) {
	if p.json {
		m := map[string]any{"id": id, what: true}
		p.emit(m)
		return
	}
	p.printf("%s %s\n", what, id)
}
