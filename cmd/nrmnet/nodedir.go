package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"nrmnet/storage"
)

// nodeDirFlag adds --dir (default $NRMNET_DIR, else the current directory).
func nodeDirFlag(cmd *cobra.Command, dir *string) {
	def := os.Getenv("NRMNET_DIR")
	if def == "" {
		def = "."
	}
	cmd.Flags().StringVar(dir, "dir", def, "the node directory (holds config.yaml, data/ and keys/); default $NRMNET_DIR or .")
}

// openNodeStore loads the node's configuration and opens its store. The
// store's logs go to stderr as text at warn level unless verbose.
func openNodeStore(cmd *cobra.Command, dir string) (*storage.Store, nodeConfig, error) {
	cfg, err := loadNodeConfig(dir, os.LookupEnv)
	if err != nil {
		return nil, cfg, err
	}
	sc := cfg.storeConfig(dir)
	sc.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := storage.Open(sc)
	if err != nil {
		return nil, cfg, explainOpenError(err, sc)
	}
	return s, cfg, nil
}

// explainOpenError adds what a person should do to the store's open errors.
func explainOpenError(err error, sc storage.Config) error {
	switch {
	case strings.Contains(err.Error(), "Cannot acquire directory lock"):
		return fmt.Errorf("%w\nthe node's data directory %s is in use: stop the running node first (this command needs the store to itself)", err, sc.DataDir)
	case errors.Is(err, storage.ErrRolledBack):
		return fmt.Errorf("%w\nif you restored a backup on purpose, use 'nrmnet restore', which records the rollback; otherwise treat this as a security incident (see docs/backup-restore.md, section 'Rollback detected')", err)
	}
	return err
}

// progressPrinter prints "what: done/total" on one line, at most every 1%.
func progressPrinter(w io.Writer, what string) (func(done, total int64), func()) {
	last := int64(-1)
	update := func(done, total int64) {
		if total <= 0 {
			return
		}
		pct := done * 100 / total
		if pct == last && done != total {
			return
		}
		last = pct
		fmt.Fprintf(w, "\r%s: %d/%d (%d%%)", what, done, total, pct)
	}
	finish := func() {
		if last >= 0 {
			fmt.Fprintln(w)
		}
	}
	return update, finish
}

func closeStore(s *storage.Store, err *error) {
	if cerr := s.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}
