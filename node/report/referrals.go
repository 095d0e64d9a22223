package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
)

// Outcome is where a referral stands, for management information.
type Outcome string

// The outcomes of a referral, from its latest decision or, without one, its
// state.
const (
	OutcomeAwaitingScope   Outcome = "awaiting_scope_check"
	OutcomeReferredToSCA   Outcome = "referred_to_sca"
	OutcomeAwaitingRG      Outcome = "awaiting_rg"
	OutcomeRGNegative      Outcome = "rg_negative"
	OutcomeAwaitingCG      Outcome = "awaiting_cg"
	OutcomeCGPositive      Outcome = "cg_positive"
	OutcomeCGNegative      Outcome = "cg_negative"
	OutcomeTransferredOut  Outcome = "transferred_out_before_decision"
	OutcomeClosedNoOutcome Outcome = "closed_without_decision"
)

// ReferralRow is one referral in the per-referral dataset. It identifies
// no child: no ID, no name, no date, free text mapped to the vocabularies.
type ReferralRow struct {
	Quarter         Quarter `json:"quarter"`          // of the referral
	Source          string  `json:"source"`           // from Config.Sources, or "other"
	PresentingIssue string  `json:"presenting_issue"` // from Config.PresentingIssues, or "other"
	// RAGBefore is the last rating at referral, before the multi-agency
	// discussion; RAGAfter the first after it. Empty when not rated.
	RAGBefore v1.RAG  `json:"rag_before,omitempty"`
	RAGAfter  v1.RAG  `json:"rag_after,omitempty"`
	Outcome   Outcome `json:"outcome"`
	// WorkingDaysToRG is the working days from referral to the first RG
	// decision; nil before it.
	WorkingDaysToRG *int `json:"working_days_to_rg,omitempty"`
	// WorkingDaysToOutcome is the working days from referral to the
	// outcome (the latest decision, the referral to the SCA or the
	// closure); nil while the outcome is awaited.
	WorkingDaysToOutcome *int `json:"working_days_to_outcome,omitempty"`
}

// Referrals returns the per-referral dataset for the referrals the cases'
// authorities received in quarter q (see DESIGN.md for which copy of a
// moved case counts), with working days counted in cal in each authority's
// nation. Rows are sorted by their content, not by referral, so their order
// reveals nothing.
//
// It is the authority's own management information. Rows are not
// suppressed (one row is one referral); what leaves the authority is the
// quarterly return. It is NewReferrals with every case added in turn.
func Referrals(cases []*v1.Case, q Quarter, cal *calendar.Calendar, cfg Config) ([]ReferralRow, error) {
	b, err := NewReferrals(q, cal, cfg)
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		if err := b.Add(c); err != nil {
			return nil, err
		}
	}
	return b.Rows(), nil
}

// ReferralsBuilder builds the per-referral dataset one case at a time, for
// a caller that streams the cases rather than holding them all: it keeps
// the rows of the quarter's referrals (no child identified), never a case.
// It is not safe for concurrent use.
type ReferralsBuilder struct {
	quarter         Quarter
	in              span
	cal             *calendar.Calendar
	sources, issues vocabulary
	rows            []ReferralRow
}

// NewReferrals starts the per-referral dataset for quarter q, counting
// working days with cal. It refuses an invalid quarter (ErrInvalidQuarter),
// a nil calendar (ErrNilCalendar) or an invalid cfg (ErrInvalidConfig).
func NewReferrals(q Quarter, cal *calendar.Calendar, cfg Config) (*ReferralsBuilder, error) {
	if err := check(q, cal, cfg); err != nil {
		return nil, err
	}
	return &ReferralsBuilder{quarter: q, in: q.span(), cal: cal, sources: newVocabulary(cfg.Sources), issues: newVocabulary(cfg.PresentingIssues)}, nil
}

// Add makes c's row if its referral counts in the quarter; a nil case is
// skipped. c is read during the call only. The error is always nil: Add
// has the shape of the function storage.Store.ExportCases calls with each
// case, so that a builder can be handed to it as it is.
func (b *ReferralsBuilder) Add(c *v1.Case) error {
	if !countsAsReferral(c, b.in) {
		return nil
	}
	div, err := workflow.DivisionOf(c.Responsible)
	if err != nil {
		return nil // not a listed authority: Validate refuses such a case
	}
	r := ReferralRow{
		Quarter:         b.quarter,
		Source:          b.sources.category(c.Referral.Source),
		PresentingIssue: b.issues.category(c.Referral.PresentingIssue),
		RAGBefore:       ragBefore(c),
		RAGAfter:        ragAfter(c),
	}
	var at time.Time
	r.Outcome, at = outcomeOf(c)
	if i := slices.IndexFunc(c.Decisions, func(d v1.NRMDecision) bool { return d.Stage == v1.StageRG }); i >= 0 {
		r.WorkingDaysToRG = workingDays(b.cal, div, c.Referral.ReferredAt, c.Decisions[i].DecidedAt)
	}
	if !at.IsZero() {
		r.WorkingDaysToOutcome = workingDays(b.cal, div, c.Referral.ReferredAt, at)
	}
	b.rows = append(b.rows, r)
	return nil
}

// Rows returns the rows of the cases added so far, sorted by their content
// (nil if none). The slice is the caller's: more cases may be added and
// Rows called again.
func (b *ReferralsBuilder) Rows() []ReferralRow {
	slices.SortFunc(b.rows, compareRows)
	return slices.Clone(b.rows)
}

func check(q Quarter, cal *calendar.Calendar, cfg Config) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if cal == nil {
		return fmt.Errorf("report: %w", ErrNilCalendar)
	}
	return cfg.Validate()
}

func compareRows(a, b ReferralRow) int {
	return cmp.Or(
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.PresentingIssue, b.PresentingIssue),
		cmp.Compare(a.RAGBefore, b.RAGBefore),
		cmp.Compare(a.RAGAfter, b.RAGAfter),
		cmp.Compare(a.Outcome, b.Outcome),
		cmp.Compare(intOr(a.WorkingDaysToRG), intOr(b.WorkingDaysToRG)),
		cmp.Compare(intOr(a.WorkingDaysToOutcome), intOr(b.WorkingDaysToOutcome)),
	)
}

func intOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

// workingDays counts from a to b; nil if the calendar does not cover them.
func workingDays(cal *calendar.Calendar, div calendar.Division, a, b time.Time) *int {
	n, err := cal.WorkingDaysBetween(div, a, b)
	if err != nil || n < 0 {
		return nil
	}
	return &n
}

// countsAsReferral: the referral was received in q by the authority holding
// the case, not a duplicate or a record made in error, and not a case that
// arrived by transfer after the referral (the origin counts it).
func countsAsReferral(c *v1.Case, q span) bool {
	if c == nil || !q.Contains(c.Referral.ReferredAt) {
		return false
	}
	if cl := c.Closure; cl != nil && (cl.Reason == v1.ClosureDuplicate || cl.Reason == v1.ClosureRecordedInError) {
		return false
	}
	return ownsAt(c, c.Referral.ReferredAt)
}

// movedIn returns when the case was accepted into its responsible
// authority by transfer, if it was.
func movedIn(c *v1.Case) (time.Time, bool) {
	for i := len(c.Relocations) - 1; i >= 0; i-- {
		r := c.Relocations[i]
		if r.To == c.Responsible && r.Status == v1.RelocationAccepted && r.ResolvedAt != nil {
			return *r.ResolvedAt, true
		}
	}
	return time.Time{}, false
}

// movedOut returns when the case was transferred out of this authority, if
// it was: the copy kept in transferred_out.
func movedOut(c *v1.Case) (time.Time, bool) {
	if c.State != v1.StateTransferredOut {
		return time.Time{}, false
	}
	for i := len(c.Relocations) - 1; i >= 0; i-- {
		r := c.Relocations[i]
		if r.From == c.Responsible && r.Status == v1.RelocationAccepted && r.ResolvedAt != nil {
			return *r.ResolvedAt, true
		}
	}
	return c.UpdatedAt, true
}

// ownsAt reports whether this copy of the case was the responsible one at
// t: after any move in, and before any move out. Each event is so counted
// by exactly one authority.
func ownsAt(c *v1.Case, t time.Time) bool {
	if in, ok := movedIn(c); ok && t.Before(in) {
		return false
	}
	if out, ok := movedOut(c); ok && !t.Before(out) {
		return false
	}
	return true
}

func ragBefore(c *v1.Case) v1.RAG {
	var r v1.RAG
	for _, x := range c.Risk {
		if x.Stage == v1.RiskAfterDiscussion {
			break
		}
		if x.Stage == v1.RiskAtReferral {
			r = x.Rating
		}
	}
	return r
}

func ragAfter(c *v1.Case) v1.RAG {
	for _, x := range c.Risk {
		if x.Stage == v1.RiskAfterDiscussion {
			return x.Rating
		}
	}
	return ""
}

// outcomeOf returns the referral's outcome and when it was reached (zero
// while awaited).
func outcomeOf(c *v1.Case) (Outcome, time.Time) {
	if n := len(c.Decisions); n > 0 {
		d := c.Decisions[n-1]
		switch {
		case d.Stage == v1.StageCG && d.Outcome == v1.OutcomePositive:
			return OutcomeCGPositive, d.DecidedAt
		case d.Stage == v1.StageCG:
			return OutcomeCGNegative, d.DecidedAt
		case d.Outcome == v1.OutcomeNegative:
			return OutcomeRGNegative, d.DecidedAt
		}
		return OutcomeAwaitingCG, time.Time{}
	}
	switch c.State {
	case v1.StateReferredToSCA:
		if c.Scope != nil {
			return OutcomeReferredToSCA, c.Scope.AssessedAt
		}
		return OutcomeReferredToSCA, c.UpdatedAt
	case v1.StateClosed:
		at := c.UpdatedAt
		if c.Closure != nil {
			at = c.Closure.ClosedAt
		}
		if c.Closure != nil && c.Closure.Reason == v1.ClosureReferredToSCA {
			if c.Scope != nil {
				at = c.Scope.AssessedAt
			}
			return OutcomeReferredToSCA, at
		}
		return OutcomeClosedNoOutcome, at
	case v1.StateTransferredOut:
		at, _ := movedOut(c)
		return OutcomeTransferredOut, at
	case v1.StateReceived, v1.StateScopeCheck:
		return OutcomeAwaitingScope, time.Time{}
	}
	return OutcomeAwaitingRG, time.Time{}
}
