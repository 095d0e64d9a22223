package report_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/node/report"
	v1 "nrmnet/schemas/v1"
)

// A synthetic case: no real child.
func exampleCase(n int, referred time.Time, sex v1.Sex) *v1.Case {
	return &v1.Case{
		ID: v1.CaseID(fmt.Sprintf("ISL-%016x", n)), ChildID: v1.ID(fmt.Sprintf("%032x", n)), State: v1.StateRGPending,
		Responsible: "ISL", CreatedAt: referred, UpdatedAt: referred,
		Identity: v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Synthetic"}},
			DateOfBirth: &v1.DateOfBirth{Date: "2010-05-01"}, Sex: sex, Nationalities: []string{"GBR"}},
		Referral: v1.Referral{ReferredAt: referred, FirstResponderOrg: "Synthetic Police", FirstResponderType: v1.ResponderPolice,
			ExploitationTypes: []v1.ExploitationType{v1.ExploitationCriminal}, ExploitationLocation: v1.LocationUK,
			Source: "school", PresentingIssue: "missing episodes"},
		Risk: []v1.RiskRating{{Rating: v1.RAGAmber, Stage: v1.RiskAtReferral, At: referred, By: "sw-1"}},
	}
}

// ExampleQuarterly builds a quarter's return and writes the table by sex:
// seven boys and two girls, so the two are hidden and, because the total
// would reveal them, the seven too.
func ExampleQuarterly() {
	var cases []*v1.Case
	for i := range 9 {
		sex := v1.SexMale
		if i < 2 {
			sex = v1.SexFemale
		}
		cases = append(cases, exampleCase(i, time.Date(2026, 7, 6+i, 10, 0, 0, 0, time.UTC), sex))
	}
	q, _ := report.ParseQuarter("2026-Q3")
	ret, err := report.Quarterly(cases, q, calendar.Default(), report.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	var b strings.Builder
	_ = report.WriteReturnCSV(&b, ret)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, "by_sex") {
			fmt.Println(line)
		}
	}
	// Output:
	// 2026-Q3,referrals_by_sex,total,9
	// 2026-Q3,referrals_by_sex,female,<5
	// 2026-Q3,referrals_by_sex,male,<5
	// 2026-Q3,referrals_by_sex,other,0
	// 2026-Q3,referrals_by_sex,unknown,0
}

// ExampleReferrals writes the per-referral dataset: no identifiers, no
// dates, the vocabularies' categories.
func ExampleReferrals() {
	c := exampleCase(1, time.Date(2026, 7, 6, 10, 0, 0, 0, time.UTC), v1.SexFemale)
	c.Decisions = []v1.NRMDecision{{Stage: v1.StageRG, Outcome: v1.OutcomeNegative,
		DecidedAt: time.Date(2026, 7, 10, 15, 0, 0, 0, time.UTC), Reasons: "r", TestApplied: v1.TestReasonableGrounds}}
	rows, _ := report.Referrals([]*v1.Case{c}, report.QuarterOf(c.Referral.ReferredAt), calendar.Default(), report.DefaultConfig())
	_ = report.WriteReferralsCSV(os.Stdout, rows)
	// Output:
	// quarter,source,presenting_issue,rag_before,rag_after,outcome,working_days_to_rg,working_days_to_outcome
	// 2026-Q3,school,missing episodes,amber,,rg_negative,4,4
}
