package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"nrmnet/node/calendar"
	v1 "nrmnet/schemas/v1"
)

// TestQuarterlyCounts checks which events count in a quarter, with a
// threshold of 2 so that only ones are hidden.
func TestQuarterlyCounts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Threshold = 2
	q := mustQuarter(t, "2026-Q3")
	var cases []*v1.Case
	add := func(c *v1.Case) *v1.Case { cases = append(cases, c); return c }

	// Referred in the quarter: 1 July 00:00 BST is in, 30 September 23:59 in.
	add(kase(t, "ISL", 1, lt(t, "2026-07-01 00:00")))
	c := add(kase(t, "ISL", 2, lt(t, "2026-09-30 23:59")))
	c.Identity.Sex = v1.SexFemale
	c.Identity.Nationalities = []string{"ALB"}
	c.Referral.FirstResponderType = v1.ResponderLocalAuthority
	c.Referral.ExploitationTypes = []v1.ExploitationType{v1.ExploitationCriminal, v1.ExploitationSexual}
	c.Referral.CountyLines = true
	c = add(kase(t, "ISL", 3, lt(t, "2026-08-10 09:00")))
	c.Identity.AgeDisputed = true
	c.Identity.Nationalities = []string{"ALB"}
	c = add(kase(t, "ISL", 4, lt(t, "2026-08-11 09:00")))
	c.Identity.DateOfBirth = nil
	c.Identity.Nationalities = []string{"UNK"}
	c = add(kase(t, "ISL", 5, lt(t, "2026-08-12 09:00")))
	c.Identity.DateOfBirth = &v1.DateOfBirth{Date: "2014-01-01"} // 12
	c.Identity.Nationalities = []string{"XXX"}
	c.Referral.CountyLines = true
	// Not counted as referrals: before and after the quarter, a duplicate,
	// a case that moved in after its referral.
	before := add(kase(t, "ISL", 6, lt(t, "2026-06-30 23:59")))
	add(kase(t, "ISL", 7, lt(t, "2026-10-01 00:00")))
	c = add(kase(t, "ISL", 8, lt(t, "2026-07-20 10:00")))
	c.State = v1.StateClosed
	c.Closure = &v1.Closure{Reason: v1.ClosureDuplicate, Note: "Same as case 1.", ClosedAt: lt(t, "2026-07-21 10:00"), ClosedBy: "sw-0042"}
	movedIn := add(kase(t, "ISL", 9, lt(t, "2026-07-02 10:00")))
	accepted := lt(t, "2026-07-15 12:00")
	movedIn.Relocations = []v1.RelocationRecord{{RequestID: v1.NewID(), From: "CMD", To: "ISL",
		RequestedAt: accepted.Add(-day), Status: v1.RelocationAccepted, ResolvedAt: &accepted}}
	// The origin's copy of the same child: counted there, once.
	origin := add(kase(t, "CMD", 9, lt(t, "2026-07-02 10:00")))
	origin.State = v1.StateTransferredOut
	origin.Relocations = []v1.RelocationRecord{{RequestID: movedIn.Relocations[0].RequestID, From: "CMD", To: "ISL",
		RequestedAt: accepted.Add(-day), Status: v1.RelocationAccepted, ResolvedAt: &accepted}}

	// Decisions in the quarter: the origin's RG before the move counts
	// there; the destination's copy holds it too but does not count it.
	decide(origin, v1.StageRG, v1.OutcomePositive, lt(t, "2026-07-08 15:00"))
	origin.State = v1.StateTransferredOut
	decide(movedIn, v1.StageRG, v1.OutcomePositive, lt(t, "2026-07-08 15:00"))
	decide(before, v1.StageRG, v1.OutcomeNegative, lt(t, "2026-07-03 15:00"))
	before.Reconsiderations = []v1.Reconsideration{{Stage: v1.StageRG, RequestedAt: lt(t, "2026-07-10 10:00"), RequestedBy: "ictg-1",
		Grounds: v1.GroundsNewEvidence, Outcome: v1.ReconsiderationAccepted, DecidedAt: ptrTo(lt(t, "2026-07-17 10:00")), Decision: ptrTo(0)}}
	decide(before, v1.StageRG, v1.OutcomePositive, lt(t, "2026-07-24 15:00"))
	decide(cases[0], v1.StageRG, v1.OutcomePositive, lt(t, "2026-07-06 15:00"))
	decide(cases[0], v1.StageCG, v1.OutcomePositive, lt(t, "2026-08-20 15:00"))
	decide(cases[1], v1.StageRG, v1.OutcomePositive, lt(t, "2026-10-02 15:00")) // next quarter

	// Awaiting CG at the end of the quarter (30 Sep 2026 24:00): the moved
	// case (RG 8 July, 84 days), "before" (RG 24 July, 68 days); not the
	// origin's copy (moved out), not cases[0] (CG made).
	// The raw counts, before suppression.
	raw := collect(cases, q, cfg)
	rawCheck := func(name string, tl *tally, want string) {
		t.Helper()
		var b strings.Builder
		fmt.Fprint(&b, tl.total())
		for _, c := range tl.cats {
			fmt.Fprintf(&b, " %s=%d", c, tl.counts[c])
		}
		if b.String() != want {
			t.Errorf("raw %s: %s, want %s", name, b.String(), want)
		}
	}
	rawCheck("exploitation", raw.exploitation, "6 sexual=0 criminal=5 labour=0 domestic_servitude=0 organ_harvesting=0 unknown=0 multiple=1")
	rawCheck("sex", raw.sex, "6 female=1 male=5 other=0 unknown=0")
	rawCheck("age", raw.age, "6 0-11=0 12-15=1 16-17=3 18 and over=0 age disputed=1 not known=1")
	rawCheck("nationality", raw.nationality, "6 GBR=2 ALB=2 not known=1 stateless=1")
	rawCheck("first responder", raw.responder, "6 local_authority=1 police=5 home_office=0 ngo=0 health=0 other=0")
	rawCheck("RG", raw.rg, "4 positive=3 negative=1")
	rawCheck("CG", raw.cg, "1 positive=1 negative=0")
	rawCheck("awaiting", raw.awaiting, "2 0-30 days=0 31-90 days=2 91-180 days=0 181-365 days=0 over 365 days=0")
	rawCheck("requested", raw.requested, "1 reasonable_grounds=1 conclusive_grounds=0")
	rawCheck("decided", raw.decided, "1 accepted=1 refused=0")
	if raw.countyLines != 2 {
		t.Errorf("county lines %d", raw.countyLines)
	}

	r := mustQuarterly(t, cases, q, cfg)
	check := func(name string, tab Table, want string) {
		t.Helper()
		if got := cells(tab); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	// ISL: 5 referrals (1-5); CMD: 1 (the origin's copy).
	// Cells: sexual, criminal, labour, domestic servitude, organ
	// harvesting, unknown, multiple. Criminal (5) is hidden beside the one
	// multiple: the total would reveal it.
	check("exploitation", r.Referrals.ByExploitation, "6 0 <2 0 0 0 0 <2")
	if got := r.Referrals.CountyLines.String(); got != "2" {
		t.Errorf("county lines %s", got)
	}
	check("sex", r.Referrals.BySex, "6 <2 <2 0 0")
	check("age", r.Referrals.ByAgeGroup, "6 0 <2 3 0 <2 <2") // 0-11, 12-15, 16-17, 18+, disputed, not known
	// GBR 2 (case 1 and the origin's copy), ALB 2; one unknown and one
	// stateless fold into other, largest first, then by code.
	check("nationality", r.Referrals.ByNationality, "6 2 2 2")
	if n := r.Referrals.ByNationality.Cells; n[0].Category != "ALB" || n[1].Category != "GBR" || n[2].Category != CategoryOtherNational {
		t.Errorf("nationality order %+v", n)
	}
	check("first responder", r.Referrals.ByFirstResponder, "6 <2 <2 0 0 0 0")
	// The origin's 8 Jul, "before"'s negative of 3 Jul and positive of
	// 24 Jul, case 1's 6 Jul: 3 positive, 1 negative.
	check("RG decisions", r.RGDecisions.Issued, "4 <2 <2")
	if r.RGDecisions.SharePositive.String() != "suppressed" {
		t.Errorf("RG share %s", r.RGDecisions.SharePositive)
	}
	check("CG decisions", r.CGDecisions.Issued, "<2 <2 0")
	check("awaiting CG", r.AwaitingCG, "2 0 2 0 0 0")
	check("reconsiderations requested", r.Reconsiderations.Requested, "<2 <2 0")
	check("reconsiderations decided", r.Reconsiderations.Decided, "<2 <2 0")
}

// TestQuarterlySuppression: a realistic small quarter at the default
// threshold, written as CSV.
func TestQuarterlySuppression(t *testing.T) {
	q := mustQuarter(t, "2026-Q3")
	var cases []*v1.Case
	for i := range 12 {
		c := kase(t, "GLG", i, lt(t, "2026-07-06 10:00").Add(day*7*timeDur(i)))
		switch {
		case i < 3:
			c.Referral.ExploitationTypes = []v1.ExploitationType{v1.ExploitationSexual}
			c.Identity.Sex = v1.SexFemale
		case i < 5:
			c.Referral.ExploitationTypes = []v1.ExploitationType{v1.ExploitationCriminal, v1.ExploitationSexual}
		case i < 10:
			c.Referral.CountyLines = true
		}
		if i%3 == 0 {
			c.Identity.DateOfBirth = &v1.DateOfBirth{Date: "2012-01-01"} // 14
		}
		if i < 5 {
			c.Identity.Nationalities = []string{"ALB"}
		}
		if i == 11 {
			c.Identity.Nationalities = []string{"VNM"}
		}
		if i%2 == 0 {
			c.Referral.FirstResponderType = v1.ResponderLocalAuthority
		}
		decide(c, v1.StageRG, v1.OutcomePositive, c.Referral.ReferredAt.Add(2*day))
		cases = append(cases, c)
	}
	decide(cases[0], v1.StageCG, v1.OutcomeNegative, cases[0].Referral.ReferredAt.Add(40*day))
	r := mustQuarterly(t, cases, q, DefaultConfig())
	var buf bytes.Buffer
	if err := WriteReturnCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2026-Q3,referrals_by_exploitation,total,12",
		"2026-Q3,referrals_by_exploitation,sexual,<5",
		"2026-Q3,referrals_by_exploitation,criminal,7",
		"2026-Q3,referrals_by_exploitation,multiple,<5",
		"2026-Q3,referrals_county_lines,total,5",
		"2026-Q3,referrals_by_sex,female,<5",
		"2026-Q3,referrals_by_sex,male,<5", // secondary
		"2026-Q3,referrals_by_age_group,12-15,<5",
		"2026-Q3,referrals_by_age_group,16-17,<5", // secondary
		"2026-Q3,referrals_by_nationality,GBR,6",
		"2026-Q3,referrals_by_nationality,ALB,<5", // 5, secondary
		"2026-Q3,referrals_by_nationality,other,<5",
		"2026-Q3,referrals_by_first_responder,local_authority,6",
		"2026-Q3,referrals_by_first_responder,police,6",
		"2026-Q3,rg_decisions,total,12",
		"2026-Q3,rg_decisions,positive,12",
		"2026-Q3,rg_decisions,share_positive,100%",
		"2026-Q3,cg_decisions,total,<5",
		"2026-Q3,cg_decisions,share_positive,suppressed",
		"2026-Q3,awaiting_cg,total,11",
		"2026-Q3,suppression,threshold,5",
	}
	out := buf.String()
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("CSV lacks %q", w)
		}
	}
	if strings.Contains(out, "VNM") {
		t.Error("a nationality held by one child is named")
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 || strings.Join(recs[0], ",") != "quarter,table,category,value" {
		t.Fatalf("CSV does not parse back: %v", err)
	}
	for _, rec := range recs[1:] {
		if len(rec) != 4 || rec[0] != "2026-Q3" {
			t.Errorf("bad line %q", rec)
		}
	}

	buf.Reset()
	if err := WriteReturnJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	sex := back["referrals"].(map[string]any)["by_sex"].(map[string]any)
	if sex["total"] != 12.0 || sex["cells"].([]any)[0].(map[string]any)["count"] != "<5" {
		t.Errorf("JSON by_sex %v", sex)
	}
	if back["quarter"] != "2026-Q3" || back["rg_decisions"].(map[string]any)["share_positive"] != 100.0 {
		t.Errorf("JSON %s", buf.String())
	}
}

func timeDur(i int) time.Duration { return time.Duration(i) }

func ptrTo[T any](v T) *T { return &v }

func TestQuarterlyRefusesBadInput(t *testing.T) {
	q := mustQuarter(t, "2026-Q3")
	if _, err := Quarterly(nil, Quarter{2026, 5}, calendar.Default(), DefaultConfig()); !errors.Is(err, ErrInvalidQuarter) {
		t.Errorf("bad quarter: %v", err)
	}
	if _, err := Quarterly(nil, q, nil, DefaultConfig()); !errors.Is(err, ErrNilCalendar) {
		t.Errorf("nil calendar: %v", err)
	}
	if _, err := Referrals(nil, q, calendar.Default(), Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("zero config: %v", err)
	}
	// No cases, nil cases: an empty return, not an error.
	r, err := Quarterly([]*v1.Case{nil}, q, calendar.Default(), DefaultConfig())
	if err != nil || cells(r.Referrals.BySex) != "0 0 0 0 0" || r.RGDecisions.SharePositive.String() != "-" {
		t.Errorf("empty return: %v %+v", err, r)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"threshold 1":        func(c *Config) { c.Threshold = 1 },
		"empty source":       func(c *Config) { c.Sources = append(c.Sources, " ") },
		"duplicate issue":    func(c *Config) { c.PresentingIssues = append(c.PresentingIssues, "Missing Episodes") },
		"formula":            func(c *Config) { c.Sources = append(c.Sources, "=HYPERLINK(\"x\")") },
		"multiline":          func(c *Config) { c.Sources = append(c.Sources, "a\nb") },
		"no bands":           func(c *Config) { c.AwaitingBands = nil },
		"bands out of order": func(c *Config) { c.AwaitingBands = []int{90, 30} },
		"repeated band":      func(c *Config) { c.AwaitingBands = []int{30, 30} },
		"zero band":          func(c *Config) { c.AwaitingBands = []int{0, 30} },
	} {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}
