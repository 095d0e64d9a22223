package schemas_test

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"nrmnet/schemas"
)

func TestCID(t *testing.T) {
	data := mustHex(t, sampleHex)
	c := schemas.CID(data)
	if c.Version() != 1 || c.Type() != cid.DagCBOR {
		t.Errorf("CID version %d codec %#x, want 1 and dag-cbor (0x71)", c.Version(), c.Type())
	}
	dec, err := multihash.Decode(c.Hash())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if dec.Code != multihash.SHA2_256 || string(dec.Digest) != string(sum[:]) {
		t.Errorf("multihash %#x %x, want sha2-256 %x", dec.Code, dec.Digest, sum)
	}
	// The string form, computed without go-cid: multibase "b" (base32, lower
	// case, no padding) over 01 (v1) 71 (dag-cbor) 12 (sha2-256) 20 (32 bytes).
	raw := append([]byte{0x01, 0x71, 0x12, 0x20}, sum[:]...)
	want := "b" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	if c.String() != want {
		t.Errorf("CID = %s, want %s", c, want)
	}
	if !strings.HasPrefix(c.String(), "bafyrei") {
		t.Errorf("CID %s lacks the prefix every CIDv1 dag-cbor sha2-256 has", c)
	}
	parsed, err := cid.Decode(want)
	if err != nil || !parsed.Equals(c) {
		t.Errorf("cid.Decode(%s) = %v, %v", want, parsed, err)
	}
	// One changed byte, another CID.
	other := append([]byte(nil), data...)
	other[len(other)-1]++
	if schemas.CID(other).Equals(c) {
		t.Error("different bytes, same CID")
	}
}
