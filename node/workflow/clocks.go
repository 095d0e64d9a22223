package workflow

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"nrmnet/node/calendar"
	v1 "nrmnet/schemas/v1"
)

// DeadlineKind is which statutory clock a deadline belongs to.
type DeadlineKind string

// The kinds of deadline.
const (
	// DeadlineTriage: MASH triage, the multi-agency discussion, due within
	// the timescale of the RAG rating given at referral; met by a rating
	// after discussion.
	DeadlineTriage DeadlineKind = "triage"
	// DeadlineRGDecision: the Reasonable Grounds decision, from referral.
	DeadlineRGDecision DeadlineKind = "rg_decision"
	// DeadlineRecoveryEnds: the end of the recovery period's minimum after a
	// positive RG decision, the earliest a CG decision may be made; met by
	// the CG decision. Once past, the case is waiting on its CG decision.
	DeadlineRecoveryEnds DeadlineKind = "recovery_period_ends"
	// DeadlineReconsiderationWindow: the last moment to request a
	// reconsideration of a negative decision. It lapses rather than falls
	// overdue; see Lapses.
	DeadlineReconsiderationWindow DeadlineKind = "reconsideration_window"
	// DeadlineTransferInConference: for a child on a protection plan, the
	// transfer-in conference after the relocation was accepted.
	DeadlineTransferInConference DeadlineKind = "transfer_in_conference"
	// DeadlinePostExitReview: a 6- or 12-month post-exit review.
	DeadlinePostExitReview DeadlineKind = "post_exit_review"
)

// Lapses reports whether a deadline of this kind is a window that closes by
// itself, a right the child may use, rather than a duty that falls overdue.
// A lapsing deadline is never Overdue and never the case's NextDeadline.
func (k DeadlineKind) Lapses() bool { return k == DeadlineReconsiderationWindow }

// Deadline is one statutory deadline of a case.
type Deadline struct {
	Kind  DeadlineKind
	Name  string    // for people: "reasonable grounds decision"
	Due   time.Time // UTC
	Met   bool
	MetAt time.Time // when it was met; zero if not
}

// Deadlines returns the deadlines of case c, met or not, in order of Due:
// triage, RG decision, recovery period ends, reconsideration window closes,
// transfer-in conference, post-exit reviews, each where it applies. A closed
// or transferred_out case has none. Working days are counted with cal (nil
// means p's calendar) in division div; see DivisionOf. It fails, wrapping
// ErrCalendar, if cal lacks the bank holidays needed.
func Deadlines(c *v1.Case, p Policy, cal *calendar.Calendar, div calendar.Division) ([]Deadline, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if c == nil || terminal(c.State) {
		return nil, nil
	}
	if cal == nil {
		cal = p.calendar()
	}
	var ds []Deadline
	add := func(kind DeadlineKind, name string, start time.Time, period calendar.Period, metAt time.Time) error {
		due, err := cal.Due(div, start, period)
		if err != nil {
			return fmt.Errorf("workflow: %s: %w: %w", name, ErrCalendar, err)
		}
		ds = append(ds, Deadline{Kind: kind, Name: name, Due: due.UTC(), Met: !metAt.IsZero(), MetAt: metAt})
		return nil
	}

	// DOMAIN.md: "MASH triage timescales in use: Red 4 hours, Amber 24
	// hours, Green 72 hours", from the RAG rating before the discussion.
	if r, ok := lastRating(c, v1.RiskAtReferral); ok {
		period := map[v1.RAG]calendar.Period{v1.RAGRed: p.TriageRed, v1.RAGAmber: p.TriageAmber, v1.RAGGreen: p.TriageGreen}[r.Rating]
		var metAt time.Time
		if d, ok := firstRating(c, v1.RiskAfterDiscussion); ok {
			metAt = d.At
		}
		if period.Amount > 0 {
			if err := add(DeadlineTriage, "triage ("+string(r.Rating)+")", c.Referral.ReferredAt, period, metAt); err != nil {
				return nil, err
			}
		}
	}

	// DOMAIN.md: "Reasonable Grounds decision: target within 5 working days
	// of referral". A case referred to the SCA has no devolved decision.
	if c.State != v1.StateReferredToSCA {
		var metAt time.Time
		if i := slices.IndexFunc(c.Decisions, func(d v1.NRMDecision) bool { return d.Stage == v1.StageRG }); i >= 0 {
			metAt = c.Decisions[i].DecidedAt
		}
		if err := add(DeadlineRGDecision, "reasonable grounds decision", c.Referral.ReferredAt, p.RGDecision, metAt); err != nil {
			return nil, err
		}
	}

	// DOMAIN.md: "Recovery period: at least 30 calendar days after a
	// positive RG".
	if rg, i, ok := lastPositiveRGIndex(c); ok {
		ends, err := recoveryEnds(p, cal, div, rg.DecidedAt)
		if err != nil {
			return nil, err
		}
		var metAt time.Time
		if j := slices.IndexFunc(c.Decisions[i+1:], func(d v1.NRMDecision) bool { return d.Stage == v1.StageCG }); j >= 0 {
			metAt = c.Decisions[i+1+j].DecidedAt
		}
		ds = append(ds, Deadline{Kind: DeadlineRecoveryEnds, Name: "recovery period ends (earliest conclusive grounds decision)",
			Due: ends, Met: !metAt.IsZero(), MetAt: metAt})
	}

	// DOMAIN.md: "Reconsideration: after a negative decision, a request
	// within 30 calendar days".
	if d, ok := lastDecision(c); ok && d.Outcome == v1.OutcomeNegative {
		closes, err := reconsiderationCloses(p, cal, div, d.DecidedAt)
		if err != nil {
			return nil, err
		}
		var metAt time.Time
		if r, ok := reconsiderationOfLast(c); ok {
			metAt = r.RequestedAt
		}
		ds = append(ds, Deadline{Kind: DeadlineReconsiderationWindow,
			Name: "reconsideration window closes (" + stageName(d.Stage) + " decision)",
			Due:  closes, Met: !metAt.IsZero(), MetAt: metAt})
	}

	// DOMAIN.md: "for a child on a protection plan a transfer-in conference
	// follows within 15 working days" of acceptance; met when the
	// conference is recorded (RecordTransferInConference).
	if r, ok := acceptedInto(c); ok && c.Safeguarding.ProtectionPlan {
		var metAt time.Time
		if r.ConferenceAt != nil {
			metAt = *r.ConferenceAt
		}
		if err := add(DeadlineTransferInConference, "transfer-in conference", *r.ResolvedAt, p.TransferInConference, metAt); err != nil {
			return nil, err
		}
	}

	// DOMAIN.md: "Post-exit reviews at 6 and 12 months".
	for _, r := range c.PostExitReviews {
		var metAt time.Time
		if r.HeldAt != nil {
			metAt = *r.HeldAt
		}
		ds = append(ds, Deadline{Kind: DeadlinePostExitReview, Name: fmt.Sprintf("%d-month post-exit review", r.Month),
			Due: r.DueAt.UTC(), Met: !metAt.IsZero(), MetAt: metAt})
	}

	slices.SortStableFunc(ds, func(a, b Deadline) int { return a.Due.Compare(b.Due) })
	return ds, nil
}

// NextDeadline returns the earliest deadline that is neither met nor a
// lapsing window: the one the case's NextDeadline holds.
func NextDeadline(ds []Deadline) (Deadline, bool) {
	var next Deadline
	found := false
	for _, d := range ds {
		if d.Met || d.Kind.Lapses() {
			continue
		}
		if !found || d.Due.Before(next.Due) {
			next, found = d, true
		}
	}
	return next, found
}

// Status is how a deadline stands at a moment.
type Status int

// The statuses of a deadline.
const (
	OK      Status = iota // met, lapsed, or not due within the warning time
	DueSoon               // due within the warning time
	Overdue               // past due and not met
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case DueSoon:
		return "due soon"
	case Overdue:
		return "overdue"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// DueStatus says how deadline d stands at now, warning soon ahead. A met
// deadline is OK; a lapsing window past its end is OK (it closed); a deadline
// due exactly now is DueSoon, not yet Overdue.
func DueStatus(d Deadline, now time.Time, soon time.Duration) Status {
	switch {
	case d.Met:
		return OK
	case now.After(d.Due):
		if d.Kind.Lapses() {
			return OK
		}
		return Overdue
	case d.Due.Sub(now) <= soon:
		return DueSoon
	}
	return OK
}

// CaseClock is the part of a case the node keeps in its index to list
// overdue cases without decrypting them.
type CaseClock struct {
	ID           v1.CaseID
	Worker       string // the lead social worker's user ID; empty when unassigned
	Authority    v1.AuthorityCode
	NextDeadline time.Time // zero when nothing is due
}

// ClockOf returns the index summary of case c.
func ClockOf(c *v1.Case) CaseClock {
	cc := CaseClock{ID: c.ID, Worker: c.LeadWorker, Authority: c.Responsible}
	if c.NextDeadline != nil {
		cc.NextDeadline = *c.NextDeadline
	}
	return cc
}

// OverdueByWorker groups the cases whose next deadline is past at now by
// lead worker, each list most overdue first. Unassigned cases are under "".
func OverdueByWorker(clocks []CaseClock, now time.Time) map[string][]CaseClock {
	return overdueBy(clocks, now, func(c CaseClock) string { return c.Worker })
}

// OverdueByAuthority groups the cases whose next deadline is past at now by
// responsible authority, each list most overdue first.
func OverdueByAuthority(clocks []CaseClock, now time.Time) map[v1.AuthorityCode][]CaseClock {
	return overdueBy(clocks, now, func(c CaseClock) v1.AuthorityCode { return c.Authority })
}

func overdueBy[K comparable](clocks []CaseClock, now time.Time, key func(CaseClock) K) map[K][]CaseClock {
	out := make(map[K][]CaseClock)
	for _, c := range clocks {
		if !c.NextDeadline.IsZero() && now.After(c.NextDeadline) {
			out[key(c)] = append(out[key(c)], c)
		}
	}
	for _, cs := range out {
		slices.SortFunc(cs, func(a, b CaseClock) int {
			return cmp.Or(a.NextDeadline.Compare(b.NextDeadline), cmp.Compare(a.ID, b.ID))
		})
	}
	return out
}

// recoveryEnds is the earliest a CG decision may follow a positive RG
// decision made at rg.
func recoveryEnds(p Policy, cal *calendar.Calendar, div calendar.Division, rg time.Time) (time.Time, error) {
	t, err := cal.Due(div, rg, p.RecoveryPeriod)
	if err != nil {
		return time.Time{}, fmt.Errorf("workflow: recovery period: %w: %w", ErrCalendar, err)
	}
	return t.UTC(), nil
}

// reconsiderationCloses is when the reconsideration window for a negative
// decision made at decided closes: the first instant at which a request is
// too late. A window in days runs to the end of its last day in
// Europe/London: where a period could end at the time of day or at the end of
// the day, the child gets the longer.
func reconsiderationCloses(p Policy, cal *calendar.Calendar, div calendar.Division, decided time.Time) (time.Time, error) {
	t, err := cal.Due(div, decided, p.ReconsiderationWindow)
	if err != nil {
		return time.Time{}, fmt.Errorf("workflow: reconsideration window: %w: %w", ErrCalendar, err)
	}
	if p.ReconsiderationWindow.Unit != calendar.Hours {
		y, m, d := t.In(london).Date()
		t = time.Date(y, m, d+1, 0, 0, 0, 0, london)
	}
	return t.UTC(), nil
}

// reconsiderationOfLast returns the reconsideration requested of the case's
// last decision, if any. One requested at or after the decision belongs to
// it, unless it was accepted and has already led to a fresh decision.
func reconsiderationOfLast(c *v1.Case) (v1.Reconsideration, bool) {
	d, ok := lastDecision(c)
	r, ok2 := lastReconsideration(c)
	if !ok || !ok2 || r.RequestedAt.Before(d.DecidedAt) {
		return v1.Reconsideration{}, false
	}
	if r.Decision != nil && *r.Decision != len(c.Decisions)-1 {
		// The link says it: the reconsideration is of an earlier decision.
		return v1.Reconsideration{}, false
	}
	if r.Outcome == v1.ReconsiderationAccepted && c.State != v1.StateReconsiderationAccepted {
		return v1.Reconsideration{}, false
	}
	return r, true
}

func lastPositiveRGIndex(c *v1.Case) (v1.NRMDecision, int, bool) {
	for i := len(c.Decisions) - 1; i >= 0; i-- {
		if d := c.Decisions[i]; d.Stage == v1.StageRG && d.Outcome == v1.OutcomePositive {
			return d, i, true
		}
	}
	return v1.NRMDecision{}, 0, false
}

func lastRating(c *v1.Case, stage v1.RiskStage) (v1.RiskRating, bool) {
	for i := len(c.Risk) - 1; i >= 0; i-- {
		if c.Risk[i].Stage == stage {
			return c.Risk[i], true
		}
	}
	return v1.RiskRating{}, false
}

func firstRating(c *v1.Case, stage v1.RiskStage) (v1.RiskRating, bool) {
	for _, r := range c.Risk {
		if r.Stage == stage {
			return r, true
		}
	}
	return v1.RiskRating{}, false
}

// acceptedInto returns the last relocation of the case into its responsible
// authority that was accepted.
func acceptedInto(c *v1.Case) (v1.RelocationRecord, bool) {
	for i := len(c.Relocations) - 1; i >= 0; i-- {
		r := c.Relocations[i]
		if r.To == c.Responsible && r.Status == v1.RelocationAccepted && r.ResolvedAt != nil {
			return r, true
		}
	}
	return v1.RelocationRecord{}, false
}

// addMonths returns the same time of day n months after t in Europe/London,
// on the same day of the month or, past the month's end, its last day
// (31 August + 6 months is 28 or 29 February), in UTC.
func addMonths(t time.Time, n int) time.Time {
	l := t.In(london)
	y, m, d := l.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	hh, mm, ss := l.Clock()
	return time.Date(first.Year(), first.Month(), min(d, last), hh, mm, ss, l.Nanosecond(), london).UTC()
}

func sortedMonths(ms []int) []int {
	s := slices.Clone(ms)
	slices.Sort(s)
	return s
}
