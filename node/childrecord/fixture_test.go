package childrecord

import (
	"time"

	v1 "nrmnet/schemas/v1"
)

// Synthetic data only: no real child. The fixture is an invented boy at
// Islington whose first RG decision was negative, reconsidered on new
// evidence, then positive RG and CG at one meeting, assured after a query.

func at(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func ptr[T any](v T) *T { return &v }

const (
	fixtureID  v1.CaseID = "ISL-5e1f00d2a3b4c6d7"
	panelFirst v1.ID     = "1a2b3c4d5e6f708192a3b4c5d6e7f809"
	panelBoth  v1.ID     = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
)

func fixture() *v1.Case {
	return &v1.Case{
		ID: fixtureID, ChildID: "7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", Revision: 30, State: v1.StateAssured,
		Responsible: "ISL", LeadWorker: "sw-isl-0777",
		CreatedAt: at(2026, 2, 2, 9, 30), UpdatedAt: at(2026, 5, 18, 15, 0),
		Identity: v1.ChildIdentity{
			Names: []v1.PersonName{
				{Kind: v1.NameUsed, Given: "Dawit", Family: "Haile"},
				{Kind: v1.NameLegal, Given: "Dawit", Family: "Hailemariam", Original: "ዳዊት ኃይለማርያም"},
			},
			DateOfBirth: &v1.DateOfBirth{Date: "2010-09-01", Estimated: true, UncertaintyDays: 365, Basis: "age assessment"},
			Sex:         v1.SexMale, Nationalities: []string{"ERI"}, Languages: []string{"tir"}, InterpreterNeeded: true,
		},
		Referral: v1.Referral{
			ReferredAt: at(2026, 2, 2, 9, 0), FirstResponderOrg: "Synthetic Borough Police", FirstResponderType: v1.ResponderPolice,
			ExploitationTypes: []v1.ExploitationType{v1.ExploitationLabour}, ExploitationLocation: v1.LocationBoth,
			Source: "police", PresentingIssue: "debt owed to agents", ICTGReferred: true,
		},
		Safeguarding: v1.Safeguarding{Section17: true, LookedAfter: true},
		Risk:         []v1.RiskRating{{Rating: v1.RAGAmber, Stage: v1.RiskAtReferral, At: at(2026, 2, 2, 10, 0), By: "mash-isl-02"}},
		Advocate:     &v1.Advocate{Kind: v1.AdvocateICTG, Name: "Sam Okafor", Organisation: "Synthetic ICTG Service", AssignedAt: at(2026, 2, 4, 9, 0)},
		WishesAndFeelings: []v1.ChildView{
			{RecordedAt: at(2026, 2, 5, 14, 0), RecordedBy: "ICTG Sam Okafor",
				Views:         "Wants to stay with his foster family.\nWorried that the men he owes money to will find him.",
				HowConsidered: "Placement kept; his address is not shared outside the panel."},
		},
		Decisions: []v1.NRMDecision{
			{Stage: v1.StageRG, Outcome: v1.OutcomeNegative, DecidedAt: at(2026, 2, 6, 11, 0), PanelDecisionID: panelFirst,
				Reasons:     "His account was not yet supported by other information.\nThe panel asked for the records from the place he worked.",
				TestApplied: v1.TestReasonableGrounds, ChildViews: "He asked not to meet the panel in person; his guardian spoke for him.",
				DecidedBy: "Islington and Camden combined panel"},
			{Stage: v1.StageRG, Outcome: v1.OutcomePositive, DecidedAt: at(2026, 3, 13, 11, 0), PanelDecisionID: panelBoth,
				Reasons: "The work records show he worked 70 hours a week for no pay.", TestApplied: v1.TestReasonableGrounds,
				ChildViews: "His wish to stay with his foster family was taken into account.", DecidedBy: "Islington and Camden combined panel"},
			{Stage: v1.StageCG, Outcome: v1.OutcomePositive, DecidedAt: at(2026, 3, 13, 11, 0), PanelDecisionID: panelBoth,
				Reasons: "Taken together, it is more likely than not that he was exploited for labour.", TestApplied: v1.TestConclusiveGrounds,
				ChildViews: "He was told in person, with his guardian, as he asked.", DecidedBy: "Islington and Camden combined panel"},
		},
		Reconsiderations: []v1.Reconsideration{
			{Stage: v1.StageRG, RequestedAt: at(2026, 2, 20, 10, 0), RequestedBy: "his guardian", Grounds: v1.GroundsNewEvidence,
				Outcome: v1.ReconsiderationAccepted, DecidedAt: ptr(at(2026, 2, 27, 10, 0)), Reasons: "The work records arrived.",
				Decision: ptr(0), DecidedBy: "the panel chair"},
		},
		Assurance: &v1.Assurance{Status: v1.AssuranceAssured, SubmittedAt: at(2026, 4, 20, 9, 0), ResolvedAt: ptr(at(2026, 5, 18, 15, 0)),
			History: []v1.AssuranceStep{
				{Status: v1.AssuranceSubmitted, At: at(2026, 3, 16, 9, 0), By: "sw-isl-0777"},
				{Status: v1.AssuranceQueried, At: at(2026, 4, 10, 9, 0), By: "sca", Query: "Please say how his views were heard at the first meeting."},
				{Status: v1.AssuranceSubmitted, At: at(2026, 4, 20, 9, 0), By: "sw-isl-0777"},
				{Status: v1.AssuranceAssured, At: at(2026, 5, 18, 15, 0), By: "sca"},
			}},
		Scope: &v1.ScopeAssessment{AgeAtReferral: ptr(15), DaysToEighteenth: ptr(942), Outcome: v1.ScopeInScope,
			Reason: "15 by the age assessment.", AssessedAt: at(2026, 2, 2, 12, 0), AssessedBy: "sw-isl-0777"},
	}
}

func fixturePanels() []*v1.PanelDecision {
	attendance := []v1.Attendee{
		{MemberID: "la-isl-1", Capacity: v1.CapacityLocalAuthority, Authority: "ISL"},
		{MemberID: "la-cmd-1", Capacity: v1.CapacityLocalAuthority, Authority: "CMD"},
		{MemberID: "pol-1", Capacity: v1.CapacityPolice, Chair: true},
		{MemberID: "health-1", Capacity: v1.CapacityHealth},
		{MemberID: "ictg-1", Capacity: v1.CapacityICTG},
	}
	return []*v1.PanelDecision{
		{ID: panelFirst, Panel: "islington-camden", CaseRef: fixtureID, LeadAuthority: "ISL",
			MeetingAt: at(2026, 2, 6, 10, 0), DecidedAt: at(2026, 2, 6, 11, 0), Attendance: attendance,
			Votes: []v1.Vote{
				{MemberID: "la-isl-1", Stage: v1.StageRG, Choice: v1.VoteNegative},
				{MemberID: "la-cmd-1", Stage: v1.StageRG, Choice: v1.VotePositive},
				{MemberID: "pol-1", Stage: v1.StageRG, Choice: v1.VoteNegative},
				{MemberID: "health-1", Stage: v1.StageRG, Choice: v1.VoteNegative},
			},
			Outcomes: []v1.StageOutcome{{Stage: v1.StageRG, Outcome: v1.OutcomeNegative, TestApplied: v1.TestReasonableGrounds}},
			Reasons:  "Not yet supported.", ChildViews: "Guardian spoke for him."},
		{ID: panelBoth, Panel: "islington-camden", CaseRef: fixtureID, LeadAuthority: "ISL",
			MeetingAt: at(2026, 3, 13, 10, 0), DecidedAt: at(2026, 3, 13, 11, 0), Attendance: attendance,
			Votes: []v1.Vote{
				{MemberID: "la-isl-1", Stage: v1.StageRG, Choice: v1.VotePositive},
				{MemberID: "la-cmd-1", Stage: v1.StageRG, Choice: v1.VotePositive},
				{MemberID: "pol-1", Stage: v1.StageRG, Choice: v1.VotePositive},
				{MemberID: "health-1", Stage: v1.StageRG, Choice: v1.VotePositive},
				{MemberID: "la-isl-1", Stage: v1.StageCG, Choice: v1.VotePositive},
				{MemberID: "la-cmd-1", Stage: v1.StageCG, Choice: v1.VotePositive},
				{MemberID: "pol-1", Stage: v1.StageCG, Choice: v1.VotePositive},
				{MemberID: "health-1", Stage: v1.StageCG, Choice: v1.VoteAbstain},
			},
			Outcomes: []v1.StageOutcome{
				{Stage: v1.StageRG, Outcome: v1.OutcomePositive, TestApplied: v1.TestReasonableGrounds, Unanimous: true},
				{Stage: v1.StageCG, Outcome: v1.OutcomePositive, TestApplied: v1.TestConclusiveGrounds},
			},
			Reasons: "Records support the account.", ChildViews: "Told in person."},
	}
}
