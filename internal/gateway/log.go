package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// logger is the gateway's operational log, on log/slog: what the gateway
// itself does and what fails around it (a target ejected, a reload
// refused). Requests go to the audit log, not here.
type logger struct{ *slog.Logger }

func (l logger) infof(format string, args ...any)  { l.Info(fmt.Sprintf(format, args...)) }
func (l logger) warnf(format string, args ...any)  { l.Warn(fmt.Sprintf(format, args...)) }
func (l logger) errorf(format string, args ...any) { l.Error(fmt.Sprintf(format, args...)) }

// newLogger is o.Logger, or one over o.Logf, or text on standard error.
func newLogger(o Options) logger {
	switch {
	case o.Logger != nil:
		return logger{o.Logger}
	case o.Logf != nil:
		return logger{slog.New(logfHandler{o.Logf})}
	}
	return logger{NewLogger(os.Stderr, LogConfig{}, nil)}
}

// NewLogger returns the operational logger log configures, writing to w;
// level, when set, is set to the configured level (so that a reload can
// change it later).
func NewLogger(w io.Writer, log LogConfig, level *slog.LevelVar) *slog.Logger {
	if level == nil {
		level = new(slog.LevelVar)
	}
	l, _ := parseLevel(log.Level) // checked by Parse
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logfHandler hands records to a printf-style function (tests' t.Logf).
type logfHandler struct{ logf func(string, ...any) }

func (h logfHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h logfHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.logf("%s %s%s", r.Level, r.Message, b.String())
	return nil
}
func (h logfHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h logfHandler) WithGroup(string) slog.Handler      { return h }
