package workflow

import (
	"errors"
	"fmt"
	"slices"

	"nrmnet/node/calendar"
)

// Policy holds the statutory periods and the choices guidance leaves to
// configuration. Every period is a calendar.Period, so a configuration file
// says "5 working days" or "4 hours"; decode a file over DefaultPolicy() so
// that what it leaves out keeps its default. Where sources disagree, the
// later one is the default (DOMAIN.md); DESIGN.md gives the source of each.
type Policy struct {
	// RGDecision is the target for a Reasonable Grounds decision, from
	// referral. Default 5 working days.
	RGDecision calendar.Period `json:"rg_decision"`
	// RecoveryPeriod is the least time after a positive RG decision before a
	// Conclusive Grounds decision may be made. Default 30 calendar days (45
	// before January 2023).
	RecoveryPeriod calendar.Period `json:"recovery_period"`
	// ReconsiderationWindow is how long after a negative decision a
	// reconsideration may be requested. It closes at the end of its last day
	// when given in days. Default 30 calendar days.
	ReconsiderationWindow calendar.Period `json:"reconsideration_window"`
	// TransferInConference is the time, from an accepted relocation of a child
	// on a protection plan, within which the receiving authority holds a
	// transfer-in conference. Default 15 working days.
	TransferInConference calendar.Period `json:"transfer_in_conference"`
	// TriageRed, TriageAmber and TriageGreen are the MASH triage timescales,
	// from referral, for the RAG rating given at referral. Defaults 4, 24 and
	// 72 hours.
	TriageRed   calendar.Period `json:"triage_red"`
	TriageAmber calendar.Period `json:"triage_amber"`
	TriageGreen calendar.Period `json:"triage_green"`
	// PostExitReviews are the months after a case exits the NRM process at
	// which the panel reviews it: each 6 or 12 (the case record holds no
	// others). Default 6 and 12; empty turns post-exit reviews off.
	PostExitReviews []int `json:"post_exit_reviews"`
	// ScopeMargin: a devolved panel decides only for a child more than this
	// long from their 18th birthday at referral. Calendar days only. Default
	// 100 calendar days.
	ScopeMargin calendar.Period `json:"scope_margin"`
	// AllowSameMeeting lets a panel make the RG and CG decisions at one
	// meeting when the evidence allows, as the devolved pilots do. Default
	// true.
	AllowSameMeeting bool `json:"allow_same_meeting"`

	// Calendar holds the bank holidays for working days; nil means
	// calendar.Default(). It is not part of the configuration file.
	Calendar *calendar.Calendar `json:"-"`
}

// DefaultPolicy returns the policy of current guidance.
func DefaultPolicy() Policy {
	return Policy{
		RGDecision:            calendar.Period{Amount: 5, Unit: calendar.WorkingDays},
		RecoveryPeriod:        calendar.Period{Amount: 30, Unit: calendar.CalendarDays},
		ReconsiderationWindow: calendar.Period{Amount: 30, Unit: calendar.CalendarDays},
		TransferInConference:  calendar.Period{Amount: 15, Unit: calendar.WorkingDays},
		TriageRed:             calendar.Period{Amount: 4, Unit: calendar.Hours},
		TriageAmber:           calendar.Period{Amount: 24, Unit: calendar.Hours},
		TriageGreen:           calendar.Period{Amount: 72, Unit: calendar.Hours},
		PostExitReviews:       []int{6, 12},
		ScopeMargin:           calendar.Period{Amount: 100, Unit: calendar.CalendarDays},
		AllowSameMeeting:      true,
	}
}

// Validate reports every problem with the policy, each wrapping
// ErrInvalidPolicy.
func (p Policy) Validate() error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("workflow: policy %s: %s: %w", field, fmt.Sprintf(format, args...), ErrInvalidPolicy))
	}
	for _, f := range []struct {
		name string
		p    calendar.Period
	}{
		{"rg_decision", p.RGDecision},
		{"recovery_period", p.RecoveryPeriod},
		{"reconsideration_window", p.ReconsiderationWindow},
		{"transfer_in_conference", p.TransferInConference},
		{"triage_red", p.TriageRed},
		{"triage_amber", p.TriageAmber},
		{"triage_green", p.TriageGreen},
		{"scope_margin", p.ScopeMargin},
	} {
		switch {
		case f.p.Unit < calendar.WorkingDays || f.p.Unit > calendar.Hours:
			fail(f.name, "is not set (want e.g. \"5 working days\")")
		case f.p.Amount <= 0:
			fail(f.name, "%v is not a positive period", f.p)
		case f.p.Amount > 3650:
			fail(f.name, "%v is longer than ten years", f.p)
		}
	}
	if p.ScopeMargin.Unit != calendar.CalendarDays && p.ScopeMargin.Unit != 0 {
		fail("scope_margin", "%v must be in calendar days", p.ScopeMargin)
	}
	for i, m := range p.PostExitReviews {
		if m != 6 && m != 12 {
			fail(fmt.Sprintf("post_exit_reviews[%d]", i), "is %d months, want 6 or 12", m)
		}
		if slices.Index(p.PostExitReviews, m) < i {
			fail(fmt.Sprintf("post_exit_reviews[%d]", i), "%d months is listed twice", m)
		}
	}
	return errors.Join(errs...)
}

// calendar returns the calendar to count working days with.
func (p Policy) calendar() *calendar.Calendar {
	if p.Calendar == nil {
		return calendar.Default()
	}
	return p.Calendar
}
