package workflow

import (
	"fmt"
	"slices"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Event is something that happens to a case. The events are the types of
// this package; Apply checks each against the transition table.
type Event interface {
	// Kind names the event in the transition table.
	Kind() EventKind
	// check validates the event's own fields.
	check(ch schemas.Checker)
	// apply changes s.c, a copy of the case, and returns the state the case
	// moves to. It runs only when the table allows the event in s.from.
	apply(s *step) (v1.CaseState, error)
}

// EventKind names a kind of event in the transition table. A decision's kind
// depends on its stage.
type EventKind string

// The kinds of event, in the order of the process.
const (
	KindStartScopeCheck        EventKind = "start_scope_check"
	KindRecordScope            EventKind = "record_scope"
	KindRecordRGDecision       EventKind = "record_rg_decision"
	KindRecordCGDecision       EventKind = "record_cg_decision"
	KindRecordSameMeeting      EventKind = "record_rg_and_cg_decisions"
	KindStartRecoveryPeriod    EventKind = "start_recovery_period"
	KindStartConclusiveGrounds EventKind = "start_conclusive_grounds"
	KindRequestReconsideration EventKind = "request_reconsideration"
	KindDecideReconsideration  EventKind = "decide_reconsideration"
	KindSubmitAssurance        EventKind = "submit_assurance"
	KindRecordAssurance        EventKind = "record_assurance"
	KindExitProcess            EventKind = "exit_process"
	KindRecordPostExitReview   EventKind = "record_post_exit_review"
	KindClose                  EventKind = "close"
	KindTransferOut            EventKind = "transfer_out"

	// Safeguarding and risk: allowed in every state.
	KindUpdateSafeguarding EventKind = "update_safeguarding"
	KindRateRisk           EventKind = "rate_risk"
	KindRecordChildViews   EventKind = "record_child_views"
	KindAssignAdvocate     EventKind = "assign_advocate"
	// Allocating the case to a lead social worker: a case handed over from
	// another authority arrives with none.
	KindAssignLeadWorker EventKind = "assign_lead_worker"
	// The transfer-in child protection conference is safeguarding work too.
	KindRecordTransferInConference EventKind = "record_transfer_in_conference"

	kindRecordDecision EventKind = "record_decision" // a decision of no known stage
)

// eventKinds lists every kind, in process order.
var eventKinds = []EventKind{
	KindStartScopeCheck, KindRecordScope, KindRecordRGDecision, KindRecordCGDecision,
	KindRecordSameMeeting, KindStartRecoveryPeriod, KindStartConclusiveGrounds,
	KindRequestReconsideration, KindDecideReconsideration, KindSubmitAssurance,
	KindRecordAssurance, KindExitProcess, KindRecordPostExitReview, KindClose,
	KindTransferOut, KindUpdateSafeguarding, KindRateRisk, KindRecordChildViews,
	KindAssignAdvocate, KindRecordTransferInConference, KindAssignLeadWorker,
}

var eventLabels = map[EventKind]string{
	KindStartScopeCheck:            "start the scope check",
	KindRecordScope:                "record the scope decision",
	KindRecordRGDecision:           "record a reasonable grounds decision",
	KindRecordCGDecision:           "record a conclusive grounds decision",
	KindRecordSameMeeting:          "record reasonable and conclusive grounds decisions made at one meeting",
	KindStartRecoveryPeriod:        "start the recovery period",
	KindStartConclusiveGrounds:     "start conclusive grounds consideration",
	KindRequestReconsideration:     "request a reconsideration",
	KindDecideReconsideration:      "decide the reconsideration",
	KindSubmitAssurance:            "submit the decision for assurance",
	KindRecordAssurance:            "record the assurance outcome",
	KindExitProcess:                "exit the NRM process",
	KindRecordPostExitReview:       "record a post-exit review",
	KindClose:                      "close the case",
	KindTransferOut:                "transfer the case out",
	KindUpdateSafeguarding:         "update safeguarding",
	KindRateRisk:                   "rate the risk",
	KindRecordChildViews:           "record the child's views",
	KindAssignAdvocate:             "assign an advocate",
	KindAssignLeadWorker:           "assign the lead social worker",
	KindRecordTransferInConference: "record the transfer-in conference",
	kindRecordDecision:             "record a decision",
}

// String returns what the event does, in words: "record a conclusive grounds
// decision".
func (k EventKind) String() string {
	if l, ok := eventLabels[k]; ok {
		return l
	}
	return string(k)
}

// StartScopeCheck begins checking whether the case is in scope for a
// devolved decision.
type StartScopeCheck struct{}

// RecordScope records a person's decision on scope. A case out of scope,
// including a child whose age is disputed, is referred to the Single
// Competent Authority. InScope is refused when CheckScope finds the child
// out of scope with certainty; where it needs a person (no date of birth, an
// estimate straddling the boundary) the person's decision stands.
//
// The assessment is kept on the case (v1.Case.Scope): the child's age and
// days to the 18th birthday on the date of referral, whether the age was
// disputed or the estimate uncertain, the outcome, the reason, who and when.
type RecordScope struct {
	InScope bool
	Reason  string
}

// RecordDecision records a Reasonable or Conclusive Grounds decision. The test
// applied is recorded from Stage.
type RecordDecision struct {
	Stage   v1.DecisionStage
	Outcome v1.Outcome
	Reasons string
	// ChildViews is how the child's wishes and feelings were taken into
	// account; every decision records it.
	ChildViews      string
	PanelDecisionID v1.ID // the panel's full record, if made by a panel
	// DecidedAt is when the decision was made; zero means when recorded.
	DecidedAt time.Time
	// DecidedBy says who decided, in words the child can read: the panel's
	// name or the decision maker's role. Optional.
	DecidedBy string
}

// RecordDecisions records Reasonable and Conclusive Grounds decisions made at
// one panel meeting, where the policy allows it. The RG decision is positive:
// a CG decision follows only a positive one.
type RecordDecisions struct {
	CGOutcome       v1.Outcome
	RGReasons       string
	CGReasons       string
	ChildViews      string
	PanelDecisionID v1.ID
	DecidedAt       time.Time // zero means when recorded
	DecidedBy       string    // the panel's name or the decision maker's role; optional
}

// StartRecoveryPeriod records that the recovery period after a positive RG
// decision has begun. The period runs from the decision.
type StartRecoveryPeriod struct{}

// StartConclusiveGrounds moves a case from its recovery period to await the
// CG decision. The decision itself may not be made before the recovery
// period's minimum has passed.
type StartConclusiveGrounds struct{}

// RequestReconsideration asks for a negative decision to be reconsidered,
// within the reconsideration window.
type RequestReconsideration struct {
	Stage   v1.DecisionStage // the stage of the negative decision
	Grounds v1.ReconsiderationGrounds
	By      string // who asked: user ID or role; empty means the actor
}

// DecideReconsideration accepts or refuses the pending reconsideration. An
// accepted one returns the case to the stage reconsidered, for a fresh
// decision.
type DecideReconsideration struct {
	Accepted bool
	Reasons  string
}

// SubmitAssurance returns the case's final decision to the Single Competent
// Authority for assurance, or resubmits it after a query.
type SubmitAssurance struct{}

// RecordAssurance records the SCA's answer: assured, or queried with the
// query.
type RecordAssurance struct {
	Assured bool
	Query   string
}

// ExitProcess ends the NRM process for an assured case and schedules the
// post-exit reviews of the policy.
type ExitProcess struct{}

// RecordPostExitReview records that the 6- or 12-month review was held.
type RecordPostExitReview struct {
	Month   int
	Outcome string
}

// Close closes the case, recording why on the case (v1.Case.Closure). Code
// is the reason as a code for management information; empty means the one
// the state implies (referred_to_sca from referred_to_sca, process_complete
// from assured, reviews_complete from post_exit_review); from received it
// must be given (a duplicate, or recorded in error). Reason says why in
// words.
type Close struct {
	Code   v1.ClosureReason
	Reason string
}

// RecordTransferInConference records that the transfer-in child protection
// conference was held after a move into the authority was accepted. It meets
// the transfer-in conference clock. Like all safeguarding work it is allowed
// in every state and never moves the case.
type RecordTransferInConference struct {
	// Request is the relocation; empty means the last accepted move into the
	// responsible authority.
	Request v1.ID
	// HeldAt is when the conference was held; zero means when recorded.
	HeldAt time.Time
}

// TransferOut records that the destination accepted the relocation of the
// case; the origin keeps its copy, transferred_out.
type TransferOut struct {
	To          v1.AuthorityCode
	Request     v1.ID     // the relocation request
	RequestedAt time.Time // when the request was made; zero means unknown, recorded as now
}

// UpdateSafeguarding replaces the Children Act safeguarding status.
type UpdateSafeguarding struct {
	Safeguarding v1.Safeguarding
}

// RateRisk adds a RAG rating to the case's risk history.
type RateRisk struct {
	RAG    v1.RAG
	Stage  v1.RiskStage
	Reason string
}

// RecordChildViews records the child's wishes and feelings.
type RecordChildViews struct {
	Views         string
	HowConsidered string
}

// AssignAdvocate assigns the ICTG or the advocate the child chose.
type AssignAdvocate struct {
	AdvocateKind v1.AdvocateKind
	Name         string
	Organisation string
}

// AssignLeadWorker makes a user the child's lead social worker, or with an
// empty Worker leaves the case unallocated. That the user exists and may
// be a lead worker is the node's to check: the workflow knows no users.
type AssignLeadWorker struct {
	Worker string
}

// Kind implements Event.
func (StartScopeCheck) Kind() EventKind        { return KindStartScopeCheck }
func (RecordScope) Kind() EventKind            { return KindRecordScope }
func (RecordDecisions) Kind() EventKind        { return KindRecordSameMeeting }
func (StartRecoveryPeriod) Kind() EventKind    { return KindStartRecoveryPeriod }
func (StartConclusiveGrounds) Kind() EventKind { return KindStartConclusiveGrounds }
func (RequestReconsideration) Kind() EventKind { return KindRequestReconsideration }
func (DecideReconsideration) Kind() EventKind  { return KindDecideReconsideration }
func (SubmitAssurance) Kind() EventKind        { return KindSubmitAssurance }
func (RecordAssurance) Kind() EventKind        { return KindRecordAssurance }
func (ExitProcess) Kind() EventKind            { return KindExitProcess }
func (RecordPostExitReview) Kind() EventKind   { return KindRecordPostExitReview }
func (Close) Kind() EventKind                  { return KindClose }
func (TransferOut) Kind() EventKind            { return KindTransferOut }
func (UpdateSafeguarding) Kind() EventKind     { return KindUpdateSafeguarding }
func (RateRisk) Kind() EventKind               { return KindRateRisk }
func (RecordChildViews) Kind() EventKind       { return KindRecordChildViews }
func (AssignAdvocate) Kind() EventKind         { return KindAssignAdvocate }
func (AssignLeadWorker) Kind() EventKind       { return KindAssignLeadWorker }
func (RecordTransferInConference) Kind() EventKind {
	return KindRecordTransferInConference
}

// Kind implements Event: an RG and a CG decision are different events.
func (e RecordDecision) Kind() EventKind {
	switch e.Stage {
	case v1.StageRG:
		return KindRecordRGDecision
	case v1.StageCG:
		return KindRecordCGDecision
	}
	return kindRecordDecision // an unknown stage, refused as invalid
}

// Field checks. Text limits are the case record's, so an applied event
// always yields a valid case.

func (StartScopeCheck) check(schemas.Checker)        {}
func (StartRecoveryPeriod) check(schemas.Checker)    {}
func (StartConclusiveGrounds) check(schemas.Checker) {}
func (SubmitAssurance) check(schemas.Checker)        {}
func (ExitProcess) check(schemas.Checker)            {}

func (e RecordScope) check(ch schemas.Checker) {
	ch.Text("reason", e.Reason, true, v1.MaxLongText, true)
}

func (e RecordDecision) check(ch schemas.Checker) {
	ch.Check(e.Stage == v1.StageRG || e.Stage == v1.StageCG, "stage", "%q is not %q or %q", short(e.Stage), v1.StageRG, v1.StageCG)
	checkOutcome(ch, "outcome", e.Outcome)
	ch.Text("reasons", e.Reasons, true, v1.MaxLongText, true)
	ch.Text("child_views", e.ChildViews, true, v1.MaxLongText, true)
	checkOptionalID(ch, "panel_decision", e.PanelDecisionID)
	ch.Text("decided_by", e.DecidedBy, false, v1.MaxShortText, false)
}

func (e RecordDecisions) check(ch schemas.Checker) {
	checkOutcome(ch, "cg_outcome", e.CGOutcome)
	ch.Text("rg_reasons", e.RGReasons, true, v1.MaxLongText, true)
	ch.Text("cg_reasons", e.CGReasons, true, v1.MaxLongText, true)
	ch.Text("child_views", e.ChildViews, true, v1.MaxLongText, true)
	checkOptionalID(ch, "panel_decision", e.PanelDecisionID)
	ch.Text("decided_by", e.DecidedBy, false, v1.MaxShortText, false)
}

func (e RequestReconsideration) check(ch schemas.Checker) {
	ch.Check(e.Stage == v1.StageRG || e.Stage == v1.StageCG, "stage", "%q is not %q or %q", short(e.Stage), v1.StageRG, v1.StageCG)
	ch.Check(e.Grounds == v1.GroundsNewEvidence || e.Grounds == v1.GroundsNotInLineGuidance,
		"grounds", "%q is not %q or %q", short(e.Grounds), v1.GroundsNewEvidence, v1.GroundsNotInLineGuidance)
	ch.Text("by", e.By, false, v1.MaxShortText, false)
}

func (e DecideReconsideration) check(ch schemas.Checker) {
	ch.Text("reasons", e.Reasons, true, v1.MaxLongText, true)
}

func (e RecordAssurance) check(ch schemas.Checker) {
	ch.Text("query", e.Query, !e.Assured, v1.MaxLongText, true)
	ch.Check(!e.Assured || e.Query == "", "query", "must be empty when the decision is assured")
}

func (e RecordPostExitReview) check(ch schemas.Checker) {
	ch.Check(e.Month == 6 || e.Month == 12, "month", "is %d, want 6 or 12", e.Month)
	ch.Text("outcome", e.Outcome, true, v1.MaxLongText, true)
}

func (e Close) check(ch schemas.Checker) {
	ch.Check(e.Code == "" || slices.Contains(v1.ClosureReasons, e.Code), "code", "%q is not a closure reason", short(e.Code))
	ch.Text("reason", e.Reason, true, v1.MaxLongText, true)
}

func (e RecordTransferInConference) check(ch schemas.Checker) {
	checkOptionalID(ch, "request", e.Request)
	if !e.HeldAt.IsZero() {
		checkYear(ch, "held_at", e.HeldAt)
	}
}

func (e TransferOut) check(ch schemas.Checker) {
	ch.Check(authority.Known(e.To), "to", "%q is not the code of a listed authority", short(e.To))
	ch.Check(e.Request.Valid(), "request", "%q is not a request ID", short(e.Request))
	if !e.RequestedAt.IsZero() {
		checkYear(ch, "requested_at", e.RequestedAt)
	}
}

func (e UpdateSafeguarding) check(ch schemas.Checker) {
	if m := e.Safeguarding.StrategyMeeting; m != nil {
		checkYear(ch, "strategy_meeting", *m)
	}
}

func (e RateRisk) check(ch schemas.Checker) {
	ch.Check(e.RAG == v1.RAGRed || e.RAG == v1.RAGAmber || e.RAG == v1.RAGGreen, "rag", "%q is not red, amber or green", short(e.RAG))
	ch.Check(e.Stage == v1.RiskAtReferral || e.Stage == v1.RiskAfterDiscussion || e.Stage == v1.RiskReview,
		"stage", "%q is not a risk stage", short(e.Stage))
	ch.Text("reason", e.Reason, false, v1.MaxLongText, true)
}

func (e RecordChildViews) check(ch schemas.Checker) {
	ch.Text("views", e.Views, true, v1.MaxLongText, true)
	ch.Text("how_considered", e.HowConsidered, false, v1.MaxLongText, true)
}

func (e AssignAdvocate) check(ch schemas.Checker) {
	ch.Check(e.AdvocateKind == v1.AdvocateICTG || e.AdvocateKind == v1.AdvocateIndependent,
		"kind", "%q is not %q or %q", short(e.AdvocateKind), v1.AdvocateICTG, v1.AdvocateIndependent)
	ch.Text("name", e.Name, true, v1.MaxShortText, false)
	ch.Text("org", e.Organisation, false, v1.MaxShortText, false)
}

func (e AssignLeadWorker) check(ch schemas.Checker) {
	ch.Text("lead_worker", e.Worker, false, v1.MaxShortText, false)
}

func checkOutcome(ch schemas.Checker, field string, o v1.Outcome) {
	ch.Check(o == v1.OutcomePositive || o == v1.OutcomeNegative, field, "%q is not %q or %q", short(o), v1.OutcomePositive, v1.OutcomeNegative)
}

// checkYear checks that t is in the years a case record may hold.
func checkYear(ch schemas.Checker, field string, t time.Time) {
	ch.Check(t.Year() >= 2000 && t.Year() < 2200, field, "year %d is out of range (leave the time unset if not known)", t.Year())
}

// short keeps error messages short when quoting hostile input, cutting at a
// character boundary.
func short[T ~string](v T) string {
	s := string(v)
	if len(s) <= 40 {
		return s
	}
	n := 0
	for i := range s {
		if i > 40 {
			break
		}
		n = i
	}
	return s[:n] + "..."
}

func checkOptionalID(ch schemas.Checker, field string, id v1.ID) {
	ch.Check(id == "" || id.Valid(), field, "%q is not 32 lower-case hex digits", short(id))
}

// Effects. Each runs on a deep copy of the case, after the table has allowed
// the event; it may still refuse on a rule that depends on the case or the
// time.

func (StartScopeCheck) apply(*step) (v1.CaseState, error) { return v1.StateScopeCheck, nil }

func (e RecordScope) apply(s *step) (v1.CaseState, error) {
	r := CheckScope(s.c.Identity, s.c.Referral.ReferredAt, s.p)
	if e.InScope && !r.InScope && !r.NeedsAssessment && !r.Uncertain {
		return "", fmt.Errorf("workflow: cannot record the case as in scope: %s: %w", r.Reason, ErrOutOfScope)
	}
	a := &v1.ScopeAssessment{
		AgeDisputed: r.AgeDisputed,
		Uncertain:   r.Uncertain,
		Outcome:     v1.ScopeReferredToSCA,
		Reason:      e.Reason,
		AssessedAt:  s.at,
		AssessedBy:  s.actor,
	}
	if r.Eighteenth != "" {
		a.AgeAtReferral = ptr(r.Age)
		a.DaysToEighteenth = ptr(r.DaysToEighteenth)
	}
	s.c.Scope = a
	if !e.InScope {
		return v1.StateReferredToSCA, nil
	}
	a.Outcome = v1.ScopeInScope
	return v1.StateRGPending, nil
}

func (e RecordDecision) apply(s *step) (v1.CaseState, error) {
	if err := s.reconsideredStage(e.Kind(), e.Stage); err != nil {
		return "", err
	}
	at, err := s.decisionTime(e.DecidedAt)
	if err != nil {
		return "", err
	}
	if e.Stage == v1.StageCG {
		if err := s.recoveryOver(at); err != nil {
			return "", err
		}
	}
	s.c.Decisions = append(s.c.Decisions, v1.NRMDecision{
		Stage:           e.Stage,
		Outcome:         e.Outcome,
		DecidedAt:       at,
		PanelDecisionID: e.PanelDecisionID,
		Reasons:         e.Reasons,
		TestApplied:     testFor(e.Stage),
		ChildViews:      e.ChildViews,
		DecidedBy:       e.DecidedBy,
	})
	return decidedState(e.Stage, e.Outcome), nil
}

func (e RecordDecisions) apply(s *step) (v1.CaseState, error) {
	if err := s.reconsideredStage(e.Kind(), v1.StageRG); err != nil {
		return "", err
	}
	at, err := s.decisionTime(e.DecidedAt)
	if err != nil {
		return "", err
	}
	// DOMAIN.md: "In devolved pilots a panel may make RG and CG at the same
	// meeting when the evidence allows": the recovery period does not hold
	// back a CG decision made with its RG decision.
	s.c.Decisions = append(s.c.Decisions,
		v1.NRMDecision{
			Stage: v1.StageRG, Outcome: v1.OutcomePositive, DecidedAt: at, PanelDecisionID: e.PanelDecisionID,
			Reasons: e.RGReasons, TestApplied: v1.TestReasonableGrounds, ChildViews: e.ChildViews, DecidedBy: e.DecidedBy,
		},
		v1.NRMDecision{
			Stage: v1.StageCG, Outcome: e.CGOutcome, DecidedAt: at, PanelDecisionID: e.PanelDecisionID,
			Reasons: e.CGReasons, TestApplied: v1.TestConclusiveGrounds, ChildViews: e.ChildViews, DecidedBy: e.DecidedBy,
		})
	return decidedState(v1.StageCG, e.CGOutcome), nil
}

func (StartRecoveryPeriod) apply(*step) (v1.CaseState, error) { return v1.StateRecoveryPeriod, nil }

func (StartConclusiveGrounds) apply(*step) (v1.CaseState, error) { return v1.StateCGPending, nil }

func (e RequestReconsideration) apply(s *step) (v1.CaseState, error) {
	d, ok := lastDecision(s.c)
	if !ok || d.Outcome != v1.OutcomeNegative {
		return "", s.refuse(e.Kind(), "only a negative decision can be reconsidered")
	}
	if d.Stage != e.Stage {
		return "", s.refuse(e.Kind(), fmt.Sprintf("the negative decision is the %s decision", stageName(d.Stage)))
	}
	if r, ok := reconsiderationOfLast(s.c); ok {
		return "", s.refuse(e.Kind(), fmt.Sprintf("a reconsideration of this decision was requested on %s (%s)", fmtDay(r.RequestedAt), r.Outcome))
	}
	closes, err := reconsiderationCloses(s.p, s.cal, s.div, d.DecidedAt)
	if err != nil {
		return "", err
	}
	if !s.at.Before(closes) {
		end := "at " + fmtTime(closes)
		if s.p.ReconsiderationWindow.Unit != calendar.Hours {
			end = "at the end of " + fmtDay(closes.Add(-time.Nanosecond))
		}
		return "", fmt.Errorf("workflow: the reconsideration window for the negative %s decision of %s closed %s (%v from the decision): %w",
			stageName(d.Stage), fmtDay(d.DecidedAt), end, s.p.ReconsiderationWindow, ErrReconsiderationWindowClosed)
	}
	by := e.By
	if by == "" {
		by = s.actor
	}
	s.c.Reconsiderations = append(s.c.Reconsiderations, v1.Reconsideration{
		Stage:       e.Stage,
		RequestedAt: s.at,
		RequestedBy: by,
		Grounds:     e.Grounds,
		Outcome:     v1.ReconsiderationPending,
		Decision:    ptr(len(s.c.Decisions) - 1),
	})
	return v1.StateReconsiderationRequest, nil
}

func (e DecideReconsideration) apply(s *step) (v1.CaseState, error) {
	n := len(s.c.Reconsiderations)
	if n == 0 || s.c.Reconsiderations[n-1].Outcome != v1.ReconsiderationPending {
		return "", s.refuse(e.Kind(), "no reconsideration is pending")
	}
	r := &s.c.Reconsiderations[n-1]
	r.DecidedAt = ptr(s.at)
	r.Reasons = e.Reasons
	r.DecidedBy = s.actor
	if e.Accepted {
		r.Outcome = v1.ReconsiderationAccepted
		return v1.StateReconsiderationAccepted, nil
	}
	r.Outcome = v1.ReconsiderationRefused
	return v1.StateReconsiderationRefused, nil
}

func (SubmitAssurance) apply(s *step) (v1.CaseState, error) {
	a := &v1.Assurance{Status: v1.AssuranceSubmitted, SubmittedAt: s.at}
	if s.from == v1.StateAssuranceQueried && s.c.Assurance != nil {
		a.Query = s.c.Assurance.Query // the query answered by this resubmission
		// The history continues across a query; a fresh submission (of a
		// new decision) starts a new one.
		a.History = s.c.Assurance.History
	}
	a.History = append(a.History, v1.AssuranceStep{Status: v1.AssuranceSubmitted, At: s.at, By: s.actor})
	s.c.Assurance = a
	return v1.StateAssuranceSubmitted, nil
}

func (e RecordAssurance) apply(s *step) (v1.CaseState, error) {
	if s.c.Assurance == nil {
		return "", s.refuse(e.Kind(), "nothing was submitted")
	}
	a := s.c.Assurance
	a.ResolvedAt = ptr(s.at)
	if len(a.History) == 0 {
		// A record from before the history existed: start it from the
		// submission it holds.
		a.History = []v1.AssuranceStep{{Status: v1.AssuranceSubmitted, At: a.SubmittedAt, By: s.actor}}
	}
	if e.Assured {
		a.Status = v1.AssuranceAssured
		a.History = append(a.History, v1.AssuranceStep{Status: v1.AssuranceAssured, At: s.at, By: s.actor})
		return v1.StateAssured, nil
	}
	a.Status = v1.AssuranceQueried
	a.Query = e.Query
	a.History = append(a.History, v1.AssuranceStep{Status: v1.AssuranceQueried, At: s.at, By: s.actor, Query: e.Query})
	return v1.StateAssuranceQueried, nil
}

func (ExitProcess) apply(s *step) (v1.CaseState, error) {
	s.c.PostExitReviews = nil
	for _, m := range sortedMonths(s.p.PostExitReviews) {
		s.c.PostExitReviews = append(s.c.PostExitReviews, v1.PostExitReview{Month: m, DueAt: addMonths(s.at, m)})
	}
	return v1.StatePostExitReview, nil
}

func (e RecordPostExitReview) apply(s *step) (v1.CaseState, error) {
	for i := range s.c.PostExitReviews {
		r := &s.c.PostExitReviews[i]
		if r.Month != e.Month {
			continue
		}
		if r.HeldAt != nil {
			return "", s.refuse(e.Kind(), fmt.Sprintf("the %d-month review was held on %s", e.Month, fmtDay(*r.HeldAt)))
		}
		r.HeldAt = ptr(s.at)
		r.Outcome = e.Outcome
		return v1.StatePostExitReview, nil
	}
	return "", s.refuse(e.Kind(), fmt.Sprintf("no %d-month review is scheduled", e.Month))
}

// closureImplied is the closure reason each state implies, where it is
// unambiguous.
var closureImplied = map[v1.CaseState]v1.ClosureReason{
	v1.StateReferredToSCA:  v1.ClosureReferredToSCA,
	v1.StateAssured:        v1.ClosureProcessComplete,
	v1.StatePostExitReview: v1.ClosureReviewsComplete,
}

// closureAllowed says which reasons fit which states: a reason that names
// a stage of the process only from that stage; a duplicate, an error or
// another reason from any state the table lets close.
func closureAllowed(code v1.ClosureReason, from v1.CaseState) bool {
	switch code {
	case v1.ClosureReferredToSCA, v1.ClosureProcessComplete, v1.ClosureReviewsComplete:
		return closureImplied[from] == code
	}
	return true
}

func (e Close) apply(s *step) (v1.CaseState, error) {
	code := e.Code
	if code == "" {
		implied, ok := closureImplied[s.from]
		if !ok {
			return "", fmt.Errorf("workflow: close: field code: is required when closing a case that is %s (%s or %s): %w",
				s.from, v1.ClosureDuplicate, v1.ClosureRecordedInError, ErrInvalidEvent)
		}
		code = implied
	}
	if !closureAllowed(code, s.from) {
		return "", s.refuse(e.Kind(), fmt.Sprintf("the closure reason %s does not fit a case that is %s", code, s.from))
	}
	if code == v1.ClosureReviewsComplete {
		for _, r := range s.c.PostExitReviews {
			if r.HeldAt == nil {
				return "", s.refuse(e.Kind(), fmt.Sprintf("the %d-month post-exit review has not been held", r.Month))
			}
		}
	}
	s.c.Closure = &v1.Closure{Reason: code, Note: e.Reason, ClosedAt: s.at, ClosedBy: s.actor}
	return v1.StateClosed, nil
}

func (e TransferOut) apply(s *step) (v1.CaseState, error) {
	if e.To == s.c.Responsible {
		return "", fmt.Errorf("workflow: cannot transfer the case to %s, which already holds it: %w", e.To, ErrInvalidEvent)
	}
	for i := range s.c.Relocations {
		r := &s.c.Relocations[i]
		if r.RequestID != e.Request {
			continue
		}
		if r.To != e.To {
			return "", fmt.Errorf("workflow: relocation request %s is to %s, not %s: %w", e.Request, r.To, e.To, ErrInvalidEvent)
		}
		if r.Status != v1.RelocationRequested && r.Status != v1.RelocationAccepted {
			return "", s.refuse(e.Kind(), fmt.Sprintf("relocation request %s was %s", e.Request, r.Status))
		}
		r.Status = v1.RelocationAccepted
		if r.ResolvedAt == nil {
			r.ResolvedAt = ptr(s.at)
		}
		return v1.StateTransferredOut, nil
	}
	requested := s.at
	if !e.RequestedAt.IsZero() {
		requested = e.RequestedAt.UTC()
		if requested.After(s.at) || requested.Before(s.c.CreatedAt) {
			return "", fmt.Errorf("workflow: relocation requested at %s, outside the case's life (%s to %s): %w",
				fmtTime(requested), fmtTime(s.c.CreatedAt), fmtTime(s.at), ErrInvalidEvent)
		}
	}
	s.c.Relocations = append(s.c.Relocations, v1.RelocationRecord{
		RequestID:   e.Request,
		From:        s.c.Responsible,
		To:          e.To,
		RequestedAt: requested,
		Status:      v1.RelocationAccepted,
		ResolvedAt:  ptr(s.at),
	})
	return v1.StateTransferredOut, nil
}

func (e UpdateSafeguarding) apply(s *step) (v1.CaseState, error) {
	g := e.Safeguarding
	if g.StrategyMeeting != nil {
		g.StrategyMeeting = ptr(g.StrategyMeeting.UTC())
	}
	s.c.Safeguarding = g
	return s.from, nil
}

func (e RateRisk) apply(s *step) (v1.CaseState, error) {
	s.c.Risk = append(s.c.Risk, v1.RiskRating{Rating: e.RAG, Stage: e.Stage, At: s.at, By: s.actor, Reason: e.Reason})
	return s.from, nil
}

func (e RecordChildViews) apply(s *step) (v1.CaseState, error) {
	s.c.WishesAndFeelings = append(s.c.WishesAndFeelings, v1.ChildView{
		RecordedAt: s.at, RecordedBy: s.actor, Views: e.Views, HowConsidered: e.HowConsidered,
	})
	return s.from, nil
}

func (e RecordTransferInConference) apply(s *step) (v1.CaseState, error) {
	i := -1
	for j := len(s.c.Relocations) - 1; j >= 0; j-- {
		r := s.c.Relocations[j]
		if r.To != s.c.Responsible || r.Status != v1.RelocationAccepted || r.ResolvedAt == nil {
			continue
		}
		if e.Request == "" || r.RequestID == e.Request {
			i = j
			break
		}
	}
	if i < 0 {
		if e.Request != "" {
			return "", fmt.Errorf("workflow: relocation request %s is not an accepted move into %s: %w", e.Request, s.c.Responsible, ErrInvalidEvent)
		}
		return "", s.refuse(e.Kind(), "the case has no accepted move into "+string(s.c.Responsible))
	}
	r := &s.c.Relocations[i]
	if r.ConferenceAt != nil {
		return "", s.refuse(e.Kind(), fmt.Sprintf("the transfer-in conference for request %s was held on %s", r.RequestID, fmtDay(*r.ConferenceAt)))
	}
	held := s.at
	if !e.HeldAt.IsZero() {
		held = e.HeldAt.UTC()
	}
	switch {
	case held.After(s.at):
		return "", fmt.Errorf("workflow: held_at %s is after the time of recording %s: %w", fmtTime(held), fmtTime(s.at), ErrInvalidEvent)
	case held.Before(*r.ResolvedAt):
		return "", fmt.Errorf("workflow: held_at %s is before the move was accepted at %s: %w", fmtTime(held), fmtTime(*r.ResolvedAt), ErrInvalidEvent)
	}
	r.ConferenceAt = ptr(held)
	return s.from, nil
}

func (e AssignAdvocate) apply(s *step) (v1.CaseState, error) {
	s.c.Advocate = &v1.Advocate{Kind: e.AdvocateKind, Name: e.Name, Organisation: e.Organisation, AssignedAt: s.at}
	return s.from, nil
}

func (e AssignLeadWorker) apply(s *step) (v1.CaseState, error) {
	s.c.LeadWorker = e.Worker
	return s.from, nil
}

// decidedState is the state after a decision.
func decidedState(stage v1.DecisionStage, o v1.Outcome) v1.CaseState {
	switch {
	case stage == v1.StageRG && o == v1.OutcomePositive:
		return v1.StateRGPositive
	case stage == v1.StageRG:
		return v1.StateRGNegative
	case o == v1.OutcomePositive:
		return v1.StateCGPositive
	}
	return v1.StateCGNegative
}

// testFor is the test recorded on a decision of the stage.
func testFor(stage v1.DecisionStage) string {
	if stage == v1.StageCG {
		return v1.TestConclusiveGrounds
	}
	return v1.TestReasonableGrounds
}

func stageName(stage v1.DecisionStage) string {
	if stage == v1.StageCG {
		return "conclusive grounds"
	}
	return "reasonable grounds"
}
