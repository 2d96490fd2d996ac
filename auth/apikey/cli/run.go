package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulwark-go/bulwark/auth/apikey"
)

const usage = `usage: bulwark keys <command> -config FILE [flags] [ID]

commands:
  create  -config FILE [-name NAME] [-owner OWNER] [-scopes "a b"] [-roles "r s"] [-tier TIER] [-ttl 720h] [--json]
  list    -config FILE [--json]
  rotate  -config FILE [-overlap 24h] [--json] ID
  revoke  -config FILE [--json] ID
  delete  -config FILE [--json] ID

Every command also takes -store URL (sqlite://PATH or postgres://…) to
override the configuration's auth.api_keys.store. The plaintext key is
printed once, by create and rotate: store it now.
`

// Run runs `bulwark keys` with args (after "keys") and returns the exit
// status: 0 on success, 1 on failure, 2 on a usage error. Output goes to
// stdout, diagnostics to stderr.
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
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("bulwark keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var (
		config  = fs.String("config", "", "configuration file (YAML) with an auth.api_keys section")
		store   = fs.String("store", "", "store URL, overriding the configuration")
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
		fs.DurationVar(ttl, "ttl", 0, "lifetime, e.g. 720h (default: no expiry)")
	case "list":
		wantID = false
	case "rotate":
		fs.DurationVar(overlap, "overlap", 24*time.Hour, "how long the old key keeps working")
	case "revoke", "delete":
	default:
		fmt.Fprintf(stderr, "bulwark keys: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	// Flags may come before or after the key id.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
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
	keys, c, err := fc.Open(ctx, *store, -1)
	if err != nil {
		fmt.Fprintf(stderr, "bulwark keys: %v\n", err)
		return 1
	}
	defer func() { _ = c.Close() }()

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
		if err != nil {
			return fail(stderr, cmd, err)
		}
		out.created(key, rec)
	case "revoke":
		if err := keys.Revoke(ctx, pos[0]); err != nil {
			return fail(stderr, cmd, err)
		}
		out.done(pos[0], "revoked")
	case "delete":
		if err := keys.Delete(ctx, pos[0]); err != nil {
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
