package federation

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
)

// ErrUntrustedRegion: a roster is for a region this node has no trust
// anchors for, so it cannot be checked. It is not a forgery: another node may
// well be configured for that region.
var ErrUntrustedRegion = errors.New("roster of a region this node holds no trust anchors for")

// RegionTrust is how this node checks the roster of another region: that
// region's trust anchors and threshold, from this node's own configuration,
// and optionally a signed roster to start from (a newer one may arrive by
// gossip or with UpdateRoster).
//
// Holding another region's roster lets this node check alerts its members
// issue (their node keys are on it), admit their connections (to acknowledge
// an alert, to ask its issuer to evaluate a match, to hand a case over), and,
// for a bridge, connect to that region's bridges.
type RegionTrust struct {
	Region    string
	Anchors   []ed25519.PublicKey
	Threshold int
	Roster    []byte
}

func (t *RegionTrust) validate(home string) error {
	var errs []error
	if !validRegion(t.Region) {
		errs = append(errs, fmt.Errorf("%q is not a region", t.Region))
	} else if t.Region == home {
		errs = append(errs, fmt.Errorf("%s is this node's own region", t.Region))
	}
	if err := roster.CheckTrust(t.Anchors, t.Threshold); err != nil {
		errs = append(errs, fmt.Errorf("anchors: %w", err))
	}
	if len(t.Roster) > roster.MaxSignedRosterSize {
		errs = append(errs, fmt.Errorf("roster is %d bytes, limit %d", len(t.Roster), roster.MaxSignedRosterSize))
	}
	return errors.Join(errs...)
}

// neighbours are the other regions' rosters this node holds, indexed. Like
// membership it is never changed once built: an update builds a new one.
type neighbours struct {
	regions map[string]*membership
	peers   map[peer.ID]neighbour
	codes   map[authority.Code]neighbour
}

type neighbour struct {
	region string
	member roster.Member
}

func newNeighbours(regions map[string]*membership) *neighbours {
	n := &neighbours{regions: regions, peers: map[peer.ID]neighbour{}, codes: map[authority.Code]neighbour{}}
	for region, m := range regions {
		for p, mem := range m.members {
			n.peers[p] = neighbour{region: region, member: mem}
			if mem.HasRole(roster.RoleAuthority) {
				n.codes[mem.Authority] = neighbour{region: region, member: mem}
			}
		}
	}
	return n
}

func (n *neighbours) admits(p peer.ID) bool {
	if n == nil {
		return false
	}
	_, ok := n.peers[p]
	return ok
}

// with returns a copy of n with one region's roster replaced.
func (n *neighbours) with(region string, m *membership) *neighbours {
	regions := map[string]*membership{}
	if n != nil {
		maps.Copy(regions, n.regions)
	}
	regions[region] = m
	return newNeighbours(regions)
}

// Listing is where a member was found: its roster entry and the region of
// the roster that lists it.
type Listing struct {
	Region string
	Member roster.Member
}

// Lookup finds the member run by an authority with the authority role on the
// roster in force or, failing that, on another region's roster this node
// holds. Only authority-role members of other regions are found: they are
// the ones that issue and receive alerts and hold cases.
func (h *Host) Lookup(code authority.Code) (Listing, bool) {
	home := h.gater.current.Load()
	if m, ok := home.roster.Member(code); ok {
		return Listing{Region: home.roster.Region, Member: m}, true
	}
	if n, ok := h.gater.neighbours.Load().codes[code]; ok {
		return Listing{Region: n.region, Member: n.member}, true
	}
	return Listing{}, false
}

// LookupPeer finds a peer on the roster in force or on another region's
// roster this node holds.
func (h *Host) LookupPeer(p peer.ID) (Listing, bool) {
	home := h.gater.current.Load()
	if m, ok := home.members[p]; ok {
		return Listing{Region: home.roster.Region, Member: m}, true
	}
	if n, ok := h.gater.neighbours.Load().peers[p]; ok {
		return Listing{Region: n.region, Member: n.member}, true
	}
	return Listing{}, false
}

// Rosters returns copies of every roster this node holds: its own region's
// first, then the others' by region name.
func (h *Host) Rosters() []*roster.Roster {
	out := []*roster.Roster{h.Roster()}
	n := h.gater.neighbours.Load()
	if n == nil {
		return out
	}
	for _, region := range slices.Sorted(maps.Keys(n.regions)) {
		out = append(out, n.regions[region].roster.Clone())
	}
	return out
}

// SignedNeighbourRosters returns the signed encoding of every other region's
// roster held, by region: what to pass on to peers.
func (h *Host) SignedNeighbourRosters() map[string][]byte {
	out := map[string][]byte{}
	n := h.gater.neighbours.Load()
	if n == nil {
		return out
	}
	for region, m := range n.regions {
		out[region] = slices.Clone(m.signed)
	}
	return out
}

// isBridge reports whether this node is a bridge on the roster in force.
func (h *Host) isBridge() bool {
	m, ok := h.gater.current.Load().members[h.host.ID()]
	return ok && m.HasRole(roster.RoleBridge)
}

// wanted returns the peers the host keeps a connection to: every other member
// of its own region and, when this node is a bridge, every bridge of the
// other regions held.
func (h *Host) wanted() map[peer.ID]bool {
	self := h.host.ID()
	out := map[peer.ID]bool{}
	for p := range h.gater.current.Load().members {
		if p != self {
			out[p] = true
		}
	}
	if !h.isBridge() {
		return out
	}
	for p, n := range h.gater.neighbours.Load().peers {
		if p != self && n.member.HasRole(roster.RoleBridge) {
			out[p] = true
		}
	}
	return out
}

// verifyNeighbours checks the configured rosters of other regions at start.
// An expired one is left out with a warning (this node's bridge brings the
// newer one); any other fault is a configuration error.
func verifyNeighbours(cfg Config, log *slog.Logger) (*neighbours, error) {
	regions := map[string]*membership{}
	for _, t := range cfg.Neighbours {
		if len(t.Roster) == 0 {
			continue
		}
		r, err := roster.Verify(t.Roster, t.Anchors, t.Threshold, cfg.Now())
		if errors.Is(err, roster.ErrExpired) {
			log.Warn("the roster held for another region has expired; waiting for a newer one from this region's bridge",
				"region", t.Region, "err", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("federation: roster of %s: %w", t.Region, err)
		}
		if r.Region != t.Region {
			return nil, fmt.Errorf("federation: roster of %s: %w: it is for %s", t.Region, roster.ErrWrongRegion, r.Region)
		}
		regions[t.Region] = newMembership(r, slices.Clone(t.Roster))
	}
	return newNeighbours(regions), nil
}

func (h *Host) trustFor(region string) (RegionTrust, bool) {
	for _, t := range h.cfg.Neighbours {
		if t.Region == region {
			return t, true
		}
	}
	return RegionTrust{}, false
}

// updateNeighbour verifies another region's roster and, when it is newer than
// the one held, puts it in force. Called by UpdateRoster.
func (h *Host) updateNeighbour(region string, signed []byte) error {
	t, ok := h.trustFor(region)
	if !ok {
		return fmt.Errorf("federation: update roster: %w: %w: %s", roster.ErrWrongRegion, ErrUntrustedRegion, region)
	}
	next, err := roster.Verify(signed, t.Anchors, t.Threshold, h.cfg.Now())
	if err != nil {
		return fmt.Errorf("federation: update roster of %s: %w", region, err)
	}
	if next.Region != region {
		return fmt.Errorf("federation: update roster: %w", roster.ErrWrongRegion)
	}
	h.updateMu.Lock()
	defer h.updateMu.Unlock()
	if h.ctx.Err() != nil {
		return ErrClosed
	}
	cur := h.gater.neighbours.Load()
	var prevSerial uint64
	if held, ok := cur.regions[region]; ok {
		succ, err := roster.Supersede(held.roster, next)
		if err != nil {
			h.log.Error("refused a conflicting roster", "region", region, "serial", next.Serial, "err", err)
			return fmt.Errorf("federation: update roster of %s: %w", region, err)
		}
		switch succ {
		case roster.Same:
			return nil
		case roster.Older:
			return fmt.Errorf("federation: update roster of %s: %w: serial %d, holding %d", region, roster.ErrStale, next.Serial, held.roster.Serial)
		}
		prevSerial = held.roster.Serial
	}
	nm := newMembership(next, slices.Clone(signed))
	h.admitNeighbours(cur.with(region, nm))
	h.log.Info("roster of another region updated", "region", region, "from_serial", prevSerial, "to_serial", next.Serial,
		"members", len(next.Members))
	h.neighbourObservers.publish(RosterUpdate{Roster: next, Signed: nm.signed, PreviousSerial: prevSerial})
	return nil
}

// admitNeighbours puts a set of other regions' rosters in force: the gater
// switches, the peerstore learns their addresses, bridges are protected, and
// peers on no roster any more are cut. Called with updateMu held, or before
// the host is shared.
func (h *Host) admitNeighbours(next *neighbours) {
	old := h.gater.neighbours.Load()
	h.gater.neighbours.Store(next)
	ps := h.host.Peerstore()
	home := h.gater.current.Load()
	bridge := h.isBridge()
	for p, n := range next.peers {
		if p == h.host.ID() || home.admits(p) {
			continue // the home roster's entry governs
		}
		addrs, err := n.member.Multiaddrs()
		if err != nil {
			continue
		}
		ps.ClearAddrs(p)
		ps.AddAddrs(p, addrs, peerstore.PermanentAddrTTL)
		if bridge && n.member.HasRole(roster.RoleBridge) {
			h.cm.Protect(p, protectTag)
		} else {
			h.cm.Unprotect(p, protectTag)
		}
	}
	if old != nil {
		for p := range old.peers {
			if next.admits(p) || home.admits(p) {
				continue
			}
			h.cm.Unprotect(p, protectTag)
			if err := h.host.Network().ClosePeer(p); err != nil {
				h.log.Warn("closing a revoked peer's connections", "peer", p, "err", err)
			}
			ps.RemovePeer(p)
			ps.ClearAddrs(p)
			h.log.Info("peer of another region revoked by its roster", "peer", p)
		}
	}
	h.nudge()
}

// NeighbourUpdates registers fn to be called with every other region's
// roster held now and then with each newer one the host moves to, with the
// same guarantees as RosterUpdates.
func (h *Host) NeighbourUpdates(fn func(RosterUpdate)) (stop func()) {
	h.updateMu.Lock()
	defer h.updateMu.Unlock()
	n := h.gater.neighbours.Load()
	var first []RosterUpdate
	for _, region := range slices.Sorted(maps.Keys(n.regions)) {
		m := n.regions[region]
		first = append(first, RosterUpdate{Roster: m.roster, Signed: m.signed})
	}
	return h.neighbourObservers.add(fn, first...)
}
