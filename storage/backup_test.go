package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "nrmnet/schemas/v1"
)

// TestBackupRestoreRoundTrip backs up 1,000 cases while another goroutine
// keeps writing, restores into a fresh data directory, and checks that the
// restored store is one consistent moment: the audit log verifies, it
// records the creation of exactly the cases present, and every case reads
// back as it was written.
func TestBackupRestoreRoundTrip(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	ctx := context.Background()
	written := map[v1.CaseID]*v1.Case{}
	var mu sync.Mutex
	create := func(c *v1.Case) {
		mustCreate(t, s, c)
		mu.Lock()
		written[c.ID] = c
		mu.Unlock()
	}
	for i := range 1000 {
		c := newCase(v1.NewID())
		c.Identity.Names[0].Given = "Child" + sprint(i)
		create(c)
	}
	// Keep writing while the backup runs.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				create(newCase(v1.NewID()))
			}
		}
	}()
	var buf bytes.Buffer
	var progressCalls int
	info, err := s.Backup(ctx, &buf, func(int64) { progressCalls++ })
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Records == 0 || info.Bytes != int64(buf.Len()) || progressCalls == 0 || info.Checkpoint.Size < 1000 {
		t.Errorf("BackupInfo %+v for %d bytes with %d progress calls", info, buf.Len(), progressCalls)
	}
	mustClose(t, s)

	restored := cfg
	restored.DataDir = filepath.Join(t.TempDir(), "data")
	var restoreProgress int64
	if err := Restore(ctx, restored, bytes.NewReader(buf.Bytes()), func(n int64) { restoreProgress = n }); err != nil {
		t.Fatal(err)
	}
	if restoreProgress != int64(buf.Len()) {
		t.Errorf("restore progress ended at %d of %d bytes", restoreProgress, buf.Len())
	}
	s = mustOpen(t, restored)
	mustVerify(t, s)
	entries, err := s.AuditEntries(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	created := map[v1.CaseID]bool{}
	for _, e := range entries {
		if e.Action == v1.ActionCaseCreate && e.Outcome == v1.AuditAllowed {
			created[v1.CaseID(e.Subject)] = true
		}
	}
	if s.CaseCount() != len(created) || len(created) < 1000 {
		t.Fatalf("restored %d cases but the restored audit log records %d creations", s.CaseCount(), len(created))
	}
	for id := range created {
		got := mustRead(t, s, id)
		if want := written[id]; want == nil || got.Identity.Names[0].Given != want.Identity.Names[0].Given {
			t.Fatalf("case %s does not read back as written", id)
		}
	}
	t.Logf("backup of %d records, %d bytes; %d cases restored (%d written in all)", info.Records, buf.Len(), len(created), len(written))
}

// chunkOffsets returns where each chunk of a backup stream starts, and the
// end.
func chunkOffsets(t *testing.T, b []byte) []int {
	t.Helper()
	off := len(backupMagic) + 1
	off += 4 + int(binary.BigEndian.Uint32(b[off:]))
	var offs []int
	for off < len(b) {
		offs = append(offs, off)
		off += 4 + int(binary.BigEndian.Uint32(b[off:]))
	}
	if off != len(b) {
		t.Fatalf("chunks end at %d, stream at %d", off, len(b))
	}
	return append(offs, off)
}

func TestRestoreRefusesDamagedBackups(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	for range 300 {
		c := canaryCase(v1.NewID())
		c.WishesAndFeelings[0].HowConsidered = strings.Repeat("x", 2000)
		mustCreate(t, s, c)
	}
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	good := buf.Bytes()
	offs := chunkOffsets(t, good)
	if len(offs) < 4 {
		t.Fatalf("want a backup of at least 3 chunks, got %d", len(offs)-1)
	}
	last := offs[len(offs)-2]
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x01
		return b
	}
	swap := bytes.Clone(good[:offs[0]])
	swap = append(swap, good[offs[1]:offs[2]]...)
	swap = append(swap, good[offs[0]:offs[1]]...)
	swap = append(swap, good[offs[2]:]...)
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty", nil, ErrBackupCorrupt},
		{"not a backup", []byte("PK\x03\x04 this is a zip file"), ErrBackupCorrupt},
		{"flipped magic", flip(0), ErrBackupCorrupt},
		{"flipped format", flip(len(backupMagic)), ErrBackupCorrupt},
		{"flipped header", flip(offs[0] - 5), nil}, // corrupt or wrong key: either is refused
		{"flipped header salt", flip(bytes.Index(good, []byte("salt")) + 8), ErrWrongKey},
		{"flipped first chunk", flip(offs[0] + 100), ErrBackupCorrupt},
		{"flipped chunk length", flip(offs[1] + 3), ErrBackupCorrupt},
		{"flipped middle chunk", flip(offs[1] + 5000), ErrBackupCorrupt},
		{"flipped last tag", flip(len(good) - 1), ErrBackupCorrupt},
		{"truncated in the header", good[:offs[0]-3], ErrBackupCorrupt},
		{"truncated in a chunk", good[:offs[1]+777], ErrBackupCorrupt},
		{"truncated at a chunk boundary", good[:offs[2]], ErrBackupCorrupt},
		{"final chunk dropped", good[:last], ErrBackupCorrupt},
		{"one byte short", good[:len(good)-1], ErrBackupCorrupt},
		{"extended", append(bytes.Clone(good), 0, 0, 0, 0), ErrBackupCorrupt},
		{"chunks swapped", swap, ErrBackupCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restored := cfg
			restored.DataDir = filepath.Join(t.TempDir(), "data")
			err := Restore(context.Background(), restored, bytes.NewReader(tc.input), nil)
			if err == nil {
				t.Fatal("Restore accepted a damaged backup")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Restore: %v, want %v", err, tc.want)
			}
			if tc.want == nil && !errors.Is(err, ErrBackupCorrupt) && !errors.Is(err, ErrWrongKey) {
				t.Errorf("Restore: %v, want ErrBackupCorrupt or ErrWrongKey", err)
			}
			if _, err := os.Stat(restored.DataDir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused restore left %s behind (%v)", restored.DataDir, err)
			}
		})
	}
	// The original still restores.
	restored := cfg
	restored.DataDir = filepath.Join(t.TempDir(), "data")
	if err := Restore(context.Background(), restored, bytes.NewReader(good), nil); err != nil {
		t.Fatalf("the undamaged backup: %v", err)
	}
}

func TestRestoreRefusals(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	c := newCase(v1.NewID())
	mustCreate(t, s, c)
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	var keys bytes.Buffer
	if _, err := s.BackupKeys(context.Background(), &keys, nil); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	ctx := context.Background()

	t.Run("non-empty data directory", func(t *testing.T) {
		before := treeDigest(t, cfg.DataDir)
		err := Restore(ctx, cfg, bytes.NewReader(buf.Bytes()), nil)
		if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), cfg.DataDir) {
			t.Fatalf("Restore over the live data directory: %v, want ErrNotEmpty naming it", err)
		}
		if treeDigest(t, cfg.DataDir) != before {
			t.Error("the refused restore changed the data directory")
		}
		t.Logf("as an administrator sees it: %v", err)
	})
	t.Run("another node's backup", func(t *testing.T) {
		other := newNode(t)
		err := Restore(ctx, other, bytes.NewReader(buf.Bytes()), nil)
		if !errors.Is(err, ErrWrongKey) {
			t.Fatalf("Restore of another node's backup: %v, want ErrWrongKey", err)
		}
		t.Logf("as an administrator sees it: %v", err)
	})
	t.Run("key backup given as data", func(t *testing.T) {
		restored := cfg
		restored.DataDir = filepath.Join(t.TempDir(), "data")
		err := Restore(ctx, restored, bytes.NewReader(keys.Bytes()), nil)
		if !errors.Is(err, ErrBackupCorrupt) || !strings.Contains(err.Error(), "childkeys") {
			t.Fatalf("Restore of a key backup: %v", err)
		}
	})
	t.Run("another authority", func(t *testing.T) {
		restored := cfg
		restored.DataDir = filepath.Join(t.TempDir(), "data")
		restored.Authority = "CMD"
		err := Restore(ctx, restored, bytes.NewReader(buf.Bytes()), nil)
		// The authority is part of the key derivation, so this is also a
		// key mismatch; either way it is refused before anything is written.
		if !errors.Is(err, ErrWrongKey) && !errors.Is(err, ErrWrongAuthority) {
			t.Fatalf("Restore for another authority: %v", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		restored := cfg
		restored.DataDir = filepath.Join(t.TempDir(), "data")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := Restore(cctx, restored, bytes.NewReader(buf.Bytes()), nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("Restore with a cancelled context: %v", err)
		}
	})
}

// TestRollbackDetected puts an old copy of data/ back by hand (not through
// Restore): Open must refuse it with ErrRolledBack, and the refusal must
// leave both copies usable.
func TestRollbackDetected(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	first := newCase(v1.NewID())
	mustCreate(t, s, first)
	mustClose(t, s)
	old := filepath.Join(t.TempDir(), "data-copy")
	copyDir(t, cfg.DataDir, old)

	s = mustOpenNoCleanup(t, cfg)
	second := newCase(v1.NewID())
	mustCreate(t, s, second)
	mustClose(t, s)

	current := cfg.DataDir + ".current"
	if err := os.Rename(cfg.DataDir, current); err != nil {
		t.Fatal(err)
	}
	copyDir(t, old, cfg.DataDir)
	_, err := Open(cfg)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Open of an old copy of data/: %v, want ErrRolledBack", err)
	}
	t.Logf("as an administrator sees it: %v", err)

	// An empty data directory (the node's data lost) is a rollback too.
	empty := cfg
	empty.DataDir = filepath.Join(t.TempDir(), "data")
	if _, err := Open(empty); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Open of an empty data directory with witnessed history: %v, want ErrRolledBack", err)
	}

	// Putting the current copy back opens.
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(current, cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, cfg)
	mustRead(t, s, second.ID)
	mustVerify(t, s)
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}
