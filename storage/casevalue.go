package storage

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// A stored case value is
//
//	0x01 | nonce (12 bytes) | AES-256-GCM ciphertext of the case envelope and tag
//
// under the child's data key, with additional data "nrmnet/case/1" 0x00 and
// the case ID, so that a value moved under another case's key does not open.
const (
	caseValueFormat   = 0x01
	caseNonceSize     = 12
	caseValueOverhead = 1 + caseNonceSize + 16
	// maxCaseValue keeps every case value below Badger's value threshold, so
	// that it lives in the LSM tree (see DESIGN.md).
	maxCaseValue = maxValueThreshold - 1
)

var caseAADPrefix = []byte("nrmnet/case/1\x00")

func caseAAD(id v1.CaseID) []byte { return cat(caseAADPrefix, []byte(id)) }

func newCaseAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealCase encrypts a case envelope under a child's data key.
func sealCase(key []byte, id v1.CaseID, envelope []byte) ([]byte, error) {
	if len(envelope)+caseValueOverhead > maxCaseValue {
		return nil, fmt.Errorf("case %s: %w: %d bytes encoded, limit %d", id, ErrTooLarge, len(envelope), maxCaseValue-caseValueOverhead)
	}
	aead, err := newCaseAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	out := make([]byte, 1+caseNonceSize, caseValueOverhead+len(envelope))
	out[0] = caseValueFormat
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return aead.Seal(out, out[1:1+caseNonceSize], envelope, caseAAD(id)), nil
}

// openCaseValue decrypts a stored case value and decodes the case in it,
// checking that it is the case asked for. It is the only decoder of stored
// case values (FuzzCaseValue).
func openCaseValue(key []byte, id v1.CaseID, value []byte) (*v1.Case, error) {
	if len(value) < caseValueOverhead {
		return nil, fmt.Errorf("case %s: stored value: %w: %d bytes is too short", id, schemas.ErrMalformed, len(value))
	}
	if value[0] != caseValueFormat {
		return nil, fmt.Errorf("case %s: stored value: %w: unknown format %d", id, schemas.ErrMalformed, value[0])
	}
	aead, err := newCaseAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", id, err)
	}
	plain, err := aead.Open(nil, value[1:1+caseNonceSize], value[1+caseNonceSize:], caseAAD(id))
	if err != nil {
		return nil, fmt.Errorf("case %s: stored value does not authenticate under the child's data key: %w", id, schemas.ErrMalformed)
	}
	c, err := v1.UnmarshalCase(plain)
	if err != nil {
		return nil, fmt.Errorf("case %s: stored value: %w", id, err)
	}
	if c.ID != id {
		return nil, fmt.Errorf("case %s: stored value: %w: it holds another case", id, schemas.ErrMalformed)
	}
	return c, nil
}
