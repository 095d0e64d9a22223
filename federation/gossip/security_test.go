package gossip_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// TestForgedAndStaleAlertsAreRefused: a roster member running stock
// GossipSub without our validators publishes forged, foreign, malformed,
// misplaced and expired alerts. Every honest member rejects or ignores each
// for the right reason, none reaches a handler, and the forger's score drops.
func TestForgedAndStaleAlertsAreRefused(t *testing.T) {
	r := newRegion(t, 7)
	honest, bad, coord := r.members[:5], r.members[5], r.members[6]
	coord.roles = []roster.Role{roster.RoleCoordinator}
	r.signed = r.sign(1, nil)
	r.startHosts()
	for _, m := range honest {
		m.startService()
	}
	r.waitMesh(honest...)
	rg, rc := startRogue(t, bad), startRogue(t, coord)
	region, national := gossip.RegionTopic(testRegion), gossip.NationalTopic

	// A genuine alert of the first member, for the replay case.
	genuine := newAlert(honest[0].code, func(a *v1.CrossBorderAlert) {
		a.TargetAuthorities, a.TargetRegions = []v1.AuthorityCode{honest[1].code}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := honest[0].svc.Publish(ctx, genuine); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the genuine alert is taken", func() bool { return len(honest[1].inbox.received(genuine.ID)) == 1 })
	genuineEnv, _, _, err := honest[0].store.GetSeen(genuine.ID)
	if err != nil {
		t.Fatal(err)
	}

	signedBy := func(m *member, key []byte, mutate func(a *v1.CrossBorderAlert)) []byte {
		a := newAlert(m.code, mutate)
		if err := gossip.SignAlert(a, key); err != nil {
			t.Fatal(err)
		}
		b, err := v1.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	signed := func(key []byte, mutate func(a *v1.CrossBorderAlert)) []byte { return signedBy(bad, key, mutate) }
	heartbeat := func(region string) []byte {
		now := time.Now().UTC()
		hb := &gossip.Heartbeat{Authority: bad.code, Region: region, SentAt: now, StartedAt: now.Add(-time.Minute), Version: "rogue"}
		msg, err := hb.SigningBytes()
		if err != nil {
			t.Fatal(err)
		}
		hb.Signature = ed25519.Sign(bad.key, msg)
		b, err := gossip.MarshalHeartbeat(hb)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stranger := authority.InRegion(testRegion)[20].Code
	status := gossip.StatusTopic(testRegion)
	// Each forger gets at most six rejections: the sixth takes its score
	// below the graylist, after which nothing it sends reaches a validator.
	cases := []struct {
		name, topic, result, reason string
		from                        *rogue
		msg                         []byte
	}{
		// Ignored first: a graylisted forger's later messages never reach a validator.
		{"expired", region, "ignored", "expired", rg, signed(bad.key, func(a *v1.CrossBorderAlert) {
			a.IssuedAt, a.ExpiresAt = a.IssuedAt.Add(-2*time.Hour), a.IssuedAt.Add(-time.Hour)
		})},
		{"forged issuer signature", region, "rejected", "bad_signature", rg, signed(keyFrom("not the issuer"), nil)},
		{"issuer not on the roster", region, "rejected", "issuer_not_member", rg, signed(keyFrom(string(stranger)), func(a *v1.CrossBorderAlert) { a.Issuer = stranger })},
		{"another member's name", region, "rejected", "issuer_not_signer", rg, signed(bad.key, func(a *v1.CrossBorderAlert) { a.Issuer = honest[2].code })},
		{"another member's genuine alert replayed", region, "rejected", "issuer_not_signer", rg, genuineEnv},
		{"heartbeat for another region", status, "rejected", "wrong_region", rg, heartbeat("North West")},
		{"malformed", region, "rejected", "malformed", rc, []byte("\xa3not an envelope")},
		{"alert from a coordinator", region, "rejected", "signer_role", rc, signedBy(coord, coord.key, nil)},
		{"regional alert on the national topic", national, "rejected", "wrong_topic", rg, signed(bad.key, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			label := map[string]string{region: "region_alerts", national: "national_alerts", status: "status"}[tc.topic]
			name := "nrmnet_gossip_messages_" + tc.result + "_total"
			series := map[string]string{"topic": label, "reason": tc.reason}
			before := make([]float64, len(honest))
			for i, m := range honest {
				before[i] = counter(t, m, name, series)
			}
			tc.from.publish(t, tc.topic, tc.msg, len(honest))
			for i, m := range honest {
				eventually(t, string(m.code)+" counts "+tc.result+" "+tc.reason, func() bool {
					return counter(t, m, name, series) > before[i]
				})
			}
		})
	}
	for i, m := range honest {
		want := 0
		if i == 1 {
			want = 1 // the genuine alert, once
		}
		if n := m.inbox.count(); n != want {
			t.Errorf("%s was handed %d alerts; want %d", m.code, n, want)
		}
	}
	eventually(t, "the forger's score is negative at every honest member", func() bool {
		for _, m := range honest {
			if s, ok := m.svc.PeerScore(bad.peerID()); !ok || s >= 0 {
				return false
			}
		}
		return true
	})
	s, _ := honest[0].svc.PeerScore(bad.peerID())
	t.Logf("forger's score at %s: %.0f", honest[0].code, s)
}
