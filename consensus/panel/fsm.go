package panel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// ConcludedDecision is what the observer receives: a decision the panel
// concluded, and the log index it was concluded at. The lead authority's node
// updates its case from it; every other member ignores it.
type ConcludedDecision struct {
	Index  uint64
	Record v1.PanelDecision
}

// DecisionChange is what ChangeObserver receives: an accepted command that
// requested the reconsideration of a concluded decision or recorded its
// assurance, and the decision as it stands after the command. The lead
// authority's node moves its case to match; every other member ignores it.
type DecisionChange struct {
	Index    uint64 // the log index of the command
	Command  v1.ID
	Op       Op // OpReconsider or OpRecordAssurance
	Decision Decision
}

// FSM is a panel's state machine: a raft.FSM whose state lives in Badger.
//
// Raft calls Apply, Snapshot and Restore from one goroutine; the query
// methods may be called from any goroutine. Close it after raft has shut down.
type FSM struct {
	cfg Config
	log *slog.Logger
	db  *badger.DB

	// mu is held shared by Apply, Persist and queries, and exclusively by
	// Restore (while it switches the active slot) and Close.
	mu     sync.RWMutex
	slot   byte // the active key slot, see store.go
	closed bool
	// generation counts restores, so a snapshot pinned before one knows its
	// slot is gone.
	generation uint64

	applied atomic.Uint64
	failed  atomic.Pointer[error]
}

var _ raft.FSM = (*FSM)(nil)

// Open opens (or creates) the panel's state and returns its state machine.
// The applied index is read back, so entries raft replays on restart that
// are already in the state are not applied twice.
func Open(cfg Config) (*FSM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("panel", string(cfg.Panel))
	opts := badger.DefaultOptions(cfg.Dir).
		WithInMemory(cfg.InMemory).
		WithSyncWrites(cfg.SyncWrites && !cfg.InMemory).
		WithMemTableSize(cfg.MemTableSize).
		WithBlockCacheSize(cfg.BlockCacheSize).
		WithIndexCacheSize(cfg.IndexCacheSize).
		WithNumVersionsToKeep(1).
		WithLogger(nil)
	if cfg.InMemory {
		opts.Dir, opts.ValueDir = "", ""
	} else if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("panel: create state directory: %w", err)
	}
	if !cfg.Plaintext {
		opts = opts.WithEncryptionKey(cfg.EncryptionKey)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("panel: open state: %w", err)
	}
	f := &FSM{cfg: cfg, log: logger, db: db}
	if err := f.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	logger.Info("panel state opened", "applied_index", f.applied.Load())
	return f, nil
}

// load reads the format marker, the active slot and the applied index, and
// removes what an interrupted Restore left in the inactive slot.
func (f *FSM) load() error {
	f.slot = slotA
	err := f.db.Update(func(txn *badger.Txn) error {
		switch v, err := getValue(txn, keyFormat); {
		case errors.Is(err, badger.ErrKeyNotFound):
			if err := txn.Set(keyFormat, []byte{stateFormatV1}); err != nil {
				return err
			}
		case err != nil:
			return err
		case !bytes.Equal(v, []byte{stateFormatV1}):
			return fmt.Errorf("%w: state format %x, this node reads %x", ErrCorruptState, v, stateFormatV1)
		}
		switch v, err := getValue(txn, keySlot); {
		case errors.Is(err, badger.ErrKeyNotFound):
		case err != nil:
			return err
		case len(v) == 1 && (v[0] == slotA || v[0] == slotB):
			f.slot = v[0]
		default:
			return fmt.Errorf("%w: active slot %x", ErrCorruptState, v)
		}
		applied, err := readApplied(txn, f.slot)
		f.applied.Store(applied)
		return err
	})
	if err != nil {
		return fmt.Errorf("panel: load state: %w", err)
	}
	if err := f.db.DropPrefix([]byte{otherSlot(f.slot)}); err != nil {
		return fmt.Errorf("panel: clear inactive slot: %w", err)
	}
	return nil
}

// Apply implements raft.FSM. It returns a Result (never nil for a command):
// accepted, or rejected with a stable code. A rejection is a normal outcome
// that every member reaches alike; it does not stop the state machine.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	res, concluded, changed := f.apply(l.Index, l.Data)
	if res.Code == CodeAccepted || res.Duplicate {
		f.log.Debug("panel command applied", "index", l.Index, "command", string(res.Command), "op", string(res.Op), "code", string(res.Code), "duplicate", res.Duplicate)
	} else {
		f.log.Info("panel command rejected", "index", l.Index, "command", string(res.Command), "op", string(res.Op), "code", string(res.Code))
	}
	if concluded != nil && f.cfg.Observer != nil {
		f.cfg.Observer(*concluded)
	}
	if changed != nil && f.cfg.ChangeObserver != nil {
		f.cfg.ChangeObserver(*changed)
	}
	return res
}

func (f *FSM) apply(index uint64, data []byte) (Result, *ConcludedDecision, *DecisionChange) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return Result{Index: index, Code: codeFailed, Message: ErrClosed.Error()}, nil, nil
	}
	if p := f.failed.Load(); p != nil {
		return Result{Index: index, Code: codeFailed, Message: (*p).Error()}, nil, nil
	}
	digest := sha256.Sum256(data)
	cmd, decodeErr := Decode(data)
	if index <= f.applied.Load() {
		// Raft replays entries after the last snapshot on restart; these are
		// already in the state. Answer from what was stored.
		if decodeErr != nil {
			return Result{Index: index, Code: CodeMalformed, Message: clipErr(decodeErr)}, nil, nil
		}
		var res Result
		err := f.db.View(func(txn *badger.Txn) error {
			var err error
			res, err = f.priorResult(txn, &cmd, digest[:], index)
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("%w: entry %d is within the applied index %d but command %s is not in the state",
					ErrCorruptState, index, f.applied.Load(), cmd.ID)
			}
			return err
		})
		if err != nil {
			return f.fail(index, err), nil, nil
		}
		return res, nil, nil
	}

	txn := f.db.NewTransaction(true)
	defer txn.Discard()
	res, concluded, changed, err := f.applyIn(txn, index, &cmd, decodeErr, digest[:])
	if err == nil {
		err = txn.Set(f.key(tableApplied), binary.BigEndian.AppendUint64(nil, index))
	}
	if err == nil {
		err = txn.Commit()
	}
	if err != nil {
		return f.fail(index, err), nil, nil
	}
	f.applied.Store(index)
	return res, concluded, changed
}

// applyIn decides one command and stages its writes in txn.
func (f *FSM) applyIn(txn *badger.Txn, index uint64, cmd *Command, decodeErr error, digest []byte) (Result, *ConcludedDecision, *DecisionChange, error) {
	if decodeErr != nil {
		// Nothing to remember it by; only the applied index moves.
		return Result{Index: index, Code: CodeMalformed, Message: clipErr(decodeErr)}, nil, nil, nil
	}
	switch prior, err := f.priorResult(txn, cmd, digest, index); {
	case err == nil:
		return prior, nil, nil, nil
	case !errors.Is(err, ErrNotFound):
		return Result{}, nil, nil, err
	}
	pc, err := f.loadCase(txn, cmd.Case)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Result{}, nil, nil, err
	}
	v := process(f.cfg.Panel, pc, cmd, index)
	var concluded *ConcludedDecision
	if v.next != nil {
		b, err := schemas.Marshal(v.next)
		if err != nil {
			return Result{}, nil, nil, err
		}
		if len(b) > maxRecordSize {
			v.result = reject(CodeLimitReached, "the case record would grow to %d bytes, limit %d", len(b), maxRecordSize)
			v.result.Command, v.result.Op, v.result.Index = cmd.ID, cmd.Op, index
			v.concluded, v.changed = nil, nil
		} else if err := txn.Set(f.key(tableCase, []byte(cmd.Case)...), b); err != nil {
			return Result{}, nil, nil, err
		}
	}
	if d := v.concluded; d != nil {
		ref, err := schemas.Marshal(decisionRef{Case: cmd.Case, Decision: d.Record.ID, Index: index})
		if err != nil {
			return Result{}, nil, nil, err
		}
		if err := txn.Set(f.key(tableDecisionByIndex, decisionIndexKey(index, d.Record.ID)...), ref); err != nil {
			return Result{}, nil, nil, err
		}
		if err := txn.Set(f.key(tableDecisionByID, []byte(d.Record.ID)...), ref); err != nil {
			return Result{}, nil, nil, err
		}
		concluded = &ConcludedDecision{Index: index, Record: d.Record}
	}
	rec, err := schemas.Marshal(appliedCommand{Result: v.result, Digest: digest})
	if err != nil {
		return Result{}, nil, nil, err
	}
	if err := txn.Set(f.key(tableResult, []byte(cmd.ID)...), rec); err != nil {
		return Result{}, nil, nil, err
	}
	var changed *DecisionChange
	if d := v.changed; d != nil {
		changed = &DecisionChange{Index: index, Command: cmd.ID, Op: cmd.Op, Decision: *d}
	}
	return v.result, concluded, changed, nil
}

// priorResult answers a command whose ID was applied before: the first
// result if it is the same command, a rejection if the ID was reused for
// another. ErrNotFound means the ID is new.
func (f *FSM) priorResult(txn *badger.Txn, cmd *Command, digest []byte, index uint64) (Result, error) {
	rec, err := f.loadResult(txn, cmd.ID)
	if err != nil {
		return Result{}, err
	}
	if !bytes.Equal(rec.Digest, digest) {
		return Result{Command: cmd.ID, Op: cmd.Op, Index: index, Code: CodeIDReused,
			Message: fmt.Sprintf("command ID %s was applied at index %d to a different command", cmd.ID, rec.Result.Index)}, nil
	}
	r := rec.Result
	r.Duplicate = r.Index != index
	return r, nil
}

// fail makes a persistence failure sticky: nothing more is applied, so this
// member cannot silently diverge. Reopening resumes from the last durable
// applied index.
func (f *FSM) fail(index uint64, err error) Result {
	err = fmt.Errorf("apply index %d: %w", index, err)
	if f.failed.CompareAndSwap(nil, &err) {
		f.log.Error("panel state could not be written; applying stopped until restart", "index", index, "err", err)
	}
	return Result{Index: index, Code: codeFailed, Message: err.Error()}
}

// Failed returns nil, or an error wrapping ErrFailed once the state machine
// has stopped applying because it could not persist.
func (f *FSM) Failed() error {
	if p := f.failed.Load(); p != nil {
		return fmt.Errorf("%w: %w", ErrFailed, *p)
	}
	return nil
}

// AppliedIndex returns the index of the last log entry in the state.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Close closes the state. Call it after raft has shut down. It is idempotent.
func (f *FSM) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("panel: close state: %w", err)
	}
	return nil
}

// view runs fn in a read transaction on the active slot.
func (f *FSM) view(fn func(txn *badger.Txn) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	return f.db.View(fn)
}

// Case returns everything the panel holds about a case: its standing on RG
// and CG, meetings and attendance, the child's views, proposals with who
// voted how, and decisions with their reasons and assurance.
func (f *FSM) Case(ref v1.CaseID) (PanelCase, error) {
	var pc *PanelCase
	err := f.view(func(txn *badger.Txn) error {
		var err error
		pc, err = f.loadCase(txn, ref)
		return err
	})
	if err != nil {
		return PanelCase{}, fmt.Errorf("panel: case %s: %w", clip(string(ref)), err)
	}
	return *pc, nil
}

// Cases lists the references of every case on the panel, in order.
func (f *FSM) Cases() ([]v1.CaseID, error) {
	var out []v1.CaseID
	err := f.view(func(txn *badger.Txn) error {
		prefix := f.key(tableCase)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out = append(out, v1.CaseID(it.Item().Key()[len(prefix):]))
		}
		return nil
	})
	return out, err
}

// Decision returns a concluded decision: outcome per stage, votes,
// attendance, reasons, the child's views, and its assurance.
func (f *FSM) Decision(id v1.ID) (Decision, error) {
	var d Decision
	err := f.view(func(txn *badger.Txn) error {
		ref, err := loadRecord[decisionRef](txn, f.key(tableDecisionByID, []byte(id)...))
		if err != nil {
			return err
		}
		pc, err := f.loadCase(txn, ref.Case)
		if err != nil {
			return err
		}
		got, ok := pc.Decision(id)
		if !ok {
			return fmt.Errorf("%w: decision %s is indexed but not on case %s", ErrCorruptState, id, ref.Case)
		}
		d = got
		return nil
	})
	if err != nil {
		return Decision{}, fmt.Errorf("panel: decision %s: %w", clip(string(id)), err)
	}
	return d, nil
}

// DecisionsSince returns every decision concluded after log index since, in
// log order. The node calls it on start and after a snapshot is restored to
// catch up with decisions the observer did not see.
func (f *FSM) DecisionsSince(since uint64) ([]ConcludedDecision, error) {
	var refs []decisionRef
	var out []ConcludedDecision
	err := f.view(func(txn *badger.Txn) error {
		prefix := f.key(tableDecisionByIndex)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(f.key(tableDecisionByIndex, binary.BigEndian.AppendUint64(nil, since+1)...)); it.Valid(); it.Next() {
			ref, err := loadRecord[decisionRef](txn, it.Item().KeyCopy(nil))
			if err != nil {
				return err
			}
			refs = append(refs, ref)
		}
		cases := map[v1.CaseID]*PanelCase{}
		for _, ref := range refs {
			pc, ok := cases[ref.Case]
			if !ok {
				var err error
				if pc, err = f.loadCase(txn, ref.Case); err != nil {
					return err
				}
				cases[ref.Case] = pc
			}
			d, ok := pc.Decision(ref.Decision)
			if !ok {
				return fmt.Errorf("%w: decision %s is indexed but not on case %s", ErrCorruptState, ref.Decision, ref.Case)
			}
			out = append(out, ConcludedDecision{Index: d.Index, Record: d.Record})
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	return out, err
}

// CommandResult reports whether the command with this ID was applied and
// with what result. It returns ErrNotFound for an ID the panel has never
// applied: after a timeout or lost leadership, a client that gets ErrNotFound
// from a current (linearizable) read knows the command did not commit and may
// retry it under the same ID. Malformed entries carry no ID and are not
// remembered.
func (f *FSM) CommandResult(id v1.ID) (Result, error) {
	var rec appliedCommand
	err := f.view(func(txn *badger.Txn) error {
		var err error
		rec, err = f.loadResult(txn, id)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("panel: command %s: %w", clip(string(id)), err)
	}
	return rec.Result, nil
}
