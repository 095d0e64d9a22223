package rpc

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// seedMessages returns one valid frame body of every message type, signed by
// a fixed key, for fuzz seeds.
func seedMessages(t testing.TB) map[string][]byte {
	t.Helper()
	key := seedKey(9)
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	london := authority.InRegion(region)
	o, d := london[0].Code, london[1].Code
	c := synthetic.New(1, synthetic.WithAuthority(o)).Case()
	req := v1.RelocationRequest{ID: v1.ID("0123456789abcdef0123456789abcdef"), CaseRef: c.ID, Origin: o, Destination: d,
		RequestedAt: at, Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyStandard, AgeBand: v1.AgeBandOf(16),
		Sex: v1.SexFemale, NRMState: c.State, LegalBasis: v1.BasisSafeguardingChildren}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reqRec := must(v1.Marshal(&req))
	acc := must(v1.Marshal(&v1.RelocationResponse{RequestID: req.ID, Decision: v1.RelocationAccept, By: d, At: at}))
	rej := must(v1.Marshal(&v1.RelocationResponse{RequestID: req.ID, Decision: v1.RelocationReject, By: d, At: at, Reason: "No capacity."}))
	rev := must(v1.Marshal(&v1.RelocationResponse{RequestID: req.ID, Decision: v1.RelocationRevoke, By: o, At: at}))
	caseRec := must(v1.Marshal(c))
	cid, err := caseCID(c)
	if err != nil {
		t.Fatal(err)
	}
	base := func(typ MessageType, from, to v1.AuthorityCode) message {
		return message{Type: typ, From: from, To: to, Request: req.ID, Sent: at}
	}
	ms := map[string]message{}
	m := base(MsgOffer, o, d)
	m.Record = reqRec
	ms["offer"] = m
	m = base(MsgDecision, d, o)
	m.Record = acc
	ms["accept"] = m
	m.Record = rej
	ms["reject"] = m
	m = base(MsgRevoke, o, d)
	m.Record = rev
	ms["revoke"] = m
	m = base(MsgCase, o, d)
	m.Record = caseRec
	ms["case"] = m
	ms["complete"] = base(MsgComplete, o, d)
	m = base(MsgReply, d, o)
	m.InReplyTo, m.State, m.CaseCID = MsgCase, StateReceived, cid
	ms["reply_received"] = m
	m = base(MsgReply, d, o)
	m.InReplyTo, m.Refusal = MsgRevoke, RefusalAlreadyAccepted
	ms["reply_refusal"] = m
	out := map[string][]byte{}
	for name, m := range ms {
		out[name] = must(sealMessage(&m, key))
	}
	return out
}

func seedHandovers(t testing.TB) map[string][]byte {
	t.Helper()
	frames := seedMessages(t)
	offer, err := decodeMessage(frames["offer"])
	if err != nil {
		t.Fatal(err)
	}
	acc, err := decodeMessage(frames["accept"])
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	out := map[string][]byte{}
	for name, h := range map[string]Handover{
		"requested": {Request: *offer.request, Side: SideOrigin, State: StateRequested, Updated: at},
		"received": {Request: *offer.request, Side: SideDestination, State: StateReceived, Acked: true, Decision: acc.response,
			CaseCID: "bafyreig7qb225uk2dkzkut7vefcsjtx7jv6te3e3fmzyz7frsdn4d3qeju", Updated: at},
	} {
		b, err := encodeHandover(&h)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// FuzzDecodeMessage: no input panics the message decoder, and whatever it
// accepts is internally consistent and re-encodes to the same bytes.
func FuzzDecodeMessage(f *testing.F) {
	for _, b := range seedMessages(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, err := sealBody(d)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a frame that does not re-encode identically: %v", err)
		}
		switch d.Type {
		case MsgOffer:
			if d.request == nil || d.request.ID != d.Request {
				t.Fatal("offer without its request")
			}
		case MsgDecision, MsgRevoke:
			if d.response == nil || d.response.By != d.From {
				t.Fatal("decision without its response")
			}
		case MsgCase:
			if d.kase == nil {
				t.Fatal("case message without a case")
			}
		}
		_ = d.verifySignature(pubOf(seedKey(9))) // must not panic on any signature
	})
}

// sealBody re-encodes a decoded frame with its own signature.
func sealBody(d *decoded) ([]byte, error) {
	return marshalFrame(d.body, d.sig)
}

// FuzzReadFrame: the framing refuses what it must before allocating, and a
// frame it reads is handed on whole.
func FuzzReadFrame(f *testing.F) {
	for _, b := range seedMessages(f) {
		var buf bytes.Buffer
		if err := writeFrame(&buf, b); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := readFrame(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(body) > MaxFrame || len(b) < 4+len(body) {
			t.Fatalf("read a frame of %d bytes from %d", len(body), len(b))
		}
		_, _ = decodeMessage(body)
	})
}

// FuzzDecodeHandover: a stored record that decodes is valid and re-encodes
// to the same bytes.
func FuzzDecodeHandover(f *testing.F) {
	for _, b := range seedHandovers(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHandover(b)
		if err != nil {
			return
		}
		again, err := encodeHandover(&h)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted a record that does not re-encode identically: %v", err)
		}
	})
}

// TestWriteFuzzSeeds rewrites the committed seed corpus from the seeds
// above when NRMNET_WRITE_FUZZ_SEEDS is set; otherwise it checks that the
// corpus is there.
func TestWriteFuzzSeeds(t *testing.T) {
	sets := map[string]map[string][]byte{
		"FuzzDecodeMessage":  seedMessages(t),
		"FuzzDecodeHandover": seedHandovers(t),
	}
	framed := map[string][]byte{}
	for name, b := range seedMessages(t) {
		var buf bytes.Buffer
		_ = writeFrame(&buf, b)
		framed[name] = buf.Bytes()
	}
	sets["FuzzReadFrame"] = framed
	for fuzz, seeds := range sets {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		for name, b := range seeds {
			p := filepath.Join(dir, name)
			if os.Getenv("NRMNET_WRITE_FUZZ_SEEDS") != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("go test fuzz v1\n[]byte("+quoteGo(b)+")\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("seed corpus missing %s (run with NRMNET_WRITE_FUZZ_SEEDS=1)", p)
			}
		}
	}
}

func quoteGo(b []byte) string {
	const hex = "0123456789abcdef"
	out := []byte{'"'}
	for _, c := range b {
		out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
	}
	return string(append(out, '"'))
}
