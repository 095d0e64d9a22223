package storage

import (
	"crypto/ed25519"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/storage/auditlog"
)

// witness is what the store needs of auditlog.Witness.
type witness interface {
	Latest() (auditlog.Checkpoint, bool)
	Record(signed []byte) error
	Check(l *auditlog.Log, txn *badger.Txn) error
	Rebase(signed []byte, reason string) error
	Close() error
}

func openWitness(path, origin string, pub ed25519.PublicKey) (witness, error) {
	w, err := auditlog.OpenWitness(path, origin, pub)
	if err != nil {
		return nil, err
	}
	return w, nil
}
