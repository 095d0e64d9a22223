package roster_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
)

func TestSaveAndLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "london.roster")
	s, err := roster.Sign(validRoster(t, 3), anchorA)
	if err != nil {
		t.Fatal(err)
	}
	if err := roster.SaveFile(path, s); err != nil {
		t.Fatal(err)
	}
	loaded, err := roster.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Encode()
	got, _ := loaded.Encode()
	if string(want) != string(got) {
		t.Fatal("loaded roster differs from the one saved")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after save, want 1 (temporary file left behind?)", len(entries))
	}

	big := filepath.Join(dir, "big.roster")
	if err := os.WriteFile(big, make([]byte, roster.MaxSignedRosterSize+10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := roster.LoadFile(big); !errors.Is(err, schemas.ErrTooLarge) {
		t.Errorf("oversized file: err = %v", err)
	}
	if _, err := roster.LoadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestAnchorKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "anchor.key")
	pubKey, err := roster.GenerateAnchorKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}
	priv, err := roster.ReadAnchorKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !pubKey.Equal(priv.Public()) {
		t.Fatal("read back another key")
	}
	if _, err := roster.GenerateAnchorKeyFile(path); !errors.Is(err, os.ErrExist) {
		t.Errorf("overwrote an existing key file: err = %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := roster.ReadAnchorKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("read a world-readable key file: err = %v", err)
	}
}

func TestAnchorKeyText(t *testing.T) {
	k := pub(anchorA)
	s := roster.FormatAnchorKey(k)
	if !strings.HasPrefix(s, "ed25519:") || len(s) != len("ed25519:")+43 {
		t.Fatalf("FormatAnchorKey = %q", s)
	}
	back, err := roster.ParseAnchorKey("  " + s + "\n")
	if err != nil || !back.Equal(k) {
		t.Fatalf("ParseAnchorKey = %x, %v", back, err)
	}
	for _, bad := range []string{"", s[len("ed25519:"):], "ed25519:AAAA", "ed25519:" + strings.Repeat("!", 43), "rsa:" + s[8:]} {
		if _, err := roster.ParseAnchorKey(bad); err == nil {
			t.Errorf("ParseAnchorKey(%q) accepted it", bad)
		}
	}
}
