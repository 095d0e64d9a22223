package roster

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Kinds and version of the two envelopes. A roster's meaning never changes
// under a kind and version; a new shape is a new version.
const (
	// KindRoster is the envelope kind of a roster's body, the bytes anchors sign.
	KindRoster schemas.Kind = "roster"
	// KindSignedRoster is the envelope kind of a roster body with its signatures.
	KindSignedRoster schemas.Kind = "signed_roster"
	// Version is the envelope version of both kinds.
	Version uint16 = 1
)

// Limits on a roster. A region has at most 48 authorities today (London has
// 33); the margin leaves room for coordinator and witness nodes.
const (
	MaxMembers    = 64
	MaxAddrs      = 8  // per member
	MaxPanels     = 32 // per member
	MaxSignatures = 16
	// MaxSignedRosterSize is the largest encoded signed roster a node will
	// decode, in bytes. A full roster of 64 members is about 40 KiB.
	MaxSignedRosterSize = 256 << 10
	// MaxLifetime is the longest a roster may be valid for; anchors re-sign at
	// least this often, which bounds how long a node cut off from updates can
	// be fed an old roster.
	MaxLifetime = 400 * 24 * time.Hour
	// ClockSkew is how far in the future a roster's issue time may be.
	ClockSkew = 5 * time.Minute
)

// Sentinel errors; match them with errors.Is. Decoding errors also match the
// sentinels of package schemas (ErrTooLarge, ErrMalformed, ErrNotCanonical,
// ErrUnknownKind, ErrUnsupportedVersion), and every invalid field matches
// schemas.ErrInvalid.
var (
	// ErrThreshold: fewer distinct configured anchors than the threshold
	// signed the roster validly.
	ErrThreshold = errors.New("roster not signed by enough trust anchors")
	// ErrExpired: the roster's expiry time has passed.
	ErrExpired = errors.New("roster expired")
	// ErrStale: the roster is older than the one already held; ignore it.
	ErrStale = errors.New("roster older than the one held")
	// ErrConflict: the roster has the serial of the one held but different
	// content. Two rosters were signed under one serial: an operator error or a
	// compromised anchor, to be investigated, never resolved automatically.
	ErrConflict = errors.New("roster conflicts with the one held (same serial, different content)")
	// ErrWrongRegion: the roster is for another region than the one held.
	ErrWrongRegion = errors.New("roster is for another region")
	// ErrTrustConfig: the anchors or threshold given to Verify are unusable.
	ErrTrustConfig = errors.New("invalid trust-anchor configuration")
)

// Roster is a region's membership list. It holds no trust configuration: which
// anchors may sign it, and how many must, is set on each node.
type Roster struct {
	// Region is one of authority.Regions(), e.g. "London".
	Region string `cbor:"region" yaml:"region"`
	// Serial increases with every roster issued for the region; a node moves
	// only forward.
	Serial    uint64    `cbor:"serial" yaml:"serial"`
	IssuedAt  time.Time `cbor:"issued_at" yaml:"issued_at"`
	ExpiresAt time.Time `cbor:"expires_at" yaml:"expires_at"`
	Members   []Member  `cbor:"members" yaml:"members"`
}

// Role is what a member's node does in the federation.
type Role string

const (
	// RoleAuthority is a children's-services authority of the region: it holds
	// cases, raises and receives alerts and sits on panels.
	RoleAuthority Role = "authority"
	// RoleWitness compares audit-log checkpoints; it may be outside the region.
	RoleWitness Role = "witness"
	// RoleCoordinator watches the federation's health for the region; it may
	// be outside the region and never sees a child's identity.
	RoleCoordinator Role = "coordinator"
	// RoleBridge carries alerts between regions: a bridge keeps a connection
	// to the bridges of every other region whose roster its node holds, so
	// that the national alert topic spans regions. A region names one or two.
	RoleBridge Role = "bridge"
)

var roles = map[Role]bool{RoleAuthority: true, RoleWitness: true, RoleCoordinator: true, RoleBridge: true}

// Member is one node of the region.
type Member struct {
	// Authority is the official code of the authority that runs the node.
	Authority authority.Code `cbor:"authority" yaml:"authority"`
	// PeerID is the node's libp2p peer ID in its canonical text form. It must
	// embed an ed25519 public key (a "12D3KooW..." ID): that key is the
	// authority's node key, which also signs its alerts.
	PeerID string `cbor:"peer_id" yaml:"peer_id"`
	// Addrs are multiaddrs the node listens on: IPv4, IPv6 or DNS with TCP, or
	// UDP with QUIC v1. A node with none only dials out.
	Addrs  []string     `cbor:"addrs,omitempty" yaml:"addrs,omitempty"`
	Roles  []Role       `cbor:"roles" yaml:"roles"`
	Panels []v1.PanelID `cbor:"panels,omitempty" yaml:"panels,omitempty"`
	// Contacts are the teams to call about an alert. Required for members with
	// the authority role.
	Contacts Contacts `cbor:"contacts" yaml:"contacts"`
}

// Contacts are the routes an alert names (v1.ContactRoute). Each is a team's
// phone line or secure mailbox, never a person's.
type Contacts struct {
	DutyDesk       Contact `cbor:"duty_desk,omitempty" yaml:"duty_desk,omitempty"`
	OutOfHours     Contact `cbor:"out_of_hours,omitempty" yaml:"out_of_hours,omitempty"`
	NRMCoordinator Contact `cbor:"nrm_coordinator,omitempty" yaml:"nrm_coordinator,omitempty"`
}

// Contact is one team's route.
type Contact struct {
	// Team names the team, e.g. "Children's Services Contact Team".
	Team string `cbor:"team" yaml:"team"`
	// Phone is a UK or international number, digits and spaces, e.g.
	// "020 7527 7400" or "+44 20 7527 7400".
	Phone string `cbor:"phone,omitempty" yaml:"phone,omitempty"`
	// Email is a bare address of a secure team mailbox.
	Email string `cbor:"email,omitempty" yaml:"email,omitempty"`
}

// IsZero reports whether no field of c is set.
func (c Contact) IsZero() bool { return c == Contact{} }

// Route returns the contact for an alert's contact route.
func (c Contacts) Route(r v1.ContactRoute) (Contact, bool) {
	var out Contact
	switch r {
	case v1.ContactDutyDesk:
		out = c.DutyDesk
	case v1.ContactOutOfHours:
		out = c.OutOfHours
	case v1.ContactNRMCoordinator:
		out = c.NRMCoordinator
	}
	return out, !out.IsZero()
}

// HasRole reports whether m has role r.
func (m *Member) HasRole(r Role) bool { return slices.Contains(m.Roles, r) }

// ID returns the member's peer ID.
func (m *Member) ID() (peer.ID, error) { return peer.Decode(m.PeerID) }

// PublicKey returns the ed25519 key embedded in the member's peer ID.
func (m *Member) PublicKey() (ed25519.PublicKey, error) {
	id, err := peer.Decode(m.PeerID)
	if err != nil {
		return nil, err
	}
	return ed25519Key(id)
}

// Multiaddrs returns the member's addresses, parsed.
func (m *Member) Multiaddrs() ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(m.Addrs))
	for _, s := range m.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// PeerIDOf returns the canonical peer ID text of an ed25519 node key, for
// writing a member's PeerID.
func PeerIDOf(pub ed25519.PublicKey) (string, error) {
	k, err := crypto.UnmarshalEd25519PublicKey(pub)
	if err != nil {
		return "", err
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

func ed25519Key(id peer.ID) (ed25519.PublicKey, error) {
	k, err := id.ExtractPublicKey()
	if err != nil {
		return nil, err
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("peer ID holds a %s key, not ed25519", k.Type())
	}
	raw, err := k.Raw()
	if err != nil {
		return nil, err
	}
	return ed25519.PublicKey(raw), nil
}

// Member returns the member run by an authority.
func (r *Roster) Member(code authority.Code) (Member, bool) {
	for _, m := range r.Members {
		if m.Authority == code {
			return m, true
		}
	}
	return Member{}, false
}

// MemberByPeer returns the member with a peer ID.
func (r *Roster) MemberByPeer(id peer.ID) (Member, bool) {
	s := id.String()
	for _, m := range r.Members {
		if m.PeerID == s {
			return m, true
		}
	}
	return Member{}, false
}

// PeerIDs returns the peer IDs of every member whose ID parses (all of them in
// a valid roster), in member order.
func (r *Roster) PeerIDs() []peer.ID {
	out := make([]peer.ID, 0, len(r.Members))
	for _, m := range r.Members {
		if id, err := peer.Decode(m.PeerID); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// Clone returns a deep copy of r.
func (r *Roster) Clone() *Roster {
	c := *r
	c.Members = make([]Member, len(r.Members))
	for i, m := range r.Members {
		m.Addrs = slices.Clone(m.Addrs)
		m.Roles = slices.Clone(m.Roles)
		m.Panels = slices.Clone(m.Panels)
		c.Members[i] = m
	}
	return &c
}

// Body returns the roster's canonical encoding, sealed as KindRoster: the
// bytes anchors sign.
func (r *Roster) Body() ([]byte, error) {
	return schemas.Seal(KindRoster, Version, r)
}

// Equal reports whether two rosters have the same canonical encoding.
func Equal(a, b *Roster) bool {
	ab, err1 := a.Body()
	bb, err2 := b.Body()
	return err1 == nil && err2 == nil && bytes.Equal(ab, bb)
}

// Validate checks every field of the roster and names each invalid one. now is
// the time against which the roster must be issued and not yet expired; an
// expired roster's error also matches ErrExpired.
func (r *Roster) Validate(now time.Time) error {
	err := r.validateContent()
	if !r.ExpiresAt.After(now) {
		err = errors.Join(err, fmt.Errorf("%w: %w", ErrExpired, &schemas.FieldError{
			Path: "expires_at", Problem: fmt.Sprintf("expired at %s (now %s)", stamp(r.ExpiresAt), stamp(now)),
		}))
	}
	if r.IssuedAt.After(now.Add(ClockSkew)) {
		err = errors.Join(err, &schemas.FieldError{
			Path: "issued_at", Problem: fmt.Sprintf("is in the future (%s, now %s)", stamp(r.IssuedAt), stamp(now)),
		})
	}
	return err
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

var (
	phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ]*[0-9]$`)
	regionSet    = map[string]bool{}
)

func init() {
	for _, r := range authority.Regions() {
		regionSet[r] = true
	}
}

// validateContent checks everything that does not depend on the time now.
// Signing checks this much, so that no anchor signs a malformed roster.
func (r *Roster) validateContent() error {
	ch := schemas.NewChecker()
	ch.Check(regionSet[r.Region], "region", "%q is not a region (one of %s)", clip(r.Region), strings.Join(authority.Regions(), ", "))
	ch.Check(r.Serial > 0, "serial", "must be at least 1")
	ch.Check(!r.IssuedAt.IsZero(), "issued_at", "is required")
	switch {
	case r.ExpiresAt.IsZero():
		ch.Fail("expires_at", "is required")
	case !r.ExpiresAt.After(r.IssuedAt):
		ch.Fail("expires_at", "is not after issued_at")
	case r.ExpiresAt.Sub(r.IssuedAt) > MaxLifetime:
		ch.Fail("expires_at", "is %s after issued_at, limit %s", r.ExpiresAt.Sub(r.IssuedAt).Round(time.Hour), MaxLifetime)
	}
	switch n := len(r.Members); {
	case n == 0:
		ch.Fail("members", "is empty")
	case n > MaxMembers:
		ch.Fail("members", "has %d entries, limit %d", n, MaxMembers)
	}
	byAuthority := map[authority.Code]int{}
	byPeer := map[string]int{}
	for i, m := range r.Members {
		mc := ch.Index("members", i)
		m.validate(mc, r.Region)
		if j, dup := byAuthority[m.Authority]; dup && m.Authority != "" {
			mc.Fail("authority", "%s is also members[%d]: one node per authority", m.Authority, j)
		} else {
			byAuthority[m.Authority] = i
		}
		if j, dup := byPeer[m.PeerID]; dup && m.PeerID != "" {
			mc.Fail("peer_id", "is also the peer ID of members[%d]", j)
		} else {
			byPeer[m.PeerID] = i
		}
	}
	return ch.Err()
}

func (m *Member) validate(ch schemas.Checker, region string) {
	a, known := authority.Lookup(m.Authority)
	switch {
	case m.Authority == "":
		ch.Fail("authority", "is required")
	case !known:
		ch.Fail("authority", "%q is not a known authority code", clip(string(m.Authority)))
	case a.Region != region && !(!m.HasRole(RoleAuthority) && (m.HasRole(RoleCoordinator) || m.HasRole(RoleWitness))):
		ch.Fail("authority", "%s (%s) is in %s, not %s; only coordinator and witness nodes may be from another region", m.Authority, a.Name, a.Region, region)
	}

	var id peer.ID
	if m.PeerID == "" {
		ch.Fail("peer_id", "is required")
	} else if pid, err := peer.Decode(m.PeerID); err != nil {
		ch.Fail("peer_id", "%q is not a libp2p peer ID: %v", clip(m.PeerID), err)
	} else if _, err := ed25519Key(pid); err != nil {
		ch.Fail("peer_id", "does not embed an ed25519 key: %v", err)
	} else if pid.String() != m.PeerID {
		ch.Fail("peer_id", "is not in canonical form; write %s", pid)
	} else {
		id = pid
	}

	if len(m.Addrs) > MaxAddrs {
		ch.Fail("addrs", "has %d entries, limit %d", len(m.Addrs), MaxAddrs)
	}
	seenAddr := map[string]bool{}
	for i, s := range m.Addrs {
		field := fmt.Sprintf("addrs[%d]", i)
		if seenAddr[s] {
			ch.Fail(field, "appears twice")
			continue
		}
		seenAddr[s] = true
		if problem := checkAddr(s, id); problem != "" {
			ch.Fail(field, "%s", problem)
		}
	}

	switch {
	case len(m.Roles) == 0:
		ch.Fail("roles", "is empty (one or more of authority, witness, coordinator, bridge)")
	case len(m.Roles) > len(roles):
		ch.Fail("roles", "has %d entries, limit %d", len(m.Roles), len(roles))
	}
	seenRole := map[Role]bool{}
	for i, r := range m.Roles {
		field := fmt.Sprintf("roles[%d]", i)
		switch {
		case !roles[r]:
			ch.Fail(field, "%q is not a role (authority, witness, coordinator)", clip(string(r)))
		case seenRole[r]:
			ch.Fail(field, "%s appears twice", r)
		}
		seenRole[r] = true
	}

	if len(m.Panels) > MaxPanels {
		ch.Fail("panels", "has %d entries, limit %d", len(m.Panels), MaxPanels)
	}
	seenPanel := map[v1.PanelID]bool{}
	for i, p := range m.Panels {
		field := fmt.Sprintf("panels[%d]", i)
		switch {
		case !p.Valid():
			ch.Fail(field, "%q is not a panel ID (3 to 64 of a-z, 0-9 and -)", clip(string(p)))
		case seenPanel[p]:
			ch.Fail(field, "%s appears twice", p)
		}
		seenPanel[p] = true
	}

	cc := ch.At("contacts")
	required := m.HasRole(RoleAuthority)
	for _, route := range []struct {
		name string
		c    Contact
	}{
		{string(v1.ContactDutyDesk), m.Contacts.DutyDesk},
		{string(v1.ContactOutOfHours), m.Contacts.OutOfHours},
		{string(v1.ContactNRMCoordinator), m.Contacts.NRMCoordinator},
	} {
		if route.c.IsZero() {
			if required {
				cc.Fail(route.name, "is required for a member with the authority role")
			}
			continue
		}
		route.c.validate(cc.At(route.name))
	}
}

func (c Contact) validate(ch schemas.Checker) {
	ch.Text("team", c.Team, true, v1.MaxShortText, false)
	if c.Phone == "" && c.Email == "" {
		ch.Fail("phone", "a phone number or an email address is required")
	}
	if c.Phone != "" {
		digits := 0
		for _, r := range c.Phone {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if !phonePattern.MatchString(c.Phone) || digits < 10 || digits > 15 || strings.Contains(c.Phone, "  ") {
			ch.Fail("phone", "%q is not a phone number (10 to 15 digits, single spaces, optional leading +)", clip(c.Phone))
		}
	}
	if c.Email != "" {
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Name != "" || a.Address != c.Email || len(c.Email) > 254 {
			ch.Fail("email", "%q is not a bare email address", clip(c.Email))
		}
	}
}

// checkAddr returns what is wrong with a member's address, or "". id is the
// member's peer ID when it is valid.
func checkAddr(s string, id peer.ID) string {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return fmt.Sprintf("%q is not a multiaddr: %v", clip(s), err)
	}
	if a.String() != s {
		return fmt.Sprintf("is not in canonical form; write %s", a)
	}
	codes := make([]int, 0, len(a))
	for _, c := range a {
		codes = append(codes, c.Code())
	}
	if n := len(codes); n > 0 && codes[n-1] == ma.P_P2P {
		v, _ := a.ValueForProtocol(ma.P_P2P)
		if id != "" && v != id.String() {
			return fmt.Sprintf("ends in /p2p/%s, not the member's peer ID", clip(v))
		}
		codes = codes[:n-1]
	}
	dialable := len(codes) >= 2 && slices.Contains([]int{ma.P_IP4, ma.P_IP6, ma.P_DNS, ma.P_DNS4, ma.P_DNS6}, codes[0]) &&
		(len(codes) == 2 && codes[1] == ma.P_TCP || len(codes) == 3 && codes[1] == ma.P_UDP && codes[2] == ma.P_QUIC_V1)
	if !dialable {
		return fmt.Sprintf("%s is not a TCP or QUIC v1 address (/ip4|/ip6|/dns…/tcp/PORT or …/udp/PORT/quic-v1)", a)
	}
	return ""
}

// clip keeps quoted hostile input short in an error message.
func clip(s string) string {
	r := []rune(s)
	if len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}
