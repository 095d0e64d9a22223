package consensus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	v1 "nrmnet/schemas/v1"
)

// Propose submits a command to the panel and waits until it is applied. On a
// follower the command is forwarded to the leader, and Propose also waits
// (within ctx) for this node to apply it, so the proposer reads its own
// write here. With a data key the command is sealed before it leaves this
// node.
//
// Result.Response is the leader FSM's answer: the []byte it returned, or its
// answer encoded by its ResponseEncoder. It is nil when the leader is a
// witness (which applies nothing); ask this node's FSM by command ID then.
//
// A nil error means the command was committed and applied (Result says at
// which index and what the FSM answered). An error matching ErrRejected means
// it was committed and the FSM refused it. An error matching ErrAmbiguous
// means the outcome is unknown: do not retry blindly, resolve with
// CommandApplied and the command's ID. Any other error means the command was
// not applied. Without a deadline in ctx, Timeouts.Forward bounds the call.
func (p *Panel) Propose(ctx context.Context, cmd []byte) (Result, error) {
	if p.closed() {
		return Result{}, ErrClosed
	}
	if p.cfg.Witness {
		return Result{}, ErrWitness
	}
	if len(cmd) > p.cfg.MaxCommandBytes {
		return Result{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(cmd), p.cfg.MaxCommandBytes)
	}
	data := cmd
	if p.seal != nil {
		var err error
		if data, err = p.seal.sealCommand(cmd); err != nil {
			return Result{}, err
		}
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	var lastErr error
	for attempt := 0; ; attempt++ {
		if p.raft.State() == raft.Leader {
			res, err := p.applyLocal(ctx, data)
			if !errors.Is(err, raft.ErrNotLeader) {
				return res, err
			}
			lastErr = err // not appended: safe to try again
		} else if leader := p.leader(); leader != "" && leader != p.cfg.Self {
			resp, err := p.forward(ctx, leader, request{kind: kindPropose, payload: data})
			switch {
			case errors.Is(err, errNotSent):
				lastErr = err
			case err != nil:
				return Result{}, fmt.Errorf("%w: forwarded to leader %s: %w", ErrAmbiguous, leader, err)
			default:
				switch resp.status {
				case statusOK:
					p.catchUp(ctx, resp.index)
					return Result{Index: resp.index, Response: nonEmpty(resp.payload)}, nil
				case statusRejected:
					p.catchUp(ctx, resp.index)
					return Result{Index: resp.index}, fmt.Errorf("%w: %s", ErrRejected, resp.payload)
				case statusAmbiguous:
					return Result{}, fmt.Errorf("%w: leader %s: %s", ErrAmbiguous, leader, resp.payload)
				case statusFailed:
					return Result{}, fmt.Errorf("consensus: leader %s did not apply the command: %s", leader, resp.payload)
				case statusNotLeader:
					lastErr = fmt.Errorf("%s is no longer leader", leader)
				}
			}
		}
		if !p.pause(ctx, attempt) {
			if p.closed() {
				return Result{}, ErrClosed
			}
			return Result{}, fmt.Errorf("%w: %w (last: %v)", ErrNoLeader, context.Cause(ctx), lastErr)
		}
	}
}

// catchUp waits, within ctx, for this node to apply a command the leader
// applied, so that a proposer reads its own write here. The command is
// committed whether or not the wait completes.
func (p *Panel) catchUp(ctx context.Context, index uint64) {
	if err := p.waitApplied(ctx, index); err != nil {
		p.logger.Debug("committed command not yet applied here", "index", index, "error", err)
	}
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// applyLocal appends data on this node as leader and waits for it to apply.
// raft.ErrNotLeader comes back unwrapped: the entry was not appended.
func (p *Panel) applyLocal(ctx context.Context, data []byte) (Result, error) {
	f := p.raft.Apply(data, p.cfg.Timeouts.Forward)
	err := p.await(ctx, f)
	switch {
	case err == nil:
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		// Refused before it was appended: safe to send again.
		return Result{}, raft.ErrNotLeader
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return Result{}, fmt.Errorf("consensus: leader too busy to accept the command: %w", err)
	case errors.Is(err, ErrClosed):
		return Result{}, fmt.Errorf("%w: panel closed while the command was in flight", ErrAmbiguous)
	default:
		// ErrLeadershipLost, ErrRaftShutdown, a deadline: it may commit.
		return Result{}, fmt.Errorf("%w: %w", ErrAmbiguous, err)
	}
	res := Result{Index: f.Index()}
	switch v := f.Response().(type) {
	case nil:
	case []byte:
		res.Response = v
	case error:
		return res, fmt.Errorf("%w: %w", ErrRejected, v)
	default:
		enc, ok := p.cfg.FSM.(ResponseEncoder)
		if !ok {
			p.logger.Warn("fsm response dropped: the FSM returns a type it cannot encode", "type", fmt.Sprintf("%T", v))
			break
		}
		b, err := enc.EncodeResponse(v)
		if err != nil {
			p.logger.Warn("fsm response dropped: encoding failed", "error", err)
			break
		}
		res.Response = b
	}
	return res, nil
}

// errNotSent marks a forwarding failure before any byte of the request left
// this node: the request certainly had no effect.
var errNotSent = errors.New("consensus: request not sent")

// forward sends one request to the leader and reads its response.
func (p *Panel) forward(ctx context.Context, to peer.ID, req request) (response, error) {
	ctx, cancel := p.bound(ctx)
	defer cancel()
	if !p.admit(to) {
		return response{}, fmt.Errorf("%w: %s is not a member of the panel", errNotSent, to)
	}
	s, err := p.cfg.Host.NewStream(ctx, to, p.proto)
	if err != nil {
		return response{}, fmt.Errorf("%w: %w", errNotSent, err)
	}
	defer func() { _ = s.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if err := writeRequest(s, req); err != nil {
		_ = s.Reset()
		return response{}, notSentIfRefused(err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return response{}, notSentIfRefused(err)
	}
	resp, err := readResponse(s)
	if err != nil {
		_ = s.Reset()
		return response{}, notSentIfRefused(err)
	}
	return resp, nil
}

// notSentIfRefused marks a failed protocol negotiation as errNotSent: the
// peer does not run the panel (libp2p negotiates lazily, so the refusal shows
// on the first read or write), so its handler never saw the request.
func notSentIfRefused(err error) error {
	if errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) {
		return fmt.Errorf("%w: %w", errNotSent, err)
	}
	return err
}

// handleForward serves one forwarded request from another member.
func (p *Panel) handleForward(s network.Stream) {
	remote := s.Conn().RemotePeer()
	if !p.admit(remote) {
		p.logger.Warn("refused panel request from a peer that is not a member", "peer", remote.String())
		_ = s.Reset()
		return
	}
	p.handlersMu.Lock()
	if p.closing {
		p.handlersMu.Unlock()
		_ = s.Reset()
		return
	}
	p.handlers.Add(1)
	p.handlersMu.Unlock()
	defer p.handlers.Done()

	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeouts.Forward)
	defer cancel()
	_ = s.SetDeadline(time.Now().Add(p.cfg.Timeouts.Forward))
	req, err := readRequest(s)
	if err != nil {
		p.logger.Warn("malformed panel request", "peer", remote.String(), "error", err)
		_ = s.Reset()
		return
	}
	resp := p.serve(ctx, remote, req)
	if err := writeResponse(s, resp); err != nil {
		p.logger.Warn("could not answer panel request", "peer", remote.String(), "error", err)
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

func (p *Panel) serve(ctx context.Context, from peer.ID, req request) response {
	switch req.kind {
	case kindProgress:
		return response{status: statusOK, index: p.raft.LastIndex(), applied: p.raft.AppliedIndex()}
	case kindReadIndex, kindSettle:
		if p.raft.State() != raft.Leader {
			return p.notLeader()
		}
		idx, err := p.readIndexLocal(ctx, req.kind == kindSettle)
		if err != nil {
			return response{status: statusFailed, payload: []byte(err.Error())}
		}
		return response{status: statusOK, index: idx}
	case kindPropose:
		if p.raft.State() != raft.Leader {
			return p.notLeader()
		}
		max := p.cfg.MaxCommandBytes
		if p.seal != nil || p.cfg.Witness {
			max += sealOverhead
		}
		if len(req.payload) > max {
			return response{status: statusFailed, payload: []byte(fmt.Sprintf("command of %d bytes exceeds %d", len(req.payload), max))}
		}
		if err := p.checkForwarded(from, req.payload); err != nil {
			p.logger.Warn("refused a forwarded command", "peer", from.String(), "error", err)
			return response{status: statusFailed, payload: []byte("refused: " + err.Error())}
		}
		res, err := p.applyLocal(ctx, req.payload)
		switch {
		case err == nil:
			return response{status: statusOK, index: res.Index, payload: res.Response}
		case errors.Is(err, raft.ErrNotLeader):
			return p.notLeader()
		case errors.Is(err, ErrRejected):
			return response{status: statusRejected, index: res.Index, payload: []byte(strings.TrimPrefix(err.Error(), ErrRejected.Error()+": "))}
		case errors.Is(err, ErrAmbiguous):
			return response{status: statusAmbiguous, payload: []byte(err.Error())}
		default:
			return response{status: statusFailed, payload: []byte(err.Error())}
		}
	}
	return response{status: statusFailed, payload: []byte("unknown request")}
}

func (p *Panel) notLeader() response {
	return response{status: statusNotLeader, payload: []byte(p.leader())}
}

// readIndexLocal returns, on the leader, an index that covers every command
// committed before the call: the commit index, taken after the leader has
// committed a barrier in its term and confirmed by a quorum (VerifyLeader).
// With settle, the barrier is a fresh one, so the index also covers every
// entry appended before the call, whatever becomes of it.
func (p *Panel) readIndexLocal(ctx context.Context, settle bool) (uint64, error) {
	term := p.raft.CurrentTerm()
	if settle || p.barrierTerm.Load() != term {
		if err := p.await(ctx, p.raft.Barrier(p.cfg.Timeouts.Forward)); err != nil {
			return 0, fmt.Errorf("consensus: barrier: %w", err)
		}
		p.barrierTerm.Store(term)
	}
	idx := p.raft.CommitIndex()
	if err := p.await(ctx, p.raft.VerifyLeader()); err != nil {
		return 0, fmt.Errorf("consensus: verify leadership: %w", err)
	}
	return idx, nil
}

// Sync returns once this node's FSM has applied every command committed
// before Sync was called, so a read of the FSM after it is linearizable. The
// leader confirms its leadership; a follower asks the leader for its commit
// index and waits to apply up to it.
func (p *Panel) Sync(ctx context.Context) error { return p.sync(ctx, false) }

func (p *Panel) sync(ctx context.Context, settle bool) error {
	if p.closed() {
		return ErrClosed
	}
	ctx, cancel := p.bound(ctx)
	defer cancel()
	var lastErr error
	for attempt := 0; ; attempt++ {
		var idx uint64
		var err error
		if p.raft.State() == raft.Leader {
			idx, err = p.readIndexLocal(ctx, settle)
		} else if leader := p.leader(); leader != "" && leader != p.cfg.Self {
			var resp response
			kind := kindReadIndex
			if settle {
				kind = kindSettle
			}
			resp, err = p.forward(ctx, leader, request{kind: kind})
			if err == nil {
				if resp.status == statusOK {
					idx = resp.index
				} else {
					err = fmt.Errorf("leader %s: status %d: %s", leader, resp.status, resp.payload)
				}
			}
		} else {
			err = ErrNoLeader
		}
		if err == nil {
			return p.waitApplied(ctx, idx)
		}
		lastErr = err
		if !p.pause(ctx, attempt) {
			if p.closed() {
				return ErrClosed
			}
			return fmt.Errorf("%w: no read index before %w (last: %v)", ErrNoLeader, context.Cause(ctx), lastErr)
		}
	}
}

// waitApplied waits until the local FSM's state includes every command up
// to idx. raft's AppliedIndex counts entries handed to the FSM goroutine, not
// applied by it, so it is only the first condition: then the last command
// at or below idx is looked up in the log, and the FSM's own AppliedIndex
// must reach it. (A command compacted out of the log is in the FSM's state
// already: raft compacts only behind a snapshot or a restore.)
func (p *Panel) waitApplied(ctx context.Context, idx uint64) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	wait := func(done func() bool) error {
		for !done() {
			select {
			case <-t.C:
			case <-ctx.Done():
				return fmt.Errorf("consensus: applied %d of read index %d: %w", p.raft.AppliedIndex(), idx, ctx.Err())
			case <-p.ctx.Done():
				return ErrClosed
			}
		}
		return nil
	}
	if err := wait(func() bool { return p.raft.AppliedIndex() >= idx }); err != nil {
		return err
	}
	need, err := p.lastCommandAtOrBelow(idx)
	if err != nil {
		return err
	}
	fsm := p.fsm.(interface{ AppliedIndex() uint64 })
	return wait(func() bool { return fsm.AppliedIndex() >= need })
}

// lastCommandAtOrBelow returns the index of the last command entry in the
// local log at or below idx, or 0 if none is left in the log. The answer for
// the highest index asked so far is remembered, so a run of barriers and
// no-ops at the tail of the log is scanned once, not on every read.
func (p *Panel) lastCommandAtOrBelow(idx uint64) (uint64, error) {
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	if idx == p.scanIdx {
		return p.scanCmd, nil
	}
	first, err := p.store.FirstIndex()
	if err != nil {
		return 0, err
	}
	floor, known := first, uint64(0)
	if idx > p.scanIdx && p.scanIdx >= first {
		floor, known = p.scanIdx+1, p.scanCmd
	}
	found := known
	for i := idx; i >= floor && i > 0; i-- {
		var l raft.Log
		if err := p.store.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				break // compacted since FirstIndex was read
			}
			return 0, fmt.Errorf("consensus: read log entry %d: %w", i, err)
		}
		if l.Type == raft.LogCommand {
			found = i
			break
		}
	}
	if idx > p.scanIdx {
		p.scanIdx, p.scanCmd = idx, found
	}
	return found, nil
}

// CommandApplied says, linearizably, whether the command with this ID has
// been applied to the panel. The leader first commits a fresh barrier, so
// every entry appended before the call is settled (committed, or gone for
// good), then this node catches up and asks its FSM. This is how a proposer
// resolves ErrAmbiguous. A false answer is final when asked after the
// ambiguous Propose returned and Timeouts.Forward later (the time a leader
// may still have been reading a forwarded request); until then, ask again.
func (p *Panel) CommandApplied(ctx context.Context, id v1.ID) (index uint64, applied bool, err error) {
	if p.cfg.Witness {
		return 0, false, ErrWitness
	}
	if err := p.sync(ctx, true); err != nil {
		return 0, false, err
	}
	return p.cfg.FSM.CommandApplied(id)
}

// checkForwarded runs Config.CheckForwarded on a forwarded command, opened
// with the panel data key when commands are sealed.
func (p *Panel) checkForwarded(from peer.ID, payload []byte) error {
	if p.cfg.CheckForwarded == nil || p.cfg.Witness {
		return nil
	}
	cmd := payload
	if p.seal != nil {
		var err error
		if cmd, err = p.seal.openCommand(payload); err != nil {
			return err
		}
	}
	return p.cfg.CheckForwarded(from, cmd)
}
