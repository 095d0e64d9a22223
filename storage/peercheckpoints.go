package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Peer checkpoints: for each member of the federation, the audit checkpoint
// (size and root hash of its audit log) this node last verified as a
// consistent extension of the one before. Gossip keeps them here so that a
// restart does not forget them: a member that rewrote its log while this
// node was down is then still caught. The records hold sizes and hashes
// only, never case content.
var prefixPeerCheckpoint = []byte("w/") // w/<authority> -> peerCheckpointRecord

// peerCheckpointHashSize is the size of an audit log root hash (SHA-256).
const peerCheckpointHashSize = 32

// peerCheckpointRecord is the stored form of a peer checkpoint; the time in
// Unix ns.
type peerCheckpointRecord struct {
	Size       int64  `cbor:"size"`
	Root       []byte `cbor:"root"`
	VerifiedAt int64  `cbor:"at"`
	// Heartbeat is the member's signed heartbeat that carried the
	// checkpoint (its own signature over it), kept as evidence should the
	// member later contradict it; absent in records written before.
	Heartbeat []byte `cbor:"hb,omitempty"`
}

// MaxEvidenceHeartbeat bounds a heartbeat kept as evidence (gossip refuses
// larger ones on the wire).
const MaxEvidenceHeartbeat = 8 << 10

func peerCheckpointKey(code v1.AuthorityCode) []byte {
	return cat(prefixPeerCheckpoint, []byte(code))
}

// PutPeerCheckpoint records the audit checkpoint verified for a member at a
// time, with the member's signed heartbeat that carried it (nil if not
// kept), replacing the one before; the write is synced before it returns.
// The caller checks consistency; this only refuses values that cannot be a
// checkpoint.
func (s *Store) PutPeerCheckpoint(ctx context.Context, code v1.AuthorityCode, size int64, root []byte, verifiedAt time.Time, heartbeat []byte) error {
	ch := schemas.NewChecker()
	ch.Check(len(heartbeat) <= MaxEvidenceHeartbeat, "heartbeat", "is %d bytes, limit %d", len(heartbeat), MaxEvidenceHeartbeat)
	ch.Check(authority.Known(authority.Code(code)), "authority", "is not a known authority code")
	ch.Check(size >= 1, "size", "must be at least 1 (an empty log needs no reference)")
	ch.Check(len(root) == peerCheckpointHashSize, "root", "is %d bytes, want %d", len(root), peerCheckpointHashSize)
	ch.Check(verifiedAt.Year() >= 2000 && verifiedAt.Year() < 2200, "verified_at", "is not between 2000 and 2199")
	if err := ch.Err(); err != nil {
		return fmt.Errorf("put peer checkpoint: %w", err)
	}
	enc, err := schemas.Marshal(peerCheckpointRecord{Size: size, Root: bytes.Clone(root), VerifiedAt: verifiedAt.UnixNano(), Heartbeat: bytes.Clone(heartbeat)})
	if err != nil {
		return fmt.Errorf("put peer checkpoint of %s: %w", code, err)
	}
	r := &request{op: "put peer checkpoint", durable: true}
	r.apply = func(b *batch) (error, error) {
		return nil, b.txn.Set(peerCheckpointKey(code), enc)
	}
	return s.submit(ctx, r)
}

// DeletePeerCheckpoint forgets the checkpoint recorded for a member, synced
// before it returns, so that the next one it publishes is taken on trust:
// what an operator does after confirming that the member's audit log was
// legitimately replaced (restored from a backup). Forgetting a member with
// none recorded is not an error.
func (s *Store) DeletePeerCheckpoint(ctx context.Context, code v1.AuthorityCode) error {
	if !authority.Known(authority.Code(code)) {
		return fmt.Errorf("delete peer checkpoint: %w: authority %.16q is not a known authority code", schemas.ErrInvalid, code)
	}
	r := &request{op: "delete peer checkpoint", durable: true}
	r.apply = func(b *batch) (error, error) {
		return nil, b.txn.Delete(peerCheckpointKey(code))
	}
	return s.submit(ctx, r)
}

// PeerCheckpoint returns the audit checkpoint last verified for a member and
// when; found is false when none is recorded.
func (s *Store) PeerCheckpoint(code v1.AuthorityCode) (size int64, root []byte, verifiedAt time.Time, found bool, err error) {
	r, err := s.peerCheckpointRecord(code)
	if err != nil || r == nil {
		return 0, nil, time.Time{}, false, err
	}
	return r.Size, r.Root, time.Unix(0, r.VerifiedAt).UTC(), true, nil
}

// PeerCheckpointHeartbeat returns the signed heartbeat kept with the
// checkpoint last verified for a member, or nil (none recorded, or a record
// from before heartbeats were kept).
func (s *Store) PeerCheckpointHeartbeat(code v1.AuthorityCode) ([]byte, error) {
	r, err := s.peerCheckpointRecord(code)
	if err != nil || r == nil {
		return nil, err
	}
	return r.Heartbeat, nil
}

// peerCheckpointRecord reads and checks a member's record; nil when there
// is none.
func (s *Store) peerCheckpointRecord(code v1.AuthorityCode) (*peerCheckpointRecord, error) {
	var out *peerCheckpointRecord
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(peerCheckpointKey(code))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			var r peerCheckpointRecord
			if err := schemas.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("peer checkpoint of %s: %w", code, err)
			}
			if r.Size < 1 || len(r.Root) != peerCheckpointHashSize {
				return fmt.Errorf("peer checkpoint of %s: %w: size %d, root of %d bytes", code, schemas.ErrInvalid, r.Size, len(r.Root))
			}
			out = &r
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read peer checkpoint: %w", err)
	}
	return out, nil
}

// AuditSize returns the number of entries in the committed audit log. With
// ProveConsistency it is what a peer checking this node's log needs: a
// request for a size beyond it asks about a checkpoint this node never
// published.
func (s *Store) AuditSize() (int64, error) {
	var n int64
	err := s.view(func(txn *badger.Txn) error {
		var err error
		n, err = s.audit.Size(txn)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit log size: %w", err)
	}
	return n, nil
}
