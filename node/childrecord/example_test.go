package childrecord_test

import (
	"fmt"
	"strings"
	"time"

	"nrmnet/node/childrecord"
	v1 "nrmnet/schemas/v1"
)

// ExampleRenderText renders a synthetic child's record as plain text and
// prints the first decision's heading and result.
func ExampleRenderText() {
	referred := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	decided := time.Date(2026, 7, 10, 15, 0, 0, 0, time.UTC)
	c := &v1.Case{
		ID: "ISL-00000000000000a1", ChildID: "000000000000000000000000000000a1", State: v1.StateRGPositive,
		Responsible: "ISL", CreatedAt: referred, UpdatedAt: decided,
		Identity: v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Sam"}}, Sex: v1.SexUnknown},
		Referral: v1.Referral{ReferredAt: referred, FirstResponderOrg: "Synthetic Police", FirstResponderType: v1.ResponderPolice,
			ExploitationTypes: []v1.ExploitationType{v1.ExploitationCriminal}, ExploitationLocation: v1.LocationUK,
			Source: "police", PresentingIssue: "missing episodes"},
		Decisions: []v1.NRMDecision{{Stage: v1.StageRG, Outcome: v1.OutcomePositive, DecidedAt: decided,
			Reasons: "Phone records support Sam's account.", TestApplied: v1.TestReasonableGrounds,
			ChildViews: "Sam asked for the decision to be explained by their guardian.", DecidedBy: "Islington panel"}},
	}
	var b strings.Builder
	if err := childrecord.RenderText(&b, c, childrecord.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Decision 1") {
			fmt.Println(strings.Join(lines[i:i+4], "\n"))
		}
	}
	// Output:
	// Decision 1: the reasonable grounds decision, 10 July 2026
	//
	// Positive: there are reasonable grounds to believe you may be a victim of
	// modern slavery.
}
