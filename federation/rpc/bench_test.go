package rpc

import (
	"sync"
	"testing"
	"time"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// BenchmarkDecodeCase measures what the protocol adds to receiving a case:
// "frame" decodes and validates a signed case message and checks its
// signature; "baseline" decodes and validates the same case envelope alone
// (what any node does to read a case). Compare the two as a ratio.
func BenchmarkDecodeCase(b *testing.B) {
	frames := seedMessages(b)
	d, err := decodeMessage(frames["case"])
	if err != nil {
		b.Fatal(err)
	}
	pub := pubOf(seedKey(9))
	b.Run("baseline", func(b *testing.B) {
		b.SetBytes(int64(len(d.Record)))
		for b.Loop() {
			if _, err := v1.UnmarshalCase(d.Record); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("frame", func(b *testing.B) {
		b.SetBytes(int64(len(frames["case"])))
		for b.Loop() {
			m, err := decodeMessage(frames["case"])
			if err != nil {
				b.Fatal(err)
			}
			if err := m.verifySignature(pub); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHandover measures a whole accepted hand-over between two real
// hosts on loopback, each with its own synchronous Badger store (the
// destination's observer accepts each offer at once), against a baseline of
// one signed exchange on the same hosts: a repeated offer, answered from the
// destination's store without a write. The ratio is the cost of the hand-over
// in round trips and durable writes.
func BenchmarkHandover(b *testing.B) {
	c := &custody{}
	nodes := newNodes(b, 2, c)
	o, d := nodes[0], nodes[1]
	var mu sync.Mutex
	waiting := map[v1.ID]chan struct{}{}
	o.observe = func(h Handover) {
		if h.State == StateCompleted && h.Acked {
			mu.Lock()
			if ch, ok := waiting[h.ID()]; ok {
				close(ch)
				delete(waiting, h.ID())
			}
			mu.Unlock()
		}
	}
	d.observe = func(h Handover) {
		if h.State == StateOffered {
			go d.call(func(r *Relocations) { _, _ = r.Accept(bg, "manager-2", h.ID()) })
		}
	}
	startRegion(b, nodes)
	g := synthetic.New(3, synthetic.WithAuthority(o.code))
	_, first := seedCase(b, o, d, "")
	if _, err := o.service().Request(bg, "worker-1", first); err != nil {
		b.Fatal(err)
	}
	eventually(b, "the first hand-over completes", func() bool { return stateIs(o, first.ID, StateCompleted, true) })

	b.Run("baseline-exchange", func(b *testing.B) {
		offerRec, _ := v1.Marshal(&first)
		for b.Loop() {
			frame, err := sealMessage(&message{Type: MsgOffer, From: o.code, To: d.code, Request: first.ID,
				Sent: time.Now().UTC(), Record: offerRec}, o.key)
			if err != nil {
				b.Fatal(err)
			}
			if r, err := rawExchange(o.host.Libp2p(), d, frame); err != nil || r.Refusal != RefusalNone {
				b.Fatal(r.Refusal, err)
			}
		}
	})
	b.Run("handover", func(b *testing.B) {
		for b.Loop() {
			kase := g.Case()
			kase.Responsible = o.code
			o.book.put(kase)
			req := first
			req.ID, req.CaseRef, req.NRMState = v1.NewID(), kase.ID, kase.State
			done := make(chan struct{})
			mu.Lock()
			waiting[req.ID] = done
			mu.Unlock()
			if _, err := o.service().Request(bg, "worker-1", req); err != nil {
				b.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(patience):
				b.Fatal("hand-over did not complete")
			}
		}
	})
}
