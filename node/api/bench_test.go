package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"nrmnet/node"
	"nrmnet/node/calendar"
	"nrmnet/node/report"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// The benchmarks compare the API (HTTP on loopback, bearer auth, role
// check, strict decoding, the node's rules, audit) with the store alone,
// in the same run, over a store on disk preloaded with
// $NRMNET_BENCH_CASES synthetic cases (default 10000; the figures in the
// docs use 100000). Each reports ns/op and p99-ns; compare the api and
// store sub-benchmarks as a ratio.
//
//	NRMNET_BENCH_CASES=100000 go test -run XXX -bench . -benchtime 2000x ./node/api

var (
	benchOnce sync.Once
	bench     *testNode
	benchIDs  []v1.CaseID
	benchCase *v1.Case // a case made by the API, cloned for store creates
)

func benchNode(b *testing.B) *testNode {
	benchOnce.Do(func() {
		n := 10000
		if s := os.Getenv("NRMNET_BENCH_CASES"); s != "" {
			var err error
			if n, err = strconv.Atoi(s); err != nil {
				b.Fatal(err)
			}
		}
		// The fixture outlives the first benchmark: it is never cleaned up
		// by a testing.TB, only by the process ending.
		tb := &keepTB{TB: b}
		bench = newTestNode(tb, true)
		tb.done = true
		start := time.Now()
		g := synthetic.New(7, synthetic.WithAuthority(testAuthority))
		cases := g.Cases(n)
		var next atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= len(cases) {
						return
					}
					c := cases[i]
					c.Revision = 1
					if err := bench.store.CreateCase(context.Background(), c, storage.Access{Actor: "bench"}); err != nil {
						panic(err)
					}
					mu.Lock()
					benchIDs = append(benchIDs, c.ID)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		fmt.Fprintf(os.Stderr, "bench: preloaded %d cases in %v\n", n, time.Since(start).Round(time.Millisecond))
		r := bench.do(node.RoleSocialWorker, "POST", "/v1/cases", bench.referralBody())
		var out createCaseResponse
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 201 {
			b.Fatalf("create: %d %s", r.status, r.body)
		}
		c, err := bench.store.Case(context.Background(), out.Case.ID, storage.Access{Actor: "bench", Purpose: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		benchCase = c
	})
	bench.t = b
	return bench
}

// keepTB is a testing.TB whose Cleanup never runs, for a fixture shared by
// several benchmarks.
type keepTB struct {
	testing.TB
	done bool
}

func (k *keepTB) Cleanup(fn func()) { benchCleanups = append(benchCleanups, fn) }
func (k *keepTB) TempDir() string {
	d, err := os.MkdirTemp("", "nrmnet-bench-")
	if err != nil {
		k.Fatal(err)
	}
	benchCleanups = append(benchCleanups, func() { os.RemoveAll(d) })
	return d
}

// benchCleanups run, last first, when the test binary ends.
var benchCleanups []func()

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(benchCleanups) - 1; i >= 0; i-- {
		benchCleanups[i]()
	}
	os.Exit(code)
}

// timed runs op b.N times and reports the 99th percentile.
func timed(b *testing.B, op func(i int)) {
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		op(i)
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkCreateCase(b *testing.B) {
	tn := benchNode(b)
	b.Run("store", func(b *testing.B) {
		timed(b, func(int) {
			c := *benchCase
			c.ID, c.ChildID = v1.NewCaseID(testAuthority), v1.NewID()
			if err := tn.store.CreateCase(context.Background(), &c, storage.Access{Actor: "sw", Role: "social_worker"}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("api", func(b *testing.B) {
		body, _ := json.Marshal(tn.referralBody())
		client := tn.srv.Client()
		timed(b, func(int) {
			req, _ := http.NewRequest("POST", tn.srv.URL+"/v1/cases", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tn.tokens[node.RoleSocialWorker])
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		})
	})
}

func BenchmarkReadCase(b *testing.B) {
	tn := benchNode(b)
	who := storage.Access{Actor: "member", Role: "panel_member", Purpose: "prepare for panel", LegalBasis: v1.BasisSafeguardingChildren}
	b.Run("store", func(b *testing.B) {
		timed(b, func(i int) {
			if _, err := tn.store.Case(context.Background(), benchIDs[(i*7919)%len(benchIDs)], who); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("api", func(b *testing.B) {
		client := tn.srv.Client()
		timed(b, func(i int) {
			req, _ := http.NewRequest("GET", tn.srv.URL+"/v1/cases/"+string(benchIDs[(i*7919)%len(benchIDs)]), nil)
			req.Header.Set("Authorization", "Bearer "+tn.tokens[node.RolePanelMember])
			req.Header.Set(HeaderPurpose, "prepare for panel")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		})
	})
}

// BenchmarkQuarterlyReturn times the quarterly return over every preloaded
// case through the API (Node.QuarterlyReturn: every case decrypted in one
// bulk read, storage.ExportCases, audited by a single entry) against
// node/report alone on cases already in memory.
func BenchmarkQuarterlyReturn(b *testing.B) {
	tn := benchNode(b)
	q := "2025-Q1"
	b.Run("api", func(b *testing.B) {
		timed(b, func(int) {
			r := tn.do(node.RoleRegionalCoordinator, "GET", "/v1/reports/quarterly?quarter="+q, nil)
			if r.status != 200 {
				b.Fatalf("status %d %s", r.status, r.body)
			}
		})
	})
	b.Run("report-only", func(b *testing.B) {
		b.StopTimer()
		var cases []*v1.Case
		for _, id := range benchIDs {
			c, err := tn.store.Case(context.Background(), id, storage.Access{Actor: "bench", Purpose: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			cases = append(cases, c)
		}
		quarter, _ := report.ParseQuarter(q)
		b.StartTimer()
		timed(b, func(int) {
			if _, err := report.Quarterly(cases, quarter, calendar.Default(), report.DefaultConfig()); err != nil {
				b.Fatal(err)
			}
		})
	})
}
