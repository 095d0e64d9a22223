package rpc

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// TestHostileMessagesLeaveRecordsAlone sends a destination and an origin,
// part-way through a hand-over, every kind of bad message a member of the
// roster could send, and checks that none is answered with anything but a
// refusal, that no stored record changes, and that the hand-over then
// completes.
func TestHostileMessagesLeaveRecordsAlone(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 3, c)
	tap := &frameTap{}
	nodes[0].wrap = tap.wrap
	startRegion(t, nodes)
	o, d, x := nodes[0], nodes[1], nodes[2]
	kase, req := seedCase(t, o, d, "")
	if _, err := o.service().Request(bg, "worker-1", req); err != nil {
		t.Fatal(err)
	}
	eventually(t, "offer arrives", func() bool { return stateIs(d, req.ID, StateOffered, true) })
	o.book.setHold(true) // the origin cannot export, so the case waits
	if _, err := d.service().Accept(bg, "manager-2", req.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "acceptance recorded on both sides", func() bool {
		return stateIs(o, req.ID, StateAccepted, false) && stateIs(d, req.ID, StateAccepted, true)
	})
	before := snapshot(t, d)
	frames := tap.all()
	if len(frames) == 0 || len(frames[0]) == 0 {
		t.Fatal("no offer tapped")
	}
	offerFrame := frames[0][4:] // the origin's signed offer

	sign := func(m *message, key []byte) []byte {
		f, err := sealMessage(m, key)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	now := time.Now().UTC().Truncate(time.Second)
	other := synthetic.New(99, synthetic.WithAuthority(o.code)).Case()
	otherRec, _ := v1.Marshal(other)
	reqRec, _ := v1.Marshal(&req)
	req2 := req
	req2.Origin = x.code
	req2Rec, _ := v1.Marshal(&req2)
	tampered := bytes.Clone(offerFrame)
	tampered[len(tampered)-5] ^= 1 // inside the signature

	for _, tc := range []struct {
		name   string
		from   *node // whose host sends
		to     *node
		raw    []byte // sent as is, with no length prefix added
		frame  []byte
		answer bool // a signed refusal is expected; otherwise a reset
	}{
		{name: "garbage", from: x, to: d, frame: []byte("not cbor at all")},
		{name: "length over the limit", from: x, to: d, raw: binary.BigEndian.AppendUint32(nil, MaxFrame+1)},
		{name: "truncated frame", from: x, to: d, raw: append(binary.BigEndian.AppendUint32(nil, 100), 1, 2, 3)},
		{name: "offer replayed by another member", from: x, to: d, frame: offerFrame},
		{name: "tampered signature", from: o, to: d, frame: tampered},
		{name: "offer addressed to someone else", from: o, to: x, frame: offerFrame},
		{name: "unsolicited reply", from: x, to: d, frame: sign(&message{Type: MsgReply, InReplyTo: MsgOffer, From: x.code, To: d.code, Request: req.ID, Sent: now, State: StateAccepted}, x.key)},
		{name: "offer reusing a request ID", from: x, to: d, answer: true, frame: sign(&message{Type: MsgOffer, From: x.code, To: d.code, Request: req.ID, Sent: now, Record: req2Rec}, x.key)},
		{name: "offer whose request names another origin", from: x, to: d, frame: sign(&message{Type: MsgOffer, From: x.code, To: d.code, Request: req.ID, Sent: now, Record: reqRec}, x.key)},
		{name: "case from a third authority", from: x, to: d, answer: true, frame: sign(&message{Type: MsgCase, From: x.code, To: d.code, Request: req.ID, Sent: now, Record: otherRec}, x.key)},
		{name: "complete from a third authority", from: x, to: d, answer: true, frame: sign(&message{Type: MsgComplete, From: x.code, To: d.code, Request: req.ID, Sent: now}, x.key)},
		{name: "wrong case from the origin", from: o, to: d, answer: true, frame: sign(&message{Type: MsgCase, From: o.code, To: d.code, Request: req.ID, Sent: now, Record: otherRec}, o.key)},
		{name: "complete before any case", from: o, to: d, answer: true, frame: sign(&message{Type: MsgComplete, From: o.code, To: d.code, Request: req.ID, Sent: now}, o.key)},
		{name: "from the future", from: o, to: d, frame: sign(&message{Type: MsgComplete, From: o.code, To: d.code, Request: req.ID, Sent: now.Add(time.Hour)}, o.key)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reply message
			var err error
			if tc.raw != nil {
				reply, err = rawSend(tc.from, tc.to, tc.raw)
			} else {
				reply, err = rawExchange(tc.from.host.Libp2p(), tc.to, tc.frame)
			}
			switch {
			case tc.answer && err != nil:
				t.Errorf("want a signed refusal, got %v", err)
			case tc.answer && reply.Refusal == RefusalNone:
				t.Errorf("answered without refusing: %+v", reply)
			case !tc.answer && err == nil:
				t.Errorf("answered: %+v", reply)
			}
			if tc.answer {
				t.Logf("refused: %s", reply.Refusal)
			}
		})
	}
	if after := snapshot(t, d); !bytes.Equal(before, after) {
		t.Error("hostile messages changed the destination's records")
	}
	o.book.setHold(false)
	if _, ok := d.book.entry(other.ID); ok {
		t.Error("a case sent by the wrong party was installed")
	}
	eventually(t, "the hand-over completes", func() bool {
		return stateIs(o, req.ID, StateCompleted, true) && stateIs(d, req.ID, StateCompleted, false)
	})
	if e, _ := d.book.entry(kase.ID); e.c == nil || e.provisional {
		t.Error("the real case was not installed and activated")
	}
	c.assertClean(t)
}

// rawSend writes raw bytes on a relocation stream and reads a reply frame.
func rawSend(from, to *node, raw []byte) (message, error) {
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	st, err := from.host.Libp2p().NewStream(ctx, to.host.ID(), ProtocolID)
	if err != nil {
		return message{}, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := st.Write(raw); err != nil {
		return message{}, err
	}
	_ = st.CloseWrite()
	body, err := readFrame(st)
	if err != nil {
		return message{}, err
	}
	dm, err := decodeMessage(body)
	if err != nil {
		return message{}, err
	}
	return dm.message, nil
}
