package rpc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "nrmnet/schemas/v1"
)

var bg = context.Background()

func TestAcceptMovesCaseAndBothSidesAudit(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 3, c)
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]
	kase, req := seedCase(t, o, d, "")

	h, err := o.service().Request(bg, "worker-1", req)
	if err != nil || h.State != StateRequested {
		t.Fatalf("request: %v %+v", err, h)
	}
	eventually(t, "destination holds the offer", func() bool { return stateIs(d, req.ID, StateOffered, false) })
	if _, ok := d.book.entry(kase.ID); ok {
		t.Fatal("the case reached the destination before acceptance")
	}
	if _, err := d.service().Accept(bg, "manager-2", req.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both sides complete", func() bool {
		return stateIs(o, req.ID, StateCompleted, true) && stateIs(d, req.ID, StateCompleted, false)
	})
	got, ok := d.book.entry(kase.ID)
	if !ok || got.provisional || got.c.ChildID != kase.ChildID {
		t.Fatalf("destination's copy: %+v, %v", got, ok)
	}
	if e, _ := o.book.entry(kase.ID); !e.transferredOut {
		t.Error("origin did not mark the case transferred out")
	}
	for _, want := range []struct {
		b      *book
		action v1.AuditAction
		peer   *node
	}{
		{o.book, v1.ActionRelocationRequest, d}, {o.book, v1.ActionRelocationAccept, d},
		{o.book, v1.ActionShareSend, d}, {o.book, ActionRelocationComplete, d},
		{d.book, ActionRelocationReceive, o}, {d.book, v1.ActionRelocationAccept, o},
		{d.book, v1.ActionShareReceive, o}, {d.book, ActionRelocationComplete, o},
	} {
		e, ok := want.b.audited(want.action, want.peer.code)
		if !ok {
			t.Errorf("%s did not audit %s with %s", want.b.code, want.action, want.peer.code)
			continue
		}
		if e.LegalBasis != v1.BasisSafeguardingChildren {
			t.Errorf("%s's %s audit has legal basis %q", want.b.code, want.action, e.LegalBasis)
		}
	}
	if e, _ := d.book.audited(v1.ActionRelocationAccept, o.code); e.Actor != "manager-2" {
		t.Errorf("accept audited as by %q", e.Actor)
	}
	if _, err := o.service().Revoke(bg, "worker-1", req.ID, ""); !errors.Is(err, ErrAlreadyAccepted) {
		t.Errorf("revoke after completion: %v, want ErrAlreadyAccepted", err)
	}
	c.assertClean(t)
}

func TestRejectIsReportedBack(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 2, c)
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]
	seen := make(chan Handover, 16)
	o.stop() // restart the origin with an observer
	o.startHost()
	db, err := OpenBadgerStore(BadgerConfig{Dir: o.dir, EncryptionKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testRelConfig(t, o.code, o.key, db, o.book)
	cfg.Observer = func(h Handover) { seen <- h }
	rel, err := New(o.host, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	o.rel, o.db = rel, db
	o.mu.Unlock()

	kase, req := seedCase(t, o, d, "")
	if _, err := rel.Request(bg, "worker-1", req); err != nil {
		t.Fatal(err)
	}
	eventually(t, "offer arrives", func() bool { return stateIs(d, req.ID, StateOffered, false) })
	if _, err := d.service().Reject(bg, "manager-2", req.ID, ""); err == nil {
		t.Error("a reject without a reason was accepted")
	}
	if _, err := d.service().Reject(bg, "manager-2", req.ID, "No placement capacity; please call the duty desk."); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rejection reaches the origin", func() bool {
		return stateIs(o, req.ID, StateRejected, false) && stateIs(d, req.ID, StateRejected, true)
	})
	h, _ := o.record(t, req.ID)
	if h.Decision == nil || h.Decision.Reason == "" || h.Decision.By != d.code {
		t.Errorf("origin's record of the rejection: %+v", h.Decision)
	}
	var told bool
	for len(seen) > 0 {
		if n := <-seen; n.State == StateRejected {
			told = true
		}
	}
	if !told {
		t.Error("the observer was not told of the rejection")
	}
	if _, ok := d.book.entry(kase.ID); ok {
		t.Error("a rejected case reached the destination")
	}
	if e, _ := o.book.entry(kase.ID); e.transferredOut {
		t.Error("origin let go of a rejected case")
	}
	if _, err := d.service().Accept(bg, "manager-2", req.ID); !errors.Is(err, ErrFinished) {
		t.Errorf("accept after reject: %v, want ErrFinished", err)
	}
	if _, ok := o.book.audited(v1.ActionRelocationReject, d.code); !ok {
		t.Error("origin did not audit the rejection")
	}
	c.assertClean(t)
}

func TestRevokeBeforeAcceptanceOnly(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 2, c)
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]

	kase, req := seedCase(t, o, d, "")
	offer(t, o, d, req)
	if _, err := d.service().Revoke(bg, "manager-2", req.ID, ""); !errors.Is(err, ErrNotOrigin) {
		t.Errorf("destination revoking: %v, want ErrNotOrigin", err)
	}
	if _, err := o.service().Accept(bg, "worker-1", req.ID); !errors.Is(err, ErrNotDestination) {
		t.Errorf("origin accepting: %v, want ErrNotDestination", err)
	}
	if _, err := o.service().Revoke(bg, "worker-1", req.ID, "The child has returned home."); err != nil {
		t.Fatal(err)
	}
	eventually(t, "revoked on both sides", func() bool {
		return stateIs(o, req.ID, StateRevoked, true) && stateIs(d, req.ID, StateRevoked, false)
	})
	if _, err := d.service().Accept(bg, "manager-2", req.ID); !errors.Is(err, ErrRevoked) {
		t.Errorf("accept after revoke: %v, want ErrRevoked", err)
	}
	if _, ok := d.book.entry(kase.ID); ok {
		t.Error("a revoked case reached the destination")
	}

	// A second request, accepted: now a revoke is refused with a clear error.
	req2 := req
	req2.ID = v1.NewID()
	offer(t, o, d, req2)
	if _, err := d.service().Accept(bg, "manager-2", req2.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "origin records acceptance", func() bool {
		h, ok := o.record(t, req2.ID)
		return ok && h.State != StateRequested
	})
	_, err := o.service().Revoke(bg, "worker-1", req2.ID, "")
	if !errors.Is(err, ErrAlreadyAccepted) {
		t.Fatalf("revoke after acceptance: %v, want ErrAlreadyAccepted", err)
	}
	t.Logf("revoke after acceptance refused: %v", err)
	eventually(t, "completes", func() bool { return stateIs(d, req2.ID, StateCompleted, false) })
	c.assertClean(t)
}

// TestThirdAuthorityCannotDecide: a third member of the roster, signing
// correctly with its own key, cannot accept, reject or revoke another
// pair's relocation; and it cannot pass itself off as either of them.
func TestThirdAuthorityCannotDecide(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 3, c)
	startRegion(t, nodes)
	o, d, x := nodes[0], nodes[1], nodes[2]
	_, req := seedCase(t, o, d, "")
	offer(t, o, d, req)
	// The origin records the destination's acknowledgement of the offer
	// after the offer arrives: wait for it, so that the snapshot is settled.
	eventually(t, "the origin records the offer acknowledged", func() bool { return stateIs(o, req.ID, StateRequested, true) })
	before := snapshot(t, o, d)

	// x's own service knows nothing of the request.
	if _, err := x.service().Accept(bg, "intruder", req.ID); !errors.Is(err, ErrUnknownHandover) {
		t.Errorf("third authority accepting through its API: %v", err)
	}
	at := x.host.Libp2p()
	for _, tc := range []struct {
		name string
		to   *node
		typ  MessageType
		dec  v1.RelocationDecision
		from *node // whose code the message claims
	}{
		{"accept as itself", o, MsgDecision, v1.RelocationAccept, x},
		{"reject as itself", o, MsgDecision, v1.RelocationReject, x},
		{"revoke as itself", d, MsgRevoke, v1.RelocationRevoke, x},
		{"accept as the destination", o, MsgDecision, v1.RelocationAccept, d},
		{"revoke as the origin", d, MsgRevoke, v1.RelocationRevoke, o},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &v1.RelocationResponse{RequestID: req.ID, Decision: tc.dec, By: tc.from.code, At: req.RequestedAt, Reason: "no"}
			rec, err := v1.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			m := &message{Type: tc.typ, From: tc.from.code, To: tc.to.code, Request: req.ID, Sent: req.RequestedAt, Record: rec}
			frame, err := sealMessage(m, x.key) // x signs, whatever it claims
			if err != nil {
				t.Fatal(err)
			}
			reply, err := rawExchange(at, tc.to, frame)
			if tc.from == x {
				// Authenticated as x, then refused as not x's to make.
				if err != nil || reply.Refusal != RefusalForbidden {
					t.Errorf("got %+v, %v; want a forbidden refusal", reply, err)
				}
			} else if err == nil {
				t.Errorf("a message claiming to be from %s, sent by %s, was answered: %+v", tc.from.code, x.code, reply)
			}
		})
	}
	if after := snapshot(t, o, d); !bytes.Equal(before, after) {
		t.Error("a third authority's messages changed stored records")
	}
	if _, err := d.service().Accept(bg, "manager-2", req.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the real pair completes", func() bool { return stateIs(o, req.ID, StateCompleted, true) })
	c.assertClean(t)
}

// TestCanaryOnlyInAcceptedCaseTransfer taps every stream byte of the
// relocation protocol on both hosts (above libp2p's encryption, so the
// check is stricter than the wire) and the on-disk hand-over stores.
func TestCanaryOnlyInAcceptedCaseTransfer(t *testing.T) {
	const canary = "Zyqvoxle Canarywing"
	c := &custody{}
	nodes := newNodes(t, 2, c)
	tap := &frameTap{}
	logs := &logBuffer{}
	for _, n := range nodes {
		n.wrap, n.logs = tap.wrap, logs
	}
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]
	_, rejected := seedCase(t, o, d, canary)
	kase, req := seedCase(t, o, d, canary)

	// A rejected and a requested-but-undecided relocation: no canary.
	if _, err := o.service().Request(bg, "worker-1", rejected); err != nil {
		t.Fatal(err)
	}
	if _, err := o.service().Request(bg, "worker-1", req); err != nil {
		t.Fatal(err)
	}
	eventually(t, "offers arrive", func() bool {
		return stateIs(d, rejected.ID, StateOffered, false) && stateIs(d, req.ID, StateOffered, false)
	})
	if _, err := d.service().Reject(bg, "manager-2", rejected.ID, "Not our area."); err != nil {
		t.Fatal(err)
	}
	eventually(t, "rejection back", func() bool { return stateIs(o, rejected.ID, StateRejected, false) })
	types, holds := frameTypes(t, tap.all(), canary)
	if len(types) < 4 {
		t.Fatalf("the tap saw %d frames", len(types))
	}
	for i := range types {
		if holds[i] {
			t.Fatalf("the canary crossed the wire in a %s before any acceptance", types[i])
		}
	}
	// Accepted: the canary now crosses, inside the case transfer only.
	if _, err := d.service().Accept(bg, "manager-2", req.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "complete", func() bool { return stateIs(o, req.ID, StateCompleted, true) })
	if e, _ := d.book.entry(kase.ID); e.c == nil {
		t.Fatal("case not moved")
	}
	types, holds = frameTypes(t, tap.all(), canary)
	inCase := 0
	for i := range types {
		switch {
		case holds[i] && types[i] == MsgCase:
			inCase++
		case holds[i]:
			t.Errorf("the canary crossed the wire in a %s", types[i])
		}
	}
	if inCase == 0 {
		t.Fatal("the tap did not see the canary in the accepted case (is it tapping?)")
	}
	t.Logf("%d frames tapped; the canary in %d, each a case transfer", len(types), inCase)
	if strings.Contains(logs.String(), canary) {
		t.Error("the canary is in the service's logs")
	}
	if !strings.Contains(logs.String(), string(req.ID)) {
		t.Error("the logs were not captured")
	}
	for _, n := range nodes {
		n.stop()
		filepath.Walk(n.dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				b, _ := os.ReadFile(p)
				if bytes.Contains(b, []byte(canary)) {
					t.Errorf("canary on disk in the hand-over store: %s", p)
				}
			}
			return nil
		})
	}
	c.assertClean(t)
}
