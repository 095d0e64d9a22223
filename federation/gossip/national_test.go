package gossip_test

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// twoRegions is London and the South East, three members each, the first of
// each a bridge, every member holding the other region's roster. The hosts
// run on rosters with everyone's addresses (serial 2 in both regions), as
// an installation from the trust bundle's files would; the services are not
// started.
func twoRegions(t *testing.T) (london, south *region) {
	t.Helper()
	london = newRegion(t, 3)
	se := authority.InRegion("South East")
	south = &region{t: t, name: "South East", anchors: []ed25519.PrivateKey{keyFrom("se anchor 1"), keyFrom("se anchor 2")}}
	for _, a := range se[:3] {
		south.members = append(south.members, &member{t: t, code: a.Code, key: keyFrom(string(a.Code)), inbox: newHandler(), region: "South East", anchors: south.anchors})
	}
	for _, r := range []*region{london, south} {
		r.members[0].roles = []roster.Role{roster.RoleAuthority, roster.RoleBridge}
	}
	london.signed, south.signed = london.sign(1, nil), south.sign(1, nil)
	trust := func(r *region) federation.RegionTrust {
		k := r.anchorKeys()
		return federation.RegionTrust{Region: r.regionName(), Anchors: []ed25519.PublicKey{pub(k[0]), pub(k[1])}, Threshold: 2, Roster: r.signed}
	}
	for _, m := range london.members {
		m.neighbours = []federation.RegionTrust{trust(south)}
	}
	for _, m := range south.members {
		m.neighbours = []federation.RegionTrust{trust(london)}
	}
	// Both regions' hosts, then both regions' rosters with addresses to
	// every host.
	for _, r := range []*region{london, south} {
		for _, m := range r.members {
			m.startHost(r.signed)
		}
	}
	signAll(t, 2, london, south)
	return london, south
}

// startAllBut starts the service of every member of the regions but down,
// whose host it closes (down is offline until the test restarts it).
func startAllBut(down *member, rs ...*region) {
	for _, r := range rs {
		for _, m := range r.members {
			if m != down {
				m.startService()
			}
		}
	}
	down.host.Close()
	down.host = nil
}

// signAll signs both regions' rosters at a serial with every running host's
// addresses and gives both to every running host.
func signAll(t *testing.T, serial uint64, rs ...*region) {
	t.Helper()
	for _, r := range rs {
		addrs := map[v1.AuthorityCode][]string{}
		for _, m := range r.members {
			for _, a := range m.listen {
				addrs[m.code] = append(addrs[m.code], a)
			}
		}
		r.signed = r.sign(serial, addrs)
	}
	for _, r := range rs {
		for _, m := range r.members {
			if m.host == nil {
				continue
			}
			for _, other := range rs {
				if err := m.host.UpdateRoster(other.signed); err != nil {
					t.Fatalf("%s: roster of %s: %v", m.code, other.regionName(), err)
				}
			}
		}
	}
}

// TestNationalRouterDirectPeers: on the national router a bridge holds the
// other regions' bridges and every other member of its own region as direct
// peers, and an ordinary member its region's bridges, so a national alert
// enters a region in one hop from its bridge; the set follows the rosters
// (a member made a bridge is added to the others' sets without a restart).
func TestNationalRouterDirectPeers(t *testing.T) {
	london, south := twoRegions(t)
	for _, r := range []*region{london, south} {
		for _, m := range r.members {
			m.startService()
		}
	}
	want := func(ms ...*member) []peer.ID {
		var out []peer.ID
		for _, m := range ms {
			out = append(out, m.peerID())
		}
		slices.Sort(out)
		return out
	}
	check := func(what string, m *member, w []peer.ID) {
		t.Helper()
		var got []peer.ID
		eventually(t, what, func() bool {
			got = m.svc.NationalDirectPeers()
			slices.Sort(got)
			return slices.Equal(got, w)
		})
	}
	lb, l1, l2 := london.members[0], london.members[1], london.members[2]
	sb, s1 := south.members[0], south.members[1]
	check("London's bridge holds the South East bridge and its own members", lb, want(sb, l1, l2))
	check("a London member holds its bridge only", l1, want(lb))
	if g, w := gauge(t, lb, "nrmnet_gossip_national_direct_peers"), gauge(t, l1, "nrmnet_gossip_national_direct_peers"); g != 3 || w != 1 {
		t.Errorf("national_direct_peers: bridge %v, member %v; want 3 and 1", g, w)
	}
	check("a South East member holds its bridge only", s1, want(sb))

	// London names a second bridge.
	l2.roles = []roster.Role{roster.RoleAuthority, roster.RoleBridge}
	signAll(t, 3, london, south)
	check("the new bridge holds the other bridges and its region", l2, want(sb, lb, l1))
	check("the first bridge now holds both", lb, want(sb, l1, l2))
	check("a London member holds both bridges", l1, want(lb, l2))
	check("the South East bridge holds both London bridges and its region", sb, want(lb, l2, s1, south.members[2]))
	check("a South East member still holds its own bridge only", s1, want(sb))
}

// TestNationalAlertCrossesRegions: a county-lines alert raised in London
// for the whole country reaches every member of the South East through the
// two regions' bridges, and is acknowledged to its issuer by every one of
// them, including a member that was offline when it was published (repaired
// by digest on return). A London-only alert never leaves London, by gossip
// or by digest. A newer South East roster given to one node there reaches
// London's members over the national roster topic. A member of one region
// re-publishing another region's alert is rejected.
func TestNationalAlertCrossesRegions(t *testing.T) {
	london, south := twoRegions(t)
	late := south.members[2]
	// The late member is down while the alert is published.
	startAllBut(late, london, south)
	eventually(t, "the bridges see each other on the national topic", func() bool {
		return hasPeer(london.members[0].svc.TopicPeers(gossip.NationalTopic), south.members[0].peerID()) &&
			hasPeer(south.members[0].svc.TopicPeers(gossip.NationalTopic), london.members[0].peerID())
	})
	london.waitMesh(london.members...)
	south.waitMesh(south.members[:2]...)

	issuer := london.members[1] // not a bridge
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	national := newAlert(issuer.code, func(a *v1.CrossBorderAlert) {
		a.Type, a.National, a.TargetRegions = v1.AlertCountyLines, true, nil
	})
	rc, err := issuer.svc.Publish(ctx, national)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Topic != gossip.NationalTopic || len(rc.Targets) != 5 || len(rc.Unreachable) != 0 {
		t.Fatalf("receipt: topic %s, targets %v, unreachable %v; want the national topic and the 5 other members of both regions",
			rc.Topic, rc.Targets, rc.Unreachable)
	}
	regional := newAlert(london.members[2].code, nil) // London only
	if _, err := london.members[2].svc.Publish(ctx, regional); err != nil {
		t.Fatal(err)
	}

	for _, m := range append(append([]*member{}, london.members...), south.members[:2]...) {
		if m == issuer {
			continue
		}
		eventually(t, string(m.code)+" handed the national alert", func() bool { return len(m.inbox.received(national.ID)) == 1 })
	}
	eventually(t, "every member but the one offline acknowledged", func() bool { return outboxTargets(t, issuer, national.ID) == 1 })

	// The offline member returns: digest repair from its region, and its
	// acknowledgement crosses to the issuer.
	late.startHost(south.signed)
	if err := late.host.UpdateRoster(london.signed); err != nil {
		t.Fatal(err)
	}
	late.startService()
	eventually(t, "the returning member received the national alert", func() bool { return len(late.inbox.received(national.ID)) == 1 })
	eventually(t, "the issuer's outbox emptied", func() bool { return issuer.store.OutboxDepth() == 0 })

	// London's own alert stayed in London.
	eventually(t, "London's members hold the London alert", func() bool {
		for _, m := range london.members[:2] {
			if len(m.inbox.received(regional.ID)) != 1 {
				return false
			}
		}
		return true
	})
	// A digest exchange across regions offers national alerts only: the
	// South East bridge pulling from London's, and a South East member
	// pulling from the London member that raised the London alert.
	for _, pull := range []struct{ from, to *member }{
		{south.members[0], london.members[0]}, {south.members[1], london.members[2]},
	} {
		if n, err := pull.from.svc.Pull(pull.to.peerID()); err != nil || n != 0 {
			t.Fatalf("%s pulled %d alerts from %s: %v", pull.from.code, n, pull.to.code, err)
		}
	}
	for _, m := range south.members {
		if _, _, found, err := m.store.GetSeen(regional.ID); err != nil || found {
			t.Fatalf("%s holds London's regional alert (found %v, err %v)", m.code, found, err)
		}
	}
	// And a London-only alert handed to a South East node anyway (by a
	// faulty digest server) is refused.
	envRegional, _, _, err := london.members[0].store.GetSeen(regional.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := south.members[0].svc.CheckAlert(envRegional, "", ""); got != "wrong_region" {
		t.Fatalf("a London-only alert by digest in the South East: %q, want wrong_region", got)
	}

	// A newer South East roster, given to one node there, reaches London.
	south.signed = south.sign(3, rosterAddrs(south))
	if err := south.members[1].host.UpdateRoster(south.signed); err != nil {
		t.Fatal(err)
	}
	for _, m := range london.members {
		eventually(t, string(m.code)+" holds South East roster 3", func() bool {
			rs := m.host.Rosters()
			return len(rs) == 2 && rs[1].Region == "South East" && rs[1].Serial == 3
		})
	}

	// A South East member re-publishing London's national alert as its own
	// message is rejected (only the issuer publishes its alert).
	env, _, found, err := south.members[1].store.GetSeen(national.ID)
	if err != nil || !found {
		t.Fatalf("the South East member lost the alert: %v", err)
	}
	rejected := func() float64 {
		n := 0.0
		for _, r := range []*region{london, south} {
			for _, m := range r.members {
				if m != south.members[1] {
					n += counter(t, m, "nrmnet_gossip_messages_rejected_total", map[string]string{"reason": "issuer_not_signer"})
				}
			}
		}
		return n
	}
	before := rejected()
	// Its own validator would refuse it: the member runs stock GossipSub.
	_ = south.members[1].svc.Close()
	rg := startRogue(t, south.members[1])
	rg.reconnect(t, south.members[1])
	rg.publish(t, gossip.NationalTopic, env, 1)
	eventually(t, "the relayed alert is rejected", func() bool { return rejected() > before })
}

func hasPeer(ps []peer.ID, p peer.ID) bool { return slices.Contains(ps, p) }

func rosterAddrs(r *region) map[v1.AuthorityCode][]string {
	addrs := map[v1.AuthorityCode][]string{}
	for _, m := range r.members {
		addrs[m.code] = append(addrs[m.code], m.listen...)
	}
	return addrs
}

// outboxTargets returns how many targets of an alert the issuer still waits
// for; 0 once the alert left the outbox.
func outboxTargets(t *testing.T, m *member, id v1.ID) int {
	t.Helper()
	due, err := m.store.DueOutbox(time.Now().Add(24*time.Hour), 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range due {
		if e.ID == id {
			return len(e.Targets)
		}
	}
	return 0
}

// TestNationalAlertRepairedAcrossRegions: London's bridge is down when a
// London member raises a national alert, so nothing reaches the South East,
// and the issuer's re-publishes stop at London's members, who already hold
// it. The South East's members make no periodic digest exchanges in this
// test (ten-minute interval). When London's bridge returns, the South East
// bridge fetches the alert across regions and at once starts an exchange
// with each member of its region, so they all receive it and acknowledge.
func TestNationalAlertRepairedAcrossRegions(t *testing.T) {
	london, south := twoRegions(t)
	for _, m := range south.members {
		m.digestInterval = 10 * time.Minute
	}
	bridge := london.members[0]
	startAllBut(bridge, london, south)
	london.waitMesh(london.members[1:]...)
	south.waitMesh(south.members...)

	issuer := london.members[1]
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	national := newAlert(issuer.code, func(a *v1.CrossBorderAlert) {
		a.Type, a.National, a.TargetRegions = v1.AlertCountyLines, true, nil
	})
	if _, err := issuer.svc.Publish(ctx, national); err != nil {
		t.Fatal(err)
	}
	eventually(t, "London's other member received it", func() bool { return len(london.members[2].inbox.received(national.ID)) == 1 })
	for _, m := range south.members {
		if len(m.inbox.received(national.ID)) != 0 {
			t.Fatalf("%s received the alert with London's bridge down", m.code)
		}
	}

	bridge.startHost(london.signed)
	if err := bridge.host.UpdateRoster(south.signed); err != nil {
		t.Fatal(err)
	}
	bridge.startService()
	for _, m := range append(south.members, bridge) {
		eventually(t, string(m.code)+" received the national alert", func() bool { return len(m.inbox.received(national.ID)) == 1 })
	}
	eventually(t, "every target acknowledged", func() bool { return issuer.store.OutboxDepth() == 0 })
}
