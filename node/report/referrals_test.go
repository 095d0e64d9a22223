package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"nrmnet/node/calendar"
	v1 "nrmnet/schemas/v1"
)

// TestReferralWorkingDays: time taken is counted in the bank holidays of
// the authority's nation.
func TestReferralWorkingDays(t *testing.T) {
	tests := []struct {
		name          string
		authority     v1.AuthorityCode
		referred, rg  string
		cg            string
		wantRG, wantO int
	}{
		// Tue 23 Dec 2025 to Mon 5 Jan 2026. Scotland: 24, 29, 30, 31 Dec,
		// 5 Jan (1 and 2 January are holidays). England: 2 January works.
		{"Scotland, Christmas and 2 January", "GLG", "2025-12-23 10:30", "2026-01-05 11:00", "", 5, 5},
		{"England, Christmas", "ISL", "2025-12-23 10:30", "2026-01-05 11:00", "", 6, 6},
		// Thu 26 Nov to Thu 3 Dec 2026: St Andrew's Day is Mon 30 Nov.
		{"Scotland, St Andrew's Day", "EDH", "2026-11-26 09:00", "2026-12-03 09:00", "", 4, 4},
		{"Wales, no St Andrew's Day", "CRF", "2026-11-26 09:00", "2026-12-03 09:00", "", 5, 5},
		// Wed 1 Apr 2026, RG Tue 7 Apr (Good Friday, Easter Monday in
		// England: Thu 2, Tue 7 = 2), CG Fri 15 May (Early May bank holiday
		// Mon 4 May): 32 weekdays from Thu 2 Apr to Fri 15 May, less Good
		// Friday, Easter Monday and 4 May.
		{"England, Easter to May", "ISL", "2026-04-01 09:00", "2026-04-07 09:00", "2026-05-15 12:00", 2, 29},
		// Scotland works Easter Monday: Thu 2, Mon 6, Tue 7 = 3; 30 in all.
		{"Scotland, Easter to May", "GLG", "2026-04-01 09:00", "2026-04-07 09:00", "2026-05-15 12:00", 3, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kase(t, tt.authority, 1, lt(t, tt.referred))
			decide(c, v1.StageRG, v1.OutcomePositive, lt(t, tt.rg))
			wantOutcome := OutcomeAwaitingCG
			if tt.cg != "" {
				decide(c, v1.StageCG, v1.OutcomePositive, lt(t, tt.cg))
				wantOutcome = OutcomeCGPositive
			} else {
				decide(c, v1.StageCG, v1.OutcomeNegative, lt(t, tt.rg)) // same meeting
				wantOutcome = OutcomeCGNegative
			}
			rows, err := Referrals([]*v1.Case{c}, QuarterOf(c.Referral.ReferredAt), calendar.Default(), DefaultConfig())
			if err != nil || len(rows) != 1 {
				t.Fatalf("%v %v", rows, err)
			}
			r := rows[0]
			if intOr(r.WorkingDaysToRG) != tt.wantRG || intOr(r.WorkingDaysToOutcome) != tt.wantO || r.Outcome != wantOutcome {
				t.Errorf("to RG %d, to outcome %d (%s); want %d, %d (%s)",
					intOr(r.WorkingDaysToRG), intOr(r.WorkingDaysToOutcome), r.Outcome, tt.wantRG, tt.wantO, wantOutcome)
			}
		})
	}
}

func TestReferralRows(t *testing.T) {
	q := mustQuarter(t, "2026-Q3")
	a := kase(t, "ISL", 1, lt(t, "2026-07-06 10:00"))
	a.Referral.Source = "  School "
	a.Referral.PresentingIssue = "MISSING EPISODES"
	a.Risk = append(a.Risk,
		v1.RiskRating{Rating: v1.RAGRed, Stage: v1.RiskAtReferral, At: lt(t, "2026-07-06 11:00"), By: "sw-1"},
		v1.RiskRating{Rating: v1.RAGGreen, Stage: v1.RiskAfterDiscussion, At: lt(t, "2026-07-07 11:00"), By: "sw-1"},
		v1.RiskRating{Rating: v1.RAGAmber, Stage: v1.RiskReview, At: lt(t, "2026-08-07 11:00"), By: "sw-1"})
	b := kase(t, "ISL", 2, lt(t, "2026-07-01 10:00"))
	b.Referral.Source = "his aunt Zanele, who lives on Canary Road"
	b.Referral.PresentingIssue = "seen at 14 Elm Street with a man called Dev"
	b.Risk = nil
	sca := kase(t, "ISL", 3, lt(t, "2026-07-02 10:00"))
	sca.State = v1.StateReferredToSCA
	sca.Scope = &v1.ScopeAssessment{Outcome: v1.ScopeReferredToSCA, AgeDisputed: true, Reason: "Disputed.",
		AssessedAt: lt(t, "2026-07-03 10:00"), AssessedBy: "sw-1"}
	rows, err := Referrals([]*v1.Case{a, b, sca}, q, calendar.Default(), DefaultConfig())
	if err != nil || len(rows) != 3 {
		t.Fatalf("%v %v", rows, err)
	}
	if !slices.IsSortedFunc(rows, compareRows) {
		t.Error("rows not sorted by content")
	}
	byOutcome := map[Outcome]ReferralRow{}
	for _, r := range rows {
		byOutcome[r.Outcome] = r
	}
	if r := byOutcome[OutcomeReferredToSCA]; intOr(r.WorkingDaysToOutcome) != 1 || r.WorkingDaysToRG != nil {
		t.Errorf("SCA row %+v", r)
	}
	var ra, rb ReferralRow
	for _, r := range rows {
		if r.Source == "school" {
			ra = r
		}
		if r.Source == OtherCategory {
			rb = r
		}
	}
	if ra.PresentingIssue != "missing episodes" || ra.RAGBefore != v1.RAGRed || ra.RAGAfter != v1.RAGGreen || ra.Outcome != OutcomeAwaitingRG {
		t.Errorf("row a %+v", ra)
	}
	if rb.PresentingIssue != OtherCategory || rb.RAGBefore != "" || rb.RAGAfter != "" {
		t.Errorf("row b %+v", rb)
	}

	var buf bytes.Buffer
	if err := WriteReferralsCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 4 || !slices.Equal(recs[0], ReferralsCSVHeader) {
		t.Fatalf("CSV %v %v", recs, err)
	}
	for _, s := range []string{"Zanele", "Canary", "Elm", "Dev"} {
		for _, rec := range recs {
			if strings.Contains(strings.Join(rec, ","), s) {
				t.Errorf("free text %q reached the dataset", s)
			}
		}
	}
	buf.Reset()
	if err := WriteReferralsJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("empty JSON %q %v", buf.String(), err)
	}
	buf.Reset()
	if err := WriteReferralsJSON(&buf, rows); err != nil {
		t.Fatal(err)
	}
	var back []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back) != 3 || back[0]["quarter"] != "2026-Q3" {
		t.Errorf("JSON %s %v", buf.String(), err)
	}
}
