package raftstore

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

// testKey is a fixed 32-byte key; tests that need a second one flip a byte.
func testKey() []byte {
	return bytes.Repeat([]byte{0x5a}, KeySize)
}

func otherKey() []byte {
	k := testKey()
	k[0] ^= 0xff
	return k
}

// testWriter sends log lines to t.Log until the test ends; raft and Badger
// goroutines that log after that are silenced instead of panicking.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Helper()
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

// testLogger returns a logger that writes to t at level and above.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// diskConfig is the production configuration in a fresh temporary directory.
func diskConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Dir = t.TempDir()
	cfg.EncryptionKey = testKey()
	cfg.Logger = testLogger(t, slog.LevelWarn)
	return cfg
}

func memConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.InMemory = true
	cfg.EncryptionKey = testKey()
	cfg.Logger = testLogger(t, slog.LevelWarn)
	return cfg
}

func mustOpen(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustStoreLogs(t testing.TB, s raft.LogStore, logs ...*raft.Log) {
	t.Helper()
	if err := s.StoreLogs(logs); err != nil {
		t.Fatalf("StoreLogs: %v", err)
	}
}

func testRaftLog(idx uint64, data string) *raft.Log {
	return &raft.Log{Index: idx, Data: []byte(data)}
}

// logsRange returns entries lo..hi with small distinct payloads.
func logsRange(lo, hi uint64) []*raft.Log {
	var logs []*raft.Log
	for i := lo; i <= hi; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1 + i/100, Data: []byte{byte(i), byte(i >> 8)}})
	}
	return logs
}

func mustBounds(t testing.TB, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if f != first || l != last {
		t.Fatalf("bounds = [%d, %d], want [%d, %d]", f, l, first, last)
	}
}
