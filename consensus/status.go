package consensus

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	v1 "nrmnet/schemas/v1"
)

// observed is what the observer goroutine keeps from raft's observations.
type observed struct {
	leaderChanges uint64
	lastChange    time.Time
	// failing holds the peers whose heartbeats from this leader fail, with
	// their last contact.
	failing map[raft.ServerID]time.Time
}

// observe owns the observation state. It also commits a barrier each time
// this node becomes leader, so that reads it serves are never stale.
func (p *Panel) observe() {
	st := observed{failing: make(map[raft.ServerID]time.Time)}
	readyClosed := false
	for {
		select {
		case <-p.ctx.Done():
			return
		case reply := <-p.statusReq:
			cp := st
			cp.failing = make(map[raft.ServerID]time.Time, len(st.failing))
			for k, v := range st.failing {
				cp.failing[k] = v
			}
			reply <- cp
		case o := <-p.obsCh:
			switch d := o.Data.(type) {
			case raft.LeaderObservation:
				st.leaderChanges++
				st.lastChange = time.Now()
				clear(st.failing)
				p.logger.Info("panel leader changed", "leader", string(d.LeaderID))
				if d.LeaderID != "" && !readyClosed {
					close(p.ready)
					readyClosed = true
				}
				if d.LeaderID == p.self {
					if p.cfg.Witness {
						p.wg.Go(p.handOverLeadership)
					} else {
						p.wg.Go(p.leaderBarrier)
					}
				}
			case raft.FailedHeartbeatObservation:
				st.failing[d.PeerID] = d.LastContact
			case raft.ResumedHeartbeatObservation:
				delete(st.failing, d.PeerID)
			case raft.PeerObservation:
				if d.Removed {
					delete(st.failing, d.Peer.ID)
				}
			}
		}
	}
}

// leaderBarrier commits a barrier in the term this node just won.
func (p *Panel) leaderBarrier() {
	term := p.raft.CurrentTerm()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeouts.Forward)
	defer cancel()
	if err := p.await(ctx, p.raft.Barrier(p.cfg.Timeouts.Forward)); err != nil {
		p.logger.Warn("barrier after gaining leadership failed", "term", term, "error", err)
		return
	}
	if p.raft.CurrentTerm() == term {
		p.barrierTerm.Store(term)
	}
}

// handOverLeadership moves leadership from the witness to the most
// up-to-date member, best effort: a witness can lead (it replicates
// ciphertext), but the FSM answers come from a member that applies them, and
// a witness is often on the slower link. If no member can take over, the
// witness stays leader and the panel keeps deciding.
func (p *Panel) handOverLeadership() {
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeouts.Forward)
	defer cancel()
	if err := p.await(ctx, p.raft.LeadershipTransfer()); err != nil {
		p.logger.Info("witness keeps leadership: transfer failed", "error", err)
		return
	}
	p.logger.Info("witness handed leadership to a member")
}

// Status is one node's view of its panel's Raft group.
type Status struct {
	Panel   v1.PanelID
	Self    peer.ID
	Witness bool
	// State is Follower, Candidate, Leader or Shutdown.
	State  string
	Leader peer.ID // "" when none is known
	Term   uint64
	// LastIndex is the last entry in this node's log, CommitIndex the last
	// it knows committed, AppliedIndex the last its FSM applied.
	LastIndex, CommitIndex, AppliedIndex uint64
	// LeaderChanges counts the leader changes this node has observed since
	// it started, LastLeaderChange the time of the last.
	LeaderChanges    uint64
	LastLeaderChange time.Time
	// Peers is filled in on the leader only: each other server's progress.
	Peers []PeerStatus
}

// PeerStatus is the leader's view of one other server.
type PeerStatus struct {
	ID       peer.ID
	NonVoter bool
	// Reachable is false when the peer did not answer a progress request.
	Reachable bool
	// LastIndex and AppliedIndex are the peer's, as it reported them.
	LastIndex, AppliedIndex uint64
	// Lag is how many entries the peer's log is behind the leader's.
	Lag uint64
	// HeartbeatFailingSince is the peer's last contact when raft reports its
	// heartbeats failing; zero otherwise.
	HeartbeatFailingSince time.Time
}

// Status reports this node's Raft state; on the leader it also asks every
// other server for its progress to report lag per peer: each for at most one
// heartbeat interval (and within ctx), and not at all when raft's heartbeats
// to it are already failing, so one dead member never stalls the answer.
func (p *Panel) Status(ctx context.Context) (Status, error) {
	if p.closed() {
		return Status{}, ErrClosed
	}
	reply := make(chan observed, 1)
	select {
	case p.statusReq <- reply:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	case <-p.ctx.Done():
		return Status{}, ErrClosed
	}
	obs := <-reply
	st := Status{
		Panel:            p.cfg.Panel,
		Self:             p.cfg.Self,
		Witness:          p.cfg.Witness,
		State:            p.raft.State().String(),
		Leader:           p.leader(),
		Term:             p.raft.CurrentTerm(),
		LastIndex:        p.raft.LastIndex(),
		CommitIndex:      p.raft.CommitIndex(),
		AppliedIndex:     p.raft.AppliedIndex(),
		LeaderChanges:    obs.leaderChanges,
		LastLeaderChange: obs.lastChange,
	}
	if p.raft.State() != raft.Leader {
		return st, nil
	}
	servers, err := p.servers(ctx)
	if err != nil {
		return st, err
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range servers {
		if s.ID == p.self {
			continue
		}
		id, err := peer.Decode(string(s.ID))
		if err != nil {
			continue
		}
		ps := PeerStatus{ID: id, NonVoter: s.Suffrage != raft.Voter, HeartbeatFailingSince: obs.failing[s.ID]}
		if !ps.HeartbeatFailingSince.IsZero() {
			// Raft's own heartbeats to it are failing: asking too would only
			// hold the answer up (a dead host does not refuse, it is silent).
			st.Peers = append(st.Peers, ps)
			continue
		}
		wg.Go(func() {
			// One heartbeat interval per member: a status is for people
			// and dashboards, and a member slower than that is shown
			// unreachable rather than stalling the whole answer.
			pctx, pcancel := context.WithTimeout(ctx, p.cfg.Timeouts.Heartbeat)
			defer pcancel()
			if resp, err := p.forward(pctx, id, request{kind: kindProgress}); err == nil && resp.status == statusOK {
				ps.Reachable, ps.LastIndex, ps.AppliedIndex = true, resp.index, resp.applied
				if st.LastIndex > resp.index {
					ps.Lag = st.LastIndex - resp.index
				}
			}
			mu.Lock()
			st.Peers = append(st.Peers, ps)
			mu.Unlock()
		})
	}
	wg.Wait()
	return st, nil
}

// servers returns the group's current configuration.
func (p *Panel) servers(ctx context.Context) ([]raft.Server, error) {
	f := p.raft.GetConfiguration()
	if err := p.await(ctx, f); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}

// Members returns the group's current members as raft's configuration holds
// them (the last configuration in the log, committed or not).
func (p *Panel) Members(ctx context.Context) ([]Member, error) {
	servers, err := p.servers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(servers))
	for _, s := range servers {
		id, err := peer.Decode(string(s.ID))
		if err != nil {
			continue
		}
		out = append(out, Member{ID: id, NonVoter: s.Suffrage != raft.Voter})
	}
	return out, nil
}
