package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"nrmnet/federation/roster"
)

// Sentinel errors; match them with errors.Is. UpdateRoster's errors also match
// those of package roster (ErrStale, ErrConflict, ErrWrongRegion,
// ErrThreshold, ErrExpired, and the schemas decoding errors).
var (
	// ErrConfig: the Config is invalid.
	ErrConfig = errors.New("invalid federation config")
	// ErrNotOnRoster: this node's own peer ID is not on the roster it was
	// started with, so no member would admit it.
	ErrNotOnRoster = errors.New("this node is not on the roster")
	// ErrClosed: the host has been closed.
	ErrClosed = errors.New("federation host closed")
)

// protectTag marks roster members' connections in the connection manager so
// that it never trims them.
const protectTag = "nrmnet-roster"

// Host is this node's libp2p host in the regional federation. It admits only
// peers on the current verified roster, keeps a connection to every other
// member, and moves to a newer roster when given one.
type Host struct {
	cfg   Config
	log   *slog.Logger
	host  host.Host
	gater *rosterGater
	cm    *connmgr.BasicConnMgr

	// updateMu serialises roster changes, so observers see them in order.
	updateMu           sync.Mutex
	observers          observers // the home roster's updates
	neighbourObservers observers // other regions' rosters' updates

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the host starts
	wake   chan struct{}  // nudges the connector; capacity 1
	ready  chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// RosterUpdate tells an observer that the host now holds a roster.
type RosterUpdate struct {
	// Roster is the roster now in force. Observers must not change it.
	Roster *roster.Roster
	// Signed is its signed encoding, as verified: what to pass on to peers.
	Signed []byte
	// PreviousSerial is the serial of the roster replaced; 0 for the roster
	// the host started with.
	PreviousSerial uint64
	// Admitted and Revoked are the peers that joined and left.
	Admitted, Revoked []peer.ID
}

// New starts a host: it verifies the configured roster, listens, and begins
// connecting to the roster's members. ctx bounds start-up only; the host runs
// until Close.
func New(ctx context.Context, cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "federation")

	r, err := roster.Verify(cfg.Roster, cfg.Anchors, cfg.Threshold, cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("federation: initial roster: %w", err)
	}
	if r.Region != cfg.Region {
		return nil, fmt.Errorf("federation: initial roster: %w: it is for %s, this node is in %s", roster.ErrWrongRegion, r.Region, cfg.Region)
	}
	key, err := crypto.UnmarshalEd25519PrivateKey(cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("federation: identity: %w", err)
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("federation: identity: %w", err)
	}
	if _, ok := r.MemberByPeer(self); !ok {
		return nil, fmt.Errorf("federation: %w: peer ID %s is not on roster serial %d for %s", ErrNotOnRoster, self, r.Serial, r.Region)
	}

	others, err := verifyNeighbours(cfg, log)
	if err != nil {
		return nil, err
	}
	gater := &rosterGater{log: log}
	gater.current.Store(newMembership(r, cfg.Roster))
	gater.neighbours.Store(newNeighbours(nil))

	rm, err := cfg.Limits.resourceManager()
	if err != nil {
		return nil, fmt.Errorf("federation: resource manager: %w", err)
	}
	// Members are never trimmed (they are protected); the watermarks only
	// bound duplicate connections.
	cm, err := connmgr.NewConnManager(2*cfg.Limits.Peers, 3*cfg.Limits.Peers, connmgr.WithGracePeriod(time.Minute))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("federation: connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.ConnectionGater(gater),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.WithDialTimeout(cfg.DialTimeout),
		// No DHT, no NAT traversal: peers come from the roster, and
		// authorities publish reachable addresses there.
	}
	if cfg.WrapMuxer != nil {
		opts = append(opts, libp2p.Muxer(yamux.ID, cfg.WrapMuxer(yamux.DefaultTransport)))
	}
	if cfg.Metrics != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(cfg.Metrics))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	// libp2p.New closes the resource and connection managers itself if it
	// fails.
	lh, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("federation: start libp2p: %w", err)
	}

	hctx, cancel := context.WithCancel(context.Background())
	h := &Host{
		cfg:    cfg,
		log:    log,
		host:   lh,
		gater:  gater,
		cm:     cm,
		ctx:    hctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		ready:  make(chan struct{}),
	}
	h.observers.init(&h.wg, hctx)
	h.neighbourObservers.init(&h.wg, hctx)
	lh.Network().Notify(&network.NotifyBundle{
		ConnectedF:    h.connected,
		DisconnectedF: func(network.Network, network.Conn) { h.nudge() },
	})
	h.admit(r, nil)
	h.admitNeighbours(others)

	h.wg.Add(1)
	go h.connectLoop(r)

	log.Info("federation host started", "peer", self, "region", r.Region, "roster_serial", r.Serial,
		"members", len(r.Members), "other_regions", len(others.regions), "listen", lh.Addrs())
	return h, nil
}

// ID returns this node's peer ID.
func (h *Host) ID() peer.ID { return h.host.ID() }

// Addrs returns the addresses the host listens on, e.g. to put on a roster.
func (h *Host) Addrs() []ma.Multiaddr { return h.host.Addrs() }

// Libp2p returns the underlying libp2p host, for the gossip, rpc and Raft
// layers to open streams and register protocols on. Closing it is the Host's
// job.
func (h *Host) Libp2p() host.Host { return h.host }

// Ready is closed once the host has tried to reach every member of the roster
// it started with at least once (connected or not). It is never closed if the
// host is closed first.
func (h *Host) Ready() <-chan struct{} { return h.ready }

// Roster returns a copy of the roster in force.
func (h *Host) Roster() *roster.Roster { return h.gater.current.Load().roster.Clone() }

// SignedRoster returns the signed encoding of the roster in force.
func (h *Host) SignedRoster() []byte { return slices.Clone(h.gater.current.Load().signed) }

// Member returns the roster entry of a peer, if it is a member.
func (h *Host) Member(p peer.ID) (roster.Member, bool) {
	m, ok := h.gater.current.Load().members[p]
	return m, ok
}

// RefusedConnections returns how many connections the gater has refused
// after the security handshake since the host started: strangers, and members
// revoked since.
func (h *Host) RefusedConnections() uint64 { return h.gater.refused.Load() }

// UpdateRoster verifies a signed roster and, if it is newer than the one in
// force, switches to it: the gater changes at once, connections of peers no
// longer on it are closed, and observers are told. It returns nil when the
// roster was applied or is the one already held, an error matching
// roster.ErrStale for an older roster (nothing changes), and other errors for
// a roster that is invalid, for another region, or conflicts with the one
// held.
//
// A roster of another region listed in Config.Neighbours is checked against
// that region's anchors and, if newer, replaces the one held for it (see
// NeighbourUpdates). A roster of any other region is refused with an error
// matching both roster.ErrWrongRegion and ErrUntrustedRegion.
//
// The host does not spread the roster itself; an observer (the gossip layer)
// does.
func (h *Host) UpdateRoster(signed []byte) error {
	if h.ctx.Err() != nil {
		return ErrClosed
	}
	// Which region's anchors to check it against is read from the roster
	// itself; the check that follows is what decides.
	if sr, err := roster.DecodeSignedRoster(signed); err == nil {
		if region := sr.Unverified().Region; region != h.cfg.Region && validRegion(region) {
			return h.updateNeighbour(region, signed)
		}
	}
	next, err := roster.Verify(signed, h.cfg.Anchors, h.cfg.Threshold, h.cfg.Now())
	if err != nil {
		return fmt.Errorf("federation: update roster: %w", err)
	}
	h.updateMu.Lock()
	defer h.updateMu.Unlock()
	if h.ctx.Err() != nil {
		return ErrClosed
	}
	cur := h.gater.current.Load().roster
	if next.Region != h.cfg.Region {
		return fmt.Errorf("federation: update roster: %w: it is for %s, this node is in %s", roster.ErrWrongRegion, next.Region, h.cfg.Region)
	}
	succ, err := roster.Supersede(cur, next)
	if err != nil {
		h.log.Error("refused a conflicting roster", "serial", next.Serial, "err", err)
		return fmt.Errorf("federation: update roster: %w", err)
	}
	switch succ {
	case roster.Same:
		return nil
	case roster.Older:
		return fmt.Errorf("federation: update roster: %w: serial %d, holding %d", roster.ErrStale, next.Serial, cur.Serial)
	}
	h.admit(next, slices.Clone(signed))
	return nil
}

// admit puts a verified roster in force. prev is the roster replaced, nil at
// start. Called with updateMu held, or before the host is shared.
func (h *Host) admit(next *roster.Roster, signed []byte) {
	if signed == nil {
		signed = h.cfg.Roster
	}
	old := h.gater.current.Load()
	nm := newMembership(next, signed)
	// The switch: from here every gater check uses the new roster.
	h.gater.current.Store(nm)

	var admitted, revoked []peer.ID
	var prevSerial uint64
	if old != nil && old.roster != next {
		prevSerial = old.roster.Serial
		for p := range old.members {
			if !nm.admits(p) && !h.gater.neighbours.Load().admits(p) {
				revoked = append(revoked, p)
			}
		}
	}
	ps := h.host.Peerstore()
	for p, m := range nm.members {
		if p == h.host.ID() {
			continue
		}
		if prevSerial == 0 || !old.admits(p) {
			admitted = append(admitted, p)
		}
		addrs, err := m.Multiaddrs()
		if err != nil {
			continue // cannot happen in a verified roster
		}
		// The roster's addresses replace what the peerstore had from it.
		ps.ClearAddrs(p)
		ps.AddAddrs(p, addrs, peerstore.PermanentAddrTTL)
		h.cm.Protect(p, protectTag)
	}
	for _, p := range revoked {
		h.cm.Unprotect(p, protectTag)
		// Connections that finish their upgrade after this are caught by
		// the gater's last check or by connected.
		if err := h.host.Network().ClosePeer(p); err != nil {
			h.log.Warn("closing a revoked peer's connections", "peer", p, "err", err)
		}
		ps.RemovePeer(p)
		ps.ClearAddrs(p)
		h.log.Info("peer revoked by the roster", "peer", p, "roster_serial", next.Serial)
	}
	if prevSerial != 0 {
		h.log.Info("roster updated", "from_serial", prevSerial, "to_serial", next.Serial,
			"admitted", len(admitted), "revoked", len(revoked))
		if !nm.admits(h.host.ID()) {
			h.log.Error("this node is not on the new roster: members will refuse it", "roster_serial", next.Serial)
		}
	}
	slices.Sort(admitted)
	slices.Sort(revoked)
	if prevSerial != 0 {
		// This node may have become, or stopped being, a bridge: refresh
		// which other regions' members are protected.
		h.admitNeighbours(h.gater.neighbours.Load())
	}
	h.observers.publish(RosterUpdate{Roster: next, Signed: signed, PreviousSerial: prevSerial, Admitted: admitted, Revoked: revoked})
	h.nudge()
}

// connected closes a connection from a peer that left the roster while the
// connection was being set up (after the gater's last check, before the
// revocation closed the peer's connections).
func (h *Host) connected(_ network.Network, c network.Conn) {
	if !h.gater.admits(c.RemotePeer()) {
		h.log.Info("closing a connection from a peer not on the roster", "peer", c.RemotePeer())
		_ = c.Close()
	}
}

// RosterUpdates registers fn to be called with the roster in force now and
// then with every roster the host moves to, in order, each exactly once. Each
// observer has its own goroutine: a slow observer delays only itself, and its
// backlog is kept, never dropped; fn may call the host (even UpdateRoster).
// stop ends the calls (it does not wait for one in progress). Close ends them
// all, waiting for calls in progress to return, so fn must not wait on
// something only Close would release.
func (h *Host) RosterUpdates(fn func(RosterUpdate)) (stop func()) {
	h.updateMu.Lock()
	defer h.updateMu.Unlock()
	cur := h.gater.current.Load()
	first := RosterUpdate{Roster: cur.roster, Signed: cur.signed}
	return h.observers.add(fn, first)
}

// Close stops the host: it stops connecting and calling observers, waits for
// its goroutines, then closes libp2p (connections, listeners, resource and
// connection managers). It may be called more than once.
func (h *Host) Close() error {
	h.closeOnce.Do(func() {
		h.updateMu.Lock() // no roster change half-applied
		h.cancel()
		h.updateMu.Unlock()
		h.wg.Wait()
		h.closeErr = h.host.Close()
		h.log.Info("federation host closed")
	})
	return h.closeErr
}

func (h *Host) nudge() {
	select {
	case h.wake <- struct{}{}:
	default: // a nudge is already pending; one is enough
	}
}
