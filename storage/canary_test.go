package storage

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	v1 "nrmnet/schemas/v1"
)

// Canary values: distinctive strings that must never appear on disk or in a
// log in any form.
var canaries = []string{
	"CANARY-7f3a-ZORBULON",     // the name the child uses
	"CANARY-91c2-QUILLFEATHER", // family name
	"CANARY-4d1b-XANTHEVIEL",   // alias
	"CANARY-e5a0-MORROWFEN",    // wishes and feelings
}

// canaryForms returns the byte patterns searched for: each canary as is, in
// upper and lower case, and in UTF-16 (both byte orders); and the
// distinctive word alone, which would also catch a canary cut in two.
func canaryForms() map[string][]byte {
	forms := map[string][]byte{}
	for _, c := range canaries {
		word := c[strings.LastIndex(c, "-")+1:]
		for _, s := range []string{c, strings.ToUpper(c), strings.ToLower(c), word, strings.ToLower(word)} {
			forms[s] = []byte(s)
			u := utf16.Encode([]rune(s))
			le, be := make([]byte, 2*len(u)), make([]byte, 2*len(u))
			for i, r := range u {
				le[2*i], le[2*i+1] = byte(r), byte(r>>8)
				be[2*i], be[2*i+1] = byte(r>>8), byte(r)
			}
			forms[s+" (UTF-16LE)"] = le
			forms[s+" (UTF-16BE)"] = be
		}
	}
	return forms
}

func canaryCase(child v1.ID) *v1.Case {
	c := newCase(child)
	c.Identity.Names = []v1.PersonName{
		{Kind: v1.NameUsed, Given: canaries[0], Family: canaries[1]},
		{Kind: v1.NameAlias, Given: canaries[2]},
	}
	c.WishesAndFeelings = []v1.ChildView{{RecordedAt: fixed, RecordedBy: "sw-001",
		Views: "The child said: " + canaries[3] + ". She wants to stay near her brother."}}
	return c
}

// findCanaries reads every file under root and returns each canary form
// found, with the file.
func findCanaries(root string) (found []string, files int, bytesRead int64, err error) {
	forms := canaryForms()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		bytesRead += int64(len(b))
		for name, form := range forms {
			if i := bytes.Index(b, form); i >= 0 {
				rel, _ := filepath.Rel(root, p)
				found = append(found, fmt.Sprintf("%q in %s at byte %d", name, rel, i))
			}
		}
		return nil
	})
	return found, files, bytesRead, err
}

// scanForCanaries fails the test for every canary form found under root.
func scanForCanaries(t *testing.T, root string) (files int, bytesRead int64) {
	t.Helper()
	found, files, bytesRead, err := findCanaries(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("canary found: %s", f)
	}
	return files, bytesRead
}

func checkLogForCanaries(t *testing.T, log []byte) {
	t.Helper()
	for name, form := range canaryForms() {
		if bytes.Contains(log, form) {
			t.Errorf("canary %q found in the store's log", name)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the store's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// bufferLogger logs everything, Badger's debug lines included, to a buffer.
func bufferLogger() (*slog.Logger, *lockedBuffer) {
	buf := new(lockedBuffer)
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug - 8})), buf
}

// TestEncryptionAtRest writes cases full of canaries, works with them, takes
// a backup into the node directory, closes the store, and then reads every
// file of the node (data/, keys/, the backup) and every log line: no canary
// may appear in any form.
func TestEncryptionAtRest(t *testing.T) {
	cfg := newNode(t)
	logger, logBuf := bufferLogger()
	cfg.Logger = logger
	cfg.MemTableSize = 8 << 20 // several flushes for the amount written below
	node := filepath.Dir(cfg.DataDir)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var cases []*v1.Case
	for i := range 600 {
		c := canaryCase(v1.NewID())
		c.WishesAndFeelings[0].HowConsidered = strings.Repeat("Recorded in full at the strategy meeting. ", 100)
		if err := s.CreateCase(ctx, c, worker); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			u := nextRevision(c, v1.StateRGPositive)
			if err := s.UpdateCase(ctx, u, worker); err != nil {
				t.Fatal(err)
			}
			c = u
		}
		cases = append(cases, c)
	}
	for _, c := range cases[:50] {
		if got := mustRead(t, s, c.ID); got.Identity.Names[0].Given != canaries[0] {
			t.Fatal("read back the wrong name")
		}
	}
	if _, err := s.ListCases(ctx, CaseQuery{State: v1.StateRGPositive}, worker); err != nil {
		t.Fatal(err)
	}
	if err := s.EraseChild(ctx, cases[0].ChildID, worker); err != nil {
		t.Fatal(err)
	}
	backup, err := os.Create(filepath.Join(node, "backup.nrmnet"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(ctx, backup, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BackupKeys(ctx, backup, nil); err != nil {
		t.Fatal(err)
	}
	backup.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	files, n := scanForCanaries(t, node)
	t.Logf("searched %d files, %d bytes, and %d bytes of log for %d canary forms", files, n, len(logBuf.Bytes()), len(canaryForms()))
	if files < 10 || n < 1<<20 {
		t.Errorf("only %d files and %d bytes were searched: the store did not write what the test expects", files, n)
	}
	checkLogForCanaries(t, logBuf.Bytes())

	// The canaries are really there, under the encryption.
	s = mustOpen(t, cfg)
	if got := mustRead(t, s, cases[1].ID); got.WishesAndFeelings[0].Views != cases[1].WishesAndFeelings[0].Views {
		t.Error("the canary case does not read back")
	}
}

// TestCanaryScanFindsPlaintext is the control for TestEncryptionAtRest: the
// same scan over a Badger directory without encryption finds the canaries.
func TestCanaryScanFindsPlaintext(t *testing.T) {
	dir := t.TempDir()
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithCompression(options.None))
	if err != nil {
		t.Fatal(err)
	}
	c := canaryCase(v1.NewID())
	b, err := v1.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	u := utf16.Encode([]rune(canaries[2]))
	wide := make([]byte, 2*len(u))
	for i, r := range u {
		wide[2*i], wide[2*i+1] = byte(r), byte(r>>8)
	}
	err = db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(c.ID), b); err != nil {
			return err
		}
		return txn.Set([]byte("wide"), wide)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	found, _, _, err := findCanaries(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{canaries[0], canaries[1], canaries[3], canaries[2] + " (UTF-16LE)"} {
		if !strings.Contains(strings.Join(found, "\n"), strconv.Quote(want)) {
			t.Errorf("the scan did not find %q in plaintext Badger files; found %v", want, found)
		}
	}
}
