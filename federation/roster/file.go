package roster

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"nrmnet/schemas"
)

// LoadFile reads and decodes a signed roster file. It does not verify it.
func LoadFile(path string) (*SignedRoster, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSignedRoster(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ReadFile reads a roster file's bytes, refusing a file larger than
// MaxSignedRosterSize without reading all of it.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSignedRosterSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxSignedRosterSize {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, schemas.ErrTooLarge, MaxSignedRosterSize)
	}
	return b, nil
}

// SaveFile writes a signed roster to path atomically (a temporary file in the
// same directory, synced, then renamed), readable by all: a roster is not
// secret.
func SaveFile(path string, s *SignedRoster) error {
	b, err := s.Encode()
	if err != nil {
		return err
	}
	return writeAtomic(path, b, 0o644)
}

func writeAtomic(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
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
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// anchorKeyPrefix starts the text form of an anchor's public key.
const anchorKeyPrefix = "ed25519:"

// FormatAnchorKey returns the text form of an anchor's public key as node
// configuration lists it: "ed25519:" and the key in unpadded base64url.
func FormatAnchorKey(pub ed25519.PublicKey) string {
	return anchorKeyPrefix + base64.RawURLEncoding.EncodeToString(pub)
}

// ParseAnchorKey parses the text form written by FormatAnchorKey.
func ParseAnchorKey(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), anchorKeyPrefix)
	if !ok {
		return nil, fmt.Errorf("anchor key %q does not start with %q", clip(s), anchorKeyPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("anchor key %q: %w", clip(s), err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("anchor key %q is %d bytes, want %d", clip(s), len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// GenerateAnchorKeyFile creates a new anchor key and writes it to path as a
// PKCS #8 PEM file readable by its owner only. It refuses to overwrite a file.
func GenerateAnchorKeyFile(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, werr
	}
	return pub, nil
}

// ReadAnchorKeyFile reads an anchor's private key written by
// GenerateAnchorKeyFile (any PKCS #8 PEM ed25519 key). It refuses a key file
// that others can read.
func ReadAnchorKeyFile(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: permissions %v let others read a private key; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM \"PRIVATE KEY\" file", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New(path + ": not an ed25519 key")
	}
	return priv, nil
}
