package consensus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/consensus/raftstore"
	"nrmnet/consensus/transport"
	v1 "nrmnet/schemas/v1"
)

// Panel is this node's server in one combined panel's Raft group.
type Panel struct {
	cfg    Config
	logger *slog.Logger
	self   raft.ServerID
	admit  func(peer.ID) bool
	seal   *sealer // nil without a data key
	fsm    raft.FSM
	proto  protocol.ID

	store *raftstore.Store
	snaps *raftstore.SnapshotStore
	trans *raft.NetworkTransport
	layer *transport.StreamLayer
	raft  *raft.Raft

	obs       *raft.Observer
	obsCh     chan raft.Observation
	statusReq chan chan observed
	ready     chan struct{}
	// barrierTerm is the last term in which this node, as leader, has
	// committed a barrier: until then its commit index may lag.
	barrierTerm atomic.Uint64

	// scanIdx and scanCmd remember the last lastCommandAtOrBelow answer.
	scanMu           sync.Mutex
	scanIdx, scanCmd uint64

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the panel starts

	handlersMu sync.Mutex
	closing    bool
	handlers   sync.WaitGroup // forwarding requests being served

	closeOnce sync.Once
	closeErr  error
}

// Result is the outcome of a command that was applied.
type Result struct {
	// Index is the log index the command was committed at.
	Index uint64
	// Response is what the FSM returned for it, if it returned bytes.
	Response []byte
}

// New validates cfg, opens the panel's stores, starts its Raft server and
// forwarding protocol, and bootstraps a new group from cfg.Members (a node
// with existing state, or one that is to Join, does not bootstrap).
func New(cfg Config) (p *Panel, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("panel", string(cfg.Panel))
	p = &Panel{
		cfg:       cfg,
		logger:    logger,
		self:      raft.ServerID(cfg.Self.String()),
		admit:     cfg.Admit,
		proto:     ForwardProtocolID(cfg.Panel),
		obsCh:     make(chan raft.Observation, 256),
		statusReq: make(chan chan observed),
		ready:     make(chan struct{}),
	}
	if p.admit == nil {
		set := make(map[peer.ID]bool, len(cfg.Members))
		for _, m := range cfg.Members {
			set[m.ID] = true
		}
		p.admit = func(id peer.ID) bool { return set[id] }
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	var cleanup []func()
	defer func() {
		if err != nil {
			p.cancel()
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	if p.fsm, p.seal, err = cfg.stateMachine(); err != nil {
		return nil, err
	}
	if p.seal != nil {
		logger.Info("panel commands sealed with the panel data key", "key_id", DataKeyID(cfg.DataKey, cfg.Panel))
	}
	if p.store, p.snaps, err = openStores(cfg, logger); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = p.store.Close() })

	tcfg := transport.DefaultConfig()
	tcfg.Panel, tcfg.Host, tcfg.Admit = cfg.Panel, cfg.Host, p.admit
	tcfg.MaxPool, tcfg.Timeout, tcfg.Logger = cfg.MaxPool, cfg.Timeouts.RPC, logger
	if p.trans, p.layer, err = transport.New(tcfg); err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = p.trans.Close() })

	existing, err := raft.HasExistingState(p.store, p.store, p.snaps)
	if err != nil {
		return nil, fmt.Errorf("consensus: read panel state: %w", err)
	}
	p.raft, err = raft.NewRaft(cfg.raftConfig(logger), p.fsm, p.store, p.store, p.snaps, p.trans)
	if err != nil {
		return nil, fmt.Errorf("consensus: start raft: %w", err)
	}
	cleanup = append(cleanup, func() { _ = p.raft.Shutdown().Error() })
	if !existing && !cfg.Join {
		if err := p.raft.BootstrapCluster(configuration(cfg.Members)).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("consensus: bootstrap panel: %w", err)
		}
	}

	p.obs = raft.NewObserver(p.obsCh, false, nil)
	p.raft.RegisterObserver(p.obs)
	p.wg.Go(p.observe)
	cfg.Host.SetStreamHandler(p.proto, p.handleForward)
	logger.Info("panel started", "self", cfg.Self.String(), "witness", cfg.Witness, "existing_state", existing, "join", cfg.Join)
	return p, nil
}

// stateMachine returns the FSM raft runs and the sealer, if any.
func (c Config) stateMachine() (raft.FSM, *sealer, error) {
	if c.Witness {
		if w, ok := c.FSM.(*WitnessFSM); ok {
			return w, nil, nil
		}
		return NewWitnessFSM(), nil, nil
	}
	if c.DataKey == nil {
		return c.FSM, nil, nil
	}
	s, err := newSealer(c.DataKey, c.Panel)
	if err != nil {
		return nil, nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	return &sealedFSM{inner: c.FSM, s: s, log: log.With("panel", string(c.Panel)), keyID: DataKeyID(c.DataKey, c.Panel)}, s, nil
}

func openStores(cfg Config, logger *slog.Logger) (*raftstore.Store, *raftstore.SnapshotStore, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("consensus: panel directory: %w", err)
	}
	scfg := raftstore.DefaultConfig()
	scfg.Dir = filepath.Join(cfg.Dir, "log")
	scfg.EncryptionKey = cfg.EncryptionKey
	scfg.Logger = logger
	store, err := raftstore.Open(scfg)
	if err != nil {
		return nil, nil, fmt.Errorf("consensus: open panel log: %w", err)
	}
	snaps, err := raftstore.NewSnapshotStore(cfg.Dir, cfg.RetainSnapshots, cfg.EncryptionKey, logger)
	if err != nil {
		_ = store.Close()
		return nil, nil, fmt.Errorf("consensus: open panel snapshots: %w", err)
	}
	return store, snaps, nil
}

// Ready is closed once this node knows a leader of the panel for the first
// time (itself or another).
func (p *Panel) Ready() <-chan struct{} { return p.ready }

// ID returns the panel this group decides for.
func (p *Panel) ID() v1.PanelID { return p.cfg.Panel }

// Close stops the panel in order: no new forwarded requests, waits in
// progress released, raft shut down (pending futures resolve), transport
// and observer stopped, goroutines waited for, stores closed. It is
// idempotent and returns the first error each time.
func (p *Panel) Close() error {
	p.closeOnce.Do(func() {
		p.handlersMu.Lock()
		p.closing = true
		p.handlersMu.Unlock()
		p.cfg.Host.RemoveStreamHandler(p.proto)
		p.cancel()
		var errs []error
		if err := p.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
		}
		p.raft.DeregisterObserver(p.obs)
		if err := p.trans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("transport: %w", err))
		}
		p.handlers.Wait()
		p.wg.Wait()
		if err := p.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
		if len(errs) > 0 {
			p.closeErr = fmt.Errorf("consensus: close panel %s: %w", p.cfg.Panel, errors.Join(errs...))
		}
		p.logger.Info("panel closed")
	})
	return p.closeErr
}

func (p *Panel) closed() bool { return p.ctx.Err() != nil }

// leader returns the leader this node knows of, or "".
func (p *Panel) leader() peer.ID {
	_, id := p.raft.LeaderWithID()
	if id == "" {
		return ""
	}
	pid, err := peer.Decode(string(id))
	if err != nil {
		return ""
	}
	return pid
}

// await waits for a raft future, or for ctx or Close. The waiting goroutine
// is tracked: raft resolves every future at Shutdown.
func (p *Panel) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	p.wg.Go(func() { done <- f.Error() })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-p.ctx.Done():
		return ErrClosed
	}
}

// bound gives ctx the forward timeout if it has no deadline of its own.
func (p *Panel) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.cfg.Timeouts.Forward)
}

// pause waits a little before another attempt; false when ctx or the panel
// ended first.
func (p *Panel) pause(ctx context.Context, attempt int) bool {
	d := time.Duration(min(attempt+1, 20)) * 10 * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-p.ctx.Done():
		return false
	}
}
