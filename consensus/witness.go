package consensus

import (
	"errors"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	v1 "nrmnet/schemas/v1"
)

// WitnessFSM is the state machine of a panel's witness. The witness votes and
// keeps the panel's log, whose commands are sealed with a data key it does
// not hold; it applies nothing it could read. It counts what it has seen, so
// Status shows that it keeps up.
//
// A witness never takes its own snapshots (its log is what it holds). When a
// leader sends it a member's snapshot, raft stores that snapshot (sealed)
// in the witness's snapshot store, where the witness can pass it on to a
// member if it is ever leader; Restore only reads it to the end.
type WitnessFSM struct {
	mu      sync.Mutex
	index   uint64
	entries uint64
}

// NewWitnessFSM returns an empty witness state machine.
func NewWitnessFSM() *WitnessFSM { return &WitnessFSM{} }

// Apply records that a command was committed; it does not read it.
func (w *WitnessFSM) Apply(l *raft.Log) any {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.index = l.Index
	w.entries++
	return nil
}

var errWitnessSnapshot = errors.New("consensus: a witness does not take snapshots")

// Snapshot always fails: the witness keeps its log instead.
func (w *WitnessFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errWitnessSnapshot }

// Restore reads a member's sealed snapshot to the end without opening it.
func (w *WitnessFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	_, err := io.Copy(io.Discard, rc)
	return err
}

// CommandApplied is not something a witness can know: command IDs are
// inside the sealed payloads.
func (w *WitnessFSM) CommandApplied(v1.ID) (uint64, bool, error) { return 0, false, ErrWitness }

// AppliedIndex returns the index of the last command applied.
func (w *WitnessFSM) AppliedIndex() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.index
}

// Seen returns the index of the last entry applied and how many command
// entries the witness has applied since it started (a restart replays its
// log, so the count starts again).
func (w *WitnessFSM) Seen() (index, entries uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.index, w.entries
}
