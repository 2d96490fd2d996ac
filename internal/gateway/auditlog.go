package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/bulwark-go/bulwark/audit"
)

// buildAudit builds the auditor over the audit sink: audit.output and,
// with hmac_key_file, the tamper-evident chain over it. The sink is taken
// from the previous gateway while the audit section (and the key) stay
// the same, so that a reload continues the chain instead of restarting it.
func (g *Gateway) buildAudit(cfg *Config, o Options, prev *parts, route func(*http.Request) (string, string)) (*audit.Auditor, error) {
	key := fingerprint(cfg.Audit, cfg.dir, fileContent(cfg.Path(cfg.Audit.HMACKeyFile)), o.CheckOnly, fmt.Sprintf("%p %p", o.AuditWriter, o.Stdout))
	var h slog.Handler
	if v, ok := g.parts.take(prev, "audit", key); ok {
		h = v.(slog.Handler)
	} else {
		sink, closeFn, err := openAuditSink(cfg, o)
		if err != nil {
			return nil, err
		}
		h = sink
		g.parts.add("audit", key, sink, closeFn)
	}
	a, err := audit.New(audit.Config{
		Handler: h, Now: o.Now,
		Route: func(r *http.Request) string { name, _ := route(r); return name },
		Attrs: func(r *http.Request, at []slog.Attr) []slog.Attr {
			if _, svc := route(r); svc != "" {
				at = append(at, slog.String("bulwark.service", svc))
			}
			return at
		},
	})
	if err != nil {
		return nil, err
	}
	g.parts.add("auditor", "", a, a.Close) // flood summaries: per gateway
	return a, nil
}

// openAuditSink opens audit.output and, with hmac_key_file, chains it.
func openAuditSink(cfg *Config, o Options) (slog.Handler, func() error, error) {
	w := o.AuditWriter
	var closers []func() error
	if o.CheckOnly {
		if out := cfg.Audit.Output; out != "" && out != "stdout" && out != "stderr" {
			if _, err := os.Stat(filepath.Dir(cfg.Path(out))); err != nil {
				return nil, nil, fmt.Errorf("output: the folder of %s does not exist", out)
			}
		}
		w = io.Discard
	}
	if w == nil {
		switch out := cfg.Audit.Output; out {
		case "", "stdout":
			w = o.Stdout
			if w == nil {
				w = os.Stdout
			}
		case "stderr":
			w = os.Stderr
		default:
			f, err := os.OpenFile(cfg.Path(out), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- the operator names the log file
			if err != nil {
				return nil, nil, err
			}
			closers = append(closers, f.Close)
			w = f
		}
	}
	closeAll := func() error {
		var err error
		for i := len(closers) - 1; i >= 0; i-- {
			if e := closers[i](); e != nil && err == nil {
				err = e
			}
		}
		return err
	}
	var h slog.Handler = slog.NewJSONHandler(w, nil)
	if cfg.Audit.HMACKeyFile != "" {
		raw, err := os.ReadFile(cfg.Path(cfg.Audit.HMACKeyFile)) // #nosec G304 -- the operator names the key file
		if err != nil {
			_ = closeAll()
			return nil, nil, err
		}
		key, err := audit.ParseKey(strings.TrimSpace(string(raw)))
		if err != nil {
			_ = closeAll()
			return nil, nil, err
		}
		chain, err := audit.NewChain(w, audit.ChainConfig{Key: key, Now: o.Now})
		if err != nil {
			_ = closeAll()
			return nil, nil, err
		}
		closers = append(closers, chain.Close)
		h = chain
	}
	return h, closeAll, nil
}
