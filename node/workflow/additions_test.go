package workflow

import (
	"errors"
	"testing"
	"time"

	"nrmnet/node/calendar"
	v1 "nrmnet/schemas/v1"
)

// These tests cover what the case record gained after the first release:
// the scope assessment, the closure, the transfer-in conference, the
// assurance history and the links between decisions and reconsiderations.

func TestRecordScopeKeepsAssessment(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name      string
		dob       *v1.DateOfBirth
		disputed  bool
		inScope   bool
		wantState v1.CaseState
		wantAge   *int
		wantDays  *int
		uncertain bool
	}{
		// Referred Mon 2 Mar 2026; born 14 Jul 2011: 14, and 18 on 14 Jul
		// 2029, 1230 days on.
		{"documented, in scope", &v1.DateOfBirth{Date: "2011-07-14"}, false, true, v1.StateRGPending, ptr(14), ptr(1230), false},
		{"documented, sent to the SCA by choice", &v1.DateOfBirth{Date: "2011-07-14"}, false, false, v1.StateReferredToSCA, ptr(14), ptr(1230), false},
		{"age disputed", &v1.DateOfBirth{Date: "2010-01-01"}, true, false, v1.StateReferredToSCA, ptr(16), ptr(670), false},
		{"no date of birth", nil, false, true, v1.StateRGPending, nil, nil, false},
		// Born 29 Feb 2012: 14 on 1 Mar 2026 (no 29 Feb in 2026).
		{"leap-day birthday passed", &v1.DateOfBirth{Date: "2012-02-29"}, false, true, v1.StateRGPending, ptr(14), ptr(1460), false},
		// Estimated 5 Jun 2008 ± 1 year: centre 17, 95 days from 18, but
		// the window crosses the boundary: a person decided in scope.
		{"uncertain estimate", &v1.DateOfBirth{Date: "2008-06-05", Estimated: true, UncertaintyDays: 365, Basis: "age assessment"},
			false, true, v1.StateRGPending, ptr(17), ptr(95), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, when := build(t, "received", p)
			c.Identity.DateOfBirth, c.Identity.AgeDisputed = tt.dob, tt.disputed
			c = mustApply(t, c, StartScopeCheck{}, when.Add(hour), p)
			c = mustApply(t, c, RecordScope{InScope: tt.inScope, Reason: "Recorded by the test."}, when.Add(2*hour), p)
			s := c.Scope
			if c.State != tt.wantState || s == nil {
				t.Fatalf("state %s, scope %+v", c.State, s)
			}
			wantOutcome := v1.ScopeReferredToSCA
			if tt.inScope {
				wantOutcome = v1.ScopeInScope
			}
			if s.Outcome != wantOutcome || s.AgeDisputed != tt.disputed || s.Uncertain != tt.uncertain ||
				s.Reason != "Recorded by the test." || s.AssessedBy != "sw-0042" || !s.AssessedAt.Equal(when.Add(2*hour)) {
				t.Errorf("assessment %+v", s)
			}
			if !eqPtr(s.AgeAtReferral, tt.wantAge) || !eqPtr(s.DaysToEighteenth, tt.wantDays) {
				t.Errorf("age %v days %v, want %v %v", deref(s.AgeAtReferral), deref(s.DaysToEighteenth), deref(tt.wantAge), deref(tt.wantDays))
			}
		})
	}
	// A refusal keeps nothing: the input case has no assessment and Apply
	// returns no case.
	c, when := build(t, "scope_check", p)
	c.Identity.AgeDisputed = true
	n, err := Apply(c, RecordScope{InScope: true, Reason: "Wrong."}, when.Add(hour), "sw-0042", p)
	if !errors.Is(err, ErrOutOfScope) || n != nil || c.Scope != nil {
		t.Errorf("age-disputed in scope: %v, %v, input scope %v", n, err, c.Scope)
	}
}

func eqPtr(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestAgeOn(t *testing.T) {
	d := func(s string) time.Time { v, _ := v1.Date(s).Time(); return v }
	for _, tt := range []struct {
		dob, day string
		want     int
	}{
		{"2011-07-14", "2026-07-13", 14},
		{"2011-07-14", "2026-07-14", 15},
		{"2012-02-29", "2026-02-28", 13},
		{"2012-02-29", "2026-03-01", 14},
		{"2012-02-29", "2028-02-29", 16},
		{"2026-05-01", "2026-04-01", 0}, // not yet born: never negative
	} {
		if got := ageOn(d(tt.dob), d(tt.day)); got != tt.want {
			t.Errorf("ageOn(%s, %s) = %d, want %d", tt.dob, tt.day, got, tt.want)
		}
	}
}

func TestCloseRecordsClosure(t *testing.T) {
	p := DefaultPolicy()
	held := func(t *testing.T) (*v1.Case, time.Time) {
		c, when := build(t, "post_exit_review", p)
		for _, m := range []int{6, 12} {
			when = when.Add(day)
			c = mustApply(t, c, RecordPostExitReview{Month: m, Outcome: "Held."}, when, p)
		}
		return c, when
	}
	tests := []struct {
		name    string
		from    func(t *testing.T) (*v1.Case, time.Time)
		ev      Close
		want    v1.ClosureReason
		wantErr error
	}{
		{"duplicate from received", fixtureOf("received"), Close{Code: v1.ClosureDuplicate, Reason: "Same child, same day."}, v1.ClosureDuplicate, nil},
		{"recorded in error", fixtureOf("received"), Close{Code: v1.ClosureRecordedInError, Reason: "Not an NRM referral."}, v1.ClosureRecordedInError, nil},
		{"received needs a code", fixtureOf("received"), Close{Reason: "Why?"}, "", ErrInvalidEvent},
		{"implied from referred_to_sca", fixtureOf("referred_to_sca"), Close{Reason: "The SCA has it."}, v1.ClosureReferredToSCA, nil},
		{"implied from assured", fixtureOf("assured"), Close{Reason: "Assured."}, v1.ClosureProcessComplete, nil},
		{"implied from post_exit_review, reviews held", held, Close{Reason: "Both reviews held."}, v1.ClosureReviewsComplete, nil},
		{"reviews_complete before the reviews", fixtureOf("post_exit_review"), Close{Reason: "Too soon."}, "", ErrIllegalTransition},
		{"other from post_exit_review", fixtureOf("post_exit_review"), Close{Code: v1.ClosureOther, Reason: "Left the UK."}, v1.ClosureOther, nil},
		{"stage reason from the wrong stage", fixtureOf("assured"), Close{Code: v1.ClosureReferredToSCA, Reason: "No."}, "", ErrIllegalTransition},
		{"process_complete from received", fixtureOf("received"), Close{Code: v1.ClosureProcessComplete, Reason: "No."}, "", ErrIllegalTransition},
		{"unknown code", fixtureOf("assured"), Close{Code: "bored", Reason: "No."}, "", ErrInvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, when := tt.from(t)
			n, err := Apply(c, tt.ev, when.Add(hour), "sw-0042", p)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || n != nil {
					t.Fatalf("got %v, %v; want %v", n, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Validate(); err != nil {
				t.Fatal(err)
			}
			want := v1.Closure{Reason: tt.want, Note: tt.ev.Reason, ClosedAt: when.Add(hour).UTC(), ClosedBy: "sw-0042"}
			if n.State != v1.StateClosed || n.Closure == nil || *n.Closure != want {
				t.Errorf("state %s closure %+v, want %+v", n.State, n.Closure, want)
			}
		})
	}
}

func fixtureOf(name string) func(t *testing.T) (*v1.Case, time.Time) {
	return func(t *testing.T) (*v1.Case, time.Time) { return build(t, name, DefaultPolicy()) }
}

// movedIn returns a case at authority a, on a protection plan, that moved
// in from Islington (or Camden, for Islington) at accepted.
func movedIn(t testing.TB, a v1.AuthorityCode, accepted time.Time) *v1.Case {
	t.Helper()
	from := v1.AuthorityCode("ISL")
	if a == from {
		from = "CMD"
	}
	c := newCase(t, a, accepted.Add(-30*day))
	c.Safeguarding.ProtectionPlan = true
	res := accepted.UTC()
	c.Relocations = []v1.RelocationRecord{{RequestID: testRequest, From: from, To: a,
		RequestedAt: res.Add(-day), Status: v1.RelocationAccepted, ResolvedAt: &res}}
	c.UpdatedAt = res
	return c
}

// TestTransferInConferenceClock: the transfer-in conference is due 15
// working days after acceptance, counted in the destination's nation, and
// recording it meets the clock. Each case crosses a holiday that differs
// between nations.
func TestTransferInConferenceClock(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name      string
		authority v1.AuthorityCode
		div       calendar.Division
		accepted  string
		due       string
	}{
		// Fri 19 Dec 2025. Scotland: Christmas, Boxing Day, 1 and 2 January
		// 2026: Mon 22, Tue 23, Wed 24, Mon 29, Tue 30, Wed 31 (6); Mon 5 ...
		// Fri 9 (11); Mon 12 ... Thu 15 (15).
		{"Scotland, Christmas and 2 January", "GLG", sc, "2025-12-19 12:00", "2026-01-15 12:00"},
		// England and Wales work on 2 January: due a day sooner.
		{"Wales, Christmas", "CRF", ew, "2025-12-19 12:00", "2026-01-14 12:00"},
		{"England, Christmas", "ISL", ew, "2025-12-19 12:00", "2026-01-14 12:00"},
		// Mon 23 Nov 2026. St Andrew's Day, Mon 30 Nov, in Scotland only.
		{"Scotland, St Andrew's Day", "EDH", sc, "2026-11-23 15:30", "2026-12-15 15:30"},
		{"England, no St Andrew's Day", "ISL", ew, "2026-11-23 15:30", "2026-12-14 15:30"},
		// Mon 8 Mar 2027 in Northern Ireland: St Patrick's Day, Wed 17 Mar,
		// then Good Friday 26 Mar and Easter Monday 29 Mar; the clocks go
		// forward on 28 Mar and the time of day is kept: Thu 1 Apr 09:00 BST.
		// No authority in the list is in Northern Ireland, so the division
		// is given directly.
		{"Northern Ireland, St Patrick's Day and Easter", "ISL", ni, "2027-03-08 09:00", "2027-04-01 09:00"},
		{"England, Easter 2027", "ISL", ew, "2027-03-08 09:00", "2027-03-31 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted, due := at(t, tt.accepted), at(t, tt.due)
			c := movedIn(t, tt.authority, accepted)
			d := deadline(t, mustDeadlines(t, c, p, tt.div), DeadlineTransferInConference)
			if !d.Due.Equal(due) || d.Met {
				t.Fatalf("due %s (met %v), want %s", fmtTime(d.Due), d.Met, fmtTime(due))
			}
			if DueStatus(d, due.Add(time.Minute), day) != Overdue {
				t.Error("not overdue a minute after the deadline")
			}
			if div, _ := DivisionOf(tt.authority); div != tt.div {
				return // Northern Ireland: Apply counts in the authority's own nation
			}
			// Through Apply: before the conference the case's next deadline
			// is the conference; recording it meets the clock. (The case is
			// with the SCA, so no RG clock runs beside it.)
			c.State = v1.StateReferredToSCA
			c = mustApply(t, c, RateRisk{RAG: v1.RAGAmber, Stage: v1.RiskAfterDiscussion}, accepted.Add(hour), p)
			if c.NextDeadline == nil || !c.NextDeadline.Equal(due) {
				t.Fatalf("next deadline %v, want the conference at %s", c.NextDeadline, fmtTime(due))
			}
			c = mustApply(t, c, RecordTransferInConference{HeldAt: due}, due.Add(2*hour), p)
			d = deadline(t, mustDeadlines(t, c, p, tt.div), DeadlineTransferInConference)
			if !d.Met || !d.MetAt.Equal(due) || DueStatus(d, due.Add(30*day), day) != OK {
				t.Errorf("after the conference: %+v", d)
			}
			if c.NextDeadline != nil {
				t.Errorf("next deadline %s; every clock of the case is met", fmtTime(*c.NextDeadline))
			}
			if got := c.Relocations[0].ConferenceAt; got == nil || !got.Equal(due) || c.State != v1.StateReferredToSCA {
				t.Errorf("conference_at %v, state %s", got, c.State)
			}
		})
	}
}

func TestRecordTransferInConferenceRefusals(t *testing.T) {
	p := DefaultPolicy()
	accepted := at(t, "2026-06-01 10:00")
	c := movedIn(t, "ISL", accepted)
	tests := []struct {
		name string
		c    *v1.Case
		ev   RecordTransferInConference
		when time.Time
		want error
	}{
		{"held before the move was accepted", c, RecordTransferInConference{HeldAt: accepted.Add(-hour)}, accepted.Add(day), ErrInvalidEvent},
		{"held after it is recorded", c, RecordTransferInConference{HeldAt: accepted.Add(2 * day)}, accepted.Add(day), ErrInvalidEvent},
		{"unknown request", c, RecordTransferInConference{Request: movedInRequest}, accepted.Add(day), ErrInvalidEvent},
		{"malformed request", c, RecordTransferInConference{Request: "not-an-id"}, accepted.Add(day), ErrInvalidEvent},
		{"no move in", newCase(t, "ISL", accepted), RecordTransferInConference{}, accepted.Add(day), ErrIllegalTransition},
		{"held twice", mustApply(t, c, RecordTransferInConference{Request: testRequest}, accepted.Add(day), p),
			RecordTransferInConference{}, accepted.Add(2 * day), ErrIllegalTransition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cloneCase(tt.c)
			n, err := Apply(tt.c, tt.ev, tt.when, "sw-0042", p)
			if !errors.Is(err, tt.want) || n != nil {
				t.Fatalf("got %v, %v; want %v", n, err, tt.want)
			}
			if tt.c.Revision != before.Revision || (tt.c.Relocations != nil && (tt.c.Relocations[0].ConferenceAt == nil) != (before.Relocations[0].ConferenceAt == nil)) {
				t.Error("a refused event changed the input")
			}
		})
	}
}

func TestAssuranceHistory(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "assurance_queried", p)
	c = mustApply(t, c, SubmitAssurance{}, when.Add(hour), p)
	c = mustApply(t, c, RecordAssurance{Assured: true}, when.Add(day), p)
	h := c.Assurance.History
	want := []v1.AssuranceStatus{v1.AssuranceSubmitted, v1.AssuranceQueried, v1.AssuranceSubmitted, v1.AssuranceAssured}
	if len(h) != len(want) {
		t.Fatalf("history %+v", h)
	}
	for i, s := range h {
		if s.Status != want[i] || s.By != "sw-0042" {
			t.Errorf("step %d: %+v, want %s", i, s, want[i])
		}
	}
	if h[1].Query == "" || h[1].Query != c.Assurance.Query {
		t.Errorf("the query is not kept in the history: %+v", h[1])
	}
	if !h[3].At.Equal(when.Add(day)) {
		t.Errorf("assured at %s", h[3].At)
	}

	// A record from before the history: the history starts from the
	// submission the record holds.
	c, when = build(t, "assurance_submitted", p)
	c.Assurance.History = nil
	c = mustApply(t, c, RecordAssurance{Assured: false, Query: "Why?"}, when.Add(day), p)
	if h := c.Assurance.History; len(h) != 2 || h[0].Status != v1.AssuranceSubmitted || !h[0].At.Equal(c.Assurance.SubmittedAt) || h[1].Query != "Why?" {
		t.Errorf("legacy history %+v", h)
	}
}

func TestReconsiderationLinksDecision(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "rg_pending", p)
	ev := rgDecision(v1.OutcomeNegative)
	ev.DecidedBy = "Islington and Camden combined panel"
	c = mustApply(t, c, ev, when.Add(hour), p)
	if c.Decisions[0].DecidedBy != ev.DecidedBy {
		t.Errorf("decided_by %q", c.Decisions[0].DecidedBy)
	}
	c = mustApply(t, c, RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}, when.Add(day), p)
	c, err := Apply(c, DecideReconsideration{Accepted: true, Reasons: "Phone download."}, when.Add(2*day), "chair-07", p)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Reconsiderations[0]
	if r.Decision == nil || *r.Decision != 0 || r.DecidedBy != "chair-07" {
		t.Errorf("reconsideration %+v", r)
	}
	same := sameMeetingEvent(v1.OutcomePositive)
	same.DecidedBy = "Islington and Camden combined panel"
	c = mustApply(t, c, same, when.Add(3*day), p)
	for i, d := range c.Decisions[1:] {
		if d.DecidedBy != same.DecidedBy {
			t.Errorf("decision %d decided_by %q", i+1, d.DecidedBy)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// The link decides which decision a reconsideration belongs to, not the
	// times: a reconsideration linked to decision 0 is not of decision 1.
	c2 := cloneCase(c)
	c2.Decisions = c2.Decisions[:2]
	c2.Decisions[1].Outcome = v1.OutcomeNegative
	c2.State = v1.StateRGNegative
	c2.Reconsiderations[0].RequestedAt = c2.Decisions[1].DecidedAt.Add(hour)
	if _, ok := reconsiderationOfLast(c2); ok {
		t.Error("a reconsideration linked to decision 0 counted as of decision 1")
	}
}
