package rpc

import (
	"fmt"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// scenario is one way a hand-over ends.
type scenario string

const (
	accepted scenario = "accept"
	rejected scenario = "reject"
	revoked  scenario = "revoke"
)

// TestCrashAtEveryStep kills the origin or the destination at every write of
// its hand-over record in each scenario (the write and everything after it
// fail, as in a process that died there, after any callback it had made),
// restarts it from the same Badger directory on the same address, and
// checks that the hand-over then ends the same way on both sides, with the
// child's case never held by neither authority nor fully by both at any
// moment in between. A clean run first counts the writes of each side.
func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts real hosts dozens of times")
	}
	for _, sc := range []scenario{accepted, rejected, revoked} {
		var writes [2]int
		t.Run(string(sc)+"/clean", func(t *testing.T) { writes = runHandover(t, sc, -1, -1) })
		for side, name := range []string{"origin", "destination"} {
			for k := 0; k < writes[side]; k++ {
				t.Run(fmt.Sprintf("%s/%s-dies-at-write-%d", sc, name, k+1), func(t *testing.T) {
					runHandover(t, sc, side, k)
				})
			}
		}
	}
}

// runHandover drives one hand-over through scenario sc between two real
// hosts; with crashSide >= 0 that node dies after crashAfter writes and is
// restarted. It returns how many record writes each side made (in a clean
// run, the number of steps to crash at).
func runHandover(t *testing.T, sc scenario, crashSide, crashAfter int) [2]int {
	c := &custody{}
	nodes := newNodes(t, 2, c)
	if crashSide >= 0 {
		nodes[crashSide].crashAfter = crashAfter
	}
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]
	kase, req := seedCase(t, o, d, "")
	var crashed <-chan struct{}
	if crashSide >= 0 {
		crashed = nodes[crashSide].store.crashed
	}
	restarted := false
	deadline := time.Now().Add(patience)
	for {
		select {
		case <-crashed:
			crashed = nil
			nodes[crashSide].restart()
			restarted = true
		default:
		}
		oh, oknown := o.record(t, req.ID)
		dh, dknown := d.record(t, req.ID)
		if done(sc, oh, dh) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not finished after %s: origin %+v, destination %+v", patience, oh, dh)
		}
		switch {
		case !oknown:
			o.call(func(r *Relocations) { _, _ = r.Request(bg, "worker-1", req) })
		case dknown && dh.State == StateOffered && sc == accepted:
			d.call(func(r *Relocations) { _, _ = r.Accept(bg, "manager-2", req.ID) })
		case dknown && dh.State == StateOffered && sc == rejected:
			d.call(func(r *Relocations) { _, _ = r.Reject(bg, "manager-2", req.ID, "No capacity.") })
		case dknown && dh.State == StateOffered && sc == revoked && oh.State == StateRequested:
			o.call(func(r *Relocations) { _, _ = r.Revoke(bg, "worker-1", req.ID, "Child returned home.") })
		}
		time.Sleep(20 * time.Millisecond)
	}
	if crashSide >= 0 && crashAfter >= 0 && !restarted {
		t.Logf("the node made fewer than %d writes; no crash", crashAfter+1)
	}
	c.assertClean(t)

	oe, _ := o.book.entry(kase.ID)
	de, dheld := d.book.entry(kase.ID)
	switch sc {
	case accepted:
		if !oe.transferredOut || !dheld || de.provisional {
			t.Errorf("after acceptance: origin transferred out %v, destination holds %v (provisional %v)", oe.transferredOut, dheld, de.provisional)
		}
		for _, b := range []*book{o.book, d.book} {
			peer := d.code
			if b == d.book {
				peer = o.code
			}
			if _, ok := b.audited(map[*book]v1.AuditAction{o.book: v1.ActionShareSend, d.book: v1.ActionShareReceive}[b], peer); !ok {
				t.Errorf("%s did not audit the share", b.code)
			}
		}
	default:
		if oe.transferredOut || dheld {
			t.Errorf("after %s: origin transferred out %v, destination holds a copy %v", sc, oe.transferredOut, dheld)
		}
	}
	return [2]int{o.store.count(), d.store.count()}
}

// done reports whether both sides have reached the end of scenario sc and
// owe each other nothing.
func done(sc scenario, o, d Handover) bool {
	if o.Failure != "" || d.Failure != "" {
		return false
	}
	switch sc {
	case accepted:
		return o.State == StateCompleted && o.Acked && d.State == StateCompleted
	case rejected:
		return o.State == StateRejected && d.State == StateRejected && d.Acked
	default:
		return o.State == StateRevoked && o.Acked && d.State == StateRevoked
	}
}

// TestRevokeRacesAccept: the destination accepts and the origin revokes
// while they cannot reach each other. The origin's record decides: both
// sides end revoked and the case never moves.
func TestRevokeRacesAccept(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 2, c)
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]
	kase, req := seedCase(t, o, d, "")
	offer(t, o, d, req)
	if err := d.host.Close(); err != nil { // the destination drops off the network
		t.Fatal(err)
	}
	h, err := d.service().Accept(bg, "manager-2", req.ID)
	if err != nil || h.State != StateAccepted || h.Acked {
		t.Fatalf("accept while cut off: %+v, %v", h, err)
	}
	if _, err := o.service().Revoke(bg, "worker-1", req.ID, "Child returned home."); err != nil {
		t.Fatal(err)
	}
	d.restart()
	eventually(t, "both revoked", func() bool {
		return stateIs(o, req.ID, StateRevoked, true) && stateIs(d, req.ID, StateRevoked, false)
	})
	if _, ok := d.book.entry(kase.ID); ok {
		t.Error("the case moved although the origin revoked first")
	}
	c.assertClean(t)
}

// TestFiveNodesConcurrentHandovers: five authorities each move a case to
// the next one at once, with every outcome present, while one node is
// killed and restarted in the middle. Every pair ends consistently and no
// case is ever held by none or fully by two.
func TestFiveNodesConcurrentHandovers(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 5, c)
	startRegion(t, nodes)
	outcome := []scenario{accepted, rejected, accepted, revoked, accepted}
	reqs := make([]v1.RelocationRequest, len(nodes))
	for i, o := range nodes {
		_, reqs[i] = seedCase(t, o, nodes[(i+1)%len(nodes)], "")
		if _, err := o.service().Request(bg, "worker", reqs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nodes {
		eventually(t, "offers arrive", func() bool { return stateIs(nodes[(i+1)%len(nodes)], reqs[i].ID, StateOffered, false) })
	}
	nodes[2].restart() // both an origin (of 2) and a destination (of 1)
	for i, o := range nodes {
		d := nodes[(i+1)%len(nodes)]
		var err error
		switch outcome[i] {
		case accepted:
			_, err = d.service().Accept(bg, "manager", reqs[i].ID)
		case rejected:
			_, err = d.service().Reject(bg, "manager", reqs[i].ID, "Not our area.")
		case revoked:
			_, err = o.service().Revoke(bg, "worker", reqs[i].ID, "Child returned home.")
		}
		if err != nil {
			t.Fatalf("%s of %d: %v", outcome[i], i, err)
		}
	}
	nodes[3].restart() // mid-transfer
	for i, o := range nodes {
		d := nodes[(i+1)%len(nodes)]
		eventually(t, fmt.Sprintf("hand-over %d ends %s", i, outcome[i]), func() bool {
			oh, _ := o.record(t, reqs[i].ID)
			dh, _ := d.record(t, reqs[i].ID)
			return done(outcome[i], oh, dh)
		})
	}
	c.assertClean(t)
}
