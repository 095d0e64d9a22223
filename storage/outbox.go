package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// OutboxMessage is a message waiting to be acknowledged by peers. Payload is
// already encoded by the caller and must hold no case content (an alert, an
// acknowledgement); the store keeps it as it is. Every change is synced.
type OutboxMessage struct {
	ID            v1.ID
	Kind          schemas.Kind
	Payload       []byte
	Targets       []v1.AuthorityCode // authorities that have not acknowledged yet
	Acked         []v1.AuthorityCode // authorities that have
	CreatedAt     time.Time
	ExpiresAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
}

// outboxRecord is the stored form of an OutboxMessage; times in Unix ns.
type outboxRecord struct {
	ID        v1.ID              `cbor:"id"`
	Kind      schemas.Kind       `cbor:"kind"`
	Payload   []byte             `cbor:"payload"`
	Targets   []v1.AuthorityCode `cbor:"targets"`
	Acked     []v1.AuthorityCode `cbor:"acked"`
	CreatedAt int64              `cbor:"created"`
	ExpiresAt int64              `cbor:"expires"`
	Attempts  int                `cbor:"attempts"`
	NextAt    int64              `cbor:"next"`
}

// MaxOutboxPayload is the largest outbox payload accepted.
const MaxOutboxPayload = schemas.MaxEnvelopeSize

func outboxKey(id v1.ID) []byte { return cat(prefixOutbox, []byte(id)) }

func (m OutboxMessage) keys() (due, exp []byte) {
	return cat(prefixOutboxDue, timeKey(m.NextAttemptAt), []byte(m.ID)),
		cat(prefixOutboxExp, timeKey(m.ExpiresAt), []byte(m.ID))
}

func (m OutboxMessage) validate() error {
	ch := schemas.NewChecker()
	ch.Check(m.ID.Valid(), "id", "is not 32 lower-case hex digits")
	ch.Check(m.Kind != "", "kind", "is required")
	ch.Check(len(m.Payload) > 0 && len(m.Payload) <= MaxOutboxPayload, "payload", "must be 1 byte to %d bytes", MaxOutboxPayload)
	ch.Check(len(m.Targets) > 0 && len(m.Targets) <= 256, "targets", "must list 1 to 256 authorities")
	for i, t := range m.Targets {
		ch.Check(len(t) == 3, fmt.Sprintf("targets[%d]", i), "is not an authority code")
	}
	ch.Check(m.CreatedAt.Year() >= 2000 && m.ExpiresAt.Year() < 2200 && m.NextAttemptAt.Year() >= 2000, "created_at", "and the other times must fall between 2000 and 2199")
	ch.Check(m.ExpiresAt.After(m.CreatedAt), "expires_at", "must be after created_at")
	ch.Check(m.Attempts >= 0, "attempts", "is negative")
	return ch.Err()
}

func encodeOutbox(m OutboxMessage) ([]byte, error) {
	return schemas.Marshal(outboxRecord{
		ID: m.ID, Kind: m.Kind, Payload: m.Payload, Targets: m.Targets, Acked: m.Acked,
		CreatedAt: m.CreatedAt.UnixNano(), ExpiresAt: m.ExpiresAt.UnixNano(),
		Attempts: m.Attempts, NextAt: m.NextAttemptAt.UnixNano(),
	})
}

func decodeOutbox(b []byte) (OutboxMessage, error) {
	var r outboxRecord
	if err := schemas.Unmarshal(b, &r); err != nil {
		return OutboxMessage{}, fmt.Errorf("outbox message: %w", err)
	}
	return OutboxMessage{
		ID: r.ID, Kind: r.Kind, Payload: r.Payload, Targets: r.Targets, Acked: r.Acked,
		CreatedAt: time.Unix(0, r.CreatedAt).UTC(), ExpiresAt: time.Unix(0, r.ExpiresAt).UTC(),
		Attempts: r.Attempts, NextAttemptAt: time.Unix(0, r.NextAt).UTC(),
	}, nil
}

func readOutbox(txn *badger.Txn, id v1.ID) (OutboxMessage, error) {
	item, err := txn.Get(outboxKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return OutboxMessage{}, fmt.Errorf("outbox message %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return OutboxMessage{}, err
	}
	var m OutboxMessage
	err = item.Value(func(v []byte) error {
		m, err = decodeOutbox(v)
		return err
	})
	return m, err
}

func putOutbox(txn *badger.Txn, m OutboxMessage, old *OutboxMessage) error {
	if old != nil {
		if err := deleteOutbox(txn, *old); err != nil {
			return err
		}
	}
	b, err := encodeOutbox(m)
	if err != nil {
		return err
	}
	if err := txn.Set(outboxKey(m.ID), b); err != nil {
		return err
	}
	due, exp := m.keys()
	if err := txn.Set(due, nil); err != nil {
		return err
	}
	return txn.Set(exp, nil)
}

func deleteOutbox(txn *badger.Txn, m OutboxMessage) error {
	due, exp := m.keys()
	for _, k := range [][]byte{due, exp, outboxKey(m.ID)} {
		if err := txn.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// EnqueueOutbox stores a new message for delivery; ErrExists if its ID is
// taken. A zero NextAttemptAt means "now" (CreatedAt).
func (s *Store) EnqueueOutbox(ctx context.Context, m OutboxMessage) error {
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = m.CreatedAt
	}
	m.Targets = slices.Clone(m.Targets)
	m.Acked = slices.Clone(m.Acked)
	m.Payload = bytes.Clone(m.Payload)
	if err := m.validate(); err != nil {
		return fmt.Errorf("enqueue outbox message: %w", err)
	}
	r := &request{op: "enqueue outbox", durable: true}
	r.apply = func(b *batch) (error, error) {
		if _, err := readOutbox(b.txn, m.ID); err == nil {
			return fmt.Errorf("enqueue outbox message %s: %w", m.ID, ErrExists), nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		b.outboxDelta++
		return nil, putOutbox(b.txn, m, nil)
	}
	return s.submit(ctx, r)
}

// DueOutbox returns up to limit messages whose next attempt is at or before
// now, earliest first. Expired messages are included until ExpireOutbox
// removes them.
func (s *Store) DueOutbox(now time.Time, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	var out []OutboxMessage
	bound := timeKey(now)
	err := s.view(func(txn *badger.Txn) error {
		return scanKeys(txn, prefixOutboxDue, nil, func(key []byte) (bool, error) {
			at := key[len(prefixOutboxDue) : len(prefixOutboxDue)+8]
			if bytes.Compare(at, bound) > 0 {
				return false, nil
			}
			m, err := readOutbox(txn, v1.ID(key[len(prefixOutboxDue)+8:]))
			if errors.Is(err, ErrNotFound) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			out = append(out, m)
			return len(out) < limit, nil
		})
	})
	return out, err
}

// MarkAttempt records a delivery attempt and when to try next.
func (s *Store) MarkAttempt(ctx context.Context, id v1.ID, next time.Time) error {
	r := &request{op: "outbox attempt", durable: true}
	r.apply = func(b *batch) (error, error) {
		old, err := readOutbox(b.txn, id)
		if errors.Is(err, ErrNotFound) {
			return err, nil
		}
		if err != nil {
			return nil, err
		}
		m := old
		m.Attempts++
		m.NextAttemptAt = next
		return nil, putOutbox(b.txn, m, &old)
	}
	return s.submit(ctx, r)
}

// AckOutbox records that authority from acknowledged message id. complete
// is true when every target has acknowledged; the message is then removed.
// An acknowledgement from an authority that is not a pending target changes
// nothing.
func (s *Store) AckOutbox(ctx context.Context, id v1.ID, from v1.AuthorityCode) (complete bool, err error) {
	r := &request{op: "outbox ack", durable: true}
	r.apply = func(b *batch) (error, error) {
		complete = false
		old, err := readOutbox(b.txn, id)
		if errors.Is(err, ErrNotFound) {
			return err, nil
		}
		if err != nil {
			return nil, err
		}
		i := slices.Index(old.Targets, from)
		if i < 0 {
			return nil, nil
		}
		m := old
		m.Targets = slices.Delete(slices.Clone(old.Targets), i, i+1)
		m.Acked = append(slices.Clone(old.Acked), from)
		if len(m.Targets) == 0 {
			complete = true
			b.outboxDelta--
			return nil, deleteOutbox(b.txn, old)
		}
		return nil, putOutbox(b.txn, m, &old)
	}
	err = s.submit(ctx, r)
	return complete && err == nil, err
}

// ExpireOutbox removes the messages that expired at or before now and
// returns how many.
func (s *Store) ExpireOutbox(ctx context.Context, now time.Time) (n int, err error) {
	bound := timeKey(now)
	r := &request{op: "outbox expire", durable: true}
	r.apply = func(b *batch) (error, error) {
		n = 0
		var ids []v1.ID
		err := scanKeys(b.txn, prefixOutboxExp, nil, func(key []byte) (bool, error) {
			if bytes.Compare(key[len(prefixOutboxExp):len(prefixOutboxExp)+8], bound) > 0 {
				return false, nil
			}
			ids = append(ids, v1.ID(key[len(prefixOutboxExp)+8:]))
			return len(ids) < 10000, nil
		})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			m, err := readOutbox(b.txn, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if err := deleteOutbox(b.txn, m); err != nil {
				return nil, err
			}
			n++
			b.outboxDelta--
		}
		return nil, nil
	}
	err = s.submit(ctx, r)
	if err != nil {
		n = 0
	}
	return n, err
}

// OutboxDepth returns the number of messages waiting in the outbox.
func (s *Store) OutboxDepth() int { return int(s.outbox.Load()) }
