package workflow_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
)

// exampleCase is a synthetic case, received in Glasgow on Wednesday 28
// December 2022 and rated amber.
func exampleCase() *v1.Case {
	referred := time.Date(2022, time.December, 28, 10, 0, 0, 0, time.UTC)
	return &v1.Case{
		ID: "GLG-0a1b2c3d4e5f6a7b", ChildID: "0123456789abcdef0123456789abcdef", Revision: 1,
		State: v1.StateReceived, Responsible: "GLG", CreatedAt: referred, UpdatedAt: referred,
		Identity: v1.ChildIdentity{
			Names:       []v1.PersonName{{Kind: v1.NameUsed, Given: "Thi", Family: "Nguyen"}},
			DateOfBirth: &v1.DateOfBirth{Date: "2009-03-02", Estimated: true, UncertaintyDays: 180, Basis: "age assessment"},
			Sex:         v1.SexFemale,
		},
		Referral: v1.Referral{
			ReferredAt: referred, FirstResponderOrg: "Synthetic Council", FirstResponderType: v1.ResponderLocalAuthority,
			ExploitationTypes: []v1.ExploitationType{v1.ExploitationLabour}, ExploitationLocation: v1.LocationBoth,
			Source: "school", PresentingIssue: "working in a nail bar",
		},
		Risk: []v1.RiskRating{{Rating: v1.RAGAmber, Stage: v1.RiskAtReferral, At: referred, By: "sw-7"}},
	}
}

func ExampleApply() {
	p := workflow.DefaultPolicy()
	c := exampleCase()
	now := c.Referral.ReferredAt
	for _, ev := range []workflow.Event{
		workflow.StartScopeCheck{},
		workflow.RecordScope{InScope: true, Reason: "Estimated 13; well clear of 18."},
		workflow.RateRisk{RAG: v1.RAGAmber, Stage: v1.RiskAfterDiscussion},
	} {
		now = now.Add(time.Hour)
		next, err := workflow.Apply(c, ev, now, "sw-7", p)
		if err != nil {
			log.Fatal(err)
		}
		c = next
	}
	// Scotland: 2 and 3 January 2023 are bank holidays.
	fmt.Println(c.State, c.Revision, c.NextDeadline.Format("Mon 2 Jan 2006 15:04 MST"))

	_, err := workflow.Apply(c, workflow.RecordDecision{Stage: v1.StageCG}, now, "sw-7", p)
	fmt.Println(errors.Is(err, workflow.ErrInvalidEvent))
	_, err = workflow.Apply(c, workflow.StartRecoveryPeriod{}, now, "sw-7", p)
	fmt.Println(err)
	// Output:
	// rg_pending 4 Fri 6 Jan 2023 10:00 UTC
	// true
	// workflow: cannot start the recovery period while the case is rg_pending: allowed now: record a reasonable grounds decision, record reasonable and conclusive grounds decisions made at one meeting, transfer the case out, update safeguarding, rate the risk, record the child's views, assign an advocate, record the transfer-in conference, assign the lead social worker
}

func ExampleDeadlines() {
	p := workflow.DefaultPolicy()
	c := exampleCase()
	div, err := workflow.DivisionOf(c.Responsible)
	if err != nil {
		log.Fatal(err)
	}
	ds, err := workflow.Deadlines(c, p, calendar.Default(), div)
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2022, time.December, 29, 9, 0, 0, 0, time.UTC)
	for _, d := range ds {
		fmt.Printf("%s: %s, %v\n", d.Name, d.Due.Format("Mon 2 Jan 15:04"), workflow.DueStatus(d, now, 48*time.Hour))
	}
	// Output:
	// triage (amber): Thu 29 Dec 10:00, due soon
	// reasonable grounds decision: Fri 6 Jan 10:00, ok
}

func ExampleCheckScope() {
	id := v1.ChildIdentity{DateOfBirth: &v1.DateOfBirth{Date: "2008-02-29"}}
	r := workflow.CheckScope(id, time.Date(2025, time.November, 20, 12, 0, 0, 0, time.UTC), workflow.DefaultPolicy())
	fmt.Println(r.InScope, r.Eighteenth, r.DaysToEighteenth)
	// Output:
	// true 2026-03-01 101
}
