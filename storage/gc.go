package storage

import (
	"context"
	"errors"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// gcLoop runs value-log garbage collection on both databases every
// GCInterval until the store closes.
func (s *Store) gcLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.collectGarbage(ctx)
		}
	}
}

// collectGarbage rewrites value-log files while Badger finds one worth
// rewriting, and logs what it did.
func (s *Store) collectGarbage(ctx context.Context) {
	for _, d := range []struct {
		name string
		db   *badger.DB
	}{{"data", s.db}, {"childkeys", s.keys}} {
		start := time.Now()
		rewrites := 0
		var err error
		for ctx.Err() == nil {
			if err = d.db.RunValueLogGC(s.cfg.GCDiscardRatio); err != nil {
				break
			}
			rewrites++
		}
		switch {
		case err == nil, errors.Is(err, badger.ErrNoRewrite):
			s.log.Debug("value log GC", "db", d.name, "rewrites", rewrites, "took", time.Since(start).Round(time.Millisecond))
		case errors.Is(err, badger.ErrRejected):
			s.log.Debug("value log GC skipped: already running or closing", "db", d.name)
		default:
			s.log.Warn("value log GC failed", "db", d.name, "rewrites", rewrites, "err", err)
		}
		if rewrites > 0 {
			s.log.Info("value log GC rewrote files", "db", d.name, "rewrites", rewrites, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}
