package report

import (
	"sync"
	"testing"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// The benchmarks run the quarterly return over 100,000 synthetic cases (the
// case load DOMAIN.md designs for) beside a baseline that only reads, for
// each case, the fields the return reads first (referral time and
// decisions), so the ratio shows what classifying, counting and suppressing
// cost on top of the scan any report needs:
//
//	go test ./node/report -run '^$' -bench . -benchtime 5x

var (
	benchOnce  sync.Once
	benchCases []*v1.Case
)

func benchSet(b *testing.B) []*v1.Case {
	benchOnce.Do(func() {
		g := synthetic.New(11, synthetic.WithAuthority("ISL"),
			synthetic.WithPeriod(time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		benchCases = g.Cases(100_000)
	})
	return benchCases
}

var benchSink int

func BenchmarkScanBaseline(b *testing.B) {
	cases := benchSet(b)
	q := Quarter{2025, 3}.span()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, c := range cases {
			if q.Contains(c.Referral.ReferredAt) {
				n++
			}
			for _, d := range c.Decisions {
				if q.Contains(d.DecidedAt) {
					n++
				}
			}
		}
		benchSink = n
	}
}

func BenchmarkQuarterly(b *testing.B) {
	cases := benchSet(b)
	q, cal, cfg := Quarter{2025, 3}, calendar.Default(), DefaultConfig()
	b.ResetTimer()
	for b.Loop() {
		r, err := Quarterly(cases, q, cal, cfg)
		if err != nil {
			b.Fatal(err)
		}
		benchSink += len(r.Referrals.BySex.Cells)
	}
}

func BenchmarkReferrals(b *testing.B) {
	cases := benchSet(b)
	q, cal, cfg := Quarter{2025, 3}, calendar.Default(), DefaultConfig()
	b.ResetTimer()
	for b.Loop() {
		rows, err := Referrals(cases, q, cal, cfg)
		if err != nil {
			b.Fatal(err)
		}
		benchSink += len(rows)
	}
}
