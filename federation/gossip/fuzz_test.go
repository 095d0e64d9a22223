package gossip

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"nrmnet/schemas"
)

// Every decoder of this package's wire messages: whatever it accepts must
// re-encode to the same bytes (one message, one encoding), and nothing may
// panic or allocate beyond its limit.

func FuzzUnmarshalHeartbeat(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		hb, err := UnmarshalHeartbeat(data)
		if err != nil {
			return
		}
		again, err := MarshalHeartbeat(hb)
		if err != nil {
			t.Fatalf("accepted heartbeat does not re-encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("heartbeat re-encodes differently:\n in %x\nout %x", data, again)
		}
	})
}

func FuzzDecodeDigest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []string{string(KindAlertDigest), string(KindAlertWant)} {
			ids, err := decodeIDList(data, schemas.Kind(kind))
			if err != nil {
				continue
			}
			again, err := encodeIDList(schemas.Kind(kind), ids)
			if err != nil {
				t.Fatalf("accepted %s does not re-encode: %v", kind, err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("%s re-encodes differently", kind)
			}
		}
	})
}

func FuzzDecodeAlertMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeAlert(data)
		if err != nil {
			return
		}
		if len(a.Signature) == 0 {
			t.Fatal("accepted an unsigned alert")
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted an invalid alert: %v", err)
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := decodeAck(data)
		if err != nil {
			return
		}
		if len(a.Signature) == 0 {
			t.Fatal("accepted an unsigned ack")
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 1 << 10
		b, err := readFrame(bufio.NewReader(bytes.NewReader(data)), limit)
		if err != nil {
			return
		}
		if len(b) > limit {
			t.Fatalf("frame of %d bytes passed a limit of %d", len(b), limit)
		}
		if !bytes.Contains(data, b) {
			t.Fatalf("frame %x is not in the input %x", b, data)
		}
		var w bytes.Buffer
		if err := writeFrame(&w, b); err != nil {
			t.Fatal(err)
		}
		again, err := readFrame(bufio.NewReader(&w), limit)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("frame does not round-trip: %x, %v", again, err)
		}
	})
}

// TestFuzzSeedsAreValid makes sure the committed seeds exercise the accept
// path, not only the refusals.
func TestFuzzSeedsAreValid(t *testing.T) {
	hb, err := UnmarshalHeartbeat(readSeed(t, "FuzzUnmarshalHeartbeat", 0))
	if err != nil || hb.Authority != "ISL" {
		t.Errorf("heartbeat seed: %v", err)
	}
	if ids, err := decodeIDList(readSeed(t, "FuzzDecodeDigest", 0), KindAlertDigest); err != nil || len(ids) != 2 {
		t.Errorf("digest seed: %v", err)
	}
	if _, err := decodeAlert(readSeed(t, "FuzzDecodeAlertMessage", 0)); err != nil {
		t.Errorf("alert seed: %v", err)
	}
	if _, err := decodeAck(readSeed(t, "FuzzDecodeAck", 0)); err != nil {
		t.Errorf("ack seed: %v", err)
	}
}

func readSeed(t *testing.T, target string, n int) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, "seed-"+strconv.Itoa(n)))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}
