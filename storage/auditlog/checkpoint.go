package auditlog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxSignedCheckpoint is the longest signed checkpoint Open and the witness
// accept, in bytes: the three lines of text and a few signatures.
const MaxSignedCheckpoint = 8 << 10

// algEd25519 is the signature algorithm byte note puts before an Ed25519
// public key when it hashes or encodes it.
const algEd25519 = 1

// formatCheckpoint returns the C2SP tlog-checkpoint body of cp:
// origin, size in decimal, base64 root hash, each line ending in a newline.
func formatCheckpoint(cp Checkpoint) string {
	return cp.Origin + "\n" + strconv.FormatInt(cp.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(cp.Root[:]) + "\n"
}

// parseCheckpoint parses a checkpoint body written by formatCheckpoint. It is
// strict: exactly three lines, the size in canonical decimal, the root in
// canonical padded base64 of 32 bytes. (C2SP allows extension lines after the
// root; this log writes none and accepts none.)
func parseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint: %d lines, want 3 each ending in a newline", len(lines)-1)
	}
	origin, sizeText, rootText := lines[0], lines[1], lines[2]
	if !validName(origin) {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint: invalid origin %q", origin)
	}
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint: size %q is not a canonical non-negative decimal", sizeText)
	}
	root, err := base64.StdEncoding.Strict().DecodeString(rootText)
	if err != nil || len(root) != tlog.HashSize || base64.StdEncoding.EncodeToString(root) != rootText {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint: root %q is not the base64 of a %d-byte hash", rootText, tlog.HashSize)
	}
	cp := Checkpoint{Origin: origin, Size: size}
	copy(cp.Root[:], root)
	return cp, nil
}

// validName reports whether name can be a note key name and a checkpoint
// origin: non-empty UTF-8 without spaces, control characters or '+'.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && !strings.ContainsRune(name, '+') &&
		strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// keyHash is note's key hash for an Ed25519 key: the first four bytes of
// SHA-256(name || "\n" || 0x01 || pub), big-endian, so that keys made with
// note.NewEd25519VerifierKey match.
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte{algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// ed25519Signer is a note.Signer over a raw Ed25519 private key.
type ed25519Signer struct {
	name string
	hash uint32
	key  ed25519.PrivateKey
}

func (s *ed25519Signer) Name() string                    { return s.name }
func (s *ed25519Signer) KeyHash() uint32                 { return s.hash }
func (s *ed25519Signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

// ed25519Verifier is a note.Verifier over a raw Ed25519 public key.
type ed25519Verifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func (v *ed25519Verifier) Name() string                { return v.name }
func (v *ed25519Verifier) KeyHash() uint32             { return v.hash }
func (v *ed25519Verifier) Verify(msg, sig []byte) bool { return ed25519.Verify(v.pub, msg, sig) }

// NewNoteSigner returns a note.Signer that signs with key under the key name
// name (for checkpoints, the log's origin). Its key hash is the one note
// computes for Ed25519 keys.
func NewNoteSigner(name string, key ed25519.PrivateKey) (note.Signer, error) {
	if !validName(name) {
		return nil, fmt.Errorf("auditlog: invalid key name %q", name)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("auditlog: ed25519 private key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub := key.Public().(ed25519.PublicKey)
	return &ed25519Signer{name: name, hash: keyHash(name, pub), key: key}, nil
}

// NewNoteVerifier returns a note.Verifier for pub under the key name name. It
// accepts what note.NewVerifier accepts for the key
// note.NewEd25519VerifierKey(name, pub).
func NewNoteVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	if !validName(name) {
		return nil, fmt.Errorf("auditlog: invalid key name %q", name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("auditlog: ed25519 public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	return &ed25519Verifier{name: name, hash: keyHash(name, pub), pub: pub}, nil
}

// Sign returns cp as a signed note (C2SP checkpoint text body: origin, size,
// base64 root) signed by key under the signer name origin.
func Sign(cp Checkpoint, key ed25519.PrivateKey) ([]byte, error) {
	if cp.Size < 0 {
		return nil, fmt.Errorf("auditlog: sign checkpoint: %w: size %d", ErrOutOfRange, cp.Size)
	}
	s, err := NewNoteSigner(cp.Origin, key)
	if err != nil {
		return nil, fmt.Errorf("auditlog: sign checkpoint: %w", err)
	}
	signed, err := note.Sign(&note.Note{Text: formatCheckpoint(cp)}, s)
	if err != nil {
		return nil, fmt.Errorf("auditlog: sign checkpoint: %w", err)
	}
	return signed, nil
}

// Open verifies a signed checkpoint against pub and parses it. A note without
// a valid signature by pub under the key name origin, or whose text names
// another origin, is ErrBadSignature; a note or checkpoint text that does not
// parse is a plain error. Signatures by other keys (cosigners) are ignored.
func Open(signed []byte, origin string, pub ed25519.PublicKey) (Checkpoint, error) {
	cp, err := openCheckpoint(signed, origin, pub)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("auditlog: open checkpoint: %w", err)
	}
	return cp, nil
}

// openCheckpoint is Open without the error context.
func openCheckpoint(signed []byte, origin string, pub ed25519.PublicKey) (Checkpoint, error) {
	if len(signed) > MaxSignedCheckpoint {
		return Checkpoint{}, fmt.Errorf("signed checkpoint of %d bytes, longer than %d", len(signed), MaxSignedCheckpoint)
	}
	v, err := NewNoteVerifier(origin, pub)
	if err != nil {
		return Checkpoint{}, err
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return Checkpoint{}, fmt.Errorf("%w: no signature by key %s+%08x", ErrBadSignature, origin, v.KeyHash())
		case errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
		default:
			return Checkpoint{}, fmt.Errorf("signed checkpoint: %w", err)
		}
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if cp.Origin != origin {
		return Checkpoint{}, fmt.Errorf("%w: origin %q, want %q", ErrBadSignature, cp.Origin, origin)
	}
	return cp, nil
}
