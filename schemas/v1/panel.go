package v1

import (
	"regexp"
	"time"

	"nrmnet/schemas"
)

// Capacity is the role in which someone attends a panel meeting.
type Capacity string

const (
	CapacityLocalAuthority Capacity = "local_authority" // voting
	CapacityPolice         Capacity = "police"          // voting
	CapacityHealth         Capacity = "health"          // voting
	CapacityICTG           Capacity = "ictg"            // required, non-voting
	CapacityAdvocate       Capacity = "advocate"        // may stand for the ICTG, non-voting
	CapacityAdviser        Capacity = "adviser"         // education, youth offending, housing, NGOs: non-voting
)

var capacities = set(CapacityLocalAuthority, CapacityPolice, CapacityHealth, CapacityICTG, CapacityAdvocate, CapacityAdviser)

// Voting reports whether the capacity carries a vote: the three statutory
// safeguarding partners.
func (c Capacity) Voting() bool {
	return c == CapacityLocalAuthority || c == CapacityPolice || c == CapacityHealth
}

// VoteChoice is one voting member's vote.
type VoteChoice string

const (
	VotePositive VoteChoice = "positive"
	VoteNegative VoteChoice = "negative"
	VoteAbstain  VoteChoice = "abstain"
)

var voteChoices = set(VotePositive, VoteNegative, VoteAbstain)

// PanelID names a combined panel, e.g. "islington-camden".
type PanelID string

var panelIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$`)

// Valid reports whether p has the right form: 3 to 64 lower-case letters,
// digits and inner dashes.
func (p PanelID) Valid() bool { return panelIDPattern.MatchString(string(p)) }

// Attendee is one person at a panel meeting.
type Attendee struct {
	MemberID  string        `cbor:"member"`
	Capacity  Capacity      `cbor:"capacity"`
	Authority AuthorityCode `cbor:"authority,omitempty"` // for local authority representatives
	Chair     bool          `cbor:"chair,omitempty"`
}

// Vote is one voting member's vote on a stage.
type Vote struct {
	MemberID string        `cbor:"member"`
	Stage    DecisionStage `cbor:"stage"`
	Choice   VoteChoice    `cbor:"choice"`
}

// StageOutcome is the verdict on one stage.
type StageOutcome struct {
	Stage       DecisionStage `cbor:"stage"`
	Outcome     Outcome       `cbor:"outcome"`
	TestApplied string        `cbor:"test"`
	Unanimous   bool          `cbor:"unanimous,omitempty"`
	CastingVote bool          `cbor:"casting_vote,omitempty"` // the chair decided a tie
}

// PanelDecision is a combined panel's full record of one decision meeting:
// who was present, how each voting member voted, the verdict on each stage,
// the reasons and how the child's wishes and feelings were taken into account.
type PanelDecision struct {
	ID            ID             `cbor:"id"`
	Panel         PanelID        `cbor:"panel"`
	CaseRef       CaseID         `cbor:"case"`
	LeadAuthority AuthorityCode  `cbor:"lead"` // where the child lives
	MeetingAt     time.Time      `cbor:"meeting_at"`
	DecidedAt     time.Time      `cbor:"decided_at"`
	Attendance    []Attendee     `cbor:"attendance"`
	Votes         []Vote         `cbor:"votes"`
	Outcomes      []StageOutcome `cbor:"outcomes"` // RG, CG, or both at one meeting
	Reasons       string         `cbor:"reasons"`
	ChildViews    string         `cbor:"child_views"`
}

// Kind implements Record.
func (*PanelDecision) Kind() schemas.Kind { return schemas.KindPanelDecision }

// Validate checks the record's shape. The decision rules themselves (quorum,
// chair, majority) are applied by the panel's command processor.
func (d *PanelDecision) Validate() error {
	ch := schemas.NewChecker()
	checkID(ch, "id", d.ID, true)
	ch.Check(d.Panel.Valid(), "panel", "%q is not a panel ID (3 to 64 of a-z, 0-9 and -)", truncate(string(d.Panel)))
	checkCaseID(ch, "case", d.CaseRef, true)
	checkAuthority(ch, "lead", d.LeadAuthority, true)
	checkTime(ch, "meeting_at", d.MeetingAt, true)
	checkTime(ch, "decided_at", d.DecidedAt, true)
	members := map[string]Capacity{}
	chairs := 0
	if len(d.Attendance) == 0 {
		ch.Fail("attendance", "is required")
	}
	if checkLen(ch, "attendance", len(d.Attendance), 64) {
		for i, a := range d.Attendance {
			ac := ch.Index("attendance", i)
			ac.Text("member", a.MemberID, true, MaxShortText, false)
			oneOf(ac, "capacity", a.Capacity, capacities, true)
			checkAuthority(ac, "authority", a.Authority, a.Capacity == CapacityLocalAuthority)
			if _, twice := members[a.MemberID]; twice {
				ac.Fail("member", "%q attends twice", truncate(a.MemberID))
			} else {
				members[a.MemberID] = a.Capacity
			}
			if a.Chair {
				chairs++
			}
		}
	}
	ch.Check(chairs == 1, "attendance", "needs exactly one chair, has %d", chairs)
	if len(d.Votes) == 0 {
		// A verdict is reached by the voting members' votes; a record without
		// them cannot show how it was reached. (This also keeps one encoding:
		// an empty list and a nil one would otherwise both be accepted.)
		ch.Fail("votes", "is required: record how each voting member voted")
	}
	if checkLen(ch, "votes", len(d.Votes), 128) {
		type ballot struct {
			member string
			stage  DecisionStage
		}
		voted := map[ballot]bool{}
		for i, v := range d.Votes {
			vc := ch.Index("votes", i)
			vc.Text("member", v.MemberID, true, MaxShortText, false)
			if capacity, attended := members[v.MemberID]; v.MemberID != "" && !attended {
				vc.Fail("member", "%q did not attend", truncate(v.MemberID))
			} else if attended && capacity != "" && !capacity.Voting() {
				vc.Fail("member", "%q attends as %s, which does not vote", truncate(v.MemberID), truncate(string(capacity)))
			}
			oneOf(vc, "stage", v.Stage, stages, true)
			oneOf(vc, "choice", v.Choice, voteChoices, true)
			b := ballot{v.MemberID, v.Stage}
			vc.Check(!voted[b], "member", "%q votes twice on %s", truncate(v.MemberID), truncate(string(v.Stage)))
			voted[b] = true
		}
	}
	if len(d.Outcomes) == 0 || len(d.Outcomes) > 2 {
		ch.Fail("outcomes", "needs one or two stages, has %d", len(d.Outcomes))
	} else {
		seen := map[DecisionStage]bool{}
		for i, o := range d.Outcomes {
			oc := ch.Index("outcomes", i)
			oneOf(oc, "stage", o.Stage, stages, true)
			oc.Check(!seen[o.Stage], "stage", "%q is listed twice", truncate(string(o.Stage)))
			seen[o.Stage] = true
			oneOf(oc, "outcome", o.Outcome, outcomes, true)
			oc.Text("test", o.TestApplied, true, MaxLongText, true)
		}
	}
	ch.Text("reasons", d.Reasons, true, MaxLongText, true)
	ch.Text("child_views", d.ChildViews, true, MaxLongText, true)
	return ch.Err()
}
