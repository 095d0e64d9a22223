package workflow

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Errors. Every error of this package wraps one of these; match with
// errors.Is.
var (
	// ErrIllegalTransition: the transition table does not allow the event in
	// the case's state, or the case does not meet the transition's condition
	// (a reconsideration of a positive decision, say). The error is a
	// *TransitionError naming the state, the event and what is allowed now.
	ErrIllegalTransition = errors.New("illegal transition")
	// ErrInvalidEvent: the event's fields are invalid, or it names something
	// the case does not hold.
	ErrInvalidEvent = errors.New("invalid event")
	// ErrInvalidCase: the case cannot be worked on (nil, an unknown state or
	// authority).
	ErrInvalidCase = errors.New("invalid case")
	// ErrInvalidPolicy: Policy.Validate failed.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrOutOfScope: a case recorded as in scope that the scope rule puts,
	// with certainty, out of scope.
	ErrOutOfScope = errors.New("out of scope for a devolved decision")
	// ErrRecoveryPeriod: a CG decision before the recovery period's minimum
	// has passed, other than at the meeting that made the RG decision.
	ErrRecoveryPeriod = errors.New("recovery period not over")
	// ErrReconsiderationWindowClosed: a reconsideration requested after the
	// window closed.
	ErrReconsiderationWindowClosed = errors.New("reconsideration window closed")
	// ErrCalendar: a deadline needs bank holidays the calendar does not have.
	ErrCalendar = errors.New("cannot count working days")
)

// Apply applies event ev, made by actor (a user ID) at time at, to case c
// under policy p. It returns a new case, a deep copy of c with the event
// recorded, the state moved, Revision one higher, UpdatedAt at and
// NextDeadline recomputed; c is never modified. Times are stored in UTC.
// Apply checks the event, not the whole case: a valid case and a valid event
// give a valid case (see v1.Case.Validate), an invalid case stays invalid.
//
// Working days are counted with p.Calendar in the bank holiday division of
// the responsible authority's nation. If they cannot be counted (a year the
// calendar does not cover), NRM events fail with ErrCalendar; safeguarding
// and risk events still apply, keeping the previous NextDeadline, because
// safeguarding never waits.
func Apply(c *v1.Case, ev Event, at time.Time, actor string, p Policy) (*v1.Case, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("workflow: nil case: %w", ErrInvalidCase)
	}
	if _, ok := transitions[c.State]; !ok {
		return nil, fmt.Errorf("workflow: case %s: unknown state %q: %w", c.ID, c.State, ErrInvalidCase)
	}
	if ev == nil {
		return nil, fmt.Errorf("workflow: nil event: %w", ErrInvalidEvent)
	}
	k := ev.Kind()
	switch {
	case at.IsZero():
		return nil, fmt.Errorf("workflow: %s: the time of the event is required: %w", k, ErrInvalidEvent)
	case at.Before(c.UpdatedAt):
		return nil, fmt.Errorf("workflow: %s: the event at %s is before the case's last change at %s: %w",
			k, fmtTime(at), fmtTime(c.UpdatedAt), ErrInvalidEvent)
	}
	ch := schemas.NewChecker()
	ch.Text("actor", actor, true, v1.MaxShortText, false)
	checkYear(ch, "at", at)
	ev.check(ch)
	if err := ch.Err(); err != nil {
		return nil, fmt.Errorf("workflow: %s: %w: %w", k, ErrInvalidEvent, err)
	}
	targets, ok := lookup(c.State, k, p)
	if !ok {
		return nil, &TransitionError{State: c.State, Event: k, Reason: policyOff(c.State, k, p), Allowed: Allowed(c.State, p)}
	}
	div, err := DivisionOf(c.Responsible)
	if err != nil {
		return nil, err
	}
	s := &step{c: cloneCase(c), from: c.State, at: at.UTC(), actor: actor, p: p, cal: p.calendar(), div: div}
	next, err := ev.apply(s)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(targets, next) {
		// A defect in this package: the effect disagrees with the table.
		return nil, fmt.Errorf("workflow: %s from %s led to %s, which the table does not allow", k, c.State, next)
	}
	s.c.State = next
	s.c.Revision++
	s.c.UpdatedAt = s.at
	ds, err := Deadlines(s.c, p, s.cal, div)
	switch {
	case err == nil:
		s.c.NextDeadline = nil
		if d, ok := NextDeadline(ds); ok {
			s.c.NextDeadline = ptr(d.Due)
		}
	case !slices.Contains(everyState, k):
		return nil, err
	}
	return s.c, nil
}

// DivisionOf returns the bank holiday division of an authority's nation.
func DivisionOf(code v1.AuthorityCode) (calendar.Division, error) {
	a, ok := authority.Lookup(code)
	if !ok {
		return "", fmt.Errorf("workflow: %q is not a listed authority: %w", code, ErrInvalidCase)
	}
	d, err := calendar.DivisionForNation(a.Nation)
	if err != nil {
		return "", fmt.Errorf("workflow: authority %s: %w: %w", code, ErrInvalidCase, err)
	}
	return d, nil
}

// step is one event being applied: the copy being changed and what the
// event may consult.
type step struct {
	c     *v1.Case // a deep copy of the input
	from  v1.CaseState
	at    time.Time // UTC
	actor string
	p     Policy
	cal   *calendar.Calendar
	div   calendar.Division
}

// refuse returns the error for an event the table allows in this state but
// the case does not meet a condition for.
func (s *step) refuse(k EventKind, reason string) error {
	return &TransitionError{State: s.from, Event: k, Reason: reason, Allowed: Allowed(s.from, s.p)}
}

// reconsideredStage checks that, after an accepted reconsideration, a new
// decision is at the stage reconsidered.
func (s *step) reconsideredStage(k EventKind, stage v1.DecisionStage) error {
	if s.from != v1.StateReconsiderationAccepted {
		return nil
	}
	r, ok := lastReconsideration(s.c)
	if !ok {
		return s.refuse(k, "the case has no reconsideration")
	}
	if r.Stage != stage {
		return s.refuse(k, fmt.Sprintf("the reconsideration accepted is of the %s decision", stageName(r.Stage)))
	}
	return nil
}

// decisionTime returns when a decision was made: t, or the time of recording
// if t is zero. It must not be after the recording, nor before the referral,
// the previous decision or the last reconsideration's outcome.
func (s *step) decisionTime(t time.Time) (time.Time, error) {
	if t.IsZero() {
		return s.at, nil
	}
	t = t.UTC()
	if t.After(s.at) {
		return time.Time{}, fmt.Errorf("workflow: decided_at %s is after the time of recording %s: %w", fmtTime(t), fmtTime(s.at), ErrInvalidEvent)
	}
	floor, what := s.c.Referral.ReferredAt, "the referral"
	if d, ok := lastDecision(s.c); ok && d.DecidedAt.After(floor) {
		floor, what = d.DecidedAt, "the previous decision"
	}
	if r, ok := lastReconsideration(s.c); ok && r.DecidedAt != nil && r.DecidedAt.After(floor) {
		floor, what = *r.DecidedAt, "the reconsideration's outcome"
	}
	if t.Before(floor) {
		return time.Time{}, fmt.Errorf("workflow: decided_at %s is before %s at %s: %w", fmtTime(t), what, fmtTime(floor), ErrInvalidEvent)
	}
	return t, nil
}

// recoveryOver checks the recovery period rule for a CG decision made at
// time at, apart from the RG decision. DOMAIN.md: "Recovery period: at least
// 30 calendar days after a positive RG"; only a panel making RG and CG at the
// same meeting (RecordDecisions) may decide sooner.
func (s *step) recoveryOver(at time.Time) error {
	rg, ok := lastPositiveRG(s.c)
	if !ok {
		return s.refuse(KindRecordCGDecision, "the case has no positive reasonable grounds decision")
	}
	ends, err := recoveryEnds(s.p, s.cal, s.div, rg.DecidedAt)
	if err != nil {
		return err
	}
	if at.Before(ends) {
		return fmt.Errorf("workflow: a conclusive grounds decision may not be made before the recovery period ends at %s "+
			"(%v after the positive reasonable grounds decision of %s), unless made at the same meeting as that decision: %w",
			fmtTime(ends), s.p.RecoveryPeriod, fmtDay(rg.DecidedAt), ErrRecoveryPeriod)
	}
	return nil
}

// cloneCase returns a deep copy of c: no slice, map or pointer is shared.
func cloneCase(c *v1.Case) *v1.Case {
	n := *c
	n.NextDeadline = clonePtr(c.NextDeadline)
	n.Identity.Names = slices.Clone(c.Identity.Names)
	n.Identity.DateOfBirth = clonePtr(c.Identity.DateOfBirth)
	n.Identity.Nationalities = slices.Clone(c.Identity.Nationalities)
	n.Identity.Languages = slices.Clone(c.Identity.Languages)
	n.Referral.ExploitationTypes = slices.Clone(c.Referral.ExploitationTypes)
	n.Safeguarding.StrategyMeeting = clonePtr(c.Safeguarding.StrategyMeeting)
	n.Risk = slices.Clone(c.Risk)
	n.Advocate = clonePtr(c.Advocate)
	n.WishesAndFeelings = slices.Clone(c.WishesAndFeelings)
	n.Decisions = slices.Clone(c.Decisions)
	n.Reconsiderations = slices.Clone(c.Reconsiderations)
	for i := range n.Reconsiderations {
		n.Reconsiderations[i].DecidedAt = clonePtr(c.Reconsiderations[i].DecidedAt)
		n.Reconsiderations[i].Decision = clonePtr(c.Reconsiderations[i].Decision)
	}
	if c.Assurance != nil {
		a := *c.Assurance
		a.ResolvedAt = clonePtr(c.Assurance.ResolvedAt)
		a.History = slices.Clone(c.Assurance.History)
		n.Assurance = &a
	}
	n.PostExitReviews = slices.Clone(c.PostExitReviews)
	for i := range n.PostExitReviews {
		n.PostExitReviews[i].HeldAt = clonePtr(c.PostExitReviews[i].HeldAt)
	}
	n.Relocations = slices.Clone(c.Relocations)
	for i := range n.Relocations {
		n.Relocations[i].ResolvedAt = clonePtr(c.Relocations[i].ResolvedAt)
		n.Relocations[i].ConferenceAt = clonePtr(c.Relocations[i].ConferenceAt)
	}
	if c.Scope != nil {
		sc := *c.Scope
		sc.AgeAtReferral = clonePtr(c.Scope.AgeAtReferral)
		sc.DaysToEighteenth = clonePtr(c.Scope.DaysToEighteenth)
		n.Scope = &sc
	}
	n.Closure = clonePtr(c.Closure)
	return &n
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func ptr[T any](v T) *T { return &v }

func lastDecision(c *v1.Case) (v1.NRMDecision, bool) {
	if len(c.Decisions) == 0 {
		return v1.NRMDecision{}, false
	}
	return c.Decisions[len(c.Decisions)-1], true
}

func lastPositiveRG(c *v1.Case) (v1.NRMDecision, bool) {
	d, _, ok := lastPositiveRGIndex(c)
	return d, ok
}

func lastReconsideration(c *v1.Case) (v1.Reconsideration, bool) {
	if len(c.Reconsiderations) == 0 {
		return v1.Reconsideration{}, false
	}
	return c.Reconsiderations[len(c.Reconsiderations)-1], true
}

// fmtDay formats the date of t in Europe/London for messages: "Fri 2 Oct 2026".
func fmtDay(t time.Time) string { return t.In(london).Format("Mon 2 Jan 2006") }

// fmtTime formats t in Europe/London for messages: "Fri 2 Oct 2026 14:00 BST".
func fmtTime(t time.Time) string { return t.In(london).Format("Mon 2 Jan 2006 15:04 MST") }
