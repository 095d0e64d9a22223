package storage

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Names of the files and directories in the keys directory.
const (
	StorageKeyFile   = "storage.key"   // 32-byte AES-256 key, 64 hex digits and a newline
	AuthorityKeyFile = "authority.key" // ed25519 private key, PEM "PRIVATE KEY" (PKCS #8)
	ChildKeysDir     = "childkeys"     // Badger database of per-child data keys and the erasure ledger
	WitnessFile      = "audit.witness" // signed audit checkpoints (auditlog.Witness)
)

// StorageKeySize is the length of the storage key in bytes (AES-256).
const StorageKeySize = 32

const maxKeyFileSize = 4 << 10

func storageKeyPath(keysDir string) string   { return filepath.Join(keysDir, StorageKeyFile) }
func authorityKeyPath(keysDir string) string { return filepath.Join(keysDir, AuthorityKeyFile) }
func childKeysPath(keysDir string) string    { return filepath.Join(keysDir, ChildKeysDir) }
func witnessPath(keysDir string) string      { return filepath.Join(keysDir, WitnessFile) }

// CreateKeys makes a new node's keys in keysDir: a random storage key and a
// new authority key, each in a file of mode 0600, and an empty childkeys
// directory. It refuses to overwrite anything: if any of the files exists it
// returns ErrExists and changes nothing.
func CreateKeys(keysDir string) error {
	if keysDir == "" {
		return fmt.Errorf("create keys: %w: no keys directory given", ErrInvalidConfig)
	}
	for _, name := range []string{StorageKeyFile, AuthorityKeyFile, ChildKeysDir, WitnessFile} {
		p := filepath.Join(keysDir, name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("create keys: %s: %w; refusing to overwrite a node's keys (move the directory away first if you really mean to start a new node)", p, ErrExists)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("create keys: %w", err)
		}
	}
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	storageKey := make([]byte, StorageKeySize)
	if _, err := rand.Read(storageKey); err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	_, authKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(authKey)
	if err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	authPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := writeNewFile(storageKeyPath(keysDir), []byte(hex.EncodeToString(storageKey)+"\n")); err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	if err := writeNewFile(authorityKeyPath(keysDir), authPEM); err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	if err := os.Mkdir(childKeysPath(keysDir), 0o700); err != nil {
		return fmt.Errorf("create keys: %w", err)
	}
	return syncDir(keysDir)
}

// writeNewFile creates path (which must not exist) with mode 0600, writes b
// and syncs it.
func writeNewFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// readKeyFile reads a key file after checking that only its owner can read
// it. what names the key in messages.
func readKeyFile(path, what string) ([]byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s %s: %w; restore it from the key backup, or for a new node create keys with `nrmnet init`", what, path, ErrKeyMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: %w: not a regular file; restore it from the key backup, or for a new node run `nrmnet init`", what, path, ErrKeyMalformed)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: %w: mode %04o lets other users read it; fix with: chmod 600 %s", what, path, ErrKeyPermissions, perm, path)
	}
	if fi.Size() > maxKeyFileSize {
		return nil, fmt.Errorf("%s %s: %w: %d bytes is far too long for a key; restore it from the key backup, or for a new node run `nrmnet init`", what, path, ErrKeyMalformed, fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return b, nil
}

// LoadStorageKey reads the storage key file at path (see ParseStorageKey).
func LoadStorageKey(path string) ([]byte, error) {
	b, err := readKeyFile(path, "storage key")
	if err != nil {
		return nil, err
	}
	key, err := ParseStorageKey(b)
	if err != nil {
		return nil, fmt.Errorf("storage key %s: %w; restore it from the key backup, or for a new node run `nrmnet init`", path, err)
	}
	return key, nil
}

// ParseStorageKey parses the contents of a storage key file: 64 hex digits
// (32 bytes), optionally followed by a newline. A key of all zeros is refused.
func ParseStorageKey(b []byte) ([]byte, error) {
	text := bytes.TrimRight(b, "\r\n")
	if len(text) != 2*StorageKeySize {
		return nil, fmt.Errorf("%w: want %d hex digits, found %d bytes", ErrKeyMalformed, 2*StorageKeySize, len(text))
	}
	key := make([]byte, StorageKeySize)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, fmt.Errorf("%w: not hex digits", ErrKeyMalformed)
	}
	if bytes.Equal(key, make([]byte, StorageKeySize)) {
		return nil, fmt.Errorf("%w: the key is all zeros", ErrKeyMalformed)
	}
	return key, nil
}

// LoadAuthorityKey reads the authority key file at path (see ParseAuthorityKey).
func LoadAuthorityKey(path string) (ed25519.PrivateKey, error) {
	b, err := readKeyFile(path, "authority key")
	if err != nil {
		return nil, err
	}
	key, err := ParseAuthorityKey(b)
	if err != nil {
		return nil, fmt.Errorf("authority key %s: %w; restore it from the key backup, or for a new node run `nrmnet init`", path, err)
	}
	return key, nil
}

// ParseAuthorityKey parses the contents of an authority key file: one PEM
// block of type "PRIVATE KEY" holding a PKCS #8 ed25519 key, and nothing
// else but white space.
func ParseAuthorityKey(b []byte) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKeyMalformed)
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: PEM block of type %.40q, want \"PRIVATE KEY\"", ErrKeyMalformed, block.Type)
	}
	if len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: PEM headers are not allowed (an encrypted key is not supported)", ErrKeyMalformed)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrKeyMalformed)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKCS #8 private key", ErrKeyMalformed)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: a %T, want an ed25519 key", ErrKeyMalformed, k)
	}
	return key, nil
}
