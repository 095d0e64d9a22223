package panel

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Key layout. The state lives in one of two slots, 'a' or 'b'; keySlot names
// the active one. Restore fills the inactive slot and switches keySlot in one
// transaction, so a crash mid-restore leaves the old state whole. Within a
// slot, a one-byte table follows the slot byte:
//
//	<slot> 'i'                         applied index, uint64 big-endian
//	<slot> 'c' <case ref>              PanelCase, canonical CBOR
//	<slot> 'r' <command ID>            appliedCommand (result and digest)
//	<slot> 'd' <index BE> <decision>   decisionRef, in log order
//	<slot> 'x' <decision ID>           decisionRef, by ID
//
// The applied index is written in the same transaction as the state it
// describes, so the two never disagree.
const (
	slotA byte = 'a'
	slotB byte = 'b'

	tableApplied         byte = 'i'
	tableCase            byte = 'c'
	tableResult          byte = 'r'
	tableDecisionByIndex byte = 'd'
	tableDecisionByID    byte = 'x'

	stateFormatV1 byte = 1

	// maxRecordSize bounds one stored value; the strict decoder refuses more.
	maxRecordSize = schemas.MaxEnvelopeSize
)

var (
	keyFormat = []byte("F")
	keySlot   = []byte("S")
)

func otherSlot(s byte) byte {
	if s == slotA {
		return slotB
	}
	return slotA
}

// key returns the key of a table entry in the active slot.
func (f *FSM) key(table byte, rest ...byte) []byte {
	return slotKey(f.slot, table, rest...)
}

func slotKey(slot, table byte, rest ...byte) []byte {
	k := make([]byte, 0, 2+len(rest))
	return append(append(k, slot, table), rest...)
}

func decisionIndexKey(index uint64, id v1.ID) []byte {
	return append(binary.BigEndian.AppendUint64(nil, index), id...)
}

// appliedCommand is what the panel remembers of a command by its ID.
type appliedCommand struct {
	Result Result `cbor:"result"`
	Digest []byte `cbor:"digest"` // SHA-256 of the log entry
}

// decisionRef locates a concluded decision.
type decisionRef struct {
	Case     v1.CaseID `cbor:"case"`
	Decision v1.ID     `cbor:"decision"`
	Index    uint64    `cbor:"index"`
}

func getValue(txn *badger.Txn, k []byte) ([]byte, error) {
	item, err := txn.Get(k)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

func readApplied(txn *badger.Txn, slot byte) (uint64, error) {
	v, err := getValue(txn, slotKey(slot, tableApplied))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: applied index is %d bytes", ErrCorruptState, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// loadRecord reads and strictly decodes one stored value; a missing key is
// ErrNotFound.
func loadRecord[T any](txn *badger.Txn, k []byte) (T, error) {
	var v T
	b, err := getValue(txn, k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, err
	}
	if err := schemas.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%w: %w", ErrCorruptState, err)
	}
	return v, nil
}

func (f *FSM) loadCase(txn *badger.Txn, ref v1.CaseID) (*PanelCase, error) {
	pc, err := loadRecord[PanelCase](txn, f.key(tableCase, []byte(ref)...))
	if err != nil {
		return nil, err
	}
	return &pc, nil
}

func (f *FSM) loadResult(txn *badger.Txn, id v1.ID) (appliedCommand, error) {
	return loadRecord[appliedCommand](txn, f.key(tableResult, []byte(id)...))
}
