package gossip_test

import (
	"context"
	"errors"
	"testing"

	"nrmnet/federation/gossip"
)

// TestOutboxRepublishesUntilEveryTargetTakesIt: one target's node fails to
// take the alert twice (its handler errors, so it does not acknowledge);
// the issuer's outbox re-publishes until it does, and the others are
// handed it once.
func TestOutboxRepublishesUntilEveryTargetTakesIt(t *testing.T) {
	r := newRegion(t, 5)
	issuer, flaky := r.members[0], r.members[1]
	flaky.inbox.fail = 2
	r.start()

	alert := newAlert(issuer.code, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := issuer.svc.Publish(ctx, alert); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every target acknowledged", func() bool { return issuer.store.OutboxDepth() == 0 })
	if got := len(flaky.inbox.received(alert.ID)); got != 1 {
		t.Errorf("flaky member holds %d copies; want 1", got)
	}
	if n := counter(t, flaky, "nrmnet_gossip_alert_handler_errors_total", nil); n != 2 {
		t.Errorf("alert_handler_errors_total = %v; want 2", n)
	}
	if n := counter(t, issuer, "nrmnet_gossip_alerts_republished_total", map[string]string{"topic": "region_alerts"}); n < 1 {
		t.Errorf("alerts_republished_total = %v; want at least 1", n)
	}
	for _, m := range r.members[2:] {
		if got := len(m.inbox.received(alert.ID)); got != 1 {
			t.Errorf("%s was handed the alert %d times; want once", m.code, got)
		}
	}
}

// TestOutboxSurvivesIssuerRestart: the issuer publishes while one target is
// down, restarts, and its outbox still waits for that target; when the
// target returns and takes the alert, the outbox empties.
func TestOutboxSurvivesIssuerRestart(t *testing.T) {
	r := newRegion(t, 5)
	issuer, late := r.members[0], r.members[4]
	issuer.onDisk()
	r.start(r.members[:4]...)

	alert := newAlert(issuer.code, nil)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	rc, err := issuer.svc.Publish(ctx, alert)
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.Targets) != 4 {
		t.Fatalf("targets = %v; want four", rc.Targets)
	}
	eventually(t, "the three running targets acknowledged", func() bool {
		return counter(t, issuer, "nrmnet_gossip_acks_received_total", map[string]string{"result": "recorded"}) == 3
	})

	issuer.stop()
	issuer.startHost(r.signed)
	issuer.startService()
	if d := issuer.store.OutboxDepth(); d != 1 {
		t.Fatalf("after restart the outbox holds %d alerts; want 1", d)
	}
	late.startHost(r.signed)
	late.startService()
	eventually(t, "the late target took the alert and the restarted issuer's outbox emptied", func() bool {
		return len(late.inbox.received(alert.ID)) == 1 && issuer.store.OutboxDepth() == 0
	})
	if _, err := issuer.svc.Publish(ctx, alert); !errors.Is(err, gossip.ErrDuplicate) {
		t.Errorf("publishing the same alert again: %v; want ErrDuplicate", err)
	}
}
