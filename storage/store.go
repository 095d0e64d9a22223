package storage

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage/auditlog"
)

// Store is an authority's case store: two encrypted Badger databases (data/
// and keys/childkeys/), the audit log inside data/, and the witness file.
// Its methods are safe for concurrent use; one goroutine (the writer) makes
// every change.
type Store struct {
	cfg     Config
	log     *slog.Logger
	db      *badger.DB // data/
	keys    *badger.DB // keys/childkeys/
	key     []byte     // the storage key, for backups
	authKey ed25519.PrivateKey
	audit   *auditlog.Log
	witness witness // nil in memory

	requests chan *request
	closing  chan struct{} // closed by Close: no new requests
	stop     context.CancelFunc
	wg       sync.WaitGroup
	life     sync.RWMutex // readers hold it shared; Close takes it to close the databases
	closed   sync.Once
	closeErr error

	cases  atomic.Int64 // number of stored cases
	outbox atomic.Int64 // number of outbox messages

	w writerState // owned by the writer goroutine (and by Open before it starts)
}

// openMode carries what Restore needs from open.
type openMode struct {
	restoring  bool                 // skip the rollback check
	expect     *auditlog.Checkpoint // the restored log must have exactly this checkpoint
	rebaseNote string               // witness Rebase reason, recorded at the first witness update
}

// Open opens (creating if needed) the node's store described by cfg. It
// validates cfg, loads the keys, opens both databases, refuses a data
// directory older than the witnessed audit checkpoint (ErrRolledBack),
// completes any interrupted erasure, revokes again any user the revocation
// ledger in keys/ names but data/ holds live (audited), checks the
// match-candidate index (building it if the store has none), and starts the
// writer and the value-log garbage collector.
func Open(cfg Config) (*Store, error) { return open(cfg, openMode{}) }

func open(cfg Config, mode openMode) (_ *Store, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.logger().With("component", "storage", "authority", string(cfg.Authority))
	keyPath := storageKeyPath(cfg.KeysDir)
	key, err := LoadStorageKey(keyPath)
	if err != nil {
		return nil, err
	}
	authKey, err := LoadAuthorityKey(authorityKeyPath(cfg.KeysDir))
	if err != nil {
		return nil, err
	}
	s := &Store{
		cfg:      cfg,
		log:      log,
		key:      key,
		authKey:  authKey,
		audit:    auditlog.New(auditOrigin(cfg.Authority), prefixAudit),
		requests: make(chan *request),
		closing:  make(chan struct{}),
	}
	s.db, err = openBadger(cfg.dataOptions(key, log), keyPath, cfg.DataDir, "data directory", cfg.InMemory)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()
	s.keys, err = openBadger(cfg.childKeyOptions(key, log), keyPath, childKeysPath(cfg.KeysDir), "child-keys database", cfg.InMemory)
	if err != nil {
		return nil, err
	}
	if err := s.checkOwner(); err != nil {
		return nil, err
	}
	if mode.expect != nil {
		if err := s.checkRestoredLog(*mode.expect); err != nil {
			return nil, err
		}
	}
	if !cfg.InMemory {
		pub := authKey.Public().(ed25519.PublicKey)
		if s.witness, err = openWitness(witnessPath(cfg.KeysDir), s.audit.Origin(), pub); err != nil {
			return nil, fmt.Errorf("open audit witness %s: %w", witnessPath(cfg.KeysDir), err)
		}
		if !mode.restoring {
			err := s.db.View(func(txn *badger.Txn) error { return s.witness.Check(s.audit, txn) })
			if err != nil {
				if errors.Is(err, ErrRolledBack) {
					// A damaged block reads as absent keys (DESIGN.md,
					// "Badger caveats"), so a log that looks short may be a
					// damaged one: check the tables before saying rollback.
					if derr := verifyTables(s.db, cfg.DataDir, "data directory"); derr != nil {
						return nil, derr
					}
					return nil, fmt.Errorf("data directory %s is older than the audit checkpoint witnessed in %s: %w; if an administrator restored an old copy on purpose, restore it with `nrmnet restore` so the rollback is recorded",
						cfg.DataDir, witnessPath(cfg.KeysDir), err)
				}
				return nil, fmt.Errorf("check audit log against witness %s: %w", witnessPath(cfg.KeysDir), err)
			}
		}
	}
	if err := s.initWriter(mode.rebaseNote); err != nil {
		return nil, err
	}
	if err := s.reconcileErasures(); err != nil {
		return nil, err
	}
	if err := s.reconcileRevocations(); err != nil {
		return nil, err
	}
	if err := s.checkCandidateIndex(); err != nil {
		return nil, err
	}
	if err := s.countRecords(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.wg.Add(1)
	go s.writeLoop()
	if !cfg.InMemory {
		s.wg.Add(1)
		go s.gcLoop(ctx)
	}
	s.log.Info("store opened", "data_dir", cfg.DataDir, "cases", s.cases.Load(),
		"audit_entries", s.w.logSize, "outbox", s.outbox.Load())
	return s, nil
}

func auditOrigin(a v1.AuthorityCode) string { return "nrmnet/audit/" + string(a) }

// openBadger opens one of the two databases and turns Badger's errors about
// keys and locks into messages for an administrator.
func openBadger(opts badger.Options, keyPath, dir, what string, inMemory bool) (*badger.DB, error) {
	db, err := badger.Open(opts)
	if err == nil {
		return db, nil
	}
	switch {
	case errors.Is(err, badger.ErrEncryptionKeyMismatch):
		return nil, fmt.Errorf("the storage key in %s does not match the %s %s: %w (the files are unchanged; use the key this node was created with)", keyPath, what, dir, ErrWrongKey)
	case strings.Contains(err.Error(), "failed to verify checksum"), strings.Contains(err.Error(), "checksum mismatch"):
		return nil, fmt.Errorf("the %s %s holds a damaged table file: %w: %w; restore it from a backup", what, dir, ErrDamaged, err)
	case strings.Contains(err.Error(), "Cannot acquire directory lock"):
		return nil, fmt.Errorf("the %s %s is in use by another process (is the node already running?): %w", what, dir, err)
	}
	if inMemory {
		return nil, fmt.Errorf("open in-memory %s: %w", what, err)
	}
	return nil, fmt.Errorf("open %s %s: %w", what, dir, err)
}

// VerifyTables reads every block of every table file of both databases and
// checks its checksum. Damage on disk is otherwise reported only when a read
// happens to load the damaged block, and then as a key that seems absent or a
// list that ends early (see DESIGN.md, "Badger caveats"); VerifyTables
// reports it as ErrDamaged, naming the database. It reads the whole store
// (seconds and a few hundred MiB of reads at 100,000 cases), so it is not
// run by Open: `nrmnet audit verify` runs it.
func (s *Store) VerifyTables() error {
	return s.guard(func() error {
		return errors.Join(
			verifyTables(s.db, s.cfg.DataDir, "data directory"),
			verifyTables(s.keys, childKeysPath(s.cfg.KeysDir), "child-keys database"))
	})
}

// verifyTables is VerifyTables for one database. Badger v4.9.6 panics in
// DB.VerifyChecksum when a block fails (it reads the offset of the nil
// block to build its error); the panic happens in this goroutine and is
// turned into ErrDamaged too.
func verifyTables(db *badger.DB, dir, what string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the %s %s holds a damaged table file (a block fails its checksum): %w; restore it from a backup (Badger reported it by panicking: %v)", what, dir, ErrDamaged, r)
		}
	}()
	if err := db.VerifyChecksum(); err != nil {
		return fmt.Errorf("the %s %s holds a damaged table file: %w: %w; restore it from a backup", what, dir, ErrDamaged, err)
	}
	return nil
}

// checkOwner records the authority in a new data directory and refuses one
// that belongs to another authority.
func (s *Store) checkOwner() error {
	var owner []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(keyAuthority)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		owner, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return fmt.Errorf("read data directory owner: %w", err)
	}
	if owner == nil {
		err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(keyAuthority, []byte(s.cfg.Authority)) })
		if err == nil {
			err = s.db.Sync()
		}
		if err != nil {
			return fmt.Errorf("record data directory owner: %w", err)
		}
		return nil
	}
	if string(owner) != string(s.cfg.Authority) {
		return fmt.Errorf("data directory %s belongs to authority %.10q, not %s: %w", s.cfg.DataDir, owner, s.cfg.Authority, ErrWrongAuthority)
	}
	return nil
}

// countRecords loads the case and outbox counters with key-only scans.
func (s *Store) countRecords() error {
	return s.db.View(func(txn *badger.Txn) error {
		for _, c := range []struct {
			prefix []byte
			n      *atomic.Int64
		}{{prefixSummary, &s.cases}, {prefixOutbox, &s.outbox}} {
			var n int64
			it := txn.NewIterator(badger.IteratorOptions{Prefix: c.prefix})
			for it.Rewind(); it.Valid(); it.Next() {
				n++
			}
			it.Close()
			c.n.Store(n)
		}
		return nil
	})
}

// Close stops the garbage collector, lets the writer finish the requests it
// has accepted, syncs, records a signed audit checkpoint in the witness file
// and closes both databases. It is safe to call more than once; later calls
// return the first call's result.
func (s *Store) Close() error {
	s.closed.Do(func() {
		start := time.Now()
		s.stop()
		close(s.closing)
		s.wg.Wait()
		s.life.Lock()
		defer s.life.Unlock()
		s.closeErr = errors.Join(s.w.closeErr, s.closeDBs())
		s.log.Info("store closed", "took", time.Since(start).Round(time.Millisecond))
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.witness != nil {
		if err := s.witness.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close audit witness: %w", err))
		}
	}
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close data database: %w", err))
		}
	}
	if s.keys != nil {
		if err := s.keys.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close child-keys database: %w", err))
		}
	}
	return errors.Join(errs...)
}
