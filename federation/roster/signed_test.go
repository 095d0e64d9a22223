package roster_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
)

var (
	anchorA, anchorB, anchorC = key(1), key(2), key(3)
	outsider                  = key(4)
	anchors                   = []ed25519.PublicKey{pub(anchorA), pub(anchorB), pub(anchorC)}
)

func TestVerifyThreshold(t *testing.T) {
	r := validRoster(t, 3)
	tests := []struct {
		name      string
		signers   []ed25519.PrivateKey
		threshold int
		want      error // nil: accepted
	}{
		{"two of three, threshold two", []ed25519.PrivateKey{anchorA, anchorB}, 2, nil},
		{"three of three, threshold two", []ed25519.PrivateKey{anchorA, anchorB, anchorC}, 2, nil},
		{"one of three, threshold one", []ed25519.PrivateKey{anchorC}, 1, nil},
		{"one of three, threshold two", []ed25519.PrivateKey{anchorA}, 2, roster.ErrThreshold},
		{"unsigned", nil, 1, roster.ErrThreshold},
		{"non-anchor only", []ed25519.PrivateKey{outsider}, 1, roster.ErrThreshold},
		{"anchor and non-anchor, threshold two", []ed25519.PrivateKey{anchorA, outsider}, 2, roster.ErrThreshold},
		{"anchor and non-anchor, threshold one", []ed25519.PrivateKey{anchorA, outsider}, 1, nil},
		{"same anchor twice counts once", []ed25519.PrivateKey{anchorB, anchorB}, 2, roster.ErrThreshold},
		{"threshold above anchors", []ed25519.PrivateKey{anchorA, anchorB, anchorC}, 4, roster.ErrTrustConfig},
		{"threshold zero", []ed25519.PrivateKey{anchorA}, 0, roster.ErrTrustConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustSign(t, r, tt.signers...)
			got, err := roster.Verify(b, anchors, tt.threshold, now)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !roster.Equal(got, r) {
					t.Fatal("verified roster differs from the one signed")
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatal("returned a roster with an error")
			}
		})
	}
}

func TestVerifyTrustConfig(t *testing.T) {
	b := mustSign(t, validRoster(t, 1), anchorA)
	for name, as := range map[string][]ed25519.PublicKey{
		"no anchors":         nil,
		"short anchor":       {pub(anchorA)[:31]},
		"anchor repeated":    {pub(anchorA), pub(anchorA)},
		"anchor of 33 bytes": {pub(anchorA), make(ed25519.PublicKey, 33)},
	} {
		if _, err := roster.Verify(b, as, 1, now); !errors.Is(err, roster.ErrTrustConfig) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestVerifyReportsWhy(t *testing.T) {
	b := mustSign(t, validRoster(t, 1), anchorA, outsider)
	_, err := roster.Verify(b, anchors, 2, now)
	msg := err.Error()
	for _, want := range []string{"1 valid of 2 required", roster.FormatAnchorKey(pub(outsider)) + ": not a configured anchor"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

func TestVerifyExpiredAndInvalid(t *testing.T) {
	r := validRoster(t, 2)
	b := mustSign(t, r, anchorA, anchorB)
	if _, err := roster.Verify(b, anchors, 2, r.ExpiresAt.Add(time.Second)); !errors.Is(err, roster.ErrExpired) {
		t.Errorf("after expiry: err = %v", err)
	}
	if _, err := roster.Verify(b, anchors, 2, r.IssuedAt.Add(-time.Hour)); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("before issue: err = %v", err)
	}
	// Anchors refuse to sign invalid content.
	r.Members[0].Authority = "XXX"
	if _, err := roster.Sign(r, anchorA); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("Sign of an invalid roster: err = %v", err)
	}
}

// Flipping any bit anywhere in a signed roster must make it unacceptable,
// whether by breaking its form or its signatures.
func TestTamperedBytesRejected(t *testing.T) {
	b := mustSign(t, validRoster(t, 2), anchorA, anchorB)
	if _, err := roster.Verify(b, anchors, 2, now); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for _, mask := range []byte{0x01, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= mask
			if _, err := roster.Verify(c, anchors, 2, now); err == nil {
				t.Fatalf("accepted with byte %d xor %#x", i, mask)
			}
		}
	}
	if _, err := roster.Verify(b[:len(b)-1], anchors, 2, now); err == nil {
		t.Error("accepted truncated")
	}
	if _, err := roster.Verify(append(bytes.Clone(b), 0), anchors, 2, now); !errors.Is(err, schemas.ErrMalformed) {
		t.Errorf("trailing byte: err = %v", err)
	}
}

// A re-signed body with a changed member keeps valid-looking structure but no
// anchor signed it.
func TestSubstitutedBodyRejected(t *testing.T) {
	r := validRoster(t, 2)
	good, err := roster.Sign(r, anchorA)
	if err != nil {
		t.Fatal(err)
	}
	if err := good.AddSignature(anchorB); err != nil {
		t.Fatal(err)
	}
	evil := r.Clone()
	evil.Members[1].PeerID = mustPeerID(t, key(66))
	body, err := evil.Body()
	if err != nil {
		t.Fatal(err)
	}
	good.Body = body // keep the signatures, swap the body
	b, err := schemas.Seal(roster.KindSignedRoster, roster.Version, good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roster.Verify(b, anchors, 1, now); !errors.Is(err, roster.ErrThreshold) {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	r := validRoster(t, 1)
	body, err := r.Body()
	if err != nil {
		t.Fatal(err)
	}
	sig := func(k ed25519.PrivateKey) roster.Signature {
		return roster.Signature{Key: pub(k), Sig: ed25519.Sign(k, body)}
	}
	seal := func(kind schemas.Kind, v uint16, payload any) []byte {
		b, err := schemas.Seal(kind, v, payload)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Keys of anchorA..C in ascending order, then descending.
	sorted := []roster.Signature{sig(anchorA), sig(anchorB), sig(anchorC)}
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if bytes.Compare(sorted[i].Key, sorted[j].Key) > 0 {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, schemas.ErrMalformed},
		{"too large", make([]byte, roster.MaxSignedRosterSize+1), schemas.ErrTooLarge},
		{"bare roster body", body, schemas.ErrUnknownKind},
		{"wrong version", seal(roster.KindSignedRoster, 2, roster.SignedRoster{Body: body}), schemas.ErrUnsupportedVersion},
		{"body of another kind", seal(roster.KindSignedRoster, 1, roster.SignedRoster{Body: seal(schemas.KindAlert, 1, r)}), schemas.ErrUnknownKind},
		{"body not a roster", seal(roster.KindSignedRoster, 1, roster.SignedRoster{Body: seal(roster.KindRoster, 1, map[string]int{"x": 1})}), schemas.ErrMalformed},
		{"empty body", seal(roster.KindSignedRoster, 1, map[string][]byte{"roster": {}}), schemas.ErrInvalid},
		{"signatures out of order", seal(roster.KindSignedRoster, 1, roster.SignedRoster{Body: body, Signatures: []roster.Signature{sorted[2], sorted[0]}}), schemas.ErrInvalid},
		{"signature twice", seal(roster.KindSignedRoster, 1, roster.SignedRoster{Body: body, Signatures: []roster.Signature{sorted[1], sorted[1]}}), schemas.ErrInvalid},
		{"short signature", seal(roster.KindSignedRoster, 1, roster.SignedRoster{Body: body, Signatures: []roster.Signature{{Key: pub(anchorA), Sig: []byte{1}}}}), schemas.ErrInvalid},
		{"empty signature list", seal(roster.KindSignedRoster, 1, map[string]any{"roster": body, "sigs": []roster.Signature{}}), schemas.ErrNotCanonical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := roster.DecodeSignedRoster(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// The sorted list itself is accepted.
	ok := seal(roster.KindSignedRoster, 1, roster.SignedRoster{Body: body, Signatures: sorted})
	if _, err := roster.Verify(ok, anchors, 3, now); err != nil {
		t.Fatal(err)
	}
}

func TestAddSignatureKeepsOneEncoding(t *testing.T) {
	r := validRoster(t, 2)
	s1, _ := roster.Sign(r, anchorC)
	s2, _ := roster.Sign(r, anchorA)
	for _, k := range []ed25519.PrivateKey{anchorA, anchorB, anchorA} {
		if err := s1.AddSignature(k); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []ed25519.PrivateKey{anchorB, anchorC} {
		if err := s2.AddSignature(k); err != nil {
			t.Fatal(err)
		}
	}
	b1, err1 := s1.Encode()
	b2, err2 := s2.Encode()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !bytes.Equal(b1, b2) {
		t.Fatal("signing in another order gave other bytes")
	}
	if n := len(s1.Signatures); n != 3 {
		t.Fatalf("%d signatures, want 3", n)
	}
	d, err := roster.DecodeSignedRoster(b1)
	if err != nil {
		t.Fatal(err)
	}
	st := d.Check([]ed25519.PublicKey{pub(anchorB)})
	anchored := 0
	for _, s := range st {
		if !s.Valid {
			t.Errorf("signature by %s does not verify", roster.FormatAnchorKey(s.Key))
		}
		if s.Anchor {
			anchored++
		}
	}
	if anchored != 1 {
		t.Errorf("%d signatures marked as anchors, want 1", anchored)
	}
	if u := d.Unverified(); !roster.Equal(u, r) {
		t.Error("Unverified differs from the roster signed")
	}
}

func TestSupersede(t *testing.T) {
	base := validRoster(t, 3)
	with := func(f func(r *roster.Roster)) *roster.Roster {
		r := base.Clone()
		f(r)
		return r
	}
	tests := []struct {
		name    string
		current *roster.Roster
		next    *roster.Roster
		want    roster.Succession
		err     error
	}{
		{"first roster", nil, base, roster.Newer, nil},
		{"newer serial", base, with(func(r *roster.Roster) { r.Serial++; r.Members = r.Members[:2] }), roster.Newer, nil},
		{"same roster", base, base.Clone(), roster.Same, nil},
		{"older serial", base, with(func(r *roster.Roster) { r.Serial-- }), roster.Older, nil},
		{"same serial, other members", base, with(func(r *roster.Roster) { r.Members = r.Members[:2] }), 0, roster.ErrConflict},
		{"same serial, other expiry", base, with(func(r *roster.Roster) { r.ExpiresAt = r.ExpiresAt.Add(time.Hour) }), 0, roster.ErrConflict},
		{"other region", base, with(func(r *roster.Roster) { r.Region = "Wales"; r.Serial++ }), 0, roster.ErrWrongRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := roster.Supersede(tt.current, tt.next)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Supersede = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
