package panel

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"

	"nrmnet/schemas"
)

// Snapshot format: a magic string and a version byte; then every key of the
// active slot (without the slot byte) in key order, each as uvarint length,
// key, uvarint length, value; then a zero length; then the SHA-256 of all
// that. The order and the canonical values make the bytes a function of the
// state alone, so two members with the same state write the same snapshot.
// (Raft's snapshot store encrypts and authenticates the file around it; the
// checksum here catches a bug or a truncation before any state is replaced.)
const (
	snapshotMagic   = "nrmnet-panel-state"
	snapshotVersion = 1
	maxSnapshotKey  = 256
)

// Snapshot implements raft.FSM. It pins a read transaction, so Persist
// writes exactly the state as of the last applied entry while Apply goes on.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return nil, ErrClosed
	}
	if err := f.Failed(); err != nil {
		return nil, err
	}
	return &stateSnapshot{f: f, txn: f.db.NewTransaction(false), slot: f.slot, generation: f.generation}, nil
}

type stateSnapshot struct {
	f          *FSM
	txn        *badger.Txn
	slot       byte
	generation uint64 // FSM.generation when the snapshot was taken
}

// Persist implements raft.FSMSnapshot.
func (s *stateSnapshot) Persist(sink raft.SnapshotSink) error {
	s.f.mu.RLock()
	defer s.f.mu.RUnlock()
	var err error
	switch {
	case s.f.closed:
		err = ErrClosed
	case s.f.generation != s.generation:
		// A Restore since Snapshot dropped the slot this transaction reads.
		err = errors.New("the state was restored from another snapshot since this one was taken")
	default:
		err = writeSnapshot(s.txn, s.slot, sink)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("panel: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *stateSnapshot) Release() {
	s.f.mu.RLock()
	defer s.f.mu.RUnlock()
	if !s.f.closed {
		s.txn.Discard()
	}
}

func writeSnapshot(txn *badger.Txn, slot byte, w io.Writer) error {
	sw := newSnapshotWriter(w)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{slot}, PrefetchValues: true})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		sw.entry(item.Key()[1:], v)
	}
	return sw.finish()
}

// snapshotWriter writes the snapshot format: newSnapshotWriter writes the
// header, entry one key and value, finish the terminator and checksum.
type snapshotWriter struct {
	w  io.Writer
	h  hash.Hash
	bw *bufio.Writer
}

func newSnapshotWriter(w io.Writer) *snapshotWriter {
	h := sha256.New()
	sw := &snapshotWriter{w: w, h: h, bw: bufio.NewWriter(io.MultiWriter(w, h))}
	sw.bw.WriteString(snapshotMagic)
	sw.bw.WriteByte(snapshotVersion)
	return sw
}

// entry writes one entry; errors surface in finish (bufio keeps the first).
func (sw *snapshotWriter) entry(k, v []byte) {
	sw.bw.Write(binary.AppendUvarint(nil, uint64(len(k))))
	sw.bw.Write(k)
	sw.bw.Write(binary.AppendUvarint(nil, uint64(len(v))))
	sw.bw.Write(v)
}

func (sw *snapshotWriter) finish() error {
	sw.bw.WriteByte(0)
	if err := sw.bw.Flush(); err != nil {
		return err
	}
	_, err := sw.w.Write(sw.h.Sum(nil))
	return err
}

// Restore implements raft.FSM: it replaces the whole state with the
// snapshot's. The snapshot is written into the inactive slot and checked in
// full (checksum, key order, every value decodes) before the active slot is
// switched, so a bad or interrupted restore leaves the old state in place.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	next := otherSlot(f.slot)
	if err := f.db.DropPrefix([]byte{next}); err != nil {
		return fmt.Errorf("panel: restore: clear slot: %w", err)
	}
	wb := f.db.NewWriteBatch()
	applied, err := readSnapshot(rc, func(k, v []byte) error {
		return wb.Set(append([]byte{next}, k...), v)
	})
	if err == nil {
		err = wb.Flush()
	} else {
		wb.Cancel()
	}
	if err == nil {
		err = f.db.Update(func(txn *badger.Txn) error { return txn.Set(keySlot, []byte{next}) })
	}
	if err != nil {
		if derr := f.db.DropPrefix([]byte{next}); derr != nil {
			f.log.Error("panel restore: could not clear the unused slot", "err", derr)
		}
		return fmt.Errorf("panel: restore: %w", err)
	}
	old := f.slot
	f.slot = next
	f.generation++
	f.applied.Store(applied)
	if err := f.db.DropPrefix([]byte{old}); err != nil {
		f.log.Warn("panel restore: old state not yet removed; it is removed on next open", "err", err)
	}
	f.log.Info("panel state restored from snapshot", "applied_index", applied)
	return nil
}

// hashingReader hashes every byte read through it.
type hashingReader struct {
	r *bufio.Reader
	h hash.Hash
}

func (r *hashingReader) ReadByte() (byte, error) {
	b, err := r.r.ReadByte()
	if err == nil {
		r.h.Write([]byte{b})
	}
	return b, err
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	return n, err
}

// readSnapshot checks a snapshot stream and hands each entry to put. It
// returns the applied index the snapshot holds. Every error wraps
// ErrCorruptState (or is put's).
func readSnapshot(r io.Reader, put func(k, v []byte) error) (uint64, error) {
	hr := &hashingReader{r: bufio.NewReader(r), h: sha256.New()}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: snapshot: %s", ErrCorruptState, fmt.Sprintf(format, args...))
	}
	head := make([]byte, len(snapshotMagic)+1)
	if _, err := io.ReadFull(hr, head); err != nil || string(head[:len(snapshotMagic)]) != snapshotMagic {
		return 0, corrupt("not a panel state snapshot")
	}
	if head[len(snapshotMagic)] != snapshotVersion {
		return 0, corrupt("version %d, this node reads %d", head[len(snapshotMagic)], snapshotVersion)
	}
	var (
		prev    []byte
		applied uint64
		seen    bool
		entries int
	)
	for {
		klen, err := binary.ReadUvarint(hr)
		if err != nil {
			return 0, corrupt("entry %d: key length: %v", entries, err)
		}
		if klen == 0 {
			break
		}
		if klen > maxSnapshotKey {
			return 0, corrupt("entry %d: key of %d bytes", entries, klen)
		}
		k := make([]byte, klen)
		if _, err := io.ReadFull(hr, k); err != nil {
			return 0, corrupt("entry %d: key: %v", entries, err)
		}
		vlen, err := binary.ReadUvarint(hr)
		if err != nil || vlen > maxRecordSize {
			return 0, corrupt("entry %d: value length %d: %v", entries, vlen, err)
		}
		v := make([]byte, vlen)
		if _, err := io.ReadFull(hr, v); err != nil {
			return 0, corrupt("entry %d: value: %v", entries, err)
		}
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return 0, corrupt("entry %d: keys out of order", entries)
		}
		prev = k
		if err := checkEntry(k, v); err != nil {
			return 0, corrupt("entry %d: %v", entries, err)
		}
		if k[0] == tableApplied {
			applied, seen = binary.BigEndian.Uint64(v), true
		}
		if err := put(k, v); err != nil {
			return 0, err
		}
		entries++
	}
	sum := hr.h.Sum(nil)
	trailer := make([]byte, sha256.Size)
	if _, err := io.ReadFull(hr.r, trailer); err != nil {
		return 0, corrupt("checksum: %v", err)
	}
	if !bytes.Equal(sum, trailer) {
		return 0, corrupt("checksum does not match")
	}
	if _, err := hr.r.ReadByte(); !errors.Is(err, io.EOF) {
		return 0, corrupt("bytes after the checksum")
	}
	if !seen {
		return 0, corrupt("no applied index")
	}
	return applied, nil
}

// checkEntry checks that one snapshot entry is a key of a known table and a
// value that decodes as that table's record and matches its key.
func checkEntry(k, v []byte) error {
	rest := k[1:]
	switch k[0] {
	case tableApplied:
		if len(rest) != 0 || len(v) != 8 {
			return errors.New("malformed applied index")
		}
	case tableCase:
		var pc PanelCase
		if err := schemas.Unmarshal(v, &pc); err != nil {
			return fmt.Errorf("case: %w", err)
		}
		if string(pc.Case) != string(rest) || !pc.Case.Valid() {
			return errors.New("case record does not match its key")
		}
	case tableResult:
		var rec appliedCommand
		if err := schemas.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("result: %w", err)
		}
		if string(rec.Result.Command) != string(rest) || !rec.Result.Command.Valid() || len(rec.Digest) != sha256.Size {
			return errors.New("result record does not match its key")
		}
	case tableDecisionByIndex, tableDecisionByID:
		var ref decisionRef
		if err := schemas.Unmarshal(v, &ref); err != nil {
			return fmt.Errorf("decision reference: %w", err)
		}
		want := []byte(ref.Decision)
		if k[0] == tableDecisionByIndex {
			want = decisionIndexKey(ref.Index, ref.Decision)
		}
		if !bytes.Equal(rest, want) || !ref.Decision.Valid() || !ref.Case.Valid() {
			return errors.New("decision reference does not match its key")
		}
	default:
		return fmt.Errorf("unknown table %q", k[0])
	}
	return nil
}
