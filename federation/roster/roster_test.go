package roster_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

func TestValidRosterIsValid(t *testing.T) {
	r := validRoster(t, 5)
	if err := r.Validate(now); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	secpKey, _, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secpID, err := peer.IDFromPrivateKey(secpKey)
	if err != nil {
		t.Fatal(err)
	}
	otherID := mustPeerID(t, key(99))
	leeds := authority.Code("LDS") // Yorkshire and The Humber

	tests := []struct {
		name   string
		change func(r *roster.Roster)
		field  string // the path the error must name
		also   error  // a sentinel the error must match besides schemas.ErrInvalid
	}{
		{"unknown region", func(r *roster.Roster) { r.Region = "Narnia" }, "region", nil},
		{"serial zero", func(r *roster.Roster) { r.Serial = 0 }, "serial", nil},
		{"no issue time", func(r *roster.Roster) { r.IssuedAt = time.Time{} }, "issued_at", nil},
		{"issued in the future", func(r *roster.Roster) { r.IssuedAt = now.Add(time.Hour) }, "issued_at", nil},
		{"expires before issue", func(r *roster.Roster) { r.ExpiresAt = r.IssuedAt.Add(-time.Second) }, "expires_at", nil},
		{"lifetime too long", func(r *roster.Roster) { r.ExpiresAt = r.IssuedAt.Add(roster.MaxLifetime + time.Hour) }, "expires_at", nil},
		{"expired", func(r *roster.Roster) { r.ExpiresAt = now.Add(-time.Minute) }, "expires_at", roster.ErrExpired},
		{"expires exactly now", func(r *roster.Roster) { r.ExpiresAt = now }, "expires_at", roster.ErrExpired},
		{"no members", func(r *roster.Roster) { r.Members = nil }, "members", nil},
		{"65 members", func(r *roster.Roster) {
			for len(r.Members) <= roster.MaxMembers {
				r.Members = append(r.Members, r.Members[0])
			}
		}, "members", nil},
		{"unknown authority code", func(r *roster.Roster) { r.Members[1].Authority = "XXX" }, "members[1].authority", nil},
		{"missing authority code", func(r *roster.Roster) { r.Members[1].Authority = "" }, "members[1].authority", nil},
		{"authority outside the region", func(r *roster.Roster) { r.Members[2].Authority = leeds }, "members[2].authority", nil},
		{"authority and witness outside the region", func(r *roster.Roster) {
			r.Members[2].Authority = leeds
			r.Members[2].Roles = []roster.Role{roster.RoleAuthority, roster.RoleWitness}
		}, "members[2].authority", nil},
		{"duplicate authority", func(r *roster.Roster) { r.Members[3].Authority = r.Members[0].Authority }, "members[3].authority", nil},
		{"duplicate peer ID", func(r *roster.Roster) { r.Members[3].PeerID = r.Members[1].PeerID }, "members[3].peer_id", nil},
		{"missing peer ID", func(r *roster.Roster) { r.Members[0].PeerID = "" }, "members[0].peer_id", nil},
		{"unparsable peer ID", func(r *roster.Roster) { r.Members[0].PeerID = "12D3KooWnotapeerid" }, "members[0].peer_id", nil},
		{"peer ID of a secp256k1 key", func(r *roster.Roster) { r.Members[0].PeerID = secpID.String() }, "members[0].peer_id", nil},
		{"peer ID as a CID", func(r *roster.Roster) {
			id, _ := peer.Decode(r.Members[0].PeerID)
			r.Members[0].PeerID = peer.ToCid(id).String()
		}, "members[0].peer_id", nil},
		{"unparsable multiaddr", func(r *roster.Roster) { r.Members[1].Addrs[0] = "/ip4/300.1.1.1/tcp/1" }, "members[1].addrs[0]", nil},
		{"not a multiaddr", func(r *roster.Roster) { r.Members[1].Addrs[0] = "nrmnet.example.gov.uk:4001" }, "members[1].addrs[0]", nil},
		{"websocket address", func(r *roster.Roster) { r.Members[1].Addrs[1] = "/ip4/192.0.2.1/tcp/443/ws" }, "members[1].addrs[1]", nil},
		{"relay address", func(r *roster.Roster) {
			r.Members[1].Addrs[1] = "/ip4/192.0.2.1/tcp/4001/p2p/" + otherID + "/p2p-circuit"
		}, "members[1].addrs[1]", nil},
		{"address of another peer", func(r *roster.Roster) { r.Members[1].Addrs[1] = "/ip4/192.0.2.1/tcp/4001/p2p/" + otherID }, "members[1].addrs[1]", nil},
		{"duplicate address", func(r *roster.Roster) { r.Members[1].Addrs[1] = r.Members[1].Addrs[0] }, "members[1].addrs[1]", nil},
		{"too many addresses", func(r *roster.Roster) {
			r.Members[1].Addrs = nil
			for i := range roster.MaxAddrs + 1 {
				r.Members[1].Addrs = append(r.Members[1].Addrs, fmt.Sprintf("/ip4/192.0.2.1/tcp/%d", 4000+i))
			}
		}, "members[1].addrs", nil},
		{"no roles", func(r *roster.Roster) { r.Members[4].Roles = nil }, "members[4].roles", nil},
		{"unknown role", func(r *roster.Roster) { r.Members[4].Roles = []roster.Role{"admin"} }, "members[4].roles[0]", nil},
		{"duplicate role", func(r *roster.Roster) {
			r.Members[4].Roles = []roster.Role{roster.RoleAuthority, roster.RoleAuthority}
		}, "members[4].roles[1]", nil},
		{"bad panel ID", func(r *roster.Roster) { r.Members[0].Panels = []v1.PanelID{"North London"} }, "members[0].panels[0]", nil},
		{"duplicate panel", func(r *roster.Roster) { r.Members[0].Panels = []v1.PanelID{"a-b", "a-b"} }, "members[0].panels[1]", nil},
		{"authority without out-of-hours contact", func(r *roster.Roster) {
			r.Members[0].Contacts.OutOfHours = roster.Contact{}
		}, "members[0].contacts.out_of_hours", nil},
		{"contact without team", func(r *roster.Roster) { r.Members[0].Contacts.DutyDesk.Team = "" }, "members[0].contacts.duty_desk.team", nil},
		{"contact without phone or email", func(r *roster.Roster) {
			r.Members[0].Contacts.DutyDesk = roster.Contact{Team: "Front Door"}
		}, "members[0].contacts.duty_desk.phone", nil},
		{"bad phone", func(r *roster.Roster) { r.Members[0].Contacts.DutyDesk.Phone = "call 999" }, "members[0].contacts.duty_desk.phone", nil},
		{"short phone", func(r *roster.Roster) { r.Members[0].Contacts.DutyDesk.Phone = "0207 52" }, "members[0].contacts.duty_desk.phone", nil},
		{"email with a person's name", func(r *roster.Roster) {
			r.Members[0].Contacts.NRMCoordinator.Email = "Jane Smith <jane.smith@example.gov.uk>"
		}, "members[0].contacts.nrm_coordinator.email", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRoster(t, 5)
			tt.change(r)
			err := r.Validate(now)
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("error does not match schemas.ErrInvalid: %v", err)
			}
			if tt.also != nil && !errors.Is(err, tt.also) {
				t.Errorf("error does not match %v: %v", tt.also, err)
			}
			if !strings.Contains(err.Error(), "field "+tt.field+":") {
				t.Errorf("error does not name field %s:\n%v", tt.field, err)
			}
		})
	}
}

func TestValidateAllowsOutOfRegionWitnessAndCoordinator(t *testing.T) {
	for _, role := range []roster.Role{roster.RoleWitness, roster.RoleCoordinator} {
		r := validRoster(t, 3)
		r.Members[2].Authority = "LDS"
		r.Members[2].Roles = []roster.Role{role}
		r.Members[2].Contacts = roster.Contacts{} // optional for these roles
		if err := r.Validate(now); err != nil {
			t.Errorf("%s from another region: %v", role, err)
		}
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	r := validRoster(t, 3)
	r.Serial = 0
	r.Members[0].Authority = "XXX"
	r.Members[1].Addrs[0] = "garbage"
	r.Members[2].Roles = []roster.Role{"boss"}
	err := r.Validate(now)
	for _, field := range []string{"serial", "members[0].authority", "members[1].addrs[0]", "members[2].roles[0]"} {
		if err == nil || !strings.Contains(err.Error(), "field "+field+":") {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func TestSixtyFourMembersAllowed(t *testing.T) {
	r := validRoster(t, 33) // every London authority
	// Fill with out-of-region witnesses up to the limit.
	for i, a := range authority.All() {
		if len(r.Members) == roster.MaxMembers {
			break
		}
		if a.Region == "London" {
			continue
		}
		r.Members = append(r.Members, roster.Member{
			Authority: a.Code, PeerID: mustPeerID(t, key(byte(100+i))), Roles: []roster.Role{roster.RoleWitness},
		})
	}
	if len(r.Members) != roster.MaxMembers {
		t.Fatalf("built only %d members", len(r.Members))
	}
	if err := r.Validate(now); err != nil {
		t.Fatal(err)
	}
	b := mustSign(t, r, key(1))
	if len(b) > roster.MaxSignedRosterSize/2 {
		t.Errorf("a roster of %d members encodes to %d bytes; the size limit leaves too little margin", len(r.Members), len(b))
	}
	t.Logf("%d members: %d bytes", len(r.Members), len(b))
}

func TestLookups(t *testing.T) {
	r := validRoster(t, 3)
	m, ok := r.Member(r.Members[1].Authority)
	if !ok || m.PeerID != r.Members[1].PeerID {
		t.Fatalf("Member(%s) = %v, %v", r.Members[1].Authority, m, ok)
	}
	id, err := m.ID()
	if err != nil {
		t.Fatal(err)
	}
	if byPeer, ok := r.MemberByPeer(id); !ok || byPeer.Authority != m.Authority {
		t.Fatalf("MemberByPeer = %v, %v", byPeer, ok)
	}
	k, err := m.PublicKey()
	if err != nil || !k.Equal(pub(key(11))) {
		t.Fatalf("PublicKey = %x, %v", k, err)
	}
	if _, ok := r.Member("LDS"); ok {
		t.Error("found a member that is not there")
	}
	if got := len(r.PeerIDs()); got != 3 {
		t.Errorf("PeerIDs has %d entries", got)
	}
	c, ok := m.Contacts.Route(v1.ContactOutOfHours)
	if !ok || c.Team != "Emergency Duty Team" {
		t.Errorf("Route(out_of_hours) = %v, %v", c, ok)
	}
	if _, ok := (roster.Contacts{}).Route(v1.ContactDutyDesk); ok {
		t.Error("Route found an empty contact")
	}
	addrs, err := m.Multiaddrs()
	if err != nil || len(addrs) != 2 {
		t.Errorf("Multiaddrs = %v, %v", addrs, err)
	}
}

func TestCloneIsDeep(t *testing.T) {
	r := validRoster(t, 2)
	c := r.Clone()
	c.Members[0].Addrs[0] = "/ip4/203.0.113.1/tcp/1"
	c.Members[0].Roles[0] = roster.RoleWitness
	if r.Members[0].Addrs[0] == c.Members[0].Addrs[0] || r.Members[0].Roles[0] == roster.RoleWitness {
		t.Fatal("Clone shares slices with the original")
	}
	if !roster.Equal(r, r.Clone()) || roster.Equal(r, c) {
		t.Fatal("Equal is wrong")
	}
}
