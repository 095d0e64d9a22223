package v1

import (
	"time"

	"nrmnet/schemas"
)

// CaseState is where a case stands in the NRM process. Safeguarding runs
// alongside every state: no state blocks s17/s47 work.
type CaseState string

const (
	StateReceived                CaseState = "received"
	StateScopeCheck              CaseState = "scope_check"
	StateReferredToSCA           CaseState = "referred_to_sca" // out of scope, e.g. age-disputed
	StateRGPending               CaseState = "rg_pending"
	StateRGPositive              CaseState = "rg_positive"
	StateRGNegative              CaseState = "rg_negative"
	StateRecoveryPeriod          CaseState = "recovery_period"
	StateCGPending               CaseState = "cg_pending"
	StateCGPositive              CaseState = "cg_positive"
	StateCGNegative              CaseState = "cg_negative"
	StateReconsiderationRequest  CaseState = "reconsideration_requested"
	StateReconsiderationAccepted CaseState = "reconsideration_accepted"
	StateReconsiderationRefused  CaseState = "reconsideration_refused"
	StateAssuranceSubmitted      CaseState = "assurance_submitted"
	StateAssured                 CaseState = "assured"
	StateAssuranceQueried        CaseState = "assurance_queried"
	StatePostExitReview          CaseState = "post_exit_review"
	StateClosed                  CaseState = "closed"
	StateTransferredOut          CaseState = "transferred_out"
)

// CaseStates lists every state.
var CaseStates = []CaseState{
	StateReceived, StateScopeCheck, StateReferredToSCA, StateRGPending, StateRGPositive,
	StateRGNegative, StateRecoveryPeriod, StateCGPending, StateCGPositive, StateCGNegative,
	StateReconsiderationRequest, StateReconsiderationAccepted, StateReconsiderationRefused,
	StateAssuranceSubmitted, StateAssured, StateAssuranceQueried, StatePostExitReview,
	StateClosed, StateTransferredOut,
}

var caseStates = set(CaseStates...)

// Case is one child's NRM case as held by the responsible authority. Everything
// in it is personal data; it is stored encrypted under the child's own key and
// leaves the node only in an accepted relocation.
type Case struct {
	ID          CaseID        `cbor:"id"`
	ChildID     ID            `cbor:"child_id"` // selects the child's data key; stable across cases and transfers
	Revision    uint64        `cbor:"rev"`      // increases by one on every stored change
	State       CaseState     `cbor:"state"`
	Responsible AuthorityCode `cbor:"responsible"` // the authority that holds the case now
	LeadWorker  string        `cbor:"lead_worker"` // user ID of the child's lead social worker
	CreatedAt   time.Time     `cbor:"created_at"`
	UpdatedAt   time.Time     `cbor:"updated_at"`
	// NextDeadline is the earliest open statutory deadline, kept for the
	// overdue index; nil when nothing is due.
	NextDeadline *time.Time `cbor:"next_deadline,omitempty"`

	Identity          ChildIdentity      `cbor:"identity"`
	Referral          Referral           `cbor:"referral"`
	Safeguarding      Safeguarding       `cbor:"safeguarding"`
	Risk              []RiskRating       `cbor:"risk,omitempty"` // oldest first; the last is current
	Advocate          *Advocate          `cbor:"advocate,omitempty"`
	WishesAndFeelings []ChildView        `cbor:"wishes,omitempty"`
	Decisions         []NRMDecision      `cbor:"decisions,omitempty"`
	Reconsiderations  []Reconsideration  `cbor:"reconsiderations,omitempty"`
	Assurance         *Assurance         `cbor:"assurance,omitempty"`
	PostExitReviews   []PostExitReview   `cbor:"post_exit_reviews,omitempty"`
	Relocations       []RelocationRecord `cbor:"relocations,omitempty"`

	// Added after the first release: optional, omitted when empty.

	// Scope is the scope check's result; nil until it is recorded.
	Scope *ScopeAssessment `cbor:"scope,omitempty"`
	// Closure says why the case was closed; nil unless closed.
	Closure *Closure `cbor:"closure,omitempty"`
}

// ChildIdentity is who the child is, as far as is known.
type ChildIdentity struct {
	Names             []PersonName `cbor:"names"` // the first is the name the child uses
	DateOfBirth       *DateOfBirth `cbor:"dob,omitempty"`
	Sex               Sex          `cbor:"sex"`
	Nationalities     []string     `cbor:"nationalities,omitempty"` // ISO 3166-1 alpha-3, or "XXX" stateless / "UNK" unknown
	Languages         []string     `cbor:"languages,omitempty"`     // ISO 639-3 codes
	InterpreterNeeded bool         `cbor:"interpreter,omitempty"`
	AgeDisputed       bool         `cbor:"age_disputed,omitempty"`
}

// NameKind says what a recorded name is.
type NameKind string

const (
	NameUsed            NameKind = "used"            // the name the child uses
	NameLegal           NameKind = "legal"           // as on an identity document
	NameAlias           NameKind = "alias"           // another name the child is known by
	NameTransliteration NameKind = "transliteration" // another Latin spelling of a name
)

var nameKinds = set(NameUsed, NameLegal, NameAlias, NameTransliteration)

// PersonName is one recorded name, in Latin script, optionally with the
// original script.
type PersonName struct {
	Kind     NameKind `cbor:"kind"`
	Given    string   `cbor:"given,omitempty"`
	Family   string   `cbor:"family,omitempty"`
	Original string   `cbor:"original,omitempty"` // the name in its own script, if recorded
}

// DateOfBirth is either a known date or an estimate with its uncertainty.
type DateOfBirth struct {
	Date Date `cbor:"date"` // the known date, or the centre of the estimate
	// Estimated is true when the date is not documented.
	Estimated bool `cbor:"estimated,omitempty"`
	// UncertaintyDays is the half-width of the estimate, in days; 0 when known.
	UncertaintyDays int `cbor:"uncertainty_days,omitempty"`
	// Basis says how an estimate was reached, e.g. "age assessment".
	Basis string `cbor:"basis,omitempty"`
}

// FirstResponderType follows the statutory first responder organisations.
type FirstResponderType string

const (
	ResponderLocalAuthority FirstResponderType = "local_authority"
	ResponderPolice         FirstResponderType = "police"
	ResponderHomeOffice     FirstResponderType = "home_office" // UKVI, Border Force, Immigration Enforcement
	ResponderNGO            FirstResponderType = "ngo"
	ResponderHealth         FirstResponderType = "health"
	ResponderOther          FirstResponderType = "other"
)

// FirstResponderTypes lists every first-responder type.
var FirstResponderTypes = []FirstResponderType{
	ResponderLocalAuthority, ResponderPolice, ResponderHomeOffice, ResponderNGO, ResponderHealth, ResponderOther,
}

var responderTypes = set(FirstResponderTypes...)

// ExploitationLocation is where the exploitation took place.
type ExploitationLocation string

const (
	LocationUK       ExploitationLocation = "uk"
	LocationOverseas ExploitationLocation = "overseas"
	LocationBoth     ExploitationLocation = "both"
	LocationUnknown  ExploitationLocation = "unknown"
)

var locations = set(LocationUK, LocationOverseas, LocationBoth, LocationUnknown)

// Referral is how the case came to the NRM.
type Referral struct {
	ReferredAt           time.Time            `cbor:"referred_at"`
	FirstResponderOrg    string               `cbor:"fr_org"`
	FirstResponderType   FirstResponderType   `cbor:"fr_type"`
	ExploitationTypes    []ExploitationType   `cbor:"exploitation"`
	CountyLines          bool                 `cbor:"county_lines,omitempty"`
	ExploitationLocation ExploitationLocation `cbor:"location"`
	Source               string               `cbor:"source"`           // source of referral, e.g. "police", "school"
	PresentingIssue      string               `cbor:"presenting_issue"` // a short category, e.g. "missing episodes"
	ICTGReferred         bool                 `cbor:"ictg_referred,omitempty"`
}

// Safeguarding is the Children Act work that runs alongside the NRM.
type Safeguarding struct {
	Section17       bool       `cbor:"s17,omitempty"`
	Section47       bool       `cbor:"s47,omitempty"`
	StrategyMeeting *time.Time `cbor:"strategy_meeting,omitempty"`
	ProtectionPlan  bool       `cbor:"protection_plan,omitempty"`
	LookedAfter     bool       `cbor:"looked_after,omitempty"`
}

// RiskStage says when a RAG rating was given.
type RiskStage string

const (
	RiskAtReferral      RiskStage = "referral"         // before the multi-agency discussion
	RiskAfterDiscussion RiskStage = "after_discussion" // after it
	RiskReview          RiskStage = "review"
)

var riskStages = set(RiskAtReferral, RiskAfterDiscussion, RiskReview)

// RiskRating is one RAG rating in the case's history.
type RiskRating struct {
	Rating RAG       `cbor:"rating"`
	Stage  RiskStage `cbor:"stage"`
	At     time.Time `cbor:"at"`
	By     string    `cbor:"by"` // user ID
	Reason string    `cbor:"reason,omitempty"`
}

// AdvocateKind distinguishes the statutory guardian from an advocate the child chose.
type AdvocateKind string

const (
	AdvocateICTG        AdvocateKind = "ictg"
	AdvocateIndependent AdvocateKind = "independent_advocate"
)

var advocateKinds = set(AdvocateICTG, AdvocateIndependent)

// Advocate is the Independent Child Trafficking Guardian or advocate who
// carries the child's voice.
type Advocate struct {
	Kind         AdvocateKind `cbor:"kind"`
	Name         string       `cbor:"name"`
	Organisation string       `cbor:"org,omitempty"`
	AssignedAt   time.Time    `cbor:"assigned_at"`
}

// ChildView records the child's wishes and feelings and how they were taken
// into account.
type ChildView struct {
	RecordedAt    time.Time `cbor:"at"`
	RecordedBy    string    `cbor:"by"`
	Views         string    `cbor:"views"`
	HowConsidered string    `cbor:"how_considered,omitempty"`
}

// DecisionStage is which NRM decision was made.
type DecisionStage string

const (
	StageRG DecisionStage = "reasonable_grounds"
	StageCG DecisionStage = "conclusive_grounds"
)

var stages = set(StageRG, StageCG)

// Outcome of an NRM decision.
type Outcome string

const (
	OutcomePositive Outcome = "positive"
	OutcomeNegative Outcome = "negative"
)

var outcomes = set(OutcomePositive, OutcomeNegative)

// The tests applied at each stage; recorded verbatim on each decision.
const (
	TestReasonableGrounds = "Reasonable grounds to believe, based on all available general and specific evidence but falling short of conclusive proof, that the child is a victim of modern slavery."
	TestConclusiveGrounds = "On the balance of probabilities, there are sufficient grounds to decide that the child is a victim of modern slavery."
)

// NRMDecision is a Reasonable or Conclusive Grounds decision as recorded on the
// case. The panel's full record (attendance and votes) is a PanelDecision; its
// ID is kept here.
type NRMDecision struct {
	Stage           DecisionStage `cbor:"stage"`
	Outcome         Outcome       `cbor:"outcome"`
	DecidedAt       time.Time     `cbor:"decided_at"`
	PanelDecisionID ID            `cbor:"panel_decision,omitempty"`
	Reasons         string        `cbor:"reasons"`
	TestApplied     string        `cbor:"test"`
	ChildViews      string        `cbor:"child_views,omitempty"` // how the child's wishes were taken into account
	// DecidedBy says who made the decision, in words a child can read:
	// the panel's name, or the decision maker's role. Optional.
	DecidedBy string `cbor:"decided_by,omitempty"`
}

// ReconsiderationGrounds are the grounds on which a negative decision may be
// reconsidered.
type ReconsiderationGrounds string

const (
	GroundsNewEvidence       ReconsiderationGrounds = "new_evidence"
	GroundsNotInLineGuidance ReconsiderationGrounds = "not_in_line_with_guidance"
)

var grounds = set(GroundsNewEvidence, GroundsNotInLineGuidance)

// ReconsiderationOutcome is the result of a reconsideration request.
type ReconsiderationOutcome string

const (
	ReconsiderationPending  ReconsiderationOutcome = "pending"
	ReconsiderationAccepted ReconsiderationOutcome = "accepted"
	ReconsiderationRefused  ReconsiderationOutcome = "refused"
)

var reconsiderationOutcomes = set(ReconsiderationPending, ReconsiderationAccepted, ReconsiderationRefused)

// Reconsideration is a request to reconsider a negative decision.
type Reconsideration struct {
	Stage       DecisionStage          `cbor:"stage"`
	RequestedAt time.Time              `cbor:"requested_at"`
	RequestedBy string                 `cbor:"requested_by"`
	Grounds     ReconsiderationGrounds `cbor:"grounds"`
	Outcome     ReconsiderationOutcome `cbor:"outcome"`
	DecidedAt   *time.Time             `cbor:"decided_at,omitempty"`
	Reasons     string                 `cbor:"reasons,omitempty"`
	// Decision is the index in Case.Decisions of the negative decision
	// reconsidered; nil in records made before it existed.
	Decision *int `cbor:"decision,omitempty"`
	// DecidedBy is who decided the reconsideration (user ID); optional.
	DecidedBy string `cbor:"decided_by,omitempty"`
}

// AssuranceStatus tracks a devolved decision returned to the Single Competent
// Authority for audit.
type AssuranceStatus string

const (
	AssuranceSubmitted AssuranceStatus = "submitted"
	AssuranceAssured   AssuranceStatus = "assured"
	AssuranceQueried   AssuranceStatus = "queried"
)

var assuranceStatuses = set(AssuranceSubmitted, AssuranceAssured, AssuranceQueried)

// Assurance is the SCA assurance status of the case's decisions.
type Assurance struct {
	Status      AssuranceStatus `cbor:"status"`
	SubmittedAt time.Time       `cbor:"submitted_at"`
	ResolvedAt  *time.Time      `cbor:"resolved_at,omitempty"`
	Query       string          `cbor:"query,omitempty"` // the SCA's query, when queried
	// History lists every submission and answer, oldest first; its last
	// step's status is Status. Optional: records made before it existed
	// hold only the latest step.
	History []AssuranceStep `cbor:"history,omitempty"`
}

// PostExitReview is a review 6 or 12 months after the case left the process.
type PostExitReview struct {
	Month   int        `cbor:"month"` // 6 or 12
	DueAt   time.Time  `cbor:"due_at"`
	HeldAt  *time.Time `cbor:"held_at,omitempty"`
	Outcome string     `cbor:"outcome,omitempty"`
}

// RelocationStatus is where a relocation of the case stands.
type RelocationStatus string

const (
	RelocationRequested RelocationStatus = "requested"
	RelocationAccepted  RelocationStatus = "accepted"
	RelocationRejected  RelocationStatus = "rejected"
	RelocationRevoked   RelocationStatus = "revoked"
)

var relocationStatuses = set(RelocationRequested, RelocationAccepted, RelocationRejected, RelocationRevoked)

// RelocationRecord is one move of the case between authorities.
type RelocationRecord struct {
	RequestID   ID               `cbor:"request"`
	From        AuthorityCode    `cbor:"from"`
	To          AuthorityCode    `cbor:"to"`
	RequestedAt time.Time        `cbor:"requested_at"`
	Status      RelocationStatus `cbor:"status"`
	ResolvedAt  *time.Time       `cbor:"resolved_at,omitempty"`
	// ConferenceAt is when the transfer-in child protection conference was
	// held after an accepted move into the destination; nil until then.
	ConferenceAt *time.Time `cbor:"conference_at,omitempty"`
}

// Kind implements Record.
func (*Case) Kind() schemas.Kind { return schemas.KindCase }

// Validate checks every field and names each invalid one.
func (c *Case) Validate() error {
	ch := schemas.NewChecker()
	checkCaseID(ch, "id", c.ID, true)
	checkID(ch, "child_id", c.ChildID, true)
	oneOf(ch, "state", c.State, caseStates, true)
	checkAuthority(ch, "responsible", c.Responsible, true)
	ch.Text("lead_worker", c.LeadWorker, false, MaxShortText, false)
	checkTime(ch, "created_at", c.CreatedAt, true)
	checkTime(ch, "updated_at", c.UpdatedAt, true)
	if !c.CreatedAt.IsZero() && c.UpdatedAt.Before(c.CreatedAt) {
		ch.Fail("updated_at", "is before created_at")
	}
	if c.NextDeadline != nil {
		checkTime(ch, "next_deadline", *c.NextDeadline, true)
	}
	c.Identity.validate(ch.At("identity"))
	c.Referral.validate(ch.At("referral"))
	if c.Safeguarding.StrategyMeeting != nil {
		checkTime(ch.At("safeguarding"), "strategy_meeting", *c.Safeguarding.StrategyMeeting, true)
	}
	if checkLen(ch, "risk", len(c.Risk), MaxList) {
		for i, r := range c.Risk {
			r.validate(ch.Index("risk", i))
		}
	}
	if a := c.Advocate; a != nil {
		ac := ch.At("advocate")
		oneOf(ac, "kind", a.Kind, advocateKinds, true)
		ac.Text("name", a.Name, true, MaxShortText, false)
		ac.Text("org", a.Organisation, false, MaxShortText, false)
		checkTime(ac, "assigned_at", a.AssignedAt, true)
	}
	if checkLen(ch, "wishes", len(c.WishesAndFeelings), MaxList) {
		for i, v := range c.WishesAndFeelings {
			vc := ch.Index("wishes", i)
			checkTime(vc, "at", v.RecordedAt, true)
			vc.Text("by", v.RecordedBy, true, MaxShortText, false)
			vc.Text("views", v.Views, true, MaxLongText, true)
			vc.Text("how_considered", v.HowConsidered, false, MaxLongText, true)
		}
	}
	if checkLen(ch, "decisions", len(c.Decisions), MaxList) {
		for i, d := range c.Decisions {
			d.validate(ch.Index("decisions", i))
		}
	}
	if checkLen(ch, "reconsiderations", len(c.Reconsiderations), MaxList) {
		for i, r := range c.Reconsiderations {
			rc := ch.Index("reconsiderations", i)
			oneOf(rc, "stage", r.Stage, stages, true)
			checkTime(rc, "requested_at", r.RequestedAt, true)
			rc.Text("requested_by", r.RequestedBy, true, MaxShortText, false)
			oneOf(rc, "grounds", r.Grounds, grounds, true)
			oneOf(rc, "outcome", r.Outcome, reconsiderationOutcomes, true)
			if r.DecidedAt != nil {
				checkTime(rc, "decided_at", *r.DecidedAt, true)
			}
			if r.Outcome != ReconsiderationPending && r.DecidedAt == nil {
				rc.Fail("decided_at", "is required once the outcome is %s", r.Outcome)
			}
			rc.Text("reasons", r.Reasons, false, MaxLongText, true)
			if r.Decision != nil {
				i := *r.Decision
				if i < 0 || i >= len(c.Decisions) {
					rc.Fail("decision", "is %d, but the case has %d decisions", i, len(c.Decisions))
				} else if d := c.Decisions[i]; d.Outcome != OutcomeNegative || d.Stage != r.Stage {
					rc.Fail("decision", "decision %d is a %s %s decision; a reconsideration is of a negative %s decision",
						i, truncate(string(d.Outcome)), truncate(string(d.Stage)), truncate(string(r.Stage)))
				}
			}
			rc.Text("decided_by", r.DecidedBy, false, MaxShortText, false)
		}
	}
	if a := c.Assurance; a != nil {
		ac := ch.At("assurance")
		oneOf(ac, "status", a.Status, assuranceStatuses, true)
		checkTime(ac, "submitted_at", a.SubmittedAt, true)
		if a.ResolvedAt != nil {
			checkTime(ac, "resolved_at", *a.ResolvedAt, true)
		}
		ac.Text("query", a.Query, false, MaxLongText, true)
		a.validateHistory(ac)
	}
	if checkLen(ch, "post_exit_reviews", len(c.PostExitReviews), 2) {
		for i, r := range c.PostExitReviews {
			rc := ch.Index("post_exit_reviews", i)
			rc.Check(r.Month == 6 || r.Month == 12, "month", "is %d, want 6 or 12", r.Month)
			checkTime(rc, "due_at", r.DueAt, true)
			if r.HeldAt != nil {
				checkTime(rc, "held_at", *r.HeldAt, true)
			}
			rc.Text("outcome", r.Outcome, false, MaxLongText, true)
		}
	}
	if checkLen(ch, "relocations", len(c.Relocations), MaxList) {
		for i, r := range c.Relocations {
			rc := ch.Index("relocations", i)
			checkID(rc, "request", r.RequestID, true)
			checkAuthority(rc, "from", r.From, true)
			checkAuthority(rc, "to", r.To, true)
			rc.Check(r.From != r.To, "to", "is the same authority as from")
			checkTime(rc, "requested_at", r.RequestedAt, true)
			oneOf(rc, "status", r.Status, relocationStatuses, true)
			if r.ResolvedAt != nil {
				checkTime(rc, "resolved_at", *r.ResolvedAt, true)
			}
			if r.ConferenceAt != nil {
				checkTime(rc, "conference_at", *r.ConferenceAt, true)
				switch {
				case r.Status != RelocationAccepted:
					rc.Fail("conference_at", "a transfer-in conference follows an accepted move, but the request is %s", truncate(string(r.Status)))
				case r.ResolvedAt != nil && r.ConferenceAt.Before(*r.ResolvedAt):
					rc.Fail("conference_at", "is before the move was accepted")
				}
			}
		}
	}
	if c.Scope != nil {
		c.Scope.validate(ch.At("scope"), c.State)
	}
	if c.Closure != nil {
		c.Closure.validate(ch.At("closure"), c.State)
	}
	return ch.Err()
}

func (id *ChildIdentity) validate(ch schemas.Checker) {
	if len(id.Names) == 0 {
		ch.Fail("names", "needs at least one name (use the name the child gives, or \"Unknown\")")
	}
	if checkLen(ch, "names", len(id.Names), 64) {
		for i, n := range id.Names {
			nc := ch.Index("names", i)
			oneOf(nc, "kind", n.Kind, nameKinds, true)
			nc.Text("given", n.Given, false, MaxShortText, false)
			nc.Text("family", n.Family, false, MaxShortText, false)
			nc.Text("original", n.Original, false, MaxShortText, false)
			if n.Given == "" && n.Family == "" {
				nc.Fail("given", "a name needs a given or a family part")
			}
		}
	}
	if d := id.DateOfBirth; d != nil {
		dc := ch.At("dob")
		dc.Check(d.Date.Valid(), "date", "%q is not a valid YYYY-MM-DD date", truncate(string(d.Date)))
		dc.Check(d.UncertaintyDays >= 0 && d.UncertaintyDays <= 3650, "uncertainty_days", "is %d, want 0 to 3650", d.UncertaintyDays)
		dc.Check(d.Estimated || d.UncertaintyDays == 0, "uncertainty_days", "must be 0 for a documented date")
		dc.Text("basis", d.Basis, false, MaxShortText, false)
	}
	oneOf(ch, "sex", id.Sex, sexes, true)
	if checkLen(ch, "nationalities", len(id.Nationalities), 8) {
		for i, n := range id.Nationalities {
			ch.Check(upperCode(n, 3), "nationalities["+itoa(i)+"]", "%q is not an ISO 3166-1 alpha-3 code", truncate(n))
		}
	}
	if checkLen(ch, "languages", len(id.Languages), 16) {
		for i, l := range id.Languages {
			ch.Check(lowerCode(l, 3), "languages["+itoa(i)+"]", "%q is not an ISO 639-3 code", truncate(l))
		}
	}
}

func (r *Referral) validate(ch schemas.Checker) {
	checkTime(ch, "referred_at", r.ReferredAt, true)
	ch.Text("fr_org", r.FirstResponderOrg, true, MaxShortText, false)
	oneOf(ch, "fr_type", r.FirstResponderType, responderTypes, true)
	if len(r.ExploitationTypes) == 0 {
		ch.Fail("exploitation", "needs at least one type (use \"unknown\" if not known)")
	}
	seen := checkExploitation(ch, "exploitation", r.ExploitationTypes)
	if r.CountyLines && !seen[ExploitationCriminal] {
		ch.Fail("county_lines", "county lines is criminal exploitation: add \"criminal\" to exploitation")
	}
	oneOf(ch, "location", r.ExploitationLocation, locations, true)
	ch.Text("source", r.Source, true, MaxShortText, false)
	ch.Text("presenting_issue", r.PresentingIssue, true, MaxShortText, false)
}

func (r *RiskRating) validate(ch schemas.Checker) {
	oneOf(ch, "rating", r.Rating, rags, true)
	oneOf(ch, "stage", r.Stage, riskStages, true)
	checkTime(ch, "at", r.At, true)
	ch.Text("by", r.By, true, MaxShortText, false)
	ch.Text("reason", r.Reason, false, MaxLongText, true)
}

func (d *NRMDecision) validate(ch schemas.Checker) {
	oneOf(ch, "stage", d.Stage, stages, true)
	oneOf(ch, "outcome", d.Outcome, outcomes, true)
	checkTime(ch, "decided_at", d.DecidedAt, true)
	checkID(ch, "panel_decision", d.PanelDecisionID, false)
	ch.Text("reasons", d.Reasons, true, MaxLongText, true)
	ch.Text("test", d.TestApplied, true, MaxLongText, true)
	ch.Text("child_views", d.ChildViews, false, MaxLongText, true)
	ch.Text("decided_by", d.DecidedBy, false, MaxShortText, false)
}

func upperCode(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func lowerCode(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}
