package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

	"nrmnet/node/calendar"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// builderCases is a generator of a year of synthetic cases at one
// authority; the same seed gives the same cases.
func builderCases() *synthetic.Generator {
	return synthetic.New(5, synthetic.WithAuthority("ISL"),
		synthetic.WithPeriod(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)))
}

// TestBuildersStreamAndKeepNoCase: the builders, fed one case at a time
// from a generator and keeping no case, give byte for byte the return and
// the dataset that Quarterly and Referrals give over the same cases held
// in a slice; and once added, no case is reachable from the builders (each
// is collected, seen through a weak pointer).
func TestBuildersStreamAndKeepNoCase(t *testing.T) {
	const n = 600
	cases := builderCases().Cases(n)
	q := mustQuarter(t, "2025-Q2")
	cal, cfg := calendar.Default(), DefaultConfig()

	wantRet, err := Quarterly(cases, q, cal, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantRows, err := Referrals(cases, q, cal, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(wantRows) < 50 {
		t.Fatalf("only %d referrals in %s: the test would compare too little", len(wantRows), q)
	}

	ret, err := NewQuarterly(q, cal, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := NewReferrals(q, cal, cfg)
	if err != nil {
		t.Fatal(err)
	}
	added := streamCases(t, n, ret, rows)
	runtime.GC()
	runtime.GC()
	kept := 0
	for _, w := range added {
		if w.Value() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Errorf("%d of %d cases still reachable after they were added", kept, n)
	}

	gotRet, gotRows := ret.Return(), rows.Rows()
	if !reflect.DeepEqual(gotRet, wantRet) {
		t.Errorf("streamed return differs:\ngot  %+v\nwant %+v", gotRet, wantRet)
	}
	if !reflect.DeepEqual(gotRows, wantRows) {
		t.Errorf("streamed dataset differs: %d rows, want %d", len(gotRows), len(wantRows))
	}
	if a, b := writeAll(t, gotRet, gotRows), writeAll(t, wantRet, wantRows); !bytes.Equal(a, b) {
		t.Errorf("streamed output differs from the batch output:\n%s\n---\n%s", a, b)
	}
	// Asking again gives the same, and more cases can follow.
	if !reflect.DeepEqual(ret.Return(), wantRet) || !reflect.DeepEqual(rows.Rows(), wantRows) {
		t.Error("a second Return or Rows differs from the first")
	}
}

// streamCases generates n cases, adds each to every builder and keeps
// only a weak pointer to it.
func streamCases(t *testing.T, n int, to ...interface{ Add(*v1.Case) error }) []weak.Pointer[v1.Case] {
	t.Helper()
	g := builderCases()
	out := make([]weak.Pointer[v1.Case], 0, n)
	for range n {
		c := g.Case()
		for _, b := range to {
			if err := b.Add(c); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, weak.Make(c))
	}
	return out
}

func writeAll(t *testing.T, r *Return, rows []ReferralRow) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, err := range []error{WriteReturnCSV(&buf, r), WriteReturnJSON(&buf, r), WriteReferralsCSV(&buf, rows), WriteReferralsJSON(&buf, rows)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// TestQuarterlyBuilderShowsNoRawCount: the builder holds counts before
// suppression; printing or encoding it shows its quarter only, never a
// count or a nationality held by one child.
func TestQuarterlyBuilderShowsNoRawCount(t *testing.T) {
	q := mustQuarter(t, "2026-Q3")
	b, err := NewQuarterly(q, calendar.Default(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	c := kase(t, "ISL", 1, lt(t, "2026-07-06 10:00"))
	c.Identity.Nationalities = []string{"VNM"}
	if err := b.Add(c); err != nil {
		t.Fatal(err)
	}
	const want = "report.QuarterlyBuilder(2026-Q3)"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
		if got := fmt.Sprintf(verb, b); got != want {
			t.Errorf("%s: %q, want %q", verb, got, want)
		}
	}
	j, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(j) != "{}" {
		t.Errorf("JSON of the builder: %s", j)
	}
	if r := b.Return(); strings.Contains(fmt.Sprintf("%+v", r), "VNM") {
		t.Error("the return names a nationality held by one child")
	}
}

func TestNewBuildersRefuseBadInput(t *testing.T) {
	q := mustQuarter(t, "2026-Q3")
	for name, err := range map[string]error{
		"quarterly, bad quarter": second(NewQuarterly(Quarter{2026, 5}, calendar.Default(), DefaultConfig())),
		"quarterly, no calendar": second(NewQuarterly(q, nil, DefaultConfig())),
		"quarterly, zero config": second(NewQuarterly(q, calendar.Default(), Config{})),
		"referrals, bad quarter": second(NewReferrals(Quarter{}, calendar.Default(), DefaultConfig())),
		"referrals, no calendar": second(NewReferrals(q, nil, DefaultConfig())),
		"referrals, zero config": second(NewReferrals(q, calendar.Default(), Config{})),
	} {
		if !errors.Is(err, ErrInvalidQuarter) && !errors.Is(err, ErrNilCalendar) && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// collect returns the raw counts a QuarterlyBuilder makes of cases, for the
// tests that check them before suppression.
func collect(cases []*v1.Case, q Quarter, cfg Config) *quarterTallies {
	b, err := NewQuarterly(q, calendar.Default(), cfg)
	if err != nil {
		panic(err)
	}
	for _, c := range cases {
		if err := b.Add(c); err != nil {
			panic(err)
		}
	}
	return b.t
}
