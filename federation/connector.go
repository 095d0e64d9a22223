package federation

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/roster"
)

// Peers are found from the roster alone (there is no DHT): connectLoop keeps
// a connection to every other member, and a bridge also to the bridges of the
// other regions held (Host.wanted). It owns the dial state; dials run in
// their own goroutines, at most MaxConcurrentDials at once, and report back on
// a channel with room for all of them, so a dial never blocks on the loop.

type dialState struct {
	// attempts counts dials since the last connection that proved stable. A
	// dial that connects still counts: a member that refuses us after the
	// handshake (we are not on its roster yet, or no longer) must not be
	// redialled in a tight loop.
	attempts  int
	next      time.Time // no dial before this
	connected time.Time // when the last dial connected; zero if it failed
	dialing   bool
}

type dialResult struct {
	peer peer.ID
	err  error
}

// backoff returns the wait after the given number of attempts:
// doubling from min, capped at max, with ±20% jitter so that nodes restarted
// together do not dial in step.
func backoff(attempts int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

func (h *Host) connectLoop(initial *roster.Roster) {
	defer h.wg.Done()
	self := h.host.ID()
	pendingFirst := map[peer.ID]bool{}
	for _, p := range initial.PeerIDs() {
		if p != self {
			pendingFirst[p] = true
		}
	}
	readyClosed := false
	markTried := func(p peer.ID) {
		delete(pendingFirst, p)
		if len(pendingFirst) == 0 && !readyClosed {
			readyClosed = true
			close(h.ready)
			h.log.Debug("federation host ready: every member tried once")
		}
	}
	if len(pendingFirst) == 0 {
		markTried("")
	}

	state := map[peer.ID]*dialState{}
	results := make(chan dialResult, h.cfg.MaxConcurrentDials)
	inflight := 0
	var warnedExpired uint64 // serial of the roster last reported expired
	timer := time.NewTimer(h.cfg.ReconnectInterval)
	defer timer.Stop()

	for {
		m := h.gater.current.Load()
		want := h.wanted()
		now := time.Now()
		for p, st := range state {
			if !want[p] && !st.dialing {
				delete(state, p)
			}
		}
		for p := range pendingFirst {
			if !want[p] {
				markTried(p)
			}
		}
		wait := h.cfg.ReconnectInterval
		for p := range want {
			st := state[p]
			if st == nil {
				st = &dialState{}
				state[p] = st
			}
			if st.dialing {
				continue
			}
			if h.host.Network().Connectedness(p) == network.Connected {
				// Stable once up for a reconnect interval: forget the attempts.
				if st.attempts > 0 && !st.connected.IsZero() && now.Sub(st.connected) >= h.cfg.ReconnectInterval {
					st.attempts, st.next, st.connected = 0, time.Time{}, time.Time{}
				}
				markTried(p)
				continue
			}
			if now.Before(st.next) {
				wait = min(wait, st.next.Sub(now))
				continue
			}
			if inflight >= h.cfg.MaxConcurrentDials {
				continue // retried when a dial reports back
			}
			st.dialing = true
			inflight++
			h.wg.Add(1)
			go h.dial(p, results)
		}

		if exp := m.roster.ExpiresAt; !h.cfg.Now().Before(exp) && warnedExpired != m.roster.Serial {
			warnedExpired = m.roster.Serial
			// Fail static: keep admitting the last verified members rather
			// than stop every alert in the region; the anchors must re-sign.
			h.log.Error("the roster in force has expired; still admitting its members until a newer one arrives",
				"roster_serial", m.roster.Serial, "expired_at", exp)
		}

		timer.Reset(wait)
		select {
		case <-h.ctx.Done():
			return
		case res := <-results:
			inflight--
			h.dialed(state, res)
			markTried(res.peer)
		case <-h.wake:
		case <-timer.C:
		}
	}
}

func (h *Host) dial(p peer.ID, results chan<- dialResult) {
	defer h.wg.Done()
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.DialTimeout)
	defer cancel()
	err := h.host.Connect(ctx, peer.AddrInfo{ID: p}) // addresses from the roster, in the peerstore
	results <- dialResult{peer: p, err: err}
}

func (h *Host) dialed(state map[peer.ID]*dialState, res dialResult) {
	st := state[res.peer]
	if st == nil {
		return
	}
	st.dialing = false
	if h.ctx.Err() != nil {
		return
	}
	st.attempts++
	wait := backoff(st.attempts, h.cfg.DialBackoffMin, h.cfg.DialBackoffMax)
	st.next = time.Now().Add(wait)
	if res.err == nil {
		if st.connected.IsZero() && st.attempts > 1 {
			h.log.Info("member reachable again", "peer", res.peer, "after_attempts", st.attempts-1)
		}
		st.connected = time.Now()
		return
	}
	st.connected = time.Time{}
	level := h.log.Debug
	if st.attempts == 1 {
		level = h.log.Warn
	}
	member, _ := h.Member(res.peer)
	level("cannot reach member", "peer", res.peer, "authority", member.Authority,
		"attempts", st.attempts, "retry_in", wait.Round(time.Millisecond), "err", res.err)
}
