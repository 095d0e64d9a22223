package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	v1 "nrmnet/schemas/v1"
)

// panelFSM adapts *panel.FSM to consensus.FSM and consensus.ResponseEncoder,
// and tells the node when a snapshot replaced the state (the observer does
// not see the decisions a snapshot brings).
type panelFSM struct {
	*panel.FSM
	restored func()
}

// CommandApplied implements consensus.FSM from the panel's CommandResult.
func (f panelFSM) CommandApplied(id v1.ID) (uint64, bool, error) {
	r, err := f.FSM.CommandResult(id)
	if errors.Is(err, panel.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return r.Index, true, nil
}

// Restore implements raft.FSM and schedules a catch-up of decisions.
func (f panelFSM) Restore(rc io.ReadCloser) error {
	err := f.FSM.Restore(rc)
	if err == nil && f.restored != nil {
		f.restored()
	}
	return err
}

var (
	_ consensus.FSM             = panelFSM{}
	_ consensus.ResponseEncoder = panelFSM{}
	_ raft.FSM                  = panelFSM{}
)

// PanelHostConfig is one panel this node is a member of: what the caller
// (cmd) knows from its configuration and the roster.
type PanelHostConfig struct {
	// Panel is the panel's ID (required).
	Panel v1.PanelID
	// Host is the node's libp2p host (required); closed by the caller after
	// the panel.
	Host host.Host
	// Members are the panel's servers from the roster (required unless
	// Join). Admit says whether a peer may carry the panel's traffic: a
	// roster member whose entry lists the panel.
	Members []consensus.Member
	Admit   func(peer.ID) bool
	Join    bool
	// AuthorityOf gives a peer's authority from the roster
	// (federation.Host.Member). When set, the leader refuses a forwarded
	// command that names another authority (ForwardedCommandCheck).
	AuthorityOf func(peer.ID) (v1.AuthorityCode, bool)
	// Dir is the panel's directory: Dir/raft for the log and snapshots,
	// Dir/state for the decision state.
	Dir string
	// EncryptionKey encrypts the Raft log, snapshots and the state at rest
	// (32 bytes, kept outside Dir). DataKey seals command payloads and
	// snapshots, so that a witness reads nothing; nrmnet requires it of
	// every member (nil: none, as for a test's panel).
	EncryptionKey []byte
	DataKey       []byte
	// Consensus holds the Raft settings (timeouts, snapshots, limits);
	// the zero value means consensus.DefaultConfig()'s.
	Consensus *consensus.Config
	// Logger receives messages; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports every missing field.
func (c PanelHostConfig) Validate() error {
	var errs []error
	if !c.Panel.Valid() {
		errs = append(errs, fmt.Errorf("%w: panel id %.40q is not valid", ErrInvalidConfig, c.Panel))
	}
	if c.Host == nil {
		errs = append(errs, fmt.Errorf("%w: Host is required", ErrInvalidConfig))
	}
	if c.Dir == "" {
		errs = append(errs, fmt.Errorf("%w: Dir is required", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// PanelHost is a running panel on this node: its decision state and its
// Raft group, attached to the node's Panels. On the panel's witness it is the
// Raft group alone (StartPanelWitness): no state, nothing attached.
type PanelHost struct {
	id     v1.PanelID
	panels *Panels
	fsm    *panel.FSM
	raft   *consensus.Panel

	once sync.Once
	err  error
}

// StartPanel opens the panel's state, starts its Raft group on the host and
// attaches it to panels, which then records the panel's decisions for this
// authority's cases (and catches up with those it missed while down).
func StartPanel(panels *Panels, cfg PanelHostConfig) (*PanelHost, error) {
	if panels == nil {
		return nil, fmt.Errorf("%w: panels is required", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	fc := panel.DefaultConfig()
	fc.Panel, fc.Dir, fc.EncryptionKey = cfg.Panel, filepath.Join(cfg.Dir, "state"), cfg.EncryptionKey
	fc.Observer, fc.ChangeObserver, fc.Logger = panels.Observer(cfg.Panel), panels.ChangeObserver(cfg.Panel), logger
	fsm, err := panel.Open(fc)
	if err != nil {
		return nil, fmt.Errorf("open panel %s state: %w", cfg.Panel, err)
	}
	cc := consensus.DefaultConfig()
	if cfg.Consensus != nil {
		cc = *cfg.Consensus
	}
	cc.Panel, cc.Self, cc.Members, cc.Admit, cc.Join = cfg.Panel, cfg.Host.ID(), cfg.Members, cfg.Admit, cfg.Join
	cc.Host, cc.Dir, cc.EncryptionKey, cc.DataKey = cfg.Host, filepath.Join(cfg.Dir, "raft"), cfg.EncryptionKey, cfg.DataKey
	cc.FSM = panelFSM{FSM: fsm, restored: func() { panels.Reconcile(cfg.Panel) }}
	cc.FSMPersistsState, cc.Witness, cc.Logger = true, false, logger
	if cfg.AuthorityOf != nil {
		cc.CheckForwarded = ForwardedCommandCheck(cfg.AuthorityOf)
	}
	r, err := consensus.New(cc)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start panel %s: %w", cfg.Panel, err), fsm.Close())
	}
	if err := panels.Attach(cfg.Panel, r, fsm); err != nil {
		return nil, errors.Join(err, r.Close(), fsm.Close())
	}
	return &PanelHost{id: cfg.Panel, panels: panels, fsm: fsm, raft: r}, nil
}

// StartPanelWitness starts this node as the witness of a panel of two
// authorities: a voting server that keeps the panel's log, sealed with a data
// key it does not hold, and reads none of it (consensus.WitnessFSM). It has
// no decision state and is not attached to the node's Panels: the node cannot
// propose to, or read from, a panel it only witnesses. cfg.DataKey must be
// nil; cfg.AuthorityOf is unused (a witness leader cannot read what it is
// forwarded, so the members check it).
func StartPanelWitness(cfg PanelHostConfig) (*PanelHost, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DataKey != nil {
		return nil, fmt.Errorf("%w: panel %s: a witness must not hold the panel data key", ErrInvalidConfig, cfg.Panel)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cc := consensus.DefaultConfig()
	if cfg.Consensus != nil {
		cc = *cfg.Consensus
	}
	cc.Panel, cc.Self, cc.Members, cc.Admit, cc.Join = cfg.Panel, cfg.Host.ID(), cfg.Members, cfg.Admit, cfg.Join
	cc.Host, cc.Dir, cc.EncryptionKey, cc.DataKey = cfg.Host, filepath.Join(cfg.Dir, "raft"), cfg.EncryptionKey, nil
	cc.FSM, cc.FSMPersistsState, cc.Witness, cc.Logger = consensus.NewWitnessFSM(), false, true, logger
	r, err := consensus.New(cc)
	if err != nil {
		return nil, fmt.Errorf("start panel %s witness: %w", cfg.Panel, err)
	}
	return &PanelHost{id: cfg.Panel, raft: r}, nil
}

// Witness says whether this node is only the panel's witness.
func (h *PanelHost) Witness() bool { return h.fsm == nil }

// Panel returns the Raft group (status, membership, Revoke on roster
// updates).
func (h *PanelHost) Panel() *consensus.Panel { return h.raft }

// State returns the panel's decision state on this member; nil on a
// witness.
func (h *PanelHost) State() *panel.FSM { return h.fsm }

// Close detaches the panel from the node, shuts Raft down, then closes the
// state (in that order: raft must not apply to a closed state). Idempotent.
func (h *PanelHost) Close() error {
	h.once.Do(func() {
		if h.fsm == nil { // a witness: nothing attached, no state
			h.err = h.raft.Close()
			return
		}
		h.panels.Detach(h.id)
		h.err = errors.Join(h.raft.Close(), h.fsm.Close())
	})
	return h.err
}

// ErrWrongProposer: a member forwarded a panel command issued in another
// authority's name.
var ErrWrongProposer = errors.New("panel command names an authority other than the forwarding member's")

// ForwardedCommandCheck returns the check a panel's leader should make of a
// command another member forwards: it must decode, and name as its issuing
// authority the one the roster gives the forwarding peer. The panel's rules
// cannot check this (they see only the command), so without it a member node
// could issue commands in another authority's name. authorityOf comes from
// the roster (federation.Host.Member(p) → Authority).
func ForwardedCommandCheck(authorityOf func(peer.ID) (v1.AuthorityCode, bool)) func(from peer.ID, cmd []byte) error {
	return func(from peer.ID, cmd []byte) error {
		c, err := panel.Decode(cmd)
		if err != nil {
			return fmt.Errorf("forwarded panel command: %w", err)
		}
		a, ok := authorityOf(from)
		if !ok {
			return fmt.Errorf("%w: %s is not on the roster", ErrWrongProposer, from)
		}
		if a != c.Authority {
			return fmt.Errorf("%w: %s is %s's node, the command names %s", ErrWrongProposer, from, a, c.Authority)
		}
		return nil
	}
}
