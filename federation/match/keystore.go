package match

import (
	"sync"
	"time"

	v1 "nrmnet/schemas/v1"
)

// AlertKey is an alert's OPRF private key as the issuer stores it. Secret is
// the key's binary encoding (32 bytes); it never leaves the issuing node.
type AlertKey struct {
	Secret    []byte
	ExpiresAt time.Time
}

// KeyStore keeps each alert's OPRF key on the issuing node, so that the
// issuer keeps answering queries after a restart. The node backs it with its
// encrypted store. MatchKey returns an error wrapping ErrUnknownAlert when it
// holds no key for the alert; DeleteMatchKey of an absent key is not an
// error.
type KeyStore interface {
	PutMatchKey(alert v1.ID, k AlertKey) error
	MatchKey(alert v1.ID) (AlertKey, error)
	DeleteMatchKey(alert v1.ID) error
}

// MemoryKeyStore is a KeyStore in memory, for tests and for a node that
// accepts losing its alerts' keys on restart. It is safe for concurrent use.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys map[v1.ID]AlertKey
}

// NewMemoryKeyStore returns an empty MemoryKeyStore.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{keys: map[v1.ID]AlertKey{}}
}

// PutMatchKey stores a copy of k for alert.
func (m *MemoryKeyStore) PutMatchKey(alert v1.ID, k AlertKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[alert] = AlertKey{Secret: append([]byte(nil), k.Secret...), ExpiresAt: k.ExpiresAt}
	return nil
}

// MatchKey returns a copy of alert's key, or ErrUnknownAlert.
func (m *MemoryKeyStore) MatchKey(alert v1.ID) (AlertKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[alert]
	if !ok {
		return AlertKey{}, ErrUnknownAlert
	}
	return AlertKey{Secret: append([]byte(nil), k.Secret...), ExpiresAt: k.ExpiresAt}, nil
}

// DeleteMatchKey forgets alert's key, overwriting its bytes.
func (m *MemoryKeyStore) DeleteMatchKey(alert v1.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[alert]; ok {
		clear(k.Secret)
		delete(m.keys, alert)
	}
	return nil
}
