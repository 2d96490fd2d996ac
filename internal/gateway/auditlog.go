package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/bulwark-go/bulwark/audit"
)

// buildAudit builds the auditor over the audit sink: audit.output and,
// with hmac_key_file, the tamper-evident chain over it. The sink is taken
// from the previous gateway while the audit section (and the key) stay
// the same, so that a reload continues the chain instead of restarting it.
// A chained file is taken over whatever its settings: when they changed,
// its chain ends and a linked one starts with the new ones, so that two
// gateways never write the same file.
func (g *Gateway) buildAudit(cfg *Config, o Options, prev *parts, route func(*http.Request) (string, string)) (*audit.Auditor, error) {
	sinkCfg := cfg.Audit
	sinkCfg.Aggregate = nil // the auditor's, not the sink's
	key := fingerprint(sinkCfg, cfg.dir, fileContent(cfg.Path(cfg.Audit.HMACKeyFile)), o.CheckOnly, fmt.Sprintf("%p %p", o.AuditWriter, o.Stdout))
	chainedFile := cfg.Audit.auditFile() && cfg.Audit.HMACKeyFile != "" && o.AuditWriter == nil && !o.CheckOnly
	if chainedFile {
		key = fingerprint("chained audit file", cfg.Path(cfg.Audit.Output))
	}
	var h slog.Handler
	if v, ok := g.parts.take(prev, "audit", key); ok && chainedFile {
		sw := v.(*auditSwitch)
		fc, err := fileConfig(cfg, o)
		if err != nil {
			return nil, err
		}
		if err := sw.reconfigure(fc); err != nil {
			return nil, err
		}
		h = sw
	} else if ok {
		h = v.(slog.Handler)
	} else {
		sink, closeFn, err := openAuditSink(cfg, o)
		if err != nil {
			return nil, err
		}
		h = sink
		g.parts.add("audit", key, sink, closeFn)
	}
	if r, ok := h.(interface{ Reopen() error }); ok {
		g.reopenAudit = r.Reopen
	}
	var after float64
	if ag := cfg.Audit.Aggregate; ag != nil {
		var err error
		if after, err = aggregateAfter(ag.After); err != nil {
			return nil, err
		}
	}
	a, err := audit.New(audit.Config{
		Handler: h, Now: o.Now, FloodAfter: after,
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
		if cp := cfg.Audit.Checkpoints; cp != nil && cp.File != "" {
			if _, err := os.Stat(filepath.Dir(cfg.Path(cp.File))); err != nil {
				return nil, nil, fmt.Errorf("checkpoints.file: the folder of %s does not exist", cp.File)
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
			if cfg.Audit.HMACKeyFile != "" {
				return openAuditFile(cfg, o)
			}
			f, err := newReopener(cfg.Path(out))
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
	h := audit.NewJSONHandler(w, nil)
	if r, ok := w.(*reopener); ok {
		h = reopenHandler{h, r}
	}
	if cfg.Audit.HMACKeyFile != "" {
		key, err := auditKey(cfg)
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

func auditKey(cfg *Config) ([]byte, error) {
	raw, err := os.ReadFile(cfg.Path(cfg.Audit.HMACKeyFile)) // #nosec G304 -- the operator names the key file
	if err != nil {
		return nil, err
	}
	return audit.ParseKey(strings.TrimSpace(string(raw)))
}

// fileConfig is the audit.FileConfig the audit section says.
func fileConfig(cfg *Config, o Options) (audit.FileConfig, error) {
	a := cfg.Audit
	key, err := auditKey(cfg)
	if err != nil {
		return audit.FileConfig{}, err
	}
	fc := audit.FileConfig{Key: key, Now: o.Now}
	if fc.SyncEveryRecord, fc.SyncInterval, err = auditSync(a.Sync); err != nil {
		return fc, err
	}
	if cp := a.Checkpoints; cp != nil {
		fc.Checkpoints = cfg.Path(cp.File)
		if fc.CheckpointEvery, fc.CheckpointInterval, err = checkpointEvery(cp.Every); err != nil {
			return fc, err
		}
	}
	if r := a.Rotate; r != nil {
		fc.MaxSize, fc.MaxAge, fc.Keep = int64(r.MaxSize), time.Duration(r.MaxAge), r.Keep
	}
	return fc, nil
}

// openAuditFile opens the chained audit file: synced, checkpointed and
// rotated as the audit section says, its chain linked to the last record
// already in the file.
func openAuditFile(cfg *Config, o Options) (slog.Handler, func() error, error) {
	fc, err := fileConfig(cfg, o)
	if err != nil {
		return nil, nil, err
	}
	sw := &auditSwitch{path: cfg.Path(cfg.Audit.Output), fc: fc}
	if sw.f, err = audit.OpenFile(sw.path, fc); err != nil {
		return nil, nil, err
	}
	return sw, sw.Close, nil
}

// auditSwitch is the chained audit file, shared by the gateways a reload
// swaps: a change of its settings ends the chain under the old ones and
// starts a linked one under the new ones, in the same file.
type auditSwitch struct {
	mu   sync.RWMutex
	path string
	fc   audit.FileConfig
	f    *audit.File
}

var _ slog.Handler = (*auditSwitch)(nil)

func (s *auditSwitch) Enabled(ctx context.Context, l slog.Level) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f.Enabled(ctx, l)
}

func (s *auditSwitch) Handle(ctx context.Context, r slog.Record) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f.Handle(ctx, r)
}

// WithAttrs and WithGroup are not used by the auditor; they bind to the
// file of the moment.
func (s *auditSwitch) WithAttrs(as []slog.Attr) slog.Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f.WithAttrs(as)
}

func (s *auditSwitch) WithGroup(name string) slog.Handler {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f.WithGroup(name)
}

// Reopen reopens the file at its path (SIGUSR1).
func (s *auditSwitch) Reopen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.f.Reopen()
}

func (s *auditSwitch) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// reconfigure applies changed settings: the file under the old ones is
// closed (its chain's end record) and opened again under the new ones
// (a linked chain). If that fails, the old settings are restored.
func (s *auditSwitch) reconfigure(fc audit.FileConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sameFileConfig(s.fc, fc) {
		return nil
	}
	if err := s.f.Close(); err != nil {
		return err
	}
	f, err := audit.OpenFile(s.path, fc)
	if err != nil {
		if old, err2 := audit.OpenFile(s.path, s.fc); err2 == nil {
			s.f = old
		}
		return err
	}
	s.f, s.fc = f, fc
	return nil
}

func sameFileConfig(a, b audit.FileConfig) bool {
	return bytes.Equal(a.Key, b.Key) && a.KeyID == b.KeyID && a.SyncEveryRecord == b.SyncEveryRecord &&
		a.SyncInterval == b.SyncInterval && a.Checkpoints == b.Checkpoints && a.CheckpointEvery == b.CheckpointEvery &&
		a.CheckpointInterval == b.CheckpointInterval && a.MaxSize == b.MaxSize && a.MaxAge == b.MaxAge && a.Keep == b.Keep
}

// reopener is an unchained audit file that can be reopened at its path
// (SIGUSR1, after logrotate renamed it).
type reopener struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func newReopener(path string) (*reopener, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- the operator names the log file
	if err != nil {
		return nil, err
	}
	return &reopener{path: path, f: f}, nil
}

func (r *reopener) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Write(p)
}

// Reopen opens the path afresh and closes the old file.
func (r *reopener) Reopen() error {
	f, err := os.OpenFile(r.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // #nosec G304 -- the operator names the log file
	if err != nil {
		return err
	}
	r.mu.Lock()
	old := r.f
	r.f = f
	r.mu.Unlock()
	return old.Close()
}

func (r *reopener) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}

// reopenHandler is the JSON handler of an unchained audit file, with the
// file's Reopen.
type reopenHandler struct {
	slog.Handler
	r *reopener
}

func (h reopenHandler) Reopen() error { return h.r.Reopen() }

// HandleJSONLine passes the auditor's formatted access records on (see
// audit.JSONLineHandler).
func (h reopenHandler) HandleJSONLine(ctx context.Context, level slog.Level, line []byte) error {
	return h.Handler.(audit.JSONLineHandler).HandleJSONLine(ctx, level, line)
}
