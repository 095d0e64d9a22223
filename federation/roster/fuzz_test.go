package roster_test

import (
	"bytes"
	"crypto/ed25519"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the committed seed corpus of FuzzDecodeSignedRoster")

const seedDir = "testdata/fuzz/FuzzDecodeSignedRoster"

// FuzzDecodeSignedRoster feeds the decoder arbitrary bytes. Whatever it
// accepts must re-encode to exactly the input (one encoding per roster), and
// checking and verifying it must not panic. The seed corpus is committed under
// testdata/fuzz; run
//
//	go test -run '^$' -fuzz FuzzDecodeSignedRoster -fuzztime 20s ./federation/roster/
func FuzzDecodeSignedRoster(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := roster.DecodeSignedRoster(data)
		if err != nil {
			if s != nil {
				t.Fatal("returned a roster with an error")
			}
			return
		}
		again, err := s.Encode()
		if err != nil {
			t.Fatalf("decoded, but does not encode again: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("decoded, but encodes to other bytes:\n in %x\nout %x", data, again)
		}
		if r := s.Unverified(); r == nil {
			t.Fatal("decoded without a roster body")
		} else {
			_ = r.Validate(now)
		}
		s.Check(anchors)
		if r, err := s.Verify(anchors, 1, now); err == nil && r.Validate(now) != nil {
			t.Fatal("verified a roster that does not validate")
		}
	})
}

// TestFuzzSeedCorpus keeps the committed seeds in step with the format: the
// valid seeds must still verify. With -update-seeds it rewrites them.
func TestFuzzSeedCorpus(t *testing.T) {
	seeds := fuzzSeeds(t)
	if *updateSeeds {
		if err := os.MkdirAll(seedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(seedDir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(seedDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 5 {
		t.Fatalf("seed corpus has %d files, want at least 5", len(entries))
	}
	for name, b := range seeds {
		content, err := os.ReadFile(filepath.Join(seedDir, name))
		if err != nil {
			t.Fatalf("seed %s: %v (run with -update-seeds)", name, err)
		}
		if want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b); string(content) != want {
			t.Errorf("seed %s is out of date (run with -update-seeds)", name)
		}
	}
}

func fuzzSeeds(t *testing.T) map[string][]byte {
	r := validRoster(t, 3)
	twoAnchors := mustSign(t, r, anchorA, anchorB)
	if _, err := roster.Verify(twoAnchors, anchors, 2, now); err != nil {
		t.Fatal(err)
	}
	witness := validRoster(t, 2)
	witness.Members[1].Authority = "LDS"
	witness.Members[1].Roles = []roster.Role{roster.RoleWitness}
	witness.Members[1].Contacts = roster.Contacts{}
	body, err := r.Body()
	if err != nil {
		t.Fatal(err)
	}
	sigB := roster.Signature{Key: pub(anchorB), Sig: ed25519.Sign(anchorB, body)}
	sigC := roster.Signature{Key: pub(anchorC), Sig: ed25519.Sign(anchorC, body)}
	twisted, err := schemas.Seal(roster.KindSignedRoster, roster.Version, roster.SignedRoster{Body: body, Signatures: []roster.Signature{sigC, sigB}})
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"valid-two-anchors":       twoAnchors,
		"valid-unsigned":          mustSign(t, validRoster(t, 1), nil...),
		"valid-witness-other":     mustSign(t, witness, anchorC),
		"valid-outsider-signed":   mustSign(t, r, outsider),
		"truncated":               twoAnchors[:len(twoAnchors)/2],
		"bare-body":               body,
		"signatures-out-of-order": twisted,
		"empty":                   {},
	}
}
