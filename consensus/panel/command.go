package panel

import (
	"fmt"
	"time"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// KindCommand is the envelope kind of a panel command. It is declared here,
// not in schemas, because only a panel's Raft log carries it.
const KindCommand schemas.Kind = "panel_command"

// CommandVersion is the envelope version of Command.
const CommandVersion uint16 = 1

// Text limits for the command fields, in characters. The child's views and
// how they were taken into account are capped so that together they fit the
// decision record's child_views field (v1.MaxLongText).
const (
	MaxChildViews = 9000
	MaxReasons    = v1.MaxLongText
	MaxAttendees  = 64
	MaxTouches    = 16
	// MaxReconsiderationWindow bounds Ruleset.ReconsiderationWindow.
	MaxReconsiderationWindow = 366 * 24 * time.Hour
)

// Op names what a command does. An Op's meaning never changes.
type Op string

// The operations on a panel case.
const (
	OpOpenCase         Op = "open_case"
	OpRecordMeeting    Op = "record_meeting"
	OpRecordChildViews Op = "record_child_views"
	OpPropose          Op = "propose"
	OpVote             Op = "vote"
	OpConclude         Op = "conclude"
	OpReconsider       Op = "reconsider"
	OpRecordAssurance  Op = "record_assurance"
	OpCloseCase        Op = "close_case"
)

// Ops lists every operation.
var Ops = []Op{OpOpenCase, OpRecordMeeting, OpRecordChildViews, OpPropose, OpVote,
	OpConclude, OpReconsider, OpRecordAssurance, OpCloseCase}

// Role is the role in which the acting person issues a command.
type Role string

// The roles a command may be issued in.
const (
	RoleSocialWorker   Role = "social_worker"
	RoleNRMCoordinator Role = "nrm_coordinator"
	RoleChair          Role = "chair"
	RolePanelMember    Role = "panel_member"
	RoleGuardian       Role = "guardian" // the ICTG or the child's independent advocate
)

var roles = []Role{RoleSocialWorker, RoleNRMCoordinator, RoleChair, RolePanelMember, RoleGuardian}

// Actor is the person acting and the role they act in. PersonID is the
// authority's pseudonymous staff or member identifier, the same identifier
// the person has in a meeting's attendance list.
type Actor struct {
	PersonID string `cbor:"person"`
	Role     Role   `cbor:"role"`
}

// Ruleset holds the rules a case is decided under that differ between
// sources or change over time. It is carried in the open command, so every
// member applies the same values whatever its own configuration or clock.
type Ruleset struct {
	// ReconsiderationWindow is how long after a negative decision a
	// reconsideration may be requested (DOMAIN.md: 30 calendar days).
	ReconsiderationWindow time.Duration `cbor:"reconsideration_window"`
	// CombinedStages lets a panel make RG and CG at one meeting, as the
	// devolved pilots allow.
	CombinedStages bool `cbor:"combined_stages,omitempty"`
}

// DefaultRuleset returns the later source's rules: a 30-calendar-day
// reconsideration window and RG and CG allowed at one meeting.
func DefaultRuleset() Ruleset {
	return Ruleset{ReconsiderationWindow: 30 * 24 * time.Hour, CombinedStages: true}
}

// Header is what every command carries besides its body.
type Header struct {
	ID        v1.ID            // unique per command; a retry reuses it
	Panel     v1.PanelID       // the panel whose log carries the command
	Case      v1.CaseID        // the panel case acted on
	Authority v1.AuthorityCode // the authority whose node issues the command
	Actor     Actor
	At        time.Time // when the person acted; the only clock the rules read
}

// Command is one entry of a panel's Raft log: a header and exactly one body,
// the one Op names.
type Command struct {
	ID        v1.ID            `cbor:"id"`
	Op        Op               `cbor:"op"`
	Panel     v1.PanelID       `cbor:"panel"`
	Case      v1.CaseID        `cbor:"case"`
	Authority v1.AuthorityCode `cbor:"authority"`
	Actor     Actor            `cbor:"actor"`
	At        time.Time        `cbor:"at"`

	OpenCase         *OpenCase               `cbor:"open_case,omitempty"`
	RecordMeeting    *RecordMeeting          `cbor:"record_meeting,omitempty"`
	RecordChildViews *RecordChildViews       `cbor:"record_child_views,omitempty"`
	Propose          *ProposeDecision        `cbor:"propose,omitempty"`
	Vote             *CastVote               `cbor:"vote,omitempty"`
	Conclude         *ConcludeDecision       `cbor:"conclude,omitempty"`
	Reconsider       *RequestReconsideration `cbor:"reconsider,omitempty"`
	RecordAssurance  *RecordAssurance        `cbor:"record_assurance,omitempty"`
	CloseCase        *CloseCase              `cbor:"close_case,omitempty"`
}

// Body is the operation-specific part of a command.
type Body interface {
	Op() Op
	validate(c schemas.Checker)
}

// OpenCase puts a case before the panel. Only the lead authority, where the
// child lives, may open it, and it carries only what the panel needs: the
// case reference (in the header), the lead authority, the lead social worker
// and the other authorities the case touches, never the case itself.
type OpenCase struct {
	Lead             v1.AuthorityCode   `cbor:"lead"`
	LeadSocialWorker string             `cbor:"lead_social_worker"`
	Touches          []v1.AuthorityCode `cbor:"touches,omitempty"` // other authorities the case touches
	Rules            Ruleset            `cbor:"rules"`
}

// RecordMeeting records a panel meeting and who attended in which capacity.
// Exactly one attendee is the chair.
type RecordMeeting struct {
	Meeting    v1.ID         `cbor:"meeting"`
	HeldAt     time.Time     `cbor:"held_at"`
	Attendance []v1.Attendee `cbor:"attendance"`
}

// RecordChildViews records the child's wishes and feelings as expressed.
type RecordChildViews struct {
	Views string `cbor:"views"`
}

// ProposeDecision puts one stage, or RG and CG together, to the vote at a
// recorded meeting. Stages are listed RG first.
type ProposeDecision struct {
	Proposal v1.ID              `cbor:"proposal"`
	Meeting  v1.ID              `cbor:"meeting"`
	Stages   []v1.DecisionStage `cbor:"stages"`
}

// CastVote is the acting person's vote on one proposed stage.
type CastVote struct {
	Proposal v1.ID            `cbor:"proposal"`
	Stage    v1.DecisionStage `cbor:"stage"`
	Choice   v1.VoteChoice    `cbor:"choice"`
}

// CastingVote is the chair's decision of a tied stage.
type CastingVote struct {
	Stage   v1.DecisionStage `cbor:"stage"`
	Outcome v1.Outcome       `cbor:"outcome"`
}

// ConcludeDecision closes the vote on a proposal and records the reasons and
// how the child's wishes and feelings were taken into account. The chair's
// casting votes are given here, for tied stages only.
type ConcludeDecision struct {
	Proposal             v1.ID         `cbor:"proposal"`
	Reasons              string        `cbor:"reasons"`
	ChildViewsConsidered string        `cbor:"child_views_considered"`
	CastingVotes         []CastingVote `cbor:"casting_votes,omitempty"`
}

// Grounds on which a reconsideration may be requested.
type Grounds string

// The grounds DOMAIN.md names.
const (
	GroundsNewEvidence           Grounds = "new_evidence"
	GroundsNotInLineWithGuidance Grounds = "not_in_line_with_guidance"
)

// RequestReconsideration asks the panel to reconsider a negative decision.
type RequestReconsideration struct {
	Decision v1.ID   `cbor:"decision"`
	Grounds  Grounds `cbor:"grounds"`
	Detail   string  `cbor:"detail"`
}

// RecordAssurance records the Single Competent Authority's assurance status
// of a decision: submitted, then assured or queried (and resubmitted).
type RecordAssurance struct {
	Decision v1.ID              `cbor:"decision"`
	Status   v1.AssuranceStatus `cbor:"status"`
	Query    string             `cbor:"query,omitempty"` // the SCA's query, when queried
}

// CloseReason says why a panel case was closed.
type CloseReason string

// The reasons a case may be closed.
const (
	CloseDecided       CloseReason = "decided"         // the panel's work on the case is done
	CloseWithdrawn     CloseReason = "withdrawn"       // the referral was withdrawn
	CloseReferredToSCA CloseReason = "referred_to_sca" // out of devolved scope (age dispute, near 18)
)

// CloseCase closes the panel case; nothing more is accepted for it.
type CloseCase struct {
	Reason CloseReason `cbor:"reason"`
}

// Op implements Body.
func (*OpenCase) Op() Op { return OpOpenCase }

// Op implements Body.
func (*RecordMeeting) Op() Op { return OpRecordMeeting }

// Op implements Body.
func (*RecordChildViews) Op() Op { return OpRecordChildViews }

// Op implements Body.
func (*ProposeDecision) Op() Op { return OpPropose }

// Op implements Body.
func (*CastVote) Op() Op { return OpVote }

// Op implements Body.
func (*ConcludeDecision) Op() Op { return OpConclude }

// Op implements Body.
func (*RequestReconsideration) Op() Op { return OpReconsider }

// Op implements Body.
func (*RecordAssurance) Op() Op { return OpRecordAssurance }

// Op implements Body.
func (*CloseCase) Op() Op { return OpCloseCase }

// NewCommand returns the command made of h and b. The time is normalised to
// UTC; nothing is validated until Encode.
func NewCommand(h Header, b Body) Command {
	c := Command{ID: h.ID, Panel: h.Panel, Case: h.Case, Authority: h.Authority, Actor: h.Actor, At: h.At.UTC()}
	if b == nil {
		return c
	}
	c.Op = b.Op()
	switch b := b.(type) {
	case *OpenCase:
		c.OpenCase = b
	case *RecordMeeting:
		c.RecordMeeting = b
	case *RecordChildViews:
		c.RecordChildViews = b
	case *ProposeDecision:
		c.Propose = b
	case *CastVote:
		c.Vote = b
	case *ConcludeDecision:
		c.Conclude = b
	case *RequestReconsideration:
		c.Reconsider = b
	case *RecordAssurance:
		c.RecordAssurance = b
	case *CloseCase:
		c.CloseCase = b
	}
	return c
}

// Body returns the command's body, or nil if it has none.
func (c *Command) Body() Body {
	for _, b := range c.bodies() {
		if b != nil {
			return b
		}
	}
	return nil
}

// bodies lists every body field, set or not, as Body values (nil when unset).
func (c *Command) bodies() []Body {
	var out []Body
	add := func(set bool, b Body) {
		if set {
			out = append(out, b)
		} else {
			out = append(out, nil)
		}
	}
	add(c.OpenCase != nil, c.OpenCase)
	add(c.RecordMeeting != nil, c.RecordMeeting)
	add(c.RecordChildViews != nil, c.RecordChildViews)
	add(c.Propose != nil, c.Propose)
	add(c.Vote != nil, c.Vote)
	add(c.Conclude != nil, c.Conclude)
	add(c.Reconsider != nil, c.Reconsider)
	add(c.RecordAssurance != nil, c.RecordAssurance)
	add(c.CloseCase != nil, c.CloseCase)
	return out
}

// Validate checks the command's shape and names every invalid field. The
// decision rules are the processor's: a well-formed command may still be
// rejected when applied.
func (c *Command) Validate() error {
	ch := schemas.NewChecker()
	checkID(ch, "id", c.ID)
	ch.Check(knownOp(c.Op), "op", "%q is not a panel operation", clip(string(c.Op)))
	ch.Check(c.Panel.Valid(), "panel", "%q is not a panel ID (3 to 64 of a-z, 0-9 and -)", clip(string(c.Panel)))
	ch.Check(c.Case.Valid(), "case", "%q is not a case reference (an authority code, a dash and 16 lower-case hex digits)", clip(string(c.Case)))
	checkAuthority(ch, "authority", c.Authority)
	ac := ch.At("actor")
	ac.Text("person", c.Actor.PersonID, true, v1.MaxShortText, false)
	checkOneOf(ac, "role", c.Actor.Role, roles)
	checkTime(ch, "at", c.At)
	set := 0
	for _, b := range c.bodies() {
		if b != nil {
			set++
		}
	}
	switch b := c.Body(); {
	case set == 0:
		ch.Fail("body", "is missing: a %q command needs its %q field", clip(string(c.Op)), clip(string(c.Op)))
	case set > 1:
		ch.Fail("body", "has %d operation fields set, want exactly one", set)
	case b.Op() != c.Op:
		ch.Fail(string(b.Op()), "is set but op is %q", clip(string(c.Op)))
	default:
		b.validate(ch.At(string(b.Op())))
	}
	return ch.Err()
}

func (b *OpenCase) validate(c schemas.Checker) {
	checkAuthority(c, "lead", b.Lead)
	c.Text("lead_social_worker", b.LeadSocialWorker, true, v1.MaxShortText, false)
	if len(b.Touches) > MaxTouches {
		c.Fail("touches", "has %d entries, limit %d", len(b.Touches), MaxTouches)
	} else {
		seen := map[v1.AuthorityCode]bool{}
		for i, a := range b.Touches {
			checkAuthority(c, fmt.Sprintf("touches[%d]", i), a)
			c.Check(a != b.Lead, fmt.Sprintf("touches[%d]", i), "repeats the lead authority")
			c.Check(!seen[a], fmt.Sprintf("touches[%d]", i), "%q is listed twice", clip(string(a)))
			seen[a] = true
		}
	}
	w := b.Rules.ReconsiderationWindow
	c.At("rules").Check(w > 0 && w <= MaxReconsiderationWindow, "reconsideration_window",
		"%s is out of range (more than zero, at most %s)", w, MaxReconsiderationWindow)
}

func (b *RecordMeeting) validate(c schemas.Checker) {
	checkID(c, "meeting", b.Meeting)
	checkTime(c, "held_at", b.HeldAt)
	if len(b.Attendance) == 0 {
		c.Fail("attendance", "is required")
		return
	}
	if len(b.Attendance) > MaxAttendees {
		c.Fail("attendance", "has %d entries, limit %d", len(b.Attendance), MaxAttendees)
		return
	}
	seen := map[string]bool{}
	chairs := 0
	for i, a := range b.Attendance {
		ac := c.Index("attendance", i)
		ac.Text("member", a.MemberID, true, v1.MaxShortText, false)
		checkOneOf(ac, "capacity", a.Capacity, capacities)
		if a.Capacity == v1.CapacityLocalAuthority || a.Authority != "" {
			checkAuthority(ac, "authority", a.Authority)
		}
		ac.Check(!seen[a.MemberID], "member", "%q attends twice", clip(a.MemberID))
		seen[a.MemberID] = true
		if a.Chair {
			chairs++
		}
	}
	c.Check(chairs == 1, "attendance", "needs exactly one chair, has %d", chairs)
}

func (b *RecordChildViews) validate(c schemas.Checker) {
	c.Text("views", b.Views, true, MaxChildViews, true)
}

func (b *ProposeDecision) validate(c schemas.Checker) {
	checkID(c, "proposal", b.Proposal)
	checkID(c, "meeting", b.Meeting)
	switch {
	case len(b.Stages) == 1:
		checkOneOf(c, "stages[0]", b.Stages[0], stages)
	case len(b.Stages) == 2:
		c.Check(b.Stages[0] == v1.StageRG && b.Stages[1] == v1.StageCG, "stages",
			"two stages must be %q then %q", v1.StageRG, v1.StageCG)
	default:
		c.Fail("stages", "needs one or two stages, has %d", len(b.Stages))
	}
}

func (b *CastVote) validate(c schemas.Checker) {
	checkID(c, "proposal", b.Proposal)
	checkOneOf(c, "stage", b.Stage, stages)
	checkOneOf(c, "choice", b.Choice, choices)
}

func (b *ConcludeDecision) validate(c schemas.Checker) {
	checkID(c, "proposal", b.Proposal)
	c.Text("reasons", b.Reasons, true, MaxReasons, true)
	c.Text("child_views_considered", b.ChildViewsConsidered, true, MaxChildViews, true)
	if len(b.CastingVotes) > 2 {
		c.Fail("casting_votes", "has %d entries, at most one per stage", len(b.CastingVotes))
		return
	}
	for i, v := range b.CastingVotes {
		vc := c.Index("casting_votes", i)
		checkOneOf(vc, "stage", v.Stage, stages)
		checkOneOf(vc, "outcome", v.Outcome, outcomes)
		if i == 1 {
			vc.Check(b.CastingVotes[0].Stage == v1.StageRG && v.Stage == v1.StageCG, "stage",
				"two casting votes must be for %q then %q", v1.StageRG, v1.StageCG)
		}
	}
}

func (b *RequestReconsideration) validate(c schemas.Checker) {
	checkID(c, "decision", b.Decision)
	checkOneOf(c, "grounds", b.Grounds, []Grounds{GroundsNewEvidence, GroundsNotInLineWithGuidance})
	c.Text("detail", b.Detail, true, v1.MaxLongText, true)
}

func (b *RecordAssurance) validate(c schemas.Checker) {
	checkID(c, "decision", b.Decision)
	checkOneOf(c, "status", b.Status, []v1.AssuranceStatus{v1.AssuranceSubmitted, v1.AssuranceAssured, v1.AssuranceQueried})
	c.Text("query", b.Query, b.Status == v1.AssuranceQueried, v1.MaxLongText, true)
	if b.Status != v1.AssuranceQueried && b.Query != "" {
		c.Fail("query", "is only recorded when the status is %q", v1.AssuranceQueried)
	}
}

func (b *CloseCase) validate(c schemas.Checker) {
	checkOneOf(c, "reason", b.Reason, []CloseReason{CloseDecided, CloseWithdrawn, CloseReferredToSCA})
}

var (
	capacities = []v1.Capacity{v1.CapacityLocalAuthority, v1.CapacityPolice, v1.CapacityHealth,
		v1.CapacityICTG, v1.CapacityAdvocate, v1.CapacityAdviser}
	stages   = []v1.DecisionStage{v1.StageRG, v1.StageCG}
	choices  = []v1.VoteChoice{v1.VotePositive, v1.VoteNegative, v1.VoteAbstain}
	outcomes = []v1.Outcome{v1.OutcomePositive, v1.OutcomeNegative}
)

func knownOp(op Op) bool {
	for _, o := range Ops {
		if o == op {
			return true
		}
	}
	return false
}

func checkOneOf[T ~string](c schemas.Checker, field string, v T, allowed []T) {
	if v == "" {
		c.Fail(field, "is required")
		return
	}
	for _, a := range allowed {
		if a == v {
			return
		}
	}
	c.Fail(field, "%q is not one of the allowed values", clip(string(v)))
}

func checkID(c schemas.Checker, field string, id v1.ID) {
	if id == "" {
		c.Fail(field, "is required")
	} else if !id.Valid() {
		c.Fail(field, "%q is not 32 lower-case hex digits", clip(string(id)))
	}
}

func checkAuthority(c schemas.Checker, field string, a v1.AuthorityCode) {
	if a == "" {
		c.Fail(field, "is required")
	} else if !authority.Known(a) {
		c.Fail(field, "%q is not the code of a listed authority", clip(string(a)))
	}
}

func checkTime(c schemas.Checker, field string, t time.Time) {
	if t.IsZero() {
		c.Fail(field, "is required")
		return
	}
	if y := t.Year(); y < 2000 || y > 2199 {
		c.Fail(field, "year %d is out of range", y)
	}
	if t.Location() != time.UTC {
		c.Fail(field, "must be in UTC")
	}
}

// clip keeps quoted hostile input short in messages.
func clip(s string) string {
	r := []rune(s)
	if len(r) <= 40 {
		return s
	}
	return string(r[:40]) + "..."
}
