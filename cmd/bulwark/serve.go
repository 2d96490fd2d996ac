package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/bulwark-go/bulwark/internal/gateway"
)

// runServe implements `bulwark serve [-config FILE] [-check]`.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration `file` (default: the built-in demo configuration)")
	check := fs.Bool("check", false, "check the configuration and exit without serving")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: bulwark serve [-config FILE] [-check]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP, by convention "reload", must not kill the gateway (its
	// default action): until reloading exists it is logged and ignored.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				fmt.Fprintln(stderr, "bulwark: SIGHUP received: reloading the configuration is not supported yet; restart to apply changes")
			case <-ctx.Done():
				return
			}
		}
	}()
	return serveMain(ctx, serveOptions{configFile: *configFile, check: *check}, stdout, stderr)
}

// serveOptions are serveMain's inputs besides the output streams.
type serveOptions struct {
	configFile string
	check      bool
	listen     string            // replaces the configured listen address (tests: a free port)
	listening  gateway.Listening // told the addresses once serving (tests)
}

// serveMain loads, checks, builds and runs the gateway.
func serveMain(ctx context.Context, so serveOptions, stdout, stderr io.Writer) int {
	configFile, check, listening := so.configFile, so.check, so.listening
	logf := func(f string, a ...any) { fmt.Fprintf(stderr, "bulwark: "+f+"\n", a...) }
	var cfg *gateway.Config
	var err error
	if configFile == "" {
		cfg, err = gateway.Parse(gateway.DefaultConfig(), ".")
	} else {
		cfg, err = gateway.LoadFile(configFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bulwark: configuration problems in %s:\n%s\n", nameOr(configFile), indent(err.Error()))
		return 1
	}
	if so.listen != "" {
		cfg.Listen = so.listen
	}
	g, err := gateway.Build(cfg, gateway.Options{Logf: logf, AuditWriter: auditWriter(cfg, stdout), CheckOnly: check})
	if err != nil {
		fmt.Fprintf(stderr, "bulwark: configuration problems in %s:\n%s\n", nameOr(configFile), indent(err.Error()))
		return 1
	}
	defer func() {
		if err := g.Close(); err != nil {
			logf("closing: %v", err)
		}
	}()
	if check {
		fmt.Fprintf(stdout, "%s: configuration OK\n", nameOr(configFile))
		return 0
	}
	demoKey := ""
	if configFile == "" {
		if demoKey, err = g.CreateDemoKey(ctx); err != nil {
			logf("creating the demo API key: %v", err)
			return 1
		}
	}
	err = g.Run(ctx, func(public, admin net.Addr) {
		scheme := "http"
		if cfg.TLS != nil {
			scheme = "https"
		}
		logf("listening on %s://%s", scheme, public)
		if admin != nil {
			logf("admin endpoints on http://%s (/healthz, /readyz, /metrics)", admin)
		}
		if cfg.Upstream == "" {
			logf("no upstream configured: serving the built-in demo API")
		}
		if demoKey != "" {
			logf("created a demo API key (shown once, kept in memory only):\n\n    %s\n\ntry it:\n\n    curl -H '%s: %s' %s://%s/v1/hello\n",
				demoKey, g.APIKeyHeader(), demoKey, scheme, public)
		}
		if listening != nil {
			listening(public, admin)
		}
	})
	if err != nil {
		logf("%v", err)
		return 1
	}
	logf("stopped")
	return 0
}

// auditWriter sends the audit log to the command's stdout when the
// configuration says stdout, so tests can capture it.
func auditWriter(cfg *gateway.Config, stdout io.Writer) io.Writer {
	if cfg.Audit.Output == "" || cfg.Audit.Output == "stdout" {
		return stdout
	}
	return nil
}

func nameOr(f string) string {
	if f == "" {
		return "the default configuration"
	}
	return f
}

func indent(s string) string {
	out := "  "
	for _, c := range s {
		out += string(c)
		if c == '\n' {
			out += "  "
		}
	}
	return out
}
