package storage

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "nrmnet/schemas/v1"
)

func TestCreateKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if err := CreateKeys(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StorageKeyFile, AuthorityKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, fi.Mode().Perm())
		}
	}
	key, err := LoadStorageKey(filepath.Join(dir, StorageKeyFile))
	if err != nil || len(key) != StorageKeySize {
		t.Fatalf("LoadStorageKey: %v", err)
	}
	if _, err := LoadAuthorityKey(filepath.Join(dir, AuthorityKeyFile)); err != nil {
		t.Fatalf("LoadAuthorityKey: %v", err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, StorageKeyFile))
	if err := CreateKeys(dir); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateKeys: %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, StorageKeyFile))
	if string(before) != string(after) {
		t.Fatal("second CreateKeys changed the storage key")
	}
}

// TestKeyProblems opens a store with a damaged key setup, checks the error
// says what is wrong and how to fix it, then repairs the setup and checks
// the data is intact.
func TestKeyProblems(t *testing.T) {
	otherKey := make([]byte, 32)
	rand.Read(otherKey)
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, keysDir string) (repair func())
		want    error
		text    []string // the message must contain each
	}{
		{
			name: "wrong storage key",
			breakIt: func(t *testing.T, keysDir string) func() {
				return replaceFile(t, filepath.Join(keysDir, StorageKeyFile), []byte(hex.EncodeToString(otherKey)+"\n"))
			},
			want: ErrWrongKey,
			text: []string{"the storage key in", "does not match the data directory"},
		},
		{
			name: "missing storage key",
			breakIt: func(t *testing.T, keysDir string) func() {
				p := filepath.Join(keysDir, StorageKeyFile)
				old, _ := os.ReadFile(p)
				os.Remove(p)
				return func() { os.WriteFile(p, old, 0o600) }
			},
			want: ErrKeyMissing,
			text: []string{StorageKeyFile, "nrmnet init"},
		},
		{
			name: "world-readable storage key",
			breakIt: func(t *testing.T, keysDir string) func() {
				p := filepath.Join(keysDir, StorageKeyFile)
				os.Chmod(p, 0o644)
				return func() { os.Chmod(p, 0o600) }
			},
			want: ErrKeyPermissions,
			text: []string{"chmod 600", StorageKeyFile},
		},
		{
			name: "group-readable authority key",
			breakIt: func(t *testing.T, keysDir string) func() {
				p := filepath.Join(keysDir, AuthorityKeyFile)
				os.Chmod(p, 0o640)
				return func() { os.Chmod(p, 0o600) }
			},
			want: ErrKeyPermissions,
			text: []string{"chmod 600", AuthorityKeyFile},
		},
		{
			name: "corrupted storage key",
			breakIt: func(t *testing.T, keysDir string) func() {
				return replaceFile(t, filepath.Join(keysDir, StorageKeyFile), []byte("not a key at all\n"))
			},
			want: ErrKeyMalformed,
			text: []string{StorageKeyFile, "nrmnet init"},
		},
		{
			name: "corrupted authority key",
			breakIt: func(t *testing.T, keysDir string) func() {
				p := filepath.Join(keysDir, AuthorityKeyFile)
				old, _ := os.ReadFile(p)
				bad := []byte(strings.Replace(string(old), "MC4CAQ", "XXXXXX", 1))
				return replaceFile(t, p, bad)
			},
			want: ErrKeyMalformed,
			text: []string{AuthorityKeyFile, "nrmnet init"},
		},
		{
			name: "missing authority key",
			breakIt: func(t *testing.T, keysDir string) func() {
				p := filepath.Join(keysDir, AuthorityKeyFile)
				old, _ := os.ReadFile(p)
				os.Remove(p)
				return func() { os.WriteFile(p, old, 0o600) }
			},
			want: ErrKeyMissing,
			text: []string{AuthorityKeyFile, "nrmnet init"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newNode(t)
			s := mustOpenNoCleanup(t, cfg)
			c := newCase(v1.NewID())
			mustCreate(t, s, c)
			mustClose(t, s)

			repair := tc.breakIt(t, cfg.KeysDir)
			before := treeDigest(t, cfg.DataDir)
			_, err := Open(cfg)
			if after := treeDigest(t, cfg.DataDir); after != before {
				t.Errorf("the failed Open changed the data directory:\nbefore %s\nafter  %s", before, after)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			for _, want := range tc.text {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			t.Logf("error, as an administrator sees it: %v", err)
			repair()
			s = mustOpen(t, cfg)
			if got := mustRead(t, s, c.ID); got.Revision != c.Revision {
				t.Errorf("after repair read revision %d, want %d", got.Revision, c.Revision)
			}
			mustVerify(t, s)
		})
	}
}

// TestWrongKeyForData checks the message when the child-keys database opens
// but data/ was made under another key.
func TestWrongKeyForData(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	mustCreate(t, s, newCase(v1.NewID()))
	mustClose(t, s)
	other := newNode(t)
	cfg.KeysDir = other.KeysDir // a whole other node's keys
	_, err := Open(cfg)
	if !errors.Is(err, ErrWrongKey) || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Fatalf("Open with another node's keys: %v, want ErrWrongKey naming %s", err, cfg.DataDir)
	}
}

// treeDigest hashes the names and contents of the files under dir (but the
// lock file, which Badger creates and removes).
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "LOCK" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func replaceFile(t *testing.T, path string, b []byte) (repair func()) {
	t.Helper()
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, old, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func mustOpenNoCleanup(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestParseStorageKey(t *testing.T) {
	good := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{good, true}, {good + "\n", true}, {good + "\r\n", true},
		{strings.ToUpper(good), true},
		{"", false}, {good[:62], false}, {good + "00", false}, {strings.Repeat("zz", 32), false},
		{strings.Repeat("00", 32), false}, {" " + good, false},
	} {
		_, err := ParseStorageKey([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("ParseStorageKey(%q): %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrKeyMalformed) {
			t.Errorf("ParseStorageKey(%q): %v is not ErrKeyMalformed", tc.in, err)
		}
	}
}
