package gossip_test

import (
	"crypto/ed25519"
	"testing"
	"time"

	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
)

// A newer roster given to one member from file reaches every other member
// by gossip; a roster that lacks the trust anchors' threshold, published by
// a member running stock GossipSub, is rejected and moves nobody.
func TestRosterSpreadsByGossip(t *testing.T) {
	r := newRegion(t, 4)
	a, b, c, d := r.members[0], r.members[1], r.members[2], r.members[3]
	r.startHosts()
	for _, m := range []*member{a, b, c} {
		m.startService()
	}
	r.waitMesh(a, b, c)
	base := a.host.Roster().Serial
	for _, m := range r.members {
		if got := m.host.Roster().Serial; got != base {
			t.Fatalf("%s starts on serial %d, %s on %d", m.code, got, a.code, base)
		}
	}

	// A roster with only one of the two anchors' signatures, a higher serial,
	// from a member whose node runs no validator of ours.
	ro, err := roster.Verify(a.host.SignedRoster(), []ed25519.PublicKey{pub(anchorKeys[0]), pub(anchorKeys[1])}, 2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ro.Serial = base + 7
	weak, err := roster.Sign(ro, anchorKeys[0])
	if err != nil {
		t.Fatal(err)
	}
	weakBytes, err := weak.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rogue := startRogue(t, d)
	topic, err := rogue.ps.Join(gossip.RosterTopic(testRegion))
	if err != nil {
		t.Fatal(err)
	}
	rogue.topics[gossip.RosterTopic(testRegion)] = topic
	rogue.publish(t, gossip.RosterTopic(testRegion), weakBytes, 3)
	eventually(t, "the under-signed roster rejected by every honest member", func() bool {
		for _, m := range []*member{a, b, c} {
			if counter(t, m, "nrmnet_gossip_messages_rejected_total", map[string]string{"topic": "roster", "reason": "bad_roster"}) < 1 {
				return false
			}
		}
		return true
	})
	for _, m := range []*member{a, b, c} {
		if got := m.host.Roster().Serial; got != base {
			t.Fatalf("%s moved to serial %d on an under-signed roster", m.code, got)
		}
	}

	// The next serial, properly signed, reaches a from file; b and c learn
	// it by gossip alone.
	if err := a.host.UpdateRoster(r.sign(base+1, nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the next serial on every honest member", func() bool {
		return b.host.Roster().Serial == base+1 && c.host.Roster().Serial == base+1
	})
	for _, m := range []*member{b, c} {
		if n := counter(t, m, "nrmnet_gossip_messages_delivered_total", map[string]string{"topic": "roster"}); n < 1 {
			t.Errorf("%s took the new roster but counted %v roster deliveries", m.code, n)
		}
	}
}
