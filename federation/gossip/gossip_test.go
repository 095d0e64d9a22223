package gossip_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"nrmnet/federation/gossip"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// TestAlertReachesAndIsAcknowledgedByEveryTarget: five real hosts on
// loopback; an alert to the region reaches the four other authorities, each
// acknowledges it, and the issuer's outbox empties. An alert to two named
// authorities reaches only them (the others hold it for repair only).
func TestAlertReachesAndIsAcknowledgedByEveryTarget(t *testing.T) {
	r := newRegion(t, 5)
	r.start()
	issuer, others := r.members[0], r.members[1:]

	alert := newAlert(issuer.code, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	rc, err := issuer.svc.Publish(ctx, alert)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Targets) != 4 || len(rc.Unreachable) != 0 || rc.Topic != gossip.RegionTopic(testRegion) {
		t.Fatalf("receipt = %+v; want the four other members as targets on the region topic", rc)
	}
	for _, m := range others {
		eventually(t, string(m.code)+" handed the alert", func() bool { return len(m.inbox.received(alert.ID)) > 0 })
	}
	eventually(t, "every target acknowledged and the outbox is empty", func() bool { return issuer.store.OutboxDepth() == 0 })
	acked := map[v1.AuthorityCode]bool{}
	complete := false
	for len(acked) < 4 {
		select {
		case a := <-issuer.acks:
			if a.Ack.AlertID == alert.ID {
				acked[a.Ack.From] = true
				complete = complete || a.Complete
			}
		case <-time.After(patience):
			t.Fatalf("acknowledgements observed from %v only", acked)
		}
	}
	if !complete {
		t.Error("no acknowledgement reported the alert complete")
	}
	for _, m := range others {
		got := m.inbox.received(alert.ID)
		if len(got) != 1 {
			t.Errorf("%s was handed the alert %d times, want once", m.code, len(got))
			continue
		}
		if err := ed25519Verify(t, issuer, got[0].Alert); err != nil {
			t.Errorf("%s: %v", m.code, err)
		}
	}

	// Named targets only.
	b, c := others[0], others[1]
	named := newAlert(issuer.code, func(a *v1.CrossBorderAlert) {
		a.TargetRegions, a.TargetAuthorities = nil, []v1.AuthorityCode{b.code, c.code}
	})
	rc, err = issuer.svc.Publish(ctx, named)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rc.Targets, []v1.AuthorityCode{b.code, c.code}) {
		t.Fatalf("targets = %v; want %s and %s", rc.Targets, b.code, c.code)
	}
	eventually(t, "both named targets acknowledged", func() bool { return issuer.store.OutboxDepth() == 0 })
	for _, m := range others[2:] {
		eventually(t, string(m.code)+" holds the alert for repair", func() bool {
			_, _, found, _ := m.store.GetSeen(named.ID)
			return found
		})
		if n := len(m.inbox.received(named.ID)); n != 0 {
			t.Errorf("%s is not a target but was handed the alert %d times", m.code, n)
		}
	}
}

func ed25519Verify(t *testing.T, issuer *member, a *v1.CrossBorderAlert) error {
	t.Helper()
	msg, err := a.SigningBytes()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub(issuer.key), msg, a.Signature) {
		return gossip.ErrBadSignature
	}
	return nil
}

// TestOfflineNodeReceivesAlertWhenItReturns: a member is down while an alert
// is published, and the issuer goes down right after, so no re-publish can
// reach it: the returning member gets the alert from the others by digest
// exchange, and its handler says so.
func TestOfflineNodeReceivesAlertWhenItReturns(t *testing.T) {
	r := newRegion(t, 5)
	issuer, late := r.members[0], r.members[4]
	r.start(r.members[:4]...)

	alert := newAlert(issuer.code, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := issuer.svc.Publish(ctx, alert); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.members[1:4] {
		eventually(t, string(m.code)+" handed the alert", func() bool { return len(m.inbox.received(alert.ID)) > 0 })
	}
	if got := issuer.store.OutboxDepth(); got != 1 {
		t.Fatalf("issuer outbox depth = %d; want 1 (the late member has not acknowledged)", got)
	}
	issuer.stop()

	late.startHost(r.signed)
	late.startService()
	eventually(t, "the returning member is handed the alert", func() bool { return len(late.inbox.received(alert.ID)) > 0 })
	got := late.inbox.received(alert.ID)
	if len(got) != 1 || got[0].Via != "digest" {
		t.Fatalf("returning member got %d copies, first via %q; want one, via digest", len(got), got[0].Via)
	}
	eventually(t, "the repair is counted", func() bool {
		return counter(t, late, "nrmnet_gossip_alerts_repaired_total", nil) == 1
	})
}

// TestReplayRefusedAfterRestart: a member with an on-disk store takes an
// alert, restarts (new process state: new pubsub seen-cache), and the same
// signed alert published again is ignored as a replay, never handed over
// twice.
func TestReplayRefusedAfterRestart(t *testing.T) {
	r := newRegion(t, 5)
	issuer, rec := r.members[0], r.members[1]
	rec.onDisk()
	r.start()

	alert := newAlert(issuer.code, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := issuer.svc.Publish(ctx, alert); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the receiver is handed the alert", func() bool { return len(rec.inbox.received(alert.ID)) > 0 })
	env, _, found, err := issuer.store.GetSeen(alert.ID)
	if err != nil || !found {
		t.Fatalf("issuer does not hold its own alert: %v", err)
	}

	rec.stop()
	rec.inbox = newHandler()
	rec.startHost(r.signed)
	rec.startService()
	topic := gossip.RegionTopic(testRegion)
	eventually(t, "the issuer sees the restarted receiver on the topic", func() bool {
		return slices.Contains(issuer.svc.TopicPeers(topic), rec.peerID())
	})
	replays := func() float64 {
		return counter(t, rec, "nrmnet_gossip_messages_ignored_total", map[string]string{"topic": "region_alerts", "reason": "replay"})
	}
	eventually(t, "the restarted receiver ignores the replayed alert", func() bool {
		if err := issuer.svc.PublishRaw(ctx, topic, env); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		return replays() >= 1
	})
	if n := rec.inbox.count(); n != 0 {
		t.Fatalf("restarted receiver was handed %d alerts; want none", n)
	}
}

// TestCanaryNeverCrossesTheWire: the issuer's case carries canary names;
// every byte any node sent or received (alerts, heartbeats, acks, digests)
// is searched for the canary and the case's identifiers.
func TestCanaryNeverCrossesTheWire(t *testing.T) {
	r := newRegion(t, 5)
	for _, m := range r.members {
		m.tap = &wireTap{}
	}
	issuer, late := r.members[0], r.members[4]
	r.start(r.members[:4]...)

	const canary = "Zqxcanaryvwt"
	g := synthetic.New(7, synthetic.WithAuthority(issuer.code))
	c := synthetic.CanaryCase(g, canary)
	// What the node puts in an alert from this case: coarse fields only.
	alert := newAlert(issuer.code, func(a *v1.CrossBorderAlert) {
		a.Sex = c.Identity.Sex
		a.AgeBand = ageBand(c, time.Now())
	})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := issuer.svc.Publish(ctx, alert); err != nil {
		t.Fatal(err)
	}
	for _, m := range r.members[1:4] {
		eventually(t, string(m.code)+" handed the alert", func() bool { return len(m.inbox.received(alert.ID)) > 0 })
	}
	late.startHost(r.signed)
	late.startService()
	eventually(t, "the late member repaired by digest and everyone acknowledged", func() bool {
		return len(late.inbox.received(alert.ID)) > 0 && issuer.store.OutboxDepth() == 0
	})

	needles := [][]byte{[]byte(canary), []byte(c.ID), []byte(c.ChildID)}
	if d := c.Identity.DateOfBirth; d != nil {
		needles = append(needles, []byte(d.Date))
	}
	kinds := map[string]int{}
	for _, m := range r.members {
		for _, cp := range m.tap.all() {
			kinds[cp.what]++
			for _, n := range needles {
				if bytes.Contains(cp.data, n) {
					t.Errorf("%s: %s carried %q", m.code, cp.what, n)
				}
			}
		}
	}
	for _, want := range []string{"publish " + gossip.RegionTopic(testRegion), "receive " + gossip.RegionTopic(testRegion),
		"publish " + gossip.StatusTopic(testRegion), "send ack", "receive ack", "send digest", "receive digest alert"} {
		if kinds[want] == 0 {
			t.Errorf("nothing captured as %q: the tap does not see that path", want)
		}
	}
	t.Logf("searched %v", kinds)
}

// ageBand is the coarse age an issuing node would put in an alert.
func ageBand(c *v1.Case, now time.Time) v1.AgeBand {
	d := c.Identity.DateOfBirth
	if d == nil {
		return v1.AgeUnknown
	}
	dob, err := time.Parse(time.DateOnly, string(d.Date))
	if err != nil {
		return v1.AgeUnknown
	}
	years := now.Year() - dob.Year()
	if now.YearDay() < dob.YearDay() {
		years--
	}
	return v1.AgeBandOf(years)
}
