package panel

import (
	"time"

	v1 "nrmnet/schemas/v1"
)

// StageStatus is where a case stands on one decision stage.
type StageStatus string

// The statuses of a stage.
const (
	StagePending       StageStatus = "pending"       // not decided yet
	StagePositive      StageStatus = "positive"      // decided positive
	StageNegative      StageStatus = "negative"      // decided negative
	StageReconsidering StageStatus = "reconsidering" // a negative decision is being reconsidered
)

// StageState is the case's standing on one stage.
type StageState struct {
	Status    StageStatus `cbor:"status"`
	Decision  v1.ID       `cbor:"decision,omitempty"`   // the latest decision on the stage
	DecidedAt *time.Time  `cbor:"decided_at,omitempty"` // that decision's time (from its command)
}

// ProposalStatus is whether a proposal is still being voted on.
type ProposalStatus string

// The statuses of a proposal.
const (
	ProposalOpen      ProposalStatus = "open"
	ProposalConcluded ProposalStatus = "concluded"
)

// Meeting is a recorded panel meeting.
type Meeting struct {
	ID         v1.ID         `cbor:"id"`
	HeldAt     time.Time     `cbor:"held_at"`
	Attendance []v1.Attendee `cbor:"attendance"`
	RecordedBy v1.ID         `cbor:"recorded_by"` // command ID
}

// ChildViews is one record of the child's wishes and feelings.
type ChildViews struct {
	Command    v1.ID            `cbor:"command"`
	At         time.Time        `cbor:"at"`
	Authority  v1.AuthorityCode `cbor:"authority"`
	RecordedBy Actor            `cbor:"recorded_by"`
	Views      string           `cbor:"views"`
}

// Proposal is a stage (or RG and CG together) put to the vote at a meeting,
// with the votes cast so far.
type Proposal struct {
	ID         v1.ID              `cbor:"id"`
	Meeting    v1.ID              `cbor:"meeting"`
	Stages     []v1.DecisionStage `cbor:"stages"`
	ProposedAt time.Time          `cbor:"proposed_at"`
	Votes      []v1.Vote          `cbor:"votes"`
	Status     ProposalStatus     `cbor:"status"`
}

// Decision is a concluded proposal: the full decision record, the log index
// it was concluded at, and its SCA assurance.
type Decision struct {
	Index           uint64           `cbor:"index"`
	Record          v1.PanelDecision `cbor:"record"`
	Reconsideration *Reconsideration `cbor:"reconsideration,omitempty"`
	Assurance       *v1.Assurance    `cbor:"assurance,omitempty"`
}

// Reconsideration is a request to reconsider a negative decision.
type Reconsideration struct {
	Command   v1.ID            `cbor:"command"`
	At        time.Time        `cbor:"at"`
	Authority v1.AuthorityCode `cbor:"authority"`
	Grounds   Grounds          `cbor:"grounds"`
	Detail    string           `cbor:"detail"`
}

// Closure records why and when a case was closed.
type Closure struct {
	Command v1.ID       `cbor:"command"`
	At      time.Time   `cbor:"at"`
	Reason  CloseReason `cbor:"reason"`
}

// PanelCase is everything the panel holds about one case: who leads it, the
// rules it is decided under, its meetings, the child's views, proposals with
// votes, decisions with reasons, and its standing on each stage.
type PanelCase struct {
	Panel            v1.PanelID         `cbor:"panel"`
	Case             v1.CaseID          `cbor:"case"`
	Lead             v1.AuthorityCode   `cbor:"lead"`
	LeadSocialWorker string             `cbor:"lead_social_worker"`
	Touches          []v1.AuthorityCode `cbor:"touches,omitempty"`
	Rules            Ruleset            `cbor:"rules"`
	OpenedAt         time.Time          `cbor:"opened_at"`
	OpenedBy         v1.ID              `cbor:"opened_by"`
	RG               StageState         `cbor:"rg"`
	CG               StageState         `cbor:"cg"`
	Meetings         []Meeting          `cbor:"meetings,omitempty"`
	ChildViews       []ChildViews       `cbor:"child_views,omitempty"`
	Proposals        []Proposal         `cbor:"proposals,omitempty"`
	Decisions        []Decision         `cbor:"decisions,omitempty"`
	Closed           *Closure           `cbor:"closed,omitempty"`
}

// Limits on what one case accumulates, so that a case record stays small.
const (
	MaxMeetings         = 32
	MaxChildViewRecords = 32
	MaxProposals        = 32
)

// stage returns the state of a stage.
func (pc *PanelCase) stage(s v1.DecisionStage) *StageState {
	if s == v1.StageRG {
		return &pc.RG
	}
	return &pc.CG
}

// meeting returns the recorded meeting with this ID, or nil.
func (pc *PanelCase) meeting(id v1.ID) *Meeting {
	for i := range pc.Meetings {
		if pc.Meetings[i].ID == id {
			return &pc.Meetings[i]
		}
	}
	return nil
}

// proposal returns the proposal with this ID, or nil.
func (pc *PanelCase) proposal(id v1.ID) *Proposal {
	for i := range pc.Proposals {
		if pc.Proposals[i].ID == id {
			return &pc.Proposals[i]
		}
	}
	return nil
}

// openProposal returns the proposal being voted on, or nil.
func (pc *PanelCase) openProposal() *Proposal {
	for i := range pc.Proposals {
		if pc.Proposals[i].Status == ProposalOpen {
			return &pc.Proposals[i]
		}
	}
	return nil
}

// decision returns the concluded decision with this ID, or nil.
func (pc *PanelCase) decision(id v1.ID) *Decision {
	for i := range pc.Decisions {
		if pc.Decisions[i].Record.ID == id {
			return &pc.Decisions[i]
		}
	}
	return nil
}

// Decision returns the concluded decision with this ID.
func (pc *PanelCase) Decision(id v1.ID) (Decision, bool) {
	if d := pc.decision(id); d != nil {
		return *d, true
	}
	return Decision{}, false
}

// authorities lists the lead and every authority the case touches.
func (pc *PanelCase) authorities() []v1.AuthorityCode {
	return append([]v1.AuthorityCode{pc.Lead}, pc.Touches...)
}

func (pc *PanelCase) involves(a v1.AuthorityCode) bool {
	for _, x := range pc.authorities() {
		if x == a {
			return true
		}
	}
	return false
}

// chair returns the meeting's chair (validation guarantees exactly one).
func (m *Meeting) chair() v1.Attendee {
	for _, a := range m.Attendance {
		if a.Chair {
			return a
		}
	}
	return v1.Attendee{}
}

// attendee returns the attendance entry of a member, if present.
func (m *Meeting) attendee(member string) (v1.Attendee, bool) {
	for _, a := range m.Attendance {
		if a.MemberID == member {
			return a, true
		}
	}
	return v1.Attendee{}, false
}

// voters lists the members present in a voting capacity, in attendance order.
func (m *Meeting) voters() []string {
	var out []string
	for _, a := range m.Attendance {
		if a.Capacity.Voting() {
			out = append(out, a.MemberID)
		}
	}
	return out
}

func (p *Proposal) proposes(s v1.DecisionStage) bool {
	for _, x := range p.Stages {
		if x == s {
			return true
		}
	}
	return false
}

func (p *Proposal) voted(member string, s v1.DecisionStage) bool {
	for _, v := range p.Votes {
		if v.MemberID == member && v.Stage == s {
			return true
		}
	}
	return false
}
