package storage

import (
	"context"
	"testing"

	v1 "nrmnet/schemas/v1"
)

// BenchmarkCaseIdentities is the store's part of matching one received
// alert: every case's identity, decrypted, in one audited scan. Against
// reading the same cases from plain Badger and encrypted plain Badger, in
// the same loop; ns/op is per case.
func BenchmarkCaseIdentities(b *testing.B) {
	r := newBenchRig(b, benchCases, nil)
	ctx := context.Background()
	who := Access{Actor: "node", Role: "node", Purpose: "private matching", LegalBasis: v1.BasisSafeguardingChildren}
	var st, pl, pe opTimes
	for b.Loop() {
		n := 0
		if err := st.time(func() error {
			return r.store.CaseIdentities(ctx, "bench", who, func(v1.CaseID, v1.ChildIdentity) error { n++; return nil })
		}); err != nil {
			b.Fatal(err)
		}
		if n != len(r.cases) {
			b.Fatalf("scanned %d of %d cases", n, len(r.cases))
		}
		for _, plain := range []struct {
			times *opTimes
			db    func() error
		}{
			{&pl, func() error { return readAll(r, false) }},
			{&pe, func() error { return readAll(r, true) }},
		} {
			if err := plain.times.time(plain.db); err != nil {
				b.Fatal(err)
			}
		}
	}
	report(b, st, pl, pe, len(r.cases))
}

func readAll(r *benchRig, enc bool) error {
	db := r.plain
	if enc {
		db = r.plainEnc
	}
	for _, c := range r.cases {
		if _, err := plainRead(db, c.ID); err != nil {
			return err
		}
	}
	return nil
}
