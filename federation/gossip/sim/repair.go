package sim

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	v1 "nrmnet/schemas/v1"
)

// The repair pass is a digest exchange shaped like gossip/digest.go:
//
//	puller -> server  the IDs the puller holds
//	server -> puller  the IDs the server holds and the puller lacks
//	puller -> server  the IDs it wants
//	server -> puller  one envelope per frame, then an empty frame
//
// Frames are a uvarint length and the bytes; an ID list is the IDs' 32
// hex characters back to back. It runs over mocknet streams, so it pays
// the same link latency as gossip, and is not subject to the RPC loss.

const (
	repairProtocol = protocol.ID("/nrmnet/sim/alert-digest/1")
	maxRepairIDs   = 4096
	idLen          = 32
	maxFrame       = 64 << 10 // an alert envelope at its limit (gossip's maxAlertMessage)
	repairTimeout  = 10 * time.Second
)

// decodeIDs parses an ID list frame.
func decodeIDs(b []byte) ([]v1.ID, error) {
	if len(b)%idLen != 0 {
		return nil, fmt.Errorf("%w: ID list of %d bytes is not a multiple of %d", ErrMalformed, len(b), idLen)
	}
	if len(b)/idLen > maxRepairIDs {
		return nil, fmt.Errorf("%w: %d IDs, at most %d", ErrMalformed, len(b)/idLen, maxRepairIDs)
	}
	ids := make([]v1.ID, 0, len(b)/idLen)
	for i := 0; i < len(b); i += idLen {
		id := v1.ID(b[i : i+idLen])
		if !id.Valid() {
			return nil, fmt.Errorf("%w: ID %d is not 32 lower-case hex digits", ErrMalformed, i/idLen)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func encodeIDs(ids []v1.ID) []byte {
	b := make([]byte, 0, len(ids)*idLen)
	for _, id := range ids {
		b = append(b, id...)
	}
	return b
}

// writeFrame writes one frame and returns the bytes written.
func writeFrame(w io.Writer, b []byte) (int, error) {
	var hdr [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(hdr[:], uint64(len(b)))
	if _, err := w.Write(append(hdr[:k:k], b...)); err != nil {
		return 0, err
	}
	return k + len(b), nil
}

// readFrame reads one frame of at most maxFrame bytes.
func readFrame(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes, at most %d", ErrMalformed, n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (n *node) ids() []v1.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]v1.ID, 0, len(n.held))
	for id := range n.held {
		ids = append(ids, id)
	}
	return ids
}

func (r *run) serveRepair(n *node) network.StreamHandler {
	return func(st network.Stream) {
		defer st.Close()
		_ = st.SetDeadline(time.Now().Add(repairTimeout))
		if err := r.answer(n, st); err != nil {
			r.log.Debug("repair serve failed", "node", n.code, "err", err)
			_ = st.Reset()
		}
	}
}

func (r *run) answer(n *node, st network.Stream) error {
	br := bufio.NewReader(st)
	b, err := readFrame(br)
	if err != nil {
		return err
	}
	theirs, err := decodeIDs(b)
	if err != nil {
		return err
	}
	has := make(map[v1.ID]bool, len(theirs))
	for _, id := range theirs {
		has[id] = true
	}
	var lack []v1.ID
	for _, id := range n.ids() {
		if !has[id] {
			lack = append(lack, id)
		}
	}
	w, err := writeFrame(st, encodeIDs(lack))
	if err != nil {
		return err
	}
	n.trace.repairBytes.Add(int64(w))
	if b, err = readFrame(br); err != nil {
		return err
	}
	want, err := decodeIDs(b)
	if err != nil {
		return err
	}
	for _, id := range want {
		n.mu.Lock()
		env, ok := n.held[id]
		n.mu.Unlock()
		if !ok {
			continue
		}
		if w, err = writeFrame(st, env); err != nil {
			return err
		}
		n.trace.repairBytes.Add(int64(w))
	}
	w, err = writeFrame(st, nil)
	n.trace.repairBytes.Add(int64(w))
	return err
}

// pull runs one digest exchange from n to its peer m, and records what it
// fetched.
func (r *run) pull(ctx context.Context, n, m *node) error {
	ctx, cancel := context.WithTimeout(ctx, repairTimeout)
	defer cancel()
	st, err := n.host.NewStream(ctx, m.host.ID(), repairProtocol)
	if err != nil {
		return err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(repairTimeout))
	w, err := writeFrame(st, encodeIDs(n.ids()))
	if err != nil {
		return err
	}
	n.trace.repairBytes.Add(int64(w))
	br := bufio.NewReader(st)
	b, err := readFrame(br)
	if err != nil {
		return err
	}
	offered, err := decodeIDs(b)
	if err != nil {
		return err
	}
	wanted := map[v1.ID]bool{}
	var want []v1.ID
	for _, id := range offered {
		if !n.holds(id) {
			wanted[id] = true
			want = append(want, id)
		}
	}
	if w, err = writeFrame(st, encodeIDs(want)); err != nil {
		return err
	}
	n.trace.repairBytes.Add(int64(w))
	for {
		env, err := readFrame(br)
		if err != nil {
			return err
		}
		if len(env) == 0 {
			return nil
		}
		at := time.Now()
		a, err := r.open(env)
		if err != nil {
			return err
		}
		if !wanted[a.ID] {
			return fmt.Errorf("%w: alert %s was not asked for", ErrMalformed, a.ID)
		}
		r.record(n, a.ID, env, at, ViaRepair, m.idx)
	}
}

// repair runs digest rounds until every node holds every alert, at least
// once and at most RepairRounds times: in each, every node pulls from one
// random neighbour, all at once. It returns the rounds run.
func (r *run) repair(ctx context.Context) (int, error) {
	adj := make([][]*node, len(r.nodes))
	for i := range r.nodes {
		for j, h := range r.hops[i] {
			if h == 1 {
				adj[i] = append(adj[i], r.nodes[j])
			}
		}
	}
	for round := 1; ; round++ {
		var wg sync.WaitGroup
		for i, n := range r.nodes {
			m := adj[i][mrand.IntN(len(adj[i]))]
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.pull(ctx, n, m); err != nil {
					r.log.Debug("repair pull failed", "node", n.code, "from", m.code, "err", err)
				}
			}()
		}
		wg.Wait()
		if r.complete() || round >= r.cfg.RepairRounds {
			return round, ctx.Err()
		}
	}
}

// complete says whether every node holds every published alert.
func (r *run) complete() bool {
	r.mu.Lock()
	ids := make([]v1.ID, 0, len(r.published))
	for id := range r.published {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, n := range r.nodes {
		for _, id := range ids {
			if !n.holds(id) {
				return false
			}
		}
	}
	return true
}
