package match

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cloudflare/circl/oprf"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed seed corpora of FuzzDecodeRequest and FuzzDecodeResponse")

// FuzzDecodeRequest feeds the issuer's request decoder arbitrary bytes.
// Whatever it accepts must re-encode to exactly the input, name a valid
// alert and carry 1 to MaxElementsPerRequest valid points; evaluating them
// must not fail. Run
//
//	go test -run '^$' -fuzz FuzzDecodeRequest -fuzztime 20s ./federation/match/
func FuzzDecodeRequest(f *testing.F) {
	sk, err := oprf.GenerateKey(suite, rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	server := oprf.NewServer(suite, sk)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRequest(data)
		if err != nil {
			if r != nil {
				t.Fatal("returned a request with an error")
			}
			return
		}
		again, err := schemas.Marshal(r)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes that do not re-encode: %v", err)
		}
		if !r.Alert.Valid() || len(r.Elements) == 0 || len(r.Elements) > MaxElementsPerRequest {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		elems, err := decodeElements(r.Elements)
		if err != nil {
			t.Fatalf("accepted elements that do not decode: %v", err)
		}
		if _, err := server.Evaluate(&oprf.EvaluationRequest{Elements: elems}); err != nil {
			t.Fatalf("accepted elements that do not evaluate: %v", err)
		}
	})
}

// FuzzDecodeResponse feeds the receiver's response decoder arbitrary bytes,
// for a request of one element. An accepted OK response has exactly one
// valid point; an accepted refusal has none.
func FuzzDecodeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeResponse(data, 1)
		if err != nil {
			if r != nil {
				t.Fatal("returned a response with an error")
			}
			return
		}
		again, err := schemas.Marshal(r)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes that do not re-encode: %v", err)
		}
		switch {
		case r.Status >= statusEnd:
			t.Fatalf("accepted status %d", r.Status)
		case r.Status == StatusOK && len(r.Elements) != 1:
			t.Fatalf("accepted ok with %d elements", len(r.Elements))
		case r.Status != StatusOK && len(r.Elements) != 0:
			t.Fatalf("accepted a refusal with elements")
		}
		if _, err := decodeElements(r.Elements); err != nil {
			t.Fatalf("accepted elements that do not decode: %v", err)
		}
	})
}

type seed struct {
	name  string
	data  []byte
	valid bool
}

func mustMarshal(t testing.TB, v any) []byte {
	b, err := schemas.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// point returns a valid blinded element, the same for the same i.
func point(t testing.TB, i int) []byte {
	blind := suite.Group().NewScalar().SetUint64(uint64(i) + 2)
	_, req, err := oprf.NewClient(suite).DeterministicBlind([][]byte{fmt.Appendf(nil, "seed-%d", i)}, []oprf.Blind{blind})
	if err != nil {
		t.Fatal(err)
	}
	b, err := req.Elements[0].MarshalBinaryCompress()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requestSeeds(t testing.TB) []seed {
	id := v1.ID("0123456789abcdef0123456789abcdef")
	identity := make([]byte, ElementSize) // the encoding of the identity point
	nonCanonical := bytes.Repeat([]byte{0xff}, ElementSize)
	return []seed{
		{"valid-one", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{point(t, 1)}}), true},
		{"valid-three", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{point(t, 1), point(t, 2), point(t, 3)}}), true},
		{"empty", nil, false},
		{"no-elements", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{}}), false},
		{"bad-alert-id", mustMarshal(t, evalRequest{Alert: "ABC", Elements: [][]byte{point(t, 1)}}), false},
		{"short-element", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{point(t, 1)[:31]}}), false},
		{"identity-element", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{identity}}), false},
		{"non-canonical-element", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{nonCanonical}}), false},
		{"too-many", mustMarshal(t, evalRequest{Alert: id, Elements: slices.Repeat([][]byte{point(t, 1)}, MaxElementsPerRequest+1)}), false},
		{"truncated", mustMarshal(t, evalRequest{Alert: id, Elements: [][]byte{point(t, 1)}})[:20], false},
	}
}

func responseSeeds(t testing.TB) []seed {
	return []seed{
		{"valid-ok", mustMarshal(t, evalResponse{Status: StatusOK, Elements: [][]byte{point(t, 4)}}), true},
		{"valid-rate-limited", mustMarshal(t, evalResponse{Status: StatusRateLimited, RetryAfter: 3600}), true},
		{"valid-unknown-alert", mustMarshal(t, evalResponse{Status: StatusUnknownAlert}), true},
		{"ok-no-elements", mustMarshal(t, evalResponse{Status: StatusOK}), false},
		{"ok-two-elements", mustMarshal(t, evalResponse{Status: StatusOK, Elements: [][]byte{point(t, 4), point(t, 5)}}), false},
		{"refusal-with-elements", mustMarshal(t, evalResponse{Status: StatusExpired, Elements: [][]byte{point(t, 4)}}), false},
		{"unknown-status", mustMarshal(t, evalResponse{Status: 99}), false},
		{"ok-identity", mustMarshal(t, evalResponse{Status: StatusOK, Elements: [][]byte{make([]byte, ElementSize)}}), false},
		{"empty", nil, false},
	}
}

// TestFuzzSeedCorpus keeps the committed seeds in step with the format: each
// valid seed still decodes and each invalid one is still refused. With
// -update-seeds it rewrites them.
func TestFuzzSeedCorpus(t *testing.T) {
	for _, c := range []struct {
		fuzz   string
		seeds  []seed
		decode func([]byte) error
	}{
		{"FuzzDecodeRequest", requestSeeds(t), func(b []byte) error { _, err := decodeRequest(b); return err }},
		{"FuzzDecodeResponse", responseSeeds(t), func(b []byte) error { _, err := decodeResponse(b, 1); return err }},
	} {
		dir := filepath.Join("testdata", "fuzz", c.fuzz)
		for _, s := range c.seeds {
			path := filepath.Join(dir, s.name)
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.data)
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("seed %s/%s is not committed (run with -update-seeds): %v", c.fuzz, s.name, err)
			}
			if err := c.decode(s.data); (err == nil) != s.valid {
				t.Errorf("%s seed %s: valid=%v, decode error %v", c.fuzz, s.name, s.valid, err)
			}
		}
	}
}
