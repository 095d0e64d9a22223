package workflow

import (
	"slices"
	"strings"

	v1 "nrmnet/schemas/v1"
)

// edge is one row of the transition table: in its state, event On may move
// the case to one of To. If is a policy condition, nil meaning always; Off
// says why the event is refused when If is false.
type edge struct {
	On  EventKind
	To  []v1.CaseState
	If  func(Policy) bool
	Off string
}

func to(states ...v1.CaseState) []v1.CaseState { return states }

// sameMeeting: RG and CG at one meeting only where the policy allows it.
func sameMeeting(p Policy) bool { return p.AllowSameMeeting }

const sameMeetingOff = "the policy does not allow reasonable and conclusive grounds decisions at one meeting"

// reviewsOn: a case exits to post-exit reviews only if the policy has any.
func reviewsOn(p Policy) bool { return len(p.PostExitReviews) > 0 }

const reviewsOff = "the policy has no post-exit reviews"

// transitions is the NRM workflow: for each state, the NRM events allowed in
// it and the states each may lead to. DESIGN.md draws it; a test keeps the
// two in step. Two rules apply on top of it:
//   - everyOpenState: transfer out, from any state but closed and
//     transferred_out;
//   - everyState: safeguarding and risk events, which never move the case,
//     because safeguarding never waits on the NRM state.
//
// Some events also check the case or the clock: a reconsideration needs a
// negative decision and an open window; a CG decision needs the recovery
// period's minimum to have passed; after an accepted reconsideration only the
// stage reconsidered may be decided again.
var transitions = map[v1.CaseState][]edge{
	v1.StateReceived: {
		{On: KindStartScopeCheck, To: to(v1.StateScopeCheck)},
		{On: KindClose, To: to(v1.StateClosed)}, // a duplicate, or recorded in error
	},
	v1.StateScopeCheck: {
		{On: KindRecordScope, To: to(v1.StateRGPending, v1.StateReferredToSCA)},
	},
	v1.StateReferredToSCA: {
		{On: KindClose, To: to(v1.StateClosed)},
	},
	v1.StateRGPending: {
		{On: KindRecordRGDecision, To: to(v1.StateRGPositive, v1.StateRGNegative)},
		{On: KindRecordSameMeeting, To: to(v1.StateCGPositive, v1.StateCGNegative), If: sameMeeting, Off: sameMeetingOff},
	},
	v1.StateRGPositive: {
		{On: KindStartRecoveryPeriod, To: to(v1.StateRecoveryPeriod)},
	},
	v1.StateRGNegative: {
		{On: KindRequestReconsideration, To: to(v1.StateReconsiderationRequest)},
		{On: KindSubmitAssurance, To: to(v1.StateAssuranceSubmitted)},
	},
	v1.StateRecoveryPeriod: {
		{On: KindStartConclusiveGrounds, To: to(v1.StateCGPending)},
	},
	v1.StateCGPending: {
		{On: KindRecordCGDecision, To: to(v1.StateCGPositive, v1.StateCGNegative)},
	},
	v1.StateCGPositive: {
		{On: KindSubmitAssurance, To: to(v1.StateAssuranceSubmitted)},
	},
	v1.StateCGNegative: {
		{On: KindRequestReconsideration, To: to(v1.StateReconsiderationRequest)},
		{On: KindSubmitAssurance, To: to(v1.StateAssuranceSubmitted)},
	},
	v1.StateReconsiderationRequest: {
		{On: KindDecideReconsideration, To: to(v1.StateReconsiderationAccepted, v1.StateReconsiderationRefused)},
	},
	v1.StateReconsiderationAccepted: { // a fresh decision at the stage reconsidered
		{On: KindRecordRGDecision, To: to(v1.StateRGPositive, v1.StateRGNegative)},
		{On: KindRecordCGDecision, To: to(v1.StateCGPositive, v1.StateCGNegative)},
		{On: KindRecordSameMeeting, To: to(v1.StateCGPositive, v1.StateCGNegative), If: sameMeeting, Off: sameMeetingOff},
	},
	v1.StateReconsiderationRefused: {
		{On: KindSubmitAssurance, To: to(v1.StateAssuranceSubmitted)},
	},
	v1.StateAssuranceSubmitted: {
		{On: KindRecordAssurance, To: to(v1.StateAssured, v1.StateAssuranceQueried)},
		{On: KindRequestReconsideration, To: to(v1.StateReconsiderationRequest)}, // of a negative decision, in the window
	},
	v1.StateAssuranceQueried: {
		{On: KindSubmitAssurance, To: to(v1.StateAssuranceSubmitted)},
		{On: KindRequestReconsideration, To: to(v1.StateReconsiderationRequest)},
	},
	v1.StateAssured: {
		{On: KindExitProcess, To: to(v1.StatePostExitReview), If: reviewsOn, Off: reviewsOff},
		{On: KindClose, To: to(v1.StateClosed)},
		{On: KindRequestReconsideration, To: to(v1.StateReconsiderationRequest)},
	},
	v1.StatePostExitReview: {
		{On: KindRecordPostExitReview, To: to(v1.StatePostExitReview)},
		{On: KindClose, To: to(v1.StateClosed)},
	},
	v1.StateClosed:         {},
	v1.StateTransferredOut: {},
}

// everyOpenState are allowed in every state but the terminal ones.
var everyOpenState = []EventKind{KindTransferOut}

// everyState are allowed in every state and leave it unchanged.
var everyState = []EventKind{KindUpdateSafeguarding, KindRateRisk, KindRecordChildViews, KindAssignAdvocate, KindRecordTransferInConference, KindAssignLeadWorker}

// terminal reports whether the case has left the authority's NRM process.
func terminal(s v1.CaseState) bool {
	return s == v1.StateClosed || s == v1.StateTransferredOut
}

// lookup returns the states event k may lead to from state s under policy
// p, and whether the table allows it at all.
func lookup(s v1.CaseState, k EventKind, p Policy) ([]v1.CaseState, bool) {
	for _, e := range transitions[s] {
		if e.On == k && (e.If == nil || e.If(p)) {
			return e.To, true
		}
	}
	if slices.Contains(everyOpenState, k) && !terminal(s) {
		if _, known := transitions[s]; known {
			return to(v1.StateTransferredOut), true
		}
	}
	if slices.Contains(everyState, k) {
		return to(s), true
	}
	return nil, false
}

// policyOff returns why policy p turns event k off in state s, or "".
func policyOff(s v1.CaseState, k EventKind, p Policy) string {
	for _, e := range transitions[s] {
		if e.On == k && e.If != nil && !e.If(p) {
			return e.Off
		}
	}
	return ""
}

// Allowed returns the kinds of event the transition table allows in state s
// under policy p, NRM events first. Some may still be refused by a rule that
// depends on the case or the clock; see Apply.
func Allowed(s v1.CaseState, p Policy) []EventKind {
	var ks []EventKind
	for _, k := range eventKinds {
		if _, ok := lookup(s, k, p); ok {
			ks = append(ks, k)
		}
	}
	return ks
}

// TransitionError is returned when an event is not allowed in the case's
// state, or the case does not meet a condition of the transition. It matches
// ErrIllegalTransition.
type TransitionError struct {
	State   v1.CaseState
	Event   EventKind
	Reason  string      // the condition not met, if the table allows the event
	Allowed []EventKind // the kinds of event allowed now
}

func (e *TransitionError) Error() string {
	var b strings.Builder
	b.WriteString("workflow: cannot ")
	b.WriteString(e.Event.String())
	b.WriteString(" while the case is ")
	b.WriteString(string(e.State))
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	b.WriteString(": allowed now: ")
	for i, k := range e.Allowed {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.String())
	}
	return b.String()
}

// Is makes every TransitionError match ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }
