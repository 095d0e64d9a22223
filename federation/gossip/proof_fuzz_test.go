package gossip

import (
	"bytes"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The audit proof messages' decoders: whatever they accept must re-encode to
// the same bytes and hold only what the exchange allows.

func FuzzDecodeProofRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeProofRequest(data)
		if err != nil {
			return
		}
		if r.Old < 1 || r.New <= r.Old || r.New > maxAuditSize {
			t.Fatalf("accepted a request for sizes %d to %d", r.Old, r.New)
		}
		again, err := encodeProofRequest(r)
		if err != nil {
			t.Fatalf("accepted request does not re-encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("request re-encodes differently:\n in %x\nout %x", data, again)
		}
	})
}

func FuzzDecodeProofResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeProofResponse(data)
		if err != nil {
			return
		}
		if len(r.Proof) > maxProofHashes || (r.Status != proofOK && len(r.Proof) != 0) {
			t.Fatalf("accepted a %q response with %d hashes", r.Status, len(r.Proof))
		}
		for i, h := range r.treeProof() {
			if !bytes.Equal(h[:], r.Proof[i]) {
				t.Fatalf("hash %d converts to %x, not %x", i, h, r.Proof[i])
			}
		}
		again, err := encodeProofResponse(r)
		if err != nil {
			t.Fatalf("accepted response does not re-encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("response re-encodes differently:\n in %x\nout %x", data, again)
		}
	})
}

// TestProofFuzzSeedsAreValid makes sure the committed seeds exercise the
// accept path, not only the refusals.
func TestProofFuzzSeedsAreValid(t *testing.T) {
	if r, err := decodeProofRequest(readSeed(t, "FuzzDecodeProofRequest", 0)); err != nil || r.Old != 10 || r.New != 12 {
		t.Errorf("request seed: %+v, %v", r, err)
	}
	if r, err := decodeProofResponse(readSeed(t, "FuzzDecodeProofResponse", 0)); err != nil || r.Status != proofOK || len(r.Proof) != 2 {
		t.Errorf("response seed: %+v, %v", r, err)
	}
	if r, err := decodeProofResponse(readSeed(t, "FuzzDecodeProofResponse", 1)); err != nil || r.Status != proofBusy {
		t.Errorf("busy response seed: %+v, %v", r, err)
	}
}

// TestProofMessagesRefused: the encoders refuse what the decoders would.
func TestProofMessagesRefused(t *testing.T) {
	for _, r := range []auditProofRequest{{Old: 0, New: 5}, {Old: 5, New: 5}, {Old: 6, New: 5}, {Old: 1, New: maxAuditSize + 1}} {
		if _, err := encodeProofRequest(&r); err == nil {
			t.Errorf("request %+v encoded", r)
		}
	}
	long := make([][]byte, maxProofHashes+1)
	for i := range long {
		long[i] = make([]byte, tlog.HashSize)
	}
	for _, r := range []auditProofResponse{
		{Status: "maybe"},
		{Status: proofOK, Proof: [][]byte{make([]byte, 31)}},
		{Status: proofOK, Proof: long},
		{Status: proofBusy, Proof: [][]byte{make([]byte, 32)}},
	} {
		if _, err := encodeProofResponse(&r); err == nil {
			t.Errorf("response %q with %d hashes encoded", r.Status, len(r.Proof))
		}
	}
}
