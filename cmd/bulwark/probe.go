package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bulwark-go/bulwark/internal/gateway"
	"github.com/bulwark-go/bulwark/probe"
)

const probeUsage = `usage: bulwark probe -target URL [flags]
       bulwark probe -config bulwark.yaml [flags]   (a bulwark serve configuration, or a probe file)

Runs the attack suite of package probe against an API, bulwark or not, and
prints what it answered to each attack. Only the target is sent requests.

examples:
  bulwark probe -target http://127.0.0.1:8080
  BULWARK_PROBE_API_KEY=bwk_live_… bulwark probe -target http://127.0.0.1:8080 -protected /v1/hello -public /public/health
  bulwark probe -config bulwark.yaml -json-path /v1/echo -junit probe.xml -sarif probe.sarif
`

var probeHelp = help{
	summary: "bulwark probe: run the attack suite against an API, bulwark or not",
	usage:   probeUsage,
}

// listFlag is a flag given more than once (-protected /v1/ -protected /admin/).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// probeFile is the small YAML a user gives instead of flags. Credentials
// are never in it: they come from flags or the environment.
type probeFile struct {
	Target        string   `yaml:"target"`
	Protected     []string `yaml:"protected"`
	Public        []string `yaml:"public"`
	AllowedOrigin string   `yaml:"allowed_origin"`
	Issuer        string   `yaml:"issuer"`
	JWKSURL       string   `yaml:"jwks_url"`
	Audience      string   `yaml:"audience"`
	APIKeyHeader  string   `yaml:"api_key_header"`
	JSONPath      string   `yaml:"json_path"`
	Rate          float64  `yaml:"rate"`
	MaxRequests   int      `yaml:"max_requests"`
	AllowUnsafe   bool     `yaml:"allow_unsafe"`
	FailOn        string   `yaml:"fail_on"`
}

// runProbe implements `bulwark probe`.
func runProbe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return probeMain(ctx, args, stdout, stderr)
}

func probeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o probe.Options
	var protected, public, only listFlag
	target := fs.String("target", "", "base `URL` of the API (http:// or https://)")
	config := fs.String("config", "", "a bulwark serve configuration `file` (targets, routes, origins and issuers derived from it) or a probe file")
	fs.Var(&protected, "protected", "a `path` (or prefix ending in /) that requires credentials; repeatable")
	fs.Var(&public, "public", "a `path` (or prefix ending in /) that does not; repeatable")
	token := fs.String("token", "", "a valid bearer `token` for the protected path (prefer $BULWARK_PROBE_TOKEN: flags show in ps)")
	apiKey := fs.String("api-key", "", "a valid API `key` (prefer $BULWARK_PROBE_API_KEY)")
	fs.StringVar(&o.APIKeyHeader, "api-key-header", "", "the `header` the API key goes in (default X-API-Key)")
	fs.StringVar(&o.AllowedOrigin, "allowed-origin", "", "a CORS `origin` the API allows, e.g. https://app.example.com")
	fs.StringVar(&o.Issuer, "issuer", "", "the token `issuer`: its discovery document and JWKS are read for the key-confusion attack")
	fs.StringVar(&o.JWKSURL, "jwks-url", "", "the issuer's JWKS `URL`, when it has no discovery document")
	fs.StringVar(&o.Audience, "audience", "", "the `audience` minted tokens carry")
	signingKey := fs.String("signing-key", "", "PEM private key `file` the API trusts for -issuer (a test IdP's): enables the claim-rule checks")
	fs.StringVar(&o.SigningKeyID, "signing-key-id", "", "the `kid` of -signing-key")
	fs.StringVar(&o.SigningAlg, "signing-alg", "", "the `alg` of -signing-key: RS256, ES256 or EdDSA (default: from the key)")
	fs.StringVar(&o.JSONPath, "json-path", "", "a `path` that takes a JSON body by POST, for the input checks (naming it allows the POSTs)")
	fs.Float64Var(&o.Rate, "rate", 20, "most requests per `second`")
	fs.IntVar(&o.MaxRequests, "max-requests", 3000, "most requests in all")
	fs.BoolVar(&o.AllowUnsafe, "allow-unsafe", false, "let checks send unsafe methods (POST, DELETE) to protected paths")
	fs.Var(&only, "only", "run only checks whose id starts with `prefix` (jwt., cors.null-origin); repeatable")
	failOn := fs.String("fail-on", "high", "exit 1 when a check fails or cannot run at this `severity` or above: info, low, medium, high, critical")
	jsonOut := fs.Bool("json", false, "write the report as JSON to standard output instead of the table")
	junit := fs.String("junit", "", "also write the report as JUnit XML to `file`")
	sarif := fs.String("sarif", "", "also write the report as SARIF 2.1.0 to `file`")
	list := fs.Bool("list", false, "list the checks and exit")
	insecure := fs.Bool("insecure-skip-verify", false, "do not verify the target's TLS certificate (a test target with a self-signed one)")
	// The flag package takes -json and --json alike.
	if code, ok := parseFlags(fs, args, probeHelp, stdout, stderr); !ok {
		return code
	}
	fs.Usage = func() { probeHelp.writeUsage(stderr, fs) }
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *list {
		for _, c := range probe.Checks() {
			fmt.Fprintf(stdout, "%-36s %-8s %-44s CWE-%-4d %s\n", c.ID, c.Severity, c.OWASP, c.CWE, c.Title)
		}
		return 0
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *config != "" {
		if err := probeConfig(*config, &o, set); err != nil {
			fmt.Fprintln(stderr, "bulwark probe:", err)
			return 2
		}
	}
	if *target != "" {
		o.Target = *target
	}
	if len(protected) > 0 {
		o.Protected = protected
	}
	if len(public) > 0 {
		o.Public = public
	}
	o.Only = only
	o.Token = firstNonEmpty(*token, os.Getenv("BULWARK_PROBE_TOKEN"))
	o.APIKey = firstNonEmpty(*apiKey, os.Getenv("BULWARK_PROBE_API_KEY"))
	if *signingKey != "" {
		k, alg, err := readSigningKey(*signingKey)
		if err != nil {
			fmt.Fprintln(stderr, "bulwark probe: -signing-key:", err)
			return 2
		}
		o.SigningKey = k
		if o.SigningAlg == "" {
			o.SigningAlg = alg
		}
	}
	sev, err := probe.ParseSeverity(*failOn)
	if err != nil {
		fmt.Fprintln(stderr, "bulwark probe: -fail-on:", err)
		return 2
	}
	if o.Target == "" {
		fmt.Fprintln(stderr, "bulwark probe: -target URL (or -config FILE) is required")
		fs.Usage()
		return 2
	}
	if *insecure {
		o.Client = &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true,
				TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}}} // #nosec G402 -- asked for by -insecure-skip-verify, for test targets
	}
	rep, err := probe.Run(ctx, o)
	if err != nil && rep == nil {
		fmt.Fprintln(stderr, "bulwark probe:", strings.ReplaceAll(err.Error(), "probe: ", ""))
		return 2
	}
	if *jsonOut {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bulwark probe:", err)
		return 2
	}
	for file, write := range map[string]func(io.Writer) error{*junit: rep.WriteJUnit, *sarif: rep.WriteSARIF} {
		if file == "" {
			continue
		}
		var b bytes.Buffer
		err := write(&b)
		if err == nil {
			err = os.WriteFile(file, b.Bytes(), 0o600)
		}
		if err != nil {
			fmt.Fprintln(stderr, "bulwark probe:", err)
			return 2
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bulwark probe: interrupted")
		return 1
	}
	if failed := rep.Failures(sev); len(failed) > 0 {
		fmt.Fprintf(stderr, "bulwark probe: %d check(s) failed or could not run at %s or above\n", len(failed), sev)
		return 1
	}
	if !*jsonOut && rep.Summary().NotApplicable > 0 {
		fmt.Fprintln(stderr, "bulwark probe: checks marked n/a need more to go on: -protected, -public, credentials, -allowed-origin, -issuer, -json-path (see -h)")
	}
	return 0
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// probeConfig fills o from a probe file, or from a bulwark serve
// configuration: the target from listen (and tls), the protected and
// public prefixes from the routes, the allowed origin, the API key header,
// the first issuer and its audience. Flags the user set win.
func probeConfig(path string, o *probe.Options, set map[string]bool) error {
	data, err := os.ReadFile(path) // #nosec G304 -- the file the user named
	if err != nil {
		return err
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, isProbe := top["target"]; isProbe {
		var pf probeFile
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&pf); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		o.Target, o.Protected, o.Public, o.AllowedOrigin = pf.Target, pf.Protected, pf.Public, pf.AllowedOrigin
		o.Issuer, o.JWKSURL, o.Audience, o.APIKeyHeader, o.JSONPath = pf.Issuer, pf.JWKSURL, pf.Audience, pf.APIKeyHeader, pf.JSONPath
		if pf.Rate > 0 && !set["rate"] {
			o.Rate = pf.Rate
		}
		if pf.MaxRequests > 0 && !set["max-requests"] {
			o.MaxRequests = pf.MaxRequests
		}
		o.AllowUnsafe = o.AllowUnsafe || pf.AllowUnsafe
		return nil
	}
	cfg, err := gateway.LoadFile(path)
	if err != nil {
		return err
	}
	scheme, host := "http", cfg.Listen
	if cfg.TLS != nil {
		scheme = "https"
	}
	if h, port, err := net.SplitHostPort(host); err == nil && (h == "" || h == "0.0.0.0" || h == "::") {
		host = net.JoinHostPort("127.0.0.1", port)
	}
	o.Target = scheme + "://" + host
	for _, r := range cfg.Routes {
		if r.Host != "" && !strings.HasPrefix(r.Host, "*") {
			continue // another virtual host: the probe asks for the target's
		}
		if r.Auth == "none" {
			o.Public = append(o.Public, r.Path)
		} else {
			o.Protected = append(o.Protected, r.Path)
		}
	}
	if cfg.CORS != nil {
		for _, origin := range cfg.CORS.AllowedOrigins {
			if !strings.Contains(origin, "*") {
				o.AllowedOrigin = origin
				break
			}
		}
	}
	if cfg.Auth.APIKeys != nil && cfg.Auth.APIKeys.Header != "" && !set["api-key-header"] {
		o.APIKeyHeader = cfg.Auth.APIKeys.Header
	}
	if len(cfg.Auth.JWT) > 0 {
		if !set["issuer"] {
			o.Issuer = cfg.Auth.JWT[0].Issuer
		}
		if !set["jwks-url"] && o.JWKSURL == "" {
			o.JWKSURL = cfg.Auth.JWT[0].JWKSURL
		}
		if !set["audience"] {
			o.Audience = cfg.Auth.JWT[0].Audience
		}
	}
	return nil
}

// readSigningKey reads a PEM private key and the JWS algorithm it signs
// with.
func readSigningKey(path string) (crypto.Signer, string, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the file the user named
	if err != nil {
		return nil, "", err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, "", errors.New("no PEM block")
	}
	var k any
	switch b.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, "", err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, "", errors.New("not a signing key")
	}
	switch s.(type) {
	case *ecdsa.PrivateKey:
		return s, "ES256", nil
	case *rsa.PrivateKey:
		return s, "RS256", nil
	case ed25519.PrivateKey:
		return s, "EdDSA", nil
	}
	return nil, "", fmt.Errorf("unsupported key type %T", s)
}
