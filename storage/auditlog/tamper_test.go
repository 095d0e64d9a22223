package auditlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"golang.org/x/mod/sumdb/tlog"
)

// The tamper tests edit the log through the Badger API, as an administrator
// holding the data directory and the storage key would.

func getValue(t testing.TB, txn *badger.Txn, key []byte) []byte {
	t.Helper()
	item, err := txn.Get(key)
	if err != nil {
		t.Fatalf("get %x: %v", key, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func flipByte(t testing.TB, txn *badger.Txn, key []byte, at int) {
	t.Helper()
	v := getValue(t, txn, key)
	v[at%len(v)] ^= 0x20
	if err := txn.Set(key, v); err != nil {
		t.Fatal(err)
	}
}

func setSize(t testing.TB, txn *badger.Txn, l *Log, n uint64) {
	t.Helper()
	if err := txn.Set(l.sizeKey, binary.BigEndian.AppendUint64(nil, n)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 100
	tests := []struct {
		name   string
		tamper func(t testing.TB, txn *badger.Txn, l *Log)
		index  int64 // the entry the error must name; -1 for none
	}{
		{"flip a byte of an entry", func(t testing.TB, txn *badger.Txn, l *Log) {
			flipByte(t, txn, l.entryKey(37), 3)
		}, 37},
		{"flip a byte of the last entry", func(t testing.TB, txn *badger.Txn, l *Log) {
			flipByte(t, txn, l.entryKey(n-1), 10)
		}, n - 1},
		{"flip a byte of a leaf hash", func(t testing.TB, txn *badger.Txn, l *Log) {
			flipByte(t, txn, l.hashKey(tlog.StoredHashIndex(0, 50)), 0)
		}, 50},
		{"flip a byte of an interior hash", func(t testing.TB, txn *badger.Txn, l *Log) {
			flipByte(t, txn, l.hashKey(tlog.StoredHashIndex(3, 2)), 31) // written by entry 23
		}, 23},
		{"shorten a stored hash", func(t testing.TB, txn *badger.Txn, l *Log) {
			key := l.hashKey(tlog.StoredHashIndex(0, 12))
			if err := txn.Set(key, getValue(t, txn, key)[:31]); err != nil {
				t.Fatal(err)
			}
		}, 12},
		{"delete the last entry", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Delete(l.entryKey(n - 1)); err != nil {
				t.Fatal(err)
			}
		}, n - 1},
		{"delete a middle entry", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Delete(l.entryKey(50)); err != nil {
				t.Fatal(err)
			}
		}, 50},
		{"delete a stored hash", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Delete(l.hashKey(tlog.StoredHashIndex(1, 30))); err != nil { // written by entry 61
				t.Fatal(err)
			}
		}, 61},
		{"delete the last entry's hashes", func(t testing.TB, txn *badger.Txn, l *Log) {
			for x := tlog.StoredHashIndex(0, n-1); x < tlog.StoredHashCount(n); x++ {
				if err := txn.Delete(l.hashKey(x)); err != nil {
					t.Fatal(err)
				}
			}
		}, n - 1},
		{"truncate the size", func(t testing.TB, txn *badger.Txn, l *Log) {
			setSize(t, txn, l, n-10)
		}, n - 10},
		{"delete the size", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Delete(l.sizeKey); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"raise the size", func(t testing.TB, txn *badger.Txn, l *Log) {
			setSize(t, txn, l, n+1)
		}, n},
		{"corrupt the size", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Set(l.sizeKey, []byte{1, 2, 3}); err != nil {
				t.Fatal(err)
			}
		}, -1},
		{"swap two entries", func(t testing.TB, txn *badger.Txn, l *Log) {
			a, b := getValue(t, txn, l.entryKey(10)), getValue(t, txn, l.entryKey(20))
			if err := txn.Set(l.entryKey(10), b); err != nil {
				t.Fatal(err)
			}
			if err := txn.Set(l.entryKey(20), a); err != nil {
				t.Fatal(err)
			}
		}, 10},
		{"add an entry beyond the size", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Set(l.entryKey(n), []byte("smuggled")); err != nil {
				t.Fatal(err)
			}
		}, n},
		{"add a stored hash beyond the size", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Set(l.hashKey(tlog.StoredHashCount(n)), make([]byte, 32)); err != nil {
				t.Fatal(err)
			}
		}, n},
		{"add a stray key among the entries", func(t testing.TB, txn *badger.Txn, l *Log) {
			if err := txn.Set(append(bytes.Clone(l.entryPrefix), 0), []byte("stray")); err != nil {
				t.Fatal(err)
			}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, l := newTestLog(t, n)
			mustUpdate(t, db, func(txn *badger.Txn) error {
				tt.tamper(t, txn, l)
				return nil
			})
			err := db.View(func(txn *badger.Txn) error {
				_, err := l.Verify(txn, nil)
				return err
			})
			wantErr(t, err, ErrTampered, tt.index)
			t.Log(err)
		})
	}
}

// TestVerifyDetectsEveryStoredHash flips each stored hash of a log in turn.
func TestVerifyDetectsEveryStoredHash(t *testing.T) {
	const n = 45
	db, l := newTestLog(t, n)
	// writer[x] is the entry whose append stored hash x, found by counting.
	var writer []int64
	for i := int64(0); i < n; i++ {
		for x := tlog.StoredHashIndex(0, i); x < tlog.StoredHashCount(i+1); x++ {
			writer = append(writer, i)
		}
	}
	for x := range int64(len(writer)) {
		var orig []byte
		mustUpdate(t, db, func(txn *badger.Txn) error {
			orig = getValue(t, txn, l.hashKey(x))
			flipByte(t, txn, l.hashKey(x), int(x))
			return nil
		})
		err := db.View(func(txn *badger.Txn) error {
			_, err := l.Verify(txn, nil)
			return err
		})
		wantErr(t, err, ErrTampered, writer[x])
		mustUpdate(t, db, func(txn *badger.Txn) error { return txn.Set(l.hashKey(x), orig) })
	}
	mustView(t, db, func(txn *badger.Txn) error {
		_, err := l.Verify(txn, nil)
		return err
	})
}

func TestEntryDetectsEditedEntry(t *testing.T) {
	db, l := newTestLog(t, 20)
	mustUpdate(t, db, func(txn *badger.Txn) error {
		flipByte(t, txn, l.entryKey(7), 0)
		return txn.Delete(l.entryKey(8))
	})
	mustView(t, db, func(txn *badger.Txn) error {
		_, err := l.Entry(txn, 7)
		wantErr(t, err, ErrTampered, 7)
		_, err = l.Entry(txn, 8)
		wantErr(t, err, ErrTampered, 8)
		return nil
	})
}

// witnessed returns a witness in a temporary directory that has recorded the
// log's current checkpoint.
func witnessed(t testing.TB, db *badger.DB, l *Log) *Witness {
	t.Helper()
	pub, priv := testKey()
	w, err := OpenWitness(filepath.Join(t.TempDir(), "audit.witness"), l.Origin(), pub)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	mustView(t, db, func(txn *badger.Txn) error {
		cp, err := l.Checkpoint(txn)
		if err != nil {
			return err
		}
		signed, err := Sign(cp, priv)
		if err != nil {
			return err
		}
		return w.Record(signed)
	})
	return w
}

// TestWitnessDetectsConsistentTruncation removes the last entries with their
// hashes and lowers the size: the log is a valid smaller log, so Verify
// accepts it, but the witness does not.
func TestWitnessDetectsConsistentTruncation(t *testing.T) {
	const n = 100
	db, l := newTestLog(t, n)
	w := witnessed(t, db, l)
	mustUpdate(t, db, func(txn *badger.Txn) error {
		for i := int64(n - 3); i < n; i++ {
			if err := txn.Delete(l.entryKey(i)); err != nil {
				return err
			}
		}
		for x := tlog.StoredHashCount(n - 3); x < tlog.StoredHashCount(n); x++ {
			if err := txn.Delete(l.hashKey(x)); err != nil {
				return err
			}
		}
		setSize(t, txn, l, n-3)
		return nil
	})
	mustView(t, db, func(txn *badger.Txn) error {
		if _, err := l.Verify(txn, nil); err != nil {
			t.Fatalf("Verify of a consistently truncated log: %v (it cannot know)", err)
		}
		err := w.Check(l, txn)
		wantErr(t, err, ErrRolledBack, -1)
		if !strings.Contains(err.Error(), "holds 97 entries but 100 were witnessed") {
			t.Errorf("error %q does not give the sizes", err)
		}
		return nil
	})
}

// TestWitnessDetectsRewrite rebuilds the whole log with one entry changed, as
// an administrator who understands the format would: Verify accepts it, the
// witness and a consistency proof from the old checkpoint do not.
func TestWitnessDetectsRewrite(t *testing.T) {
	const n = 50
	db, l := newTestLog(t, n)
	w := witnessed(t, db, l)
	old, _ := w.Latest()
	mustUpdate(t, db, func(txn *badger.Txn) error {
		for _, prefix := range [][]byte{l.entryPrefix, l.hashPrefix} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			var keys [][]byte
			for it.Rewind(); it.Valid(); it.Next() {
				keys = append(keys, it.Item().KeyCopy(nil))
			}
			it.Close()
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return txn.Delete(l.sizeKey)
	})
	mustUpdate(t, db, func(txn *badger.Txn) error {
		for i := int64(0); i < n+5; i++ {
			e := testEntry(i)
			if i == 20 {
				e = []byte("a more convenient history")
			}
			if _, err := l.Append(txn, e); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(txn *badger.Txn) error {
		cp, err := l.Verify(txn, nil)
		if err != nil {
			t.Fatalf("Verify of a rebuilt log: %v (it cannot know)", err)
		}
		wantErr(t, w.Check(l, txn), ErrRolledBack, -1)
		p, err := l.ProveConsistency(txn, old.Size, cp.Size)
		if err != nil {
			return err
		}
		wantErr(t, CheckConsistency(p, old, cp), ErrTampered, old.Size-1)
		return nil
	})
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		src, err := os.Open(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			t.Fatal(err)
		}
		src.Close()
		if err := dst.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWitnessDetectsRestoredCopy copies the data directory, appends and
// witnesses more, then opens the old copy, as after restoring a backup.
func TestWitnessDetectsRestoredCopy(t *testing.T) {
	pub, priv := testKey()
	root := t.TempDir()
	dataDir, oldDir := filepath.Join(root, "data"), filepath.Join(root, "old")
	witnessPath := filepath.Join(root, "keys", "audit.witness")
	if err := os.Mkdir(filepath.Dir(witnessPath), 0o700); err != nil {
		t.Fatal(err)
	}
	l := New(testOrigin, testPrefix)

	sign := func(db *badger.DB) []byte {
		var signed []byte
		mustView(t, db, func(txn *badger.Txn) error {
			cp, err := l.Checkpoint(txn)
			if err == nil {
				signed, err = Sign(cp, priv)
			}
			return err
		})
		return signed
	}

	db, err := badger.Open(diskOptions(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	appendEntries(t, db, l, 0, 50, 10)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	copyDir(t, dataDir, oldDir)

	db, err = badger.Open(diskOptions(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	appendEntries(t, db, l, 50, 75, 10)
	w, err := OpenWitness(witnessPath, testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Record(sign(db)); err != nil {
		t.Fatal(err)
	}
	mustView(t, db, func(txn *badger.Txn) error { return w.Check(l, txn) })
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// The node restarts on the old copy.
	w, err = OpenWitness(witnessPath, testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	old := mustOpenDB(t, diskOptions(oldDir))
	mustView(t, old, func(txn *badger.Txn) error {
		if _, err := l.Verify(txn, nil); err != nil {
			t.Fatalf("Verify of the old copy: %v (it is a valid older log)", err)
		}
		err := w.Check(l, txn)
		wantErr(t, err, ErrRolledBack, -1)
		for _, want := range []string{"holds 50 entries but 75 were witnessed", "restored from an older copy or truncated"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		return nil
	})

	// Recording the old checkpoint is refused; rebasing onto it is recorded.
	oldSigned := sign(old)
	wantErr(t, w.Record(oldSigned), ErrRolledBack, -1)
	if err := w.Rebase(oldSigned, "restored the 03:00 backup after a disk failure"); err != nil {
		t.Fatal(err)
	}
	mustView(t, old, func(txn *badger.Txn) error { return w.Check(l, txn) })
	w.Close()
	w, err = OpenWitness(witnessPath, testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if cp, _ := w.Latest(); cp.Size != 50 {
		t.Errorf("latest after rebase has size %d, want 50", cp.Size)
	}
}

// TestRawFileCorruption flips bytes in the files of an unencrypted Badger
// directory: Badger itself or Verify must report it (either will do).
func TestRawFileCorruption(t *testing.T) {
	const n = 3000
	tests := []struct {
		name string
		opts func(dir string) badger.Options
		// corrupt flips bytes in the named file's contents and reports whether it did.
		corrupt func(name string, data []byte) bool
	}{
		{
			name: "one byte of an entry, uncompressed, no block checksums",
			opts: func(dir string) badger.Options {
				return diskOptions(dir).WithCompression(options.None).WithChecksumVerificationMode(options.NoVerification)
			},
			corrupt: flipInEntry,
		},
		{
			name: "one byte of an entry, uncompressed, block checksums",
			opts: func(dir string) badger.Options {
				return diskOptions(dir).WithCompression(options.None).WithChecksumVerificationMode(options.OnBlockRead)
			},
			corrupt: flipInEntry,
		},
		{
			name: "bytes throughout every file, default options",
			opts: diskOptions,
			corrupt: func(name string, data []byte) bool {
				if len(data) < 64 || name == "KEYREGISTRY" {
					return false
				}
				for i := len(data) / 17; i < len(data)-32; i += len(data) / 17 {
					data[i] ^= 0x5a
				}
				return true
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := New(testOrigin, testPrefix)
			db, err := badger.Open(tt.opts(dir))
			if err != nil {
				t.Fatal(err)
			}
			appendEntries(t, db, l, 0, n, 500)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			corrupted := corruptFiles(t, dir, tt.corrupt)
			if len(corrupted) == 0 {
				t.Fatal("nothing corrupted")
			}
			t.Logf("corrupted %v", corrupted)
			if err := openAndVerify(tt.opts(dir), l, n); err != nil {
				t.Logf("reported: %v", err)
				return
			}
			t.Fatal("corruption went unreported")
		})
	}
}

// flipInEntry flips one byte inside the stored text of entry 1234.
func flipInEntry(name string, data []byte) bool {
	i := bytes.Index(data, testEntry(1234))
	if i < 0 {
		return false
	}
	data[i+len("entry 001234 pay")] ^= 0x01
	return true
}

func corruptFiles(t testing.TB, dir string, corrupt func(name string, data []byte) bool) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var done []string
	for _, de := range des {
		path := filepath.Join(dir, de.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if corrupt(de.Name(), data) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			done = append(done, de.Name())
		}
	}
	return done
}

// openAndVerify opens the database and verifies the log, turning a panic in
// Badger's read path into an error.
func openAndVerify(opts badger.Options, l *Log, n int64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("badger panicked: %v", r)
		}
	}()
	db, err := badger.Open(opts)
	if err != nil {
		return fmt.Errorf("badger open: %w", err)
	}
	defer db.Close()
	return db.View(func(txn *badger.Txn) error {
		cp, err := l.Verify(txn, nil)
		if err == nil && cp.Size != n {
			return fmt.Errorf("log has %d entries, want %d", cp.Size, n)
		}
		if err != nil && !errors.Is(err, ErrTampered) {
			return fmt.Errorf("verify (not ErrTampered): %w", err)
		}
		return err
	})
}
