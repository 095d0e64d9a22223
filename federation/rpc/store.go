package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/dgraph-io/badger/v4"

	v1 "nrmnet/schemas/v1"
)

// HandoverStore keeps hand-over records. Put must be durable when it returns:
// a record written is a promise the node acts on after a crash.
type HandoverStore interface {
	Put(ctx context.Context, h Handover) error
	// Get returns the record, or ok false if there is none.
	Get(ctx context.Context, id v1.ID) (h Handover, ok bool, err error)
	// List returns every record, in request ID order.
	List(ctx context.Context) ([]Handover, error)
}

// MemStore is a HandoverStore in memory, for tests. It keeps encoded records,
// so what it returns has been through the same checks as Badger's.
type MemStore struct {
	mu   sync.Mutex
	recs map[v1.ID][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{recs: map[v1.ID][]byte{}} }

// Put implements HandoverStore.
func (m *MemStore) Put(_ context.Context, h Handover) error {
	b, err := encodeHandover(&h)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[h.ID()] = b
	return nil
}

// Get implements HandoverStore.
func (m *MemStore) Get(_ context.Context, id v1.ID) (Handover, bool, error) {
	m.mu.Lock()
	b, ok := m.recs[id]
	m.mu.Unlock()
	if !ok {
		return Handover{}, false, nil
	}
	h, err := DecodeHandover(b)
	return h, err == nil, err
}

// List implements HandoverStore.
func (m *MemStore) List(_ context.Context) ([]Handover, error) {
	m.mu.Lock()
	ids := make([]v1.ID, 0, len(m.recs))
	for id := range m.recs {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]Handover, 0, len(ids))
	for _, id := range ids {
		h, ok, err := m.Get(context.Background(), id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, h)
		}
	}
	return out, nil
}

// BadgerConfig configures a BadgerStore.
type BadgerConfig struct {
	// Dir is the store's directory, used by nothing else.
	Dir string
	// EncryptionKey, when set (16, 24 or 32 bytes), encrypts the store at
	// rest. Records hold no identity, but a request's summary is still
	// pseudonymised personal data.
	EncryptionKey []byte
	// Logger receives Badger's warnings and errors; nil means slog.Default().
	Logger *slog.Logger
}

// BadgerStore is a HandoverStore in its own Badger database, with
// synchronous writes.
type BadgerStore struct {
	db        *badger.DB
	closeOnce sync.Once
	closeErr  error
}

const badgerPrefix = "handover/"

// OpenBadgerStore opens (creating if need be) a store in cfg.Dir.
func OpenBadgerStore(cfg BadgerConfig) (*BadgerStore, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: badger store needs a directory", ErrConfig)
	}
	if n := len(cfg.EncryptionKey); n != 0 && n != 16 && n != 24 && n != 32 {
		return nil, fmt.Errorf("%w: encryption key is %d bytes, want 16, 24 or 32", ErrConfig, n)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{cfg.Logger}).
		WithNumVersionsToKeep(1)
	if len(cfg.EncryptionKey) != 0 {
		opts = opts.WithEncryptionKey(cfg.EncryptionKey).WithIndexCacheSize(8 << 20)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening hand-over store: %w", err)
	}
	return &BadgerStore{db: db}, nil
}

// Put implements HandoverStore.
func (s *BadgerStore) Put(_ context.Context, h Handover) error {
	b, err := encodeHandover(&h)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(badgerPrefix+string(h.ID())), b)
	}); err != nil {
		return fmt.Errorf("storing hand-over %s: %w", h.ID(), err)
	}
	return nil
}

// Get implements HandoverStore.
func (s *BadgerStore) Get(_ context.Context, id v1.ID) (Handover, bool, error) {
	var b []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(badgerPrefix + string(id)))
		if err != nil {
			return err
		}
		b, err = item.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Handover{}, false, nil
	}
	if err != nil {
		return Handover{}, false, fmt.Errorf("reading hand-over %s: %w", id, err)
	}
	h, err := DecodeHandover(b)
	if err != nil {
		return Handover{}, false, fmt.Errorf("hand-over %s: %w", id, err)
	}
	return h, true, nil
}

// List implements HandoverStore. A record that does not decode is an error:
// a hand-over must never be silently dropped.
func (s *BadgerStore) List(ctx context.Context) ([]Handover, error) {
	var out []Handover
	err := s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(badgerPrefix)
		it := txn.NewIterator(opts)
		defer it.Close()
		var errs []error
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			b, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			h, err := DecodeHandover(b)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", it.Item().Key(), err))
				continue
			}
			out = append(out, h)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return nil, fmt.Errorf("listing hand-overs: %w", err)
	}
	return out, nil
}

// Close closes the database. It may be called more than once.
func (s *BadgerStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// badgerLogger passes Badger's warnings and errors to slog; its chatter at
// info and debug level is dropped.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(fmt.Sprintf(f, a...), "component", "badger")
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(fmt.Sprintf(f, a...), "component", "badger")
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
