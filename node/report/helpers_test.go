package report

import (
	"fmt"
	"testing"
	"time"

	"nrmnet/node/calendar"
	v1 "nrmnet/schemas/v1"
)

// Synthetic data only: no real child.

const day = 24 * time.Hour

// lt returns a time in Europe/London: lt(t, "2026-07-06 10:00").
func lt(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, london)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

// kase returns a valid case number n at authority a, referred at referred:
// a 16-year-old British boy referred by the police for criminal
// exploitation, rated amber at referral, in rg_pending.
func kase(t testing.TB, a v1.AuthorityCode, n int, referred time.Time) *v1.Case {
	t.Helper()
	referred = referred.UTC()
	c := &v1.Case{
		ID:          v1.CaseID(fmt.Sprintf("%s-%016x", a, 0xabc000+n)),
		ChildID:     v1.ID(fmt.Sprintf("%032x", 0xc41d000+n)),
		Revision:    3,
		State:       v1.StateRGPending,
		Responsible: a,
		LeadWorker:  "sw-0042",
		CreatedAt:   referred,
		UpdatedAt:   referred,
		Identity: v1.ChildIdentity{
			Names:         []v1.PersonName{{Kind: v1.NameUsed, Given: "Synthetic", Family: fmt.Sprint("Child", n)}},
			DateOfBirth:   &v1.DateOfBirth{Date: "2010-05-01"},
			Sex:           v1.SexMale,
			Nationalities: []string{"GBR"},
		},
		Referral: v1.Referral{
			ReferredAt: referred, FirstResponderOrg: "Synthetic Police Service", FirstResponderType: v1.ResponderPolice,
			ExploitationTypes: []v1.ExploitationType{v1.ExploitationCriminal}, ExploitationLocation: v1.LocationUK,
			Source: "police", PresentingIssue: "missing episodes",
		},
		Risk: []v1.RiskRating{{Rating: v1.RAGAmber, Stage: v1.RiskAtReferral, At: referred, By: "sw-0042"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return c
}

// decide appends a decision and moves the state to match.
func decide(c *v1.Case, stage v1.DecisionStage, o v1.Outcome, at time.Time) *v1.Case {
	test := v1.TestReasonableGrounds
	if stage == v1.StageCG {
		test = v1.TestConclusiveGrounds
	}
	c.Decisions = append(c.Decisions, v1.NRMDecision{Stage: stage, Outcome: o, DecidedAt: at.UTC(),
		Reasons: "Synthetic reasons.", TestApplied: test})
	c.State = map[[2]string]v1.CaseState{
		{string(v1.StageRG), string(v1.OutcomePositive)}: v1.StateRGPositive,
		{string(v1.StageRG), string(v1.OutcomeNegative)}: v1.StateRGNegative,
		{string(v1.StageCG), string(v1.OutcomePositive)}: v1.StateCGPositive,
		{string(v1.StageCG), string(v1.OutcomeNegative)}: v1.StateCGNegative,
	}[[2]string{string(stage), string(o)}]
	if at.After(c.UpdatedAt) {
		c.UpdatedAt = at.UTC()
	}
	return c
}

func mustQuarter(t testing.TB, s string) Quarter {
	t.Helper()
	q, err := ParseQuarter(s)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func mustQuarterly(t testing.TB, cases []*v1.Case, q Quarter, cfg Config) *Return {
	t.Helper()
	r, err := Quarterly(cases, q, calendar.Default(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
