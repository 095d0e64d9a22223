package raftstore

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// badgerLogger sends Badger's printf-style messages to slog. Badger's Info
// messages (table counts at open, compaction progress) go to Debug: a node
// runs one database per panel and they would drown the node's own log.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, args ...any) { b.log(slog.LevelError, f, args) }
func (b badgerLogger) Warningf(f string, args ...any) {
	b.log(slog.LevelWarn, f, args)
}
func (b badgerLogger) Infof(f string, args ...any)  { b.log(slog.LevelDebug, f, args) }
func (b badgerLogger) Debugf(f string, args ...any) { b.log(slog.LevelDebug, f, args) }

func (b badgerLogger) log(level slog.Level, f string, args []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(f, args...)), "source", "badger")
}

// HCLogger adapts a *slog.Logger to hashicorp's hclog.Logger, which raft's
// Config.Logger and FileSnapshotStore take. A nil logger means slog.Default().
func HCLogger(l *slog.Logger) hclog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return &hcAdapter{l: l}
}

type hcAdapter struct {
	l       *slog.Logger
	name    string
	implied []any
}

var _ hclog.Logger = (*hcAdapter)(nil)

func toSlogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *hcAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off {
		return
	}
	lvl := toSlogLevel(level)
	ctx := context.Background()
	if !a.l.Enabled(ctx, lvl) {
		return
	}
	if a.name != "" {
		args = append([]any{"logger", a.name}, args...)
	}
	a.l.Log(ctx, lvl, msg, args...)
}

func (a *hcAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hcAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hcAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hcAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hcAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hcAdapter) enabled(level hclog.Level) bool {
	return a.l.Enabled(context.Background(), toSlogLevel(level))
}

func (a *hcAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hcAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hcAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hcAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hcAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hcAdapter) ImpliedArgs() []any { return a.implied }

func (a *hcAdapter) With(args ...any) hclog.Logger {
	return &hcAdapter{
		l:       a.l.With(args...),
		name:    a.name,
		implied: append(append([]any(nil), a.implied...), args...),
	}
}

func (a *hcAdapter) Name() string { return a.name }

func (a *hcAdapter) Named(name string) hclog.Logger {
	n := name
	if a.name != "" {
		n = a.name + "." + name
	}
	return &hcAdapter{l: a.l, name: n, implied: a.implied}
}

func (a *hcAdapter) ResetNamed(name string) hclog.Logger {
	return &hcAdapter{l: a.l, name: name, implied: a.implied}
}

// SetLevel is a no-op: the level belongs to the slog handler.
func (a *hcAdapter) SetLevel(hclog.Level) {}

func (a *hcAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (a *hcAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hcAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		a.Info(strings.TrimSpace(string(p)))
		return len(p), nil
	})
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
