package node

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// BenchmarkAlertCandidates is the store side of matching one received alert
// over NRMNET_BENCH_CASES (default 5,000) synthetic cases in an on-disk
// store with the default configuration, two ways, interleaved op by op:
// full, every case decrypted and tested (CaseIdentities, the path before the
// candidate index, still taken for a store without it), and indexed, the
// candidate index with the match keys cached (MatchCandidates). Each op is
// four alerts: 13 to 15 female, 16 to 17 male, 10 to 12 female, and one of
// unknown age band and sex (every case a candidate). It reports the median
// of each per op, their ratio indexed / full, and cold-ms: the first indexed
// op after the cases were written, which derives and caches every
// candidate's keys.
func BenchmarkAlertCandidates(b *testing.B) {
	nd, s, n := benchNode(b, 5000)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	newCB := func(store AlertStore) *CrossBorder {
		c := DefaultCrossBorderConfig()
		c.Node, c.Store, c.Signer = nd, store, key
		cb, err := NewCrossBorder(c)
		if err != nil {
			b.Fatal(err)
		}
		return cb
	}
	indexed, full := newCB(s), newCB(fullScanStore{s})
	alerts := []*v1.CrossBorderAlert{
		{ID: v1.NewID(), Issuer: "CMD", AgeBand: v1.Age13To15, Sex: v1.SexFemale},
		{ID: v1.NewID(), Issuer: "CMD", AgeBand: v1.Age16To17, Sex: v1.SexMale},
		{ID: v1.NewID(), Issuer: "CMD", AgeBand: v1.Age10To12, Sex: v1.SexFemale},
		{ID: v1.NewID(), Issuer: "CMD", AgeBand: v1.AgeUnknown, Sex: v1.SexUnknown},
	}
	ctx := context.Background()
	now := time.Now().UTC()
	scan := storage.Access{Actor: "node", Role: "node", Purpose: "benchmark", LegalBasis: v1.BasisSafeguardingChildren}
	candidates := 0
	op := func(cb *CrossBorder) time.Duration {
		t0 := time.Now()
		candidates = 0
		for _, a := range alerts {
			cands, _, err := cb.candidates(ctx, a, now, scan)
			if err != nil {
				b.Fatal(err)
			}
			candidates += len(cands)
		}
		return time.Since(t0)
	}
	cold := op(indexed)
	var fs, is []time.Duration
	b.ResetTimer()
	for range b.N {
		fs = append(fs, op(full))
		want := candidates
		is = append(is, op(indexed))
		if candidates != want {
			b.Fatalf("indexed: %d candidates, full scan %d", candidates, want)
		}
	}
	b.StopTimer()
	f, i := median(fs), median(is)
	b.ReportMetric(float64(f)/float64(time.Millisecond), "full-ms")
	b.ReportMetric(float64(i)/float64(time.Millisecond), "indexed-ms")
	b.ReportMetric(float64(cold)/float64(time.Millisecond), "cold-ms")
	b.ReportMetric(float64(i)/float64(f), "x-full")
	b.ReportMetric(float64(candidates)/float64(len(alerts)), "candidates/alert")
	b.ReportMetric(float64(n), "cases")
}
