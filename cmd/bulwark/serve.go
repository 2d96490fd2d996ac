package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/bulwark-go/bulwark/internal/gateway"
)

var serveHelp = help{
	summary: "bulwark serve: run the API gateway from a YAML configuration, or check one",
	usage: `usage: bulwark serve [-config FILE] [-check]

Without -config it serves the built-in demo configuration and prints a
demo API key. -check reports every problem of the configuration, each
with its line and key, and exits 1 if there is one, without serving.
SIGHUP (or POST /reload on the admin listener) reloads the configuration;
SIGTERM drains and stops.
`,
	examples: []string{
		"bulwark serve",
		"bulwark serve -config /etc/bulwark/gateway.yaml -check",
		"BULWARK_APIKEY_PEPPER=\"$(cat /run/secrets/apikey-pepper)\" bulwark serve -config /etc/bulwark/gateway.yaml",
	},
}

// runServe implements `bulwark serve [-config FILE] [-check]`.
func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bulwark serve", flag.ContinueOnError)
	configFile := fs.String("config", "", "YAML configuration `file` (default: the built-in demo configuration)")
	check := fs.Bool("check", false, "check the configuration and exit without serving")
	if code, ok := parseFlags(fs, args, serveHelp, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bulwark serve: unexpected arguments %q\n", fs.Args())
		serveHelp.writeUsage(stderr, fs)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP, by convention "reload", must not kill the gateway (its
	// default action): until reloading exists it is logged and ignored.
	// SIGHUP reloads the configuration (its default action would kill the
	// gateway).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// SIGUSR1 reopens the audit file (logrotate's postrotate).
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	return serveMain(ctx, serveOptions{configFile: *configFile, check: *check, reload: hup, reopen: usr1}, stdout, stderr)
}

// serveOptions are serveMain's inputs besides the output streams.
type serveOptions struct {
	configFile string
	check      bool
	listen     string            // replaces the configured listen address (tests: a free port)
	listening  gateway.Listening // told the addresses once serving (tests)
	reload     <-chan os.Signal  // SIGHUP
	reopen     <-chan os.Signal  // SIGUSR1: reopen the audit file
	// shutdownDelay replaces the configuration's shutdown_delay (tests).
	shutdownDelay *time.Duration
}

// serveMain loads, checks, builds and runs the gateway; a value on
// so.reload (SIGHUP) reloads the configuration.
func serveMain(ctx context.Context, so serveOptions, stdout, stderr io.Writer) int {
	configFile := so.configFile
	// The operational log, as log: in the configuration says (text on
	// standard error by default); human-facing lines such as the demo key
	// go to standard error as they are.
	level := new(slog.LevelVar)
	log := gateway.NewLogger(stderr, gateway.LogConfig{}, level)
	say := func(f string, a ...any) { fmt.Fprintf(stderr, "bulwark: "+f+"\n", a...) }
	load := func() (*gateway.Config, error) {
		var cfg *gateway.Config
		var err error
		if configFile == "" {
			cfg, err = gateway.Parse(gateway.DefaultConfig(), ".")
		} else {
			cfg, err = gateway.LoadFile(configFile)
		}
		if err == nil && so.listen != "" {
			cfg.Listen = so.listen
		}
		return cfg, err
	}
	problems := func(err error) int {
		fmt.Fprintf(stderr, "bulwark: configuration problems in %s:\n%s\n", nameOr(configFile), indent(err.Error()))
		return 1
	}
	warn := func(cfg *gateway.Config) {
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stderr, "bulwark: warning: %s: %v\n", nameOr(configFile), w)
		}
	}
	if cfg, err := load(); err == nil {
		log = gateway.NewLogger(stderr, cfg.Log, level) // a reload changes the level, not the format
	}
	opts := gateway.Options{Logger: log, LogLevel: level, Stdout: stdout}
	if so.check {
		cfg, err := load()
		if err != nil {
			return problems(err)
		}
		opts.CheckOnly = true
		g, err := gateway.Build(cfg, opts)
		if err != nil {
			return problems(err)
		}
		_ = g.Close()
		warn(cfg)
		fmt.Fprintf(stdout, "%s: configuration OK\n", nameOr(configFile))
		return 0
	}
	srv, err := gateway.NewServer(gateway.ServerOptions{Build: opts, Load: load, Watch: configFile, ShutdownDelay: so.shutdownDelay})
	if err != nil {
		return problems(err)
	}
	g := srv.Gateway()
	cfg := g.Config()
	warn(cfg)
	demoKey := ""
	if configFile == "" {
		if demoKey, err = g.CreateDemoKey(ctx); err != nil {
			log.Error("creating the demo API key", "error", err.Error())
			_ = g.Close()
			return 1
		}
	}
	go func() {
		for {
			select {
			case <-so.reload:
				log.Info("SIGHUP: reloading", "config", nameOr(configFile))
				_ = srv.Reload() // a failure is logged; the old configuration keeps serving
			case <-so.reopen:
				if err := srv.Gateway().ReopenAudit(); err != nil {
					log.Error("SIGUSR1: reopening the audit file", "error", err.Error())
				} else {
					log.Info("SIGUSR1: reopened the audit file")
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	err = srv.Run(ctx, func(public, admin net.Addr) {
		scheme := "http"
		if cfg.TLS != nil {
			scheme = "https"
		}
		log.Info(fmt.Sprintf("listening on %s://%s", scheme, public))
		if admin != nil {
			log.Info(fmt.Sprintf("admin endpoints on http://%s (/healthz, /readyz, /metrics, POST /reload)", admin))
		}
		once.Do(func() {
			if cfg.Upstream == "" && len(cfg.Services) == 0 {
				say("no upstream configured: serving the built-in demo API")
			}
			if demoKey != "" {
				say("created a demo API key (shown once, kept in memory only):\n\n    %s\n\ntry it:\n\n    curl -H '%s: %s' %s://%s/v1/hello\n",
					demoKey, g.APIKeyHeader(), demoKey, scheme, public)
			}
		})
		if so.listening != nil {
			so.listening(public, admin)
		}
	})
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	log.Info("stopped")
	return 0
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
