package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// The seen-set: every alert this node has accepted from the federation, kept
// until the alert expires, so that a replay is refused even after a restart
// (pubsub's own seen-cache lasts two minutes and lives in memory) and so that
// the node can serve live alerts to a peer repairing a gap. Values hold the
// alert's envelope exactly as signed by its issuer; alerts carry no identity
// fields, and the database is encrypted like everything else.
var (
	prefixSeen    = []byte("g/")    // g/<id> -> seenRecord
	prefixSeenExp = []byte("i/gx/") // i/gx/<expires><id> -> nil
)

// MaxSeenAlert is the largest alert envelope the seen-set keeps.
const MaxSeenAlert = 64 << 10

// seenRecord is the stored form of a seen alert; times in Unix ns.
type seenRecord struct {
	SeenAt  int64  `cbor:"seen"`
	Expires int64  `cbor:"expires"`
	Alert   []byte `cbor:"alert"`
}

func seenKey(id v1.ID) []byte { return cat(prefixSeen, []byte(id)) }

func seenExpKey(expires time.Time, id v1.ID) []byte {
	return cat(prefixSeenExp, timeKey(expires), []byte(id))
}

func readSeen(txn *badger.Txn, id v1.ID) (seenRecord, bool, error) {
	item, err := txn.Get(seenKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return seenRecord{}, false, nil
	}
	if err != nil {
		return seenRecord{}, false, err
	}
	var r seenRecord
	err = item.Value(func(v []byte) error {
		if err := schemas.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("seen alert %s: %w", id, err)
		}
		return nil
	})
	return r, err == nil, err
}

// PutSeen records an accepted alert until it expires, with its envelope.
// It reports added false, and changes nothing, when the ID is already
// recorded. The write is synced before PutSeen returns: a node acknowledges
// an alert only after recording it.
func (s *Store) PutSeen(ctx context.Context, id v1.ID, seenAt, expires time.Time, alert []byte) (added bool, err error) {
	ch := schemas.NewChecker()
	ch.Check(id.Valid(), "id", "is not 32 lower-case hex digits")
	ch.Check(expires.After(seenAt), "expires", "must be after the time seen")
	ch.Check(seenAt.Year() >= 2000 && expires.Year() < 2200, "expires", "and the time seen must fall between 2000 and 2199")
	ch.Check(len(alert) > 0 && len(alert) <= MaxSeenAlert, "alert", "must be 1 byte to %d bytes", MaxSeenAlert)
	if err := ch.Err(); err != nil {
		return false, fmt.Errorf("put seen alert: %w", err)
	}
	enc, err := schemas.Marshal(seenRecord{SeenAt: seenAt.UnixNano(), Expires: expires.UnixNano(), Alert: bytes.Clone(alert)})
	if err != nil {
		return false, fmt.Errorf("put seen alert %s: %w", id, err)
	}
	r := &request{op: "put seen alert", durable: true}
	r.apply = func(b *batch) (error, error) {
		added = false
		_, found, err := readSeen(b.txn, id)
		if err != nil {
			return nil, err
		}
		if found {
			return nil, nil
		}
		if err := b.txn.Set(seenKey(id), enc); err != nil {
			return nil, err
		}
		added = true
		return nil, b.txn.Set(seenExpKey(expires, id), nil)
	}
	if err := s.submit(ctx, r); err != nil {
		return false, err
	}
	return added, nil
}

// GetSeen returns a seen alert's envelope and when it was first recorded;
// found is false when the ID is not recorded (never seen, or pruned).
func (s *Store) GetSeen(id v1.ID) (alert []byte, seenAt time.Time, found bool, err error) {
	err = s.view(func(txn *badger.Txn) error {
		r, ok, err := readSeen(txn, id)
		if err != nil || !ok {
			return err
		}
		alert, seenAt, found = r.Alert, time.Unix(0, r.SeenAt).UTC(), true
		return nil
	})
	return alert, seenAt, found, err
}

// LiveSeen returns the IDs of up to limit seen alerts that expire after now,
// soonest-expiring first.
func (s *Store) LiveSeen(now time.Time, limit int) ([]v1.ID, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	var out []v1.ID
	start := cat(prefixSeenExp, timeKey(now.Add(time.Nanosecond)))
	err := s.view(func(txn *badger.Txn) error {
		return scanKeys(txn, prefixSeenExp, start, func(key []byte) (bool, error) {
			if len(key) <= len(prefixSeenExp)+8 {
				return true, nil
			}
			out = append(out, v1.ID(key[len(prefixSeenExp)+8:]))
			return len(out) < limit, nil
		})
	})
	return out, err
}

// PruneSeen deletes the seen alerts that expired at or before now and
// returns how many. An expired alert is refused by its expiry alone, so its
// record is no longer needed to refuse a replay.
func (s *Store) PruneSeen(ctx context.Context, now time.Time) (n int, err error) {
	bound := uint64(now.UnixNano())
	r := &request{op: "prune seen alerts", durable: false}
	r.apply = func(b *batch) (error, error) {
		n = 0
		var keys [][]byte
		err := scanKeys(b.txn, prefixSeenExp, nil, func(key []byte) (bool, error) {
			if len(key) < len(prefixSeenExp)+8 {
				return true, nil
			}
			if binary.BigEndian.Uint64(key[len(prefixSeenExp):]) > bound {
				return false, nil
			}
			keys = append(keys, key)
			return len(keys) < 10000, nil
		})
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			id := v1.ID(k[len(prefixSeenExp)+8:])
			if err := b.txn.Delete(k); err != nil {
				return nil, err
			}
			if err := b.txn.Delete(seenKey(id)); err != nil {
				return nil, err
			}
			n++
		}
		return nil, nil
	}
	if err := s.submit(ctx, r); err != nil {
		return 0, err
	}
	return n, nil
}
