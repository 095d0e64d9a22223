package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"nrmnet/storage"
)

// benchNode opens an on-disk store with the default configuration, fills it
// with NRMNET_BENCH_CASES synthetic cases (defaultCases when unset), and
// returns a node over it and the number of cases. The store is closed when
// the benchmark ends. Logs are discarded.
func benchNode(b *testing.B, defaultCases int) (*Node, *storage.Store, int) {
	b.Helper()
	n := defaultCases
	if s := os.Getenv("NRMNET_BENCH_CASES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir = filepath.Join(dir, "data")
	sc.KeysDir = filepath.Join(dir, "keys")
	sc.Authority = testAuthority
	sc.Logger = slog.New(slog.DiscardHandler)
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		b.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("close store: %v", err)
		}
	})
	if err := fillStore(s, n); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Store = s
	cfg.Authority = testAuthority
	cfg.Logger = slog.New(slog.DiscardHandler)
	nd, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return nd, s, n
}
