package gossip_test

import (
	"context"
	"testing"
	"time"

	"nrmnet/federation/gossip"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// TestForgedAndStaleAlertsAreRefused: a roster member running stock
// GossipSub without our validators publishes forged, foreign, malformed,
// misplaced and expired alerts. Every honest member rejects or ignores each
// for the right reason, none reaches a handler, and the forger's score drops.
func TestForgedAndStaleAlertsAreRefused(t *testing.T) {
	r := newRegion(t, 6)
	honest, bad := r.members[:5], r.members[5]
	r.startHosts()
	for _, m := range honest {
		m.startService()
	}
	r.waitMesh(honest...)
	rg := startRogue(t, bad)
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

	signed := func(key []byte, mutate func(a *v1.CrossBorderAlert)) []byte {
		a := newAlert(bad.code, mutate)
		if err := gossip.SignAlert(a, key); err != nil {
			t.Fatal(err)
		}
		b, err := v1.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stranger := authority.InRegion(testRegion)[20].Code
	cases := []struct {
		name, topic, result, reason string
		msg                         []byte
	}{
		// Ignored first: a graylisted forger's later messages never reach a validator.
		{"expired", region, "ignored", "expired", signed(bad.key, func(a *v1.CrossBorderAlert) {
			a.IssuedAt, a.ExpiresAt = a.IssuedAt.Add(-2*time.Hour), a.IssuedAt.Add(-time.Hour)
		})},
		{"forged issuer signature", region, "rejected", "bad_signature", signed(keyFrom("not the issuer"), nil)},
		{"issuer not on the roster", region, "rejected", "issuer_not_member", signed(keyFrom(string(stranger)), func(a *v1.CrossBorderAlert) { a.Issuer = stranger })},
		{"another member's name", region, "rejected", "issuer_not_signer", signed(bad.key, func(a *v1.CrossBorderAlert) { a.Issuer = honest[2].code })},
		{"another member's genuine alert replayed", region, "rejected", "issuer_not_signer", genuineEnv},
		{"malformed", region, "rejected", "malformed", []byte("\xa3not an envelope")},
		{"regional alert on the national topic", national, "rejected", "wrong_topic", signed(bad.key, nil)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			label := map[string]string{region: "region_alerts", national: "national_alerts"}[tc.topic]
			name := "nrmnet_gossip_messages_" + tc.result + "_total"
			series := map[string]string{"topic": label, "reason": tc.reason}
			before := make([]float64, len(honest))
			for i, m := range honest {
				before[i] = counter(t, m, name, series)
			}
			rg.publish(t, tc.topic, tc.msg, len(honest))
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
