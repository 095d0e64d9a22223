package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Checkpoint conflict evidence: when gossip finds that a member's audit log
// no longer extends the checkpoint this node verified, the node keeps what
// shows it: the member's signed heartbeat that carried the verified
// checkpoint and the signed heartbeat that contradicts it. Each is signed
// with the member's own authority key, so anyone holding the roster can
// check that the member published both. Records hold sizes, hashes and
// heartbeats (no personal data), at most MaxConflictEvidence per member.
var prefixConflict = []byte("v/") // v/<authority>/<unix ns, 8 bytes big-endian> -> conflictRecord

// MaxConflictEvidence is how many conflicts are kept per member; the
// oldest goes first.
const MaxConflictEvidence = 16

// ConflictEvidence is one checkpoint conflict as recorded.
type ConflictEvidence struct {
	Authority v1.AuthorityCode
	At        time.Time
	Reason    string
	Detail    string
	// PreviousSize and GotSize are the checkpoint sizes: the one verified
	// (or published) before, and the contradicting one.
	PreviousSize, GotSize int64
	// Reference is the signed heartbeat that carried the earlier
	// checkpoint, when this node kept it; Heartbeat the contradicting one.
	Reference, Heartbeat []byte
}

type conflictRecord struct {
	Reason       string `cbor:"reason"`
	Detail       string `cbor:"detail,omitempty"`
	PreviousSize int64  `cbor:"prev"`
	GotSize      int64  `cbor:"got"`
	Reference    []byte `cbor:"ref,omitempty"`
	Heartbeat    []byte `cbor:"hb,omitempty"`
}

func conflictPrefix(code v1.AuthorityCode) []byte {
	return cat(prefixConflict, []byte(code), []byte("/"))
}

// PutConflictEvidence records a conflict (synced), dropping the member's
// oldest beyond MaxConflictEvidence.
func (s *Store) PutConflictEvidence(ctx context.Context, e ConflictEvidence) error {
	ch := schemas.NewChecker()
	ch.Check(authority.Known(authority.Code(e.Authority)), "authority", "is not a known authority code")
	ch.Check(e.At.Year() >= 2000 && e.At.Year() < 2200, "at", "is not between 2000 and 2199")
	ch.Text("reason", e.Reason, true, v1.MaxShortText, false)
	ch.Text("detail", e.Detail, false, v1.MaxShortText*5, false)
	ch.Check(e.PreviousSize >= 0 && e.GotSize >= 0, "size", "must not be negative")
	ch.Check(len(e.Reference) <= MaxEvidenceHeartbeat && len(e.Heartbeat) <= MaxEvidenceHeartbeat, "heartbeat",
		"is larger than %d bytes", MaxEvidenceHeartbeat)
	if err := ch.Err(); err != nil {
		return fmt.Errorf("put conflict evidence: %w", err)
	}
	enc, err := schemas.Marshal(conflictRecord{Reason: e.Reason, Detail: e.Detail, PreviousSize: e.PreviousSize, GotSize: e.GotSize,
		Reference: bytes.Clone(e.Reference), Heartbeat: bytes.Clone(e.Heartbeat)})
	if err != nil {
		return fmt.Errorf("put conflict evidence of %s: %w", e.Authority, err)
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(e.At.UnixNano()))
	key := cat(conflictPrefix(e.Authority), ts[:])
	r := &request{op: "put conflict evidence", durable: true}
	r.apply = func(b *batch) (error, error) {
		if err := b.txn.Set(key, enc); err != nil {
			return nil, err
		}
		var keys [][]byte
		it := b.txn.NewIterator(badger.IteratorOptions{Prefix: conflictPrefix(e.Authority)})
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for len(keys) > MaxConflictEvidence { // oldest first: the keys sort by time
			if err := b.txn.Delete(keys[0]); err != nil {
				return nil, err
			}
			keys = keys[1:]
		}
		return nil, nil
	}
	return s.submit(ctx, r)
}

// ConflictEvidenceList returns the conflicts recorded, newest first.
func (s *Store) ConflictEvidenceList() ([]ConflictEvidence, error) {
	var out []ConflictEvidence
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixConflict, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			rest := k[len(prefixConflict):]
			slash := bytes.IndexByte(rest, '/')
			if slash < 0 || len(rest)-slash-1 != 8 {
				return fmt.Errorf("conflict evidence: %w: malformed key", schemas.ErrInvalid)
			}
			e := ConflictEvidence{Authority: v1.AuthorityCode(rest[:slash]),
				At: time.Unix(0, int64(binary.BigEndian.Uint64(rest[slash+1:]))).UTC()}
			var rec conflictRecord
			if err := it.Item().Value(func(v []byte) error { return schemas.Unmarshal(v, &rec) }); err != nil {
				return fmt.Errorf("conflict evidence of %s: %w", e.Authority, err)
			}
			e.Reason, e.Detail, e.PreviousSize, e.GotSize = rec.Reason, rec.Detail, rec.PreviousSize, rec.GotSize
			e.Reference, e.Heartbeat = rec.Reference, rec.Heartbeat
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read conflict evidence: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}
