package consensus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	v1 "nrmnet/schemas/v1"
)

// AddMember adds a server to the group, on the leader only. The new node must
// already run its Panel with Join set. It is added as a non-voter first, so
// that it receives the log without counting to quorum; unless m.NonVoter, it
// is promoted to voter once its log has reached the leader's commit index as
// it stood when it was added. If it does not catch up before ctx ends, it is
// left a non-voter and ErrNotCaughtUp is returned: call AddMember again.
func (p *Panel) AddMember(ctx context.Context, m Member) error {
	if err := p.leaderOnly(); err != nil {
		return err
	}
	if err := m.ID.Validate(); err != nil {
		return fmt.Errorf("consensus: add member: %w", err)
	}
	id, addr := raft.ServerID(m.ID.String()), raft.ServerAddress(m.ID.String())
	ctx, cancel := p.bound(ctx)
	defer cancel()

	servers, err := p.servers(ctx)
	if err != nil {
		return err
	}
	voter := false
	for _, s := range servers {
		if s.ID == id {
			voter = s.Suffrage == raft.Voter
		}
	}
	if voter {
		if m.NonVoter {
			return p.await(ctx, p.raft.DemoteVoter(id, 0, p.cfg.Timeouts.Forward))
		}
		return nil
	}
	if err := p.await(ctx, p.raft.AddNonvoter(id, addr, 0, p.cfg.Timeouts.Forward)); err != nil {
		return fmt.Errorf("consensus: add %s as non-voter: %w", m.ID, err)
	}
	p.logger.Info("panel member added as non-voter", "peer", m.ID.String())
	if m.NonVoter {
		return nil
	}
	target := p.raft.CommitIndex()
	for attempt := 0; ; attempt++ {
		resp, err := p.forward(ctx, m.ID, request{kind: kindProgress})
		if err == nil && resp.status == statusOK && resp.index >= target {
			break
		}
		if !p.pause(ctx, attempt+10) {
			return fmt.Errorf("%w: %s: %w", ErrNotCaughtUp, m.ID, context.Cause(ctx))
		}
	}
	if err := p.await(ctx, p.raft.AddVoter(id, addr, 0, p.cfg.Timeouts.Forward)); err != nil {
		return fmt.Errorf("consensus: promote %s to voter: %w", m.ID, err)
	}
	p.logger.Info("panel member promoted to voter", "peer", m.ID.String())
	return nil
}

// RemoveMember removes a server from the group, on the leader only. A
// leader may remove itself; it steps down once the change commits.
func (p *Panel) RemoveMember(ctx context.Context, id peer.ID) error {
	if err := p.leaderOnly(); err != nil {
		return err
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	if err := p.await(ctx, p.raft.RemoveServer(raft.ServerID(id.String()), 0, p.cfg.Timeouts.Forward)); err != nil {
		return fmt.Errorf("consensus: remove %s: %w", id, err)
	}
	p.logger.Info("panel member removed", "peer", id.String())
	return nil
}

// Revoke cuts the panel's Raft streams with a peer that the roster no longer
// lists for this panel: Admit already refuses its new streams; this ends the
// ones it holds. It does not change the group's membership (RemoveMember).
func (p *Panel) Revoke(id peer.ID) int { return p.layer.Sever(id) }

func (p *Panel) leaderOnly() error {
	if p.closed() {
		return ErrClosed
	}
	if p.raft.State() != raft.Leader {
		if l := p.leader(); l != "" {
			return fmt.Errorf("%w: the leader is %s", ErrNotLeader, l)
		}
		return fmt.Errorf("%w: no leader is known", ErrNotLeader)
	}
	return nil
}

// Recover rewrites the membership of a panel that has lost quorum for good,
// on one stopped node, using raft's RecoverCluster. Run it on every
// surviving member that is to stay, with the Panel closed, the same cfg as
// New (Host is not needed) and the same peers on each; then start them
// again. The node replays its log into the FSM, takes a snapshot, and
// compacts its log; entries it has that were never committed may become
// committed. A witness is never recovered: recover the members, then add a
// fresh witness with AddMember. docs/recover-panel.md is the runbook.
func Recover(cfg Config, peers []Member) error {
	if err := cfg.validate(false); err != nil {
		return err
	}
	if cfg.Witness {
		return fmt.Errorf("%w: recover the members, then add a new witness", ErrWitness)
	}
	if err := checkPeers(peers, cfg.Self); err != nil {
		return err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("panel", string(cfg.Panel))
	fsm, _, err := cfg.stateMachine()
	if err != nil {
		return err
	}
	store, snaps, err := openStores(cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.Self.String()))
	defer trans.Close()
	if err := raft.RecoverCluster(cfg.raftConfig(logger), fsm, store, store, snaps, trans, configuration(peers)); err != nil {
		return fmt.Errorf("consensus: recover panel %s: %w", cfg.Panel, err)
	}
	logger.Warn("panel membership recovered by operator", "members", len(peers))
	return nil
}

func checkPeers(peers []Member, self peer.ID) error {
	seen := make(map[peer.ID]bool)
	voters, selfVoter := 0, false
	for i, m := range peers {
		if err := m.ID.Validate(); err != nil {
			return fmt.Errorf("%w: peer %d: %w", ErrBadPeersFile, i, err)
		}
		if seen[m.ID] {
			return fmt.Errorf("%w: %s listed twice", ErrBadPeersFile, m.ID)
		}
		seen[m.ID] = true
		if !m.NonVoter {
			voters++
			selfVoter = selfVoter || m.ID == self
		}
	}
	if voters == 0 {
		return fmt.Errorf("%w: no voter", ErrBadPeersFile)
	}
	if !selfVoter {
		return fmt.Errorf("%w: this node (%s) is not a voter in it; recover only the nodes that stay", ErrBadPeersFile, self)
	}
	return nil
}

// peersFile is the JSON form of a recovery peers file:
//
//	{"panel": "islington-camden", "members": [{"id": "12D3KooW..."}, {"id": "12D3KooW...", "non_voter": true}]}
type peersFile struct {
	Panel   string       `json:"panel"`
	Members []peerRecord `json:"members"`
}

type peerRecord struct {
	ID       string `json:"id"`
	NonVoter bool   `json:"non_voter,omitempty"`
}

// maxPeersFile bounds a peers file; a panel has a handful of members.
const maxPeersFile = 64 << 10

// DecodePeersFile parses a recovery peers file for the named panel. It
// rejects unknown fields, another panel's file, bad peer IDs and duplicates.
func DecodePeersFile(data []byte, panel v1.PanelID) ([]Member, error) {
	if len(data) > maxPeersFile {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadPeersFile, len(data), maxPeersFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f peersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPeersFile, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrBadPeersFile)
	}
	if f.Panel != string(panel) {
		return nil, fmt.Errorf("%w: file is for panel %q, not %q", ErrBadPeersFile, f.Panel, panel)
	}
	if len(f.Members) == 0 {
		return nil, fmt.Errorf("%w: no members", ErrBadPeersFile)
	}
	out := make([]Member, 0, len(f.Members))
	seen := make(map[peer.ID]bool)
	for i, r := range f.Members {
		id, err := peer.Decode(r.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: members[%d].id %q: %w", ErrBadPeersFile, i, r.ID, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: members[%d]: %s listed twice", ErrBadPeersFile, i, id)
		}
		seen[id] = true
		out = append(out, Member{ID: id, NonVoter: r.NonVoter})
	}
	return out, nil
}

// ReadPeersFile reads and decodes a recovery peers file.
func ReadPeersFile(path string, panel v1.PanelID) ([]Member, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s does not exist", ErrBadPeersFile, path)
		}
		return nil, fmt.Errorf("consensus: read peers file: %w", err)
	}
	return DecodePeersFile(data, panel)
}
