package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger passes Badger's logs to slog. Badger logs file names, table
// and key ranges (our keys are prefixes and random identifiers) but never
// values, so nothing personal reaches the log. Its routine Info lines
// (tables opened, compactions) go to Debug.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) emit(level slog.Level, format string, args []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
}

func (l badgerLogger) Errorf(format string, args ...any) { l.emit(slog.LevelError, format, args) }
func (l badgerLogger) Warningf(format string, args ...any) {
	l.emit(slog.LevelWarn, format, args)
}
func (l badgerLogger) Infof(format string, args ...any)  { l.emit(slog.LevelDebug, format, args) }
func (l badgerLogger) Debugf(format string, args ...any) { l.emit(slog.LevelDebug-4, format, args) }
