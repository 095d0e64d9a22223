package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"nrmnet/node/report"
)

// BenchmarkQuarterlyReturn builds the quarterly return through the node
// over NRMNET_BENCH_CASES (default 10,000) synthetic cases in an on-disk
// store with the default configuration (SyncReads on), two ways, interleaved
// op by op: reading every case one by one, each read audited (per-case, the
// path before storage had ExportCases, still taken for a Store without it),
// and one audited bulk read (bulk, ExportCases). It reports the median of
// each and their ratio, bulk / per-case.
func BenchmarkQuarterlyReturn(b *testing.B) {
	nd, _, n := benchNode(b, 10000)
	who := Principal{ID: "region", Name: "Bench", Role: RoleRegionalCoordinator, Authority: testAuthority}
	q, err := report.ParseQuarter("2025-Q1")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	build := func(read caseReader) time.Duration {
		t0 := time.Now()
		ret, err := nd.quarterlyReturn(ctx, who, q, read)
		if err != nil {
			b.Fatal(err)
		}
		if ret.Quarter != q {
			b.Fatalf("return for %v", ret.Quarter)
		}
		return time.Since(t0)
	}
	var perCase, bulk []time.Duration
	b.ResetTimer()
	for range b.N {
		perCase = append(perCase, build(nd.allCases))
		bulk = append(bulk, build(nd.reportCases))
	}
	b.StopTimer()
	pc, bk := median(perCase), median(bulk)
	b.ReportMetric(float64(pc.Milliseconds()), "per-case-ms")
	b.ReportMetric(float64(bk)/float64(time.Millisecond), "bulk-ms")
	b.ReportMetric(float64(bk)/float64(pc), "x-per-case")
	b.ReportMetric(float64(n), "cases")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
