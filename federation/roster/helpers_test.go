package roster_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// now is the fixed time the tests check rosters against.
var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// key returns a deterministic ed25519 key; tests and the fuzz seed corpus stay
// reproducible.
func key(seed byte) ed25519.PrivateKey {
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s[:])
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func mustPeerID(t testing.TB, k ed25519.PrivateKey) string {
	t.Helper()
	id, err := roster.PeerIDOf(pub(k))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func contacts(team string) roster.Contacts {
	return roster.Contacts{
		DutyDesk:       roster.Contact{Team: team + " Front Door", Phone: "020 7527 7400", Email: "frontdoor@example.gov.uk"},
		OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "+44 20 7226 0992"},
		NRMCoordinator: roster.Contact{Team: team + " Exploitation Team", Email: "exploitation@example.gov.uk"},
	}
}

// validRoster returns a valid London roster of the first n London
// authorities, whose node keys are key(10), key(11), ...
func validRoster(t testing.TB, n int) *roster.Roster {
	t.Helper()
	london := authority.InRegion("London")
	r := &roster.Roster{
		Region:    "London",
		Serial:    7,
		IssuedAt:  now.Add(-24 * time.Hour),
		ExpiresAt: now.Add(90 * 24 * time.Hour),
	}
	for i := range n {
		a := london[i]
		r.Members = append(r.Members, roster.Member{
			Authority: a.Code,
			PeerID:    mustPeerID(t, key(byte(10+i))),
			Addrs:     []string{"/dns4/nrmnet.example.gov.uk/tcp/4001", "/ip4/192.0.2.10/udp/4001/quic-v1"},
			Roles:     []roster.Role{roster.RoleAuthority},
			Panels:    []v1.PanelID{"north-london"},
			Contacts:  contacts(a.Name),
		})
	}
	return r
}

func mustSign(t testing.TB, r *roster.Roster, keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	s, err := roster.NewUnsigned(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := s.AddSignature(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
