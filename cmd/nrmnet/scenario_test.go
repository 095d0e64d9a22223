package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"golang.org/x/mod/sumdb/tlog"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// scenarioCanaries are the names of the canary children the scenario stores;
// none may appear in any file or in anything the commands print.
var scenarioCanaries = []string{"CANARY-SCN-0b7e-VELLOMARKE", "CANARY-SCN-52d1-ORRISPENTH"}

// TestAdministratorScenario walks an administrator's work on a node through
// the real commands, in process: init, cases written through the store,
// audit verify, backup (data and child keys), restore into a new node
// directory, audit verify there; then tampering with the audit log (an entry
// edited, the log cut short), with a table file, and with the configuration,
// each of which must make the commands fail with a message that says what is
// wrong; and an environment override that points the node at its data.
func TestAdministratorScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("writes, backs up and restores a node several times")
	}
	root := t.TempDir()
	node := filepath.Join(root, "node")
	scenarioCLI(t, "init", "--dir", node, "--authority", "ISL")
	atInit := verifiedEntries(t, scenarioCLI(t, "audit", "verify", "--dir", node))

	// Cases written through the store, as the running node would.
	cfg, err := loadNodeConfig(node, scenarioNoEnv)
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.storeConfig(node)
	sc.Logger = slog.New(slog.DiscardHandler)
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	g := synthetic.New(3, synthetic.WithAuthority("ISL"))
	who := storage.Access{Actor: "sw-001", Role: "social_worker", Purpose: "scenario", LegalBasis: v1.BasisPublicTask}
	var cases []*v1.Case
	for i := range 40 {
		c := g.Case()
		if i < len(scenarioCanaries) {
			c = synthetic.CanaryCase(g, scenarioCanaries[i])
		}
		c.Revision = 1
		if err := s.CreateCase(context.Background(), c, who); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	out := scenarioCLI(t, "audit", "verify", "--dir", node)
	scenarioWantOutput(t, out, "table files: every block", "witness history:", "signed checkpoint")
	size := verifiedEntries(t, out)
	if size != atInit+40 {
		t.Errorf("audit log holds %d entries after 40 creates, want %d", size, atInit+40)
	}
	// Keep the signed checkpoint, as the administrator is told to.
	_, signed, _ := strings.Cut(out, "(keep it to check this log later with --checkpoint):\n")
	checkpoint := filepath.Join(root, "checkpoint.txt")
	if err := os.WriteFile(checkpoint, []byte(signed), 0o600); err != nil {
		t.Fatal(err)
	}

	// An inclusion proof of one entry, and a clear refusal past the end.
	out = scenarioCLI(t, "audit", "verify", "--dir", node, "--inclusion", "3")
	scenarioWantOutput(t, out, "entry 3 is in the log")
	_, err = runCLI(t, "audit", "verify", "--dir", node, "--inclusion", strconv.FormatInt(size, 10))
	scenarioWantError(t, err, "--inclusion", "no such entry")

	// Backup: data and child keys, to files outside the node.
	backups := filepath.Join(root, "backups")
	if err := os.Mkdir(backups, 0o700); err != nil {
		t.Fatal(err)
	}
	dataBackup := filepath.Join(backups, "isl.nrmbak")
	keysBackup := filepath.Join(backups, "isl.nrmkeys")
	out = scenarioCLI(t, "backup", "--dir", node, "--out", dataBackup, "--keys-out", keysBackup)
	scenarioWantOutput(t, out, "wrote "+dataBackup, fmt.Sprintf("audit log of %d entries", size), "wrote "+keysBackup)
	if _, err := runCLI(t, "backup", "--dir", node, "--out", dataBackup); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v, want a refusal saying it exists", err)
	}

	// Restore into a new node directory that has only the configuration and
	// the two key files (as after losing a server but keeping the key backup).
	restored := filepath.Join(root, "restored")
	scenarioCopyFile(t, filepath.Join(node, ConfigFile), filepath.Join(restored, ConfigFile))
	scenarioCopyFile(t, filepath.Join(node, "keys", storage.StorageKeyFile), filepath.Join(restored, "keys", storage.StorageKeyFile))
	scenarioCopyFile(t, filepath.Join(node, "keys", storage.AuthorityKeyFile), filepath.Join(restored, "keys", storage.AuthorityKeyFile))
	out = scenarioCLI(t, "restore", "--dir", restored, "--from", dataBackup, "--keys-from", keysBackup)
	scenarioWantOutput(t, out, "restored child keys", "restored "+dataBackup)
	// The restored log is the backed-up one plus the record of the restore,
	// and it extends the checkpoint kept before the backup.
	out = scenarioCLI(t, "audit", "verify", "--dir", restored, "--checkpoint", checkpoint)
	scenarioWantOutput(t, out, fmt.Sprintf("checkpoint %s (%d entries) is a prefix of the log", checkpoint, size))
	if got := verifiedEntries(t, out); got != size+1 {
		t.Errorf("restored audit log holds %d entries, want %d (the backup's %d and the restore)", got, size+1, size)
	}
	// The restored node reads the cases back exactly.
	rc, err := loadNodeConfig(restored, scenarioNoEnv)
	if err != nil {
		t.Fatal(err)
	}
	rsc := rc.storeConfig(restored)
	rsc.Logger = slog.New(slog.DiscardHandler)
	s, err = storage.Open(rsc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases[:5] {
		got, err := s.Case(context.Background(), c.ID, who)
		if err != nil {
			t.Fatalf("restored node: %v", err)
		}
		a, _ := v1.Marshal(got)
		b, _ := v1.Marshal(c)
		if !bytes.Equal(a, b) {
			t.Errorf("restored case %s differs from the one written", c.ID)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An audit entry edited in place by someone holding the storage key.
	t.Run("edited audit entry", func(t *testing.T) {
		dir := scenarioCopyNode(t, node)
		scenarioEditAuditLog(t, dir, func(txn *badger.Txn, size int64) error {
			k := scenarioAuditKey('e', 7)
			item, err := txn.Get(k)
			if err != nil {
				return err
			}
			v, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			v[len(v)/2] ^= 0x01
			return txn.Set(k, v)
		})
		_, err := runCLI(t, "audit", "verify", "--dir", dir)
		scenarioWantError(t, err, "AUDIT LOG FAILED VERIFICATION", "tampered", "entry 7")
	})

	// The log cut short: its last ten entries and their hashes removed and
	// the size lowered, a valid shorter log that only the witness can expose.
	t.Run("truncated audit log", func(t *testing.T) {
		dir := scenarioCopyNode(t, node)
		scenarioEditAuditLog(t, dir, func(txn *badger.Txn, size int64) error {
			keep := size - 10
			for i := keep; i < size; i++ {
				if err := txn.Delete(scenarioAuditKey('e', i)); err != nil {
					return err
				}
			}
			for h := tlog.StoredHashCount(keep); h < tlog.StoredHashCount(size); h++ {
				if err := txn.Delete(scenarioAuditKey('h', h)); err != nil {
					return err
				}
			}
			return txn.Set([]byte("a/s"), binary.BigEndian.AppendUint64(nil, uint64(keep)))
		})
		_, err := runCLI(t, "audit", "verify", "--dir", dir)
		scenarioWantError(t, err, "older than the audit checkpoint witnessed", "nrmnet restore")
	})

	// A byte flipped in a table file on disk.
	t.Run("flipped byte in a table file", func(t *testing.T) {
		dir := scenarioCopyNode(t, node)
		tables, _ := filepath.Glob(filepath.Join(dir, "data", "*.sst"))
		if len(tables) == 0 {
			t.Fatal("no table files")
		}
		b, err := os.ReadFile(tables[0])
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/3] ^= 0x20
		if err := os.WriteFile(tables[0], b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = runCLI(t, "audit", "verify", "--dir", dir)
		scenarioWantError(t, err, "damaged")
	})

	t.Run("unknown configuration key", func(t *testing.T) {
		dir := scenarioCopyNode(t, node)
		path := filepath.Join(dir, ConfigFile)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("storage:\n"), []byte("storage:\n    sync_intervall: 2s\n"), 1)
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
		_, err = runCLI(t, "audit", "verify", "--dir", dir)
		scenarioWantError(t, err, "sync_intervall", ConfigFile)
	})

	t.Run("environment overrides", func(t *testing.T) {
		dir := scenarioCopyNode(t, restored)
		// Move the data away; NRMNET_DATA_DIR points the node at it.
		moved := filepath.Join(t.TempDir(), "elsewhere")
		if err := os.Rename(filepath.Join(dir, "data"), moved); err != nil {
			t.Fatal(err)
		}
		t.Setenv("NRMNET_DATA_DIR", moved)
		out := scenarioCLI(t, "audit", "verify", "--dir", dir)
		scenarioWantOutput(t, out, "audit log verified:", "witness history:")
		if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			t.Error("the node used data/ in its directory despite NRMNET_DATA_DIR")
		}
		// A value that does not parse is refused, naming the variable.
		t.Setenv("NRMNET_STORAGE_SYNC_INTERVAL", "soon")
		_, err := runCLI(t, "audit", "verify", "--dir", dir)
		scenarioWantError(t, err, "NRMNET_STORAGE_SYNC_INTERVAL", "duration")
	})

	// Nothing a canary child was called is in any file of either node or in
	// the backups (encryption at rest, backups included).
	for _, dir := range []string{node, restored, backups} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, c := range scenarioCanaries {
				if bytes.Contains(b, []byte(c)) {
					t.Errorf("canary %s found in %s", c, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func scenarioNoEnv(string) (string, bool) { return "", false }

// verifiedEntries returns N from audit verify's "audit log verified: N entries".
func verifiedEntries(t *testing.T, out string) int64 {
	t.Helper()
	m := regexp.MustCompile(`audit log verified: (\d+) entries`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("audit verify did not say how many entries it verified:\n%s", out)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// scenarioCLI runs a command that must succeed, returns what it printed, and
// checks that it printed no canary.
func scenarioCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("nrmnet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	for _, c := range scenarioCanaries {
		if strings.Contains(out, c) {
			t.Errorf("nrmnet %s printed canary %s", strings.Join(args, " "), c)
		}
	}
	return out
}

func scenarioWantOutput(t *testing.T, out string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(out, p) {
			t.Errorf("output lacks %q:\n%s", p, out)
		}
	}
}

func scenarioWantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the command succeeded; want an error mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error lacks %q: %v", p, err)
		}
	}
	t.Logf("as the administrator sees it: %v", err)
}

// scenarioAuditKey is the key of an audit entry ('e') or stored hash ('h') in data/
// (storage keeps its audit log under "a/"; see storage/auditlog/DESIGN.md).
func scenarioAuditKey(tag byte, i int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'a', '/', tag}, uint64(i))
}

// scenarioEditAuditLog opens the node's data directory with its storage key, as an
// insider with the key could, and changes the audit log in one transaction.
func scenarioEditAuditLog(t *testing.T, dir string, edit func(txn *badger.Txn, size int64) error) {
	t.Helper()
	key, err := storage.LoadStorageKey(filepath.Join(dir, "keys", storage.StorageKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "data")).
		WithEncryptionKey(key).WithBlockCacheSize(8 << 20).WithIndexCacheSize(4 << 20).
		WithCompression(options.Snappy).WithValueThreshold(1 << 20).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("a/s"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return edit(txn, int64(binary.BigEndian.Uint64(v)))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scenarioCopyNode copies a node directory (config, keys, data) to a new directory.
func scenarioCopyNode(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "node")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		scenarioCopyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// scenarioCopyFile copies one file, creating its directory (0700) and keeping it
// private (0600).
func scenarioCopyFile(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
