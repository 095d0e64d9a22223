package gossip_test

import (
	"crypto/ed25519"
	"testing"

	"nrmnet/federation/gossip"
	v1 "nrmnet/schemas/v1"
)

// BenchmarkValidateAlert measures the CPU cost of the alert validator
// (decode, roster lookups, issuer signature, seen-set read in Badger)
// against its floor, one ed25519 verification of the same bytes, in the
// same run. Compare ns/op of the two sub-benchmarks as a ratio.
func BenchmarkValidateAlert(b *testing.B) {
	r := newRegion(b, 2)
	r.start()
	issuer, rec := r.members[0], r.members[1]
	a := newAlert(issuer.code, nil)
	if err := gossip.SignAlert(a, issuer.key); err != nil {
		b.Fatal(err)
	}
	env, err := v1.Marshal(a)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := a.SigningBytes()
	topic := gossip.RegionTopic(testRegion)
	b.Run("baseline=ed25519.Verify", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub(issuer.key), msg, a.Signature) {
				b.Fatal("verify")
			}
		}
	})
	b.Run("validator", func(b *testing.B) {
		for b.Loop() {
			if reason := rec.svc.CheckAlert(env, issuer.peerID(), topic); reason != "" {
				b.Fatal(reason)
			}
		}
	})
}
