package auditlog_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/storage/auditlog"
)

// Example appends two entries, signs a checkpoint, witnesses it, and proves
// an entry against it, as a node and a peer would.
func Example() {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	pub, key, err := ed25519.GenerateKey(nil) // the authority key
	if err != nil {
		log.Fatal(err)
	}
	const origin = "nrmnet/audit/ISL"
	audit := auditlog.New(origin, []byte("audit/"))

	// The node: each entry is appended in the transaction that makes the
	// change it records; then it signs a checkpoint of the log.
	var signed []byte
	err = db.Update(func(txn *badger.Txn) error {
		for _, e := range []string{"referral received", "reasonable grounds decision"} {
			if _, err := audit.Append(txn, []byte(e)); err != nil {
				return err
			}
		}
		cp, err := audit.Checkpoint(txn)
		if err != nil {
			return err
		}
		signed, err = auditlog.Sign(cp, key)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(signed[:bytes.Index(signed, []byte("\n\n"))+1]))

	// The node keeps a witness file beside its keys and checks the log
	// against it when it opens its store.
	dir, err := os.MkdirTemp("", "auditlog-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, err := auditlog.OpenWitness(filepath.Join(dir, "audit.witness"), origin, pub)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	if err := w.Record(signed); err != nil {
		log.Fatal(err)
	}

	// A peer holding the signed checkpoint asks for a proof of entry 1.
	cp, err := auditlog.Open(signed, origin, pub)
	if err != nil {
		log.Fatal(err)
	}
	err = db.View(func(txn *badger.Txn) error {
		if err := w.Check(audit, txn); err != nil {
			return err
		}
		p, err := audit.ProveInclusion(txn, 1, cp.Size)
		if err != nil {
			return err
		}
		return auditlog.CheckInclusion(p, cp, 1, []byte("reasonable grounds decision"))
	})
	fmt.Println("entry 1 proved:", err == nil)
	// Output:
	// nrmnet/audit/ISL
	// 2
	// 4mJK2KkmSvd2qI7fGyJ0cIZ5wfqDoPBv+nKahAC6T0Y=
	// entry 1 proved: true
}
