package roster_test

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"nrmnet/federation/roster"
	v1 "nrmnet/schemas/v1"
)

// Two of a region's three trust anchors sign a roster; a node configured with
// the three anchors' public keys and a threshold of two accepts it.
func ExampleVerify() {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	anchor1, anchor2, anchor3 := key(1), key(2), key(3)
	islington, _ := roster.PeerIDOf(pub(key(10)))
	camden, _ := roster.PeerIDOf(pub(key(11)))
	team := roster.Contacts{
		DutyDesk:       roster.Contact{Team: "Children's Services Contact Team", Phone: "020 7527 7400"},
		OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "020 7226 0992"},
		NRMCoordinator: roster.Contact{Team: "Exploitation and Missing Team", Email: "exploitation@example.gov.uk"},
	}
	r := &roster.Roster{
		Region:    "London",
		Serial:    1,
		IssuedAt:  now,
		ExpiresAt: now.AddDate(0, 3, 0),
		Members: []roster.Member{
			{Authority: "ISL", PeerID: islington, Addrs: []string{"/dns4/nrmnet.islington.example/tcp/4001"},
				Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{"islington-camden"}, Contacts: team},
			{Authority: "CMD", PeerID: camden, Addrs: []string{"/dns4/nrmnet.camden.example/udp/4001/quic-v1"},
				Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{"islington-camden"}, Contacts: team},
		},
	}

	signed, err := roster.Sign(r, anchor1) // at the first anchor's desk
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := signed.AddSignature(anchor2); err != nil { // at the second's
		fmt.Println(err)
		return
	}
	b, _ := signed.Encode()

	// On every node of the region:
	anchors := []ed25519.PublicKey{pub(anchor1), pub(anchor2), pub(anchor3)}
	got, err := roster.Verify(b, anchors, 2, now.Add(time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.Region, "serial", got.Serial, "members", len(got.Members))

	// One anchor's signature is not enough.
	one, _ := roster.Sign(r, anchor3)
	b, _ = one.Encode()
	_, err = roster.Verify(b, anchors, 2, now.Add(time.Hour))
	fmt.Println(err)
	// Output:
	// London serial 1 members 2
	// roster: roster not signed by enough trust anchors: 1 valid of 2 required
}
