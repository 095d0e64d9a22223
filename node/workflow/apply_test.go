package workflow

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// timed is one event at a time, for building a case on exact dates.
type timed struct {
	at time.Time
	ev Event
}

// run applies the events in order to c.
func run(t testing.TB, c *v1.Case, p Policy, evs ...timed) *v1.Case {
	t.Helper()
	for _, e := range evs {
		c = mustApply(t, c, e.ev, e.at, p)
	}
	return c
}

// toRGPending takes a fresh case to rg_pending an hour and two hours after
// the referral.
func toRGPending(t testing.TB, a v1.AuthorityCode, referred time.Time, p Policy) *v1.Case {
	t.Helper()
	return run(t, newCase(t, a, referred), p,
		timed{referred.Add(hour), StartScopeCheck{}},
		timed{referred.Add(2 * hour), RecordScope{InScope: true, Reason: "Documented date of birth."}})
}

func decidedAt(d RecordDecision, t time.Time) RecordDecision {
	d.DecidedAt = t
	return d
}

func TestApplyDoesNotModifyInput(t *testing.T) {
	p := DefaultPolicy()
	for _, name := range []string{"received", "cg_pending", "reconsideration_requested", "assurance_queried", "post_exit_review"} {
		c, when := build(t, name, p)
		// Fill every optional part of the record.
		meeting := when
		c = run(t, c, p,
			timed{when, UpdateSafeguarding{Safeguarding: v1.Safeguarding{Section47: true, StrategyMeeting: &meeting, ProtectionPlan: true}}},
			timed{when, AssignAdvocate{AdvocateKind: v1.AdvocateICTG, Name: "Synthetic Guardian"}},
			timed{when, RecordChildViews{Views: "Wants to see his sister."}},
		)
		for _, k := range Allowed(c.State, p) {
			t.Run(name+"/"+string(k), func(t *testing.T) {
				before := cloneCase(c)
				n, err := Apply(c, sampleEvent(k, c), when.Add(hour), "sw-0042", p)
				if !reflect.DeepEqual(c, before) {
					t.Fatal("Apply modified its input")
				}
				if err != nil {
					return // a guard; the input is still checked above
				}
				assertNoSharing(t, c, n)
				if n.Revision != c.Revision+1 {
					t.Errorf("revision %d, want %d", n.Revision, c.Revision+1)
				}
				if !n.UpdatedAt.Equal(when.Add(hour)) || n.UpdatedAt.Location() != time.UTC {
					t.Errorf("updated_at %v, want %v in UTC", n.UpdatedAt, when.Add(hour))
				}
			})
		}
	}
}

func TestCloneCaseSharesNothing(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "post_exit_review", p)
	c = run(t, c, p,
		timed{when, UpdateSafeguarding{Safeguarding: v1.Safeguarding{StrategyMeeting: &when}}},
		timed{when, AssignAdvocate{AdvocateKind: v1.AdvocateICTG, Name: "Synthetic Guardian"}},
		timed{when, RecordChildViews{Views: "Views."}},
		timed{when, RecordPostExitReview{Month: 6, Outcome: "Held early."}},
	)
	c.Identity.DateOfBirth.Estimated = true
	c.Relocations = []v1.RelocationRecord{{RequestID: testRequest, From: "ISL", To: "CMD", RequestedAt: when, Status: v1.RelocationRejected, ResolvedAt: &when}}
	if c.NextDeadline == nil || c.Assurance == nil || c.Assurance.ResolvedAt == nil || len(c.Reconsiderations) != 0 && c.Reconsiderations[0].DecidedAt == nil {
		t.Fatal("fixture lacks optional parts")
	}
	c.Reconsiderations = []v1.Reconsideration{{Stage: v1.StageRG, RequestedAt: when, RequestedBy: "x", Grounds: v1.GroundsNewEvidence,
		Outcome: v1.ReconsiderationRefused, DecidedAt: &when}}
	n := cloneCase(c)
	if !reflect.DeepEqual(c, n) {
		t.Fatal("clone differs")
	}
	assertNoSharing(t, c, n)
}

func TestEventMemoryNotShared(t *testing.T) {
	p := DefaultPolicy()
	meeting := t0.Add(2 * hour)
	ev := UpdateSafeguarding{Safeguarding: v1.Safeguarding{Section47: true, StrategyMeeting: &meeting}}
	n := mustApply(t, newCase(t, "ISL", t0), ev, t0.Add(hour), p)
	meeting = meeting.Add(100 * hour)
	if !n.Safeguarding.StrategyMeeting.Equal(t0.Add(2 * hour)) {
		t.Error("the case shares the event's strategy meeting time")
	}
}

func TestRevisionIncrementsAlongAPath(t *testing.T) {
	p := DefaultPolicy()
	c := newCase(t, "ISL", t0)
	rev := c.Revision
	for i, e := range []timed{
		{t0.Add(hour), StartScopeCheck{}},
		{t0.Add(hour), RecordScope{InScope: true, Reason: "14."}}, // same instant is allowed
		{t0.Add(2 * hour), RateRisk{RAG: v1.RAGRed, Stage: v1.RiskAfterDiscussion}},
		{t0.Add(day), rgDecision(v1.OutcomePositive)},
	} {
		c = mustApply(t, c, e.ev, e.at, p)
		if c.Revision != rev+uint64(i)+1 {
			t.Fatalf("after %d events revision is %d, want %d", i+1, c.Revision, rev+uint64(i)+1)
		}
	}
}

func TestDecisionsRecordTheTest(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "rg_pending", p)
	n := mustApply(t, c, sameMeetingEvent(v1.OutcomeNegative), when.Add(hour), p)
	if len(n.Decisions) != 2 {
		t.Fatalf("%d decisions, want 2", len(n.Decisions))
	}
	rg, cg := n.Decisions[0], n.Decisions[1]
	if rg.Stage != v1.StageRG || rg.Outcome != v1.OutcomePositive || rg.TestApplied != v1.TestReasonableGrounds {
		t.Errorf("RG decision %+v", rg)
	}
	if cg.Stage != v1.StageCG || cg.Outcome != v1.OutcomeNegative || cg.TestApplied != v1.TestConclusiveGrounds {
		t.Errorf("CG decision %+v", cg)
	}
	if !rg.DecidedAt.Equal(cg.DecidedAt) || rg.PanelDecisionID != testPanel || cg.ChildViews == "" {
		t.Errorf("decisions of one meeting differ: %+v %+v", rg, cg)
	}
	c, when = build(t, "cg_positive", p)
	if d := c.Decisions[len(c.Decisions)-1]; d.TestApplied != v1.TestConclusiveGrounds || c.Decisions[0].TestApplied != v1.TestReasonableGrounds {
		t.Errorf("tests applied: %q, %q", c.Decisions[0].TestApplied, d.TestApplied)
	}
}

// TestRecoveryPeriodRule: DOMAIN.md, "Recovery period: at least 30 calendar
// days after a positive RG"; "a panel may make RG and CG at the same meeting
// when the evidence allows".
func TestRecoveryPeriodRule(t *testing.T) {
	p := DefaultPolicy()
	// Positive RG on Fri 6 Mar 2026 at 10:00 GMT. 30 calendar days later is
	// Sun 5 Apr 2026; British Summer Time began on Sun 29 Mar, so the
	// recovery period ends at 10:00 BST, 09:00 UTC: 719 elapsed hours, not
	// 720. A CG decision at 09:59 BST is too early, at 10:00 BST it is not.
	rgAt := at(t, "2026-03-06 10:00")
	c := toRGPending(t, "ISL", at(t, "2026-03-05 09:00"), p)
	c = run(t, c, p,
		timed{rgAt, rgDecision(v1.OutcomePositive)},
		timed{rgAt.Add(hour), StartRecoveryPeriod{}},
		timed{rgAt.Add(2 * hour), StartConclusiveGrounds{}},
	)
	tests := []struct {
		name      string
		recorded  time.Time
		decidedAt time.Time
		ok        bool
	}{
		{"one day in", at(t, "2026-03-07 10:00"), time.Time{}, false},
		{"a minute early across the clock change", at(t, "2026-04-05 09:59"), time.Time{}, false},
		{"exactly 30 calendar days", at(t, "2026-04-05 10:00"), time.Time{}, true},
		{"later", at(t, "2026-04-20 15:00"), time.Time{}, true},
		{"recorded late but decided early", at(t, "2026-04-20 15:00"), at(t, "2026-04-04 16:00"), false},
		{"recorded late, decided on time", at(t, "2026-04-20 15:00"), at(t, "2026-04-05 10:00"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(c, decidedAt(cgDecision(v1.OutcomePositive), tt.decidedAt), tt.recorded, "sw-0042", p)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrRecoveryPeriod) {
				t.Fatalf("got %v, want ErrRecoveryPeriod", err)
			}
			if !strings.Contains(err.Error(), "Sun 5 Apr 2026 10:00 BST") || !strings.Contains(err.Error(), "30 calendar days") {
				t.Errorf("error does not name the end of the recovery period: %v", err)
			}
		})
	}

	t.Run("same meeting is exempt", func(t *testing.T) {
		c := toRGPending(t, "ISL", at(t, "2026-03-05 09:00"), p)
		n := mustApply(t, c, sameMeetingEvent(v1.OutcomePositive), rgAt, p)
		if n.State != v1.StateCGPositive {
			t.Fatalf("state %s", n.State)
		}
	})

	t.Run("45 days before January 2023 is configurable", func(t *testing.T) {
		p45 := p
		p45.RecoveryPeriod.Amount = 45
		_, err := Apply(c, cgDecision(v1.OutcomePositive), at(t, "2026-04-10 10:00"), "sw-0042", p45)
		if !errors.Is(err, ErrRecoveryPeriod) || !strings.Contains(err.Error(), "Mon 20 Apr 2026 10:00 BST") {
			t.Errorf("got %v, want the recovery period to end on Mon 20 Apr 2026", err)
		}
	})
}

// cgNegativeOn returns a case whose negative CG decision was made at decided.
func cgNegativeOn(t testing.TB, decided time.Time, p Policy) *v1.Case {
	t.Helper()
	referred := decided.AddDate(0, 0, -40)
	c := toRGPending(t, "ISL", referred, p)
	return run(t, c, p,
		timed{referred.Add(day), rgDecision(v1.OutcomePositive)},
		timed{referred.Add(day + hour), StartRecoveryPeriod{}},
		timed{referred.Add(day + 2*hour), StartConclusiveGrounds{}},
		timed{decided, cgDecision(v1.OutcomeNegative)},
	)
}

// TestReconsiderationWindow: DOMAIN.md, "Reconsideration: after a negative
// decision, a request within 30 calendar days".
func TestReconsiderationWindow(t *testing.T) {
	p := DefaultPolicy()
	request := RequestReconsideration{Stage: v1.StageCG, Grounds: v1.GroundsNewEvidence, By: "ictg-07"}
	tests := []struct {
		name      string
		decided   string
		requested string
		closesEnd string // "" when the request is in time
	}{
		// Negative CG on Fri 2 Oct 2026 at 14:00 BST. 30 calendar days on
		// is Sun 1 Nov 2026, after the clocks went back on Sun 25 Oct; the
		// window runs to the end of that day, 00:00 GMT on Mon 2 Nov.
		{"last minute, across the clock change", "2026-10-02 14:00", "2026-11-01 23:59", ""},
		{"a minute after midnight", "2026-10-02 14:00", "2026-11-02 00:01", "Sun 1 Nov 2026"},
		// Negative CG on Sat 31 Jan 2026: 30 days on is Mon 2 Mar (28 days
		// in February).
		{"month end, in time", "2026-01-31 10:00", "2026-03-02 18:00", ""},
		{"month end, late", "2026-01-31 10:00", "2026-03-03 08:00", "Mon 2 Mar 2026"},
		// Decided at 23:30 GMT on Sat 28 Mar 2026, the night before the
		// clocks go forward: 30 days on is Mon 27 Apr, and the window
		// closes at 00:00 BST on Tue 28 Apr.
		{"spring clock change", "2026-03-28 23:30", "2026-04-27 23:30", ""},
		{"spring clock change, late", "2026-03-28 23:30", "2026-04-28 00:00", "Mon 27 Apr 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cgNegativeOn(t, at(t, tt.decided), p)
			n, err := Apply(c, request, at(t, tt.requested), "sw-0042", p)
			if tt.closesEnd == "" {
				if err != nil {
					t.Fatal(err)
				}
				r := n.Reconsiderations[len(n.Reconsiderations)-1]
				if r.RequestedBy != "ictg-07" || r.Outcome != v1.ReconsiderationPending || r.Stage != v1.StageCG {
					t.Errorf("reconsideration %+v", r)
				}
				return
			}
			if !errors.Is(err, ErrReconsiderationWindowClosed) {
				t.Fatalf("got %v, want ErrReconsiderationWindowClosed", err)
			}
			if want := "closed at the end of " + tt.closesEnd; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		})
	}
}

func TestReconsiderationConditions(t *testing.T) {
	p := DefaultPolicy()
	t.Run("positive decision", func(t *testing.T) {
		c, when := build(t, "assured_positive", p)
		c = mustApply(t, c, RecordAssurance{Assured: true}, when, p)
		_, err := Apply(c, RequestReconsideration{Stage: v1.StageCG, Grounds: v1.GroundsNewEvidence}, when.Add(hour), "sw-0042", p)
		if te := transitionError(t, err); te.Reason != "only a negative decision can be reconsidered" {
			t.Errorf("reason %q", te.Reason)
		}
	})
	t.Run("wrong stage", func(t *testing.T) {
		c, when := build(t, "rg_negative", p)
		_, err := Apply(c, RequestReconsideration{Stage: v1.StageCG, Grounds: v1.GroundsNewEvidence}, when.Add(hour), "sw-0042", p)
		if te := transitionError(t, err); te.Reason != "the negative decision is the reasonable grounds decision" {
			t.Errorf("reason %q", te.Reason)
		}
	})
	t.Run("only once per decision", func(t *testing.T) {
		c, when := build(t, "reconsideration_refused", p)
		c = mustApply(t, c, SubmitAssurance{}, when.Add(hour), p)
		_, err := Apply(c, RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}, when.Add(2*hour), "sw-0042", p)
		if te := transitionError(t, err); !strings.HasPrefix(te.Reason, "a reconsideration of this decision was requested on") {
			t.Errorf("reason %q", te.Reason)
		}
	})
	t.Run("a fresh decision opens a fresh window", func(t *testing.T) {
		c, when := build(t, "reconsideration_accepted", p)
		c = mustApply(t, c, rgDecision(v1.OutcomeNegative), when.Add(hour), p)
		n := mustApply(t, c, RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNotInLineGuidance}, when.Add(2*hour), p)
		if len(n.Reconsiderations) != 2 {
			t.Errorf("%d reconsiderations, want 2", len(n.Reconsiderations))
		}
	})
	t.Run("decision after acceptance is of the stage reconsidered", func(t *testing.T) {
		c, when := build(t, "cg_reconsideration_accepted", p)
		_, err := Apply(c, rgDecision(v1.OutcomePositive), when.Add(hour), "sw-0042", p)
		if te := transitionError(t, err); te.Reason != "the reconsideration accepted is of the conclusive grounds decision" {
			t.Errorf("reason %q", te.Reason)
		}
		_, err = Apply(c, sameMeetingEvent(v1.OutcomePositive), when.Add(hour), "sw-0042", p)
		transitionError(t, err)
	})
	t.Run("outcome recorded", func(t *testing.T) {
		c, when := build(t, "reconsideration_refused", p)
		r := c.Reconsiderations[0]
		if r.Outcome != v1.ReconsiderationRefused || r.DecidedAt == nil || !r.DecidedAt.Equal(when) || r.Reasons != "Nothing new." || r.RequestedBy != "sw-0042" {
			t.Errorf("reconsideration %+v", r)
		}
	})
}

func TestRecordScope(t *testing.T) {
	p := DefaultPolicy()
	inScope := RecordScope{InScope: true, Reason: "Panel view."}
	tests := []struct {
		name   string
		change func(*v1.ChildIdentity)
		ev     RecordScope
		want   v1.CaseState
		err    error
	}{
		{"in scope", func(*v1.ChildIdentity) {}, inScope, v1.StateRGPending, nil},
		{"age disputed cannot be in scope", func(id *v1.ChildIdentity) { id.AgeDisputed = true }, inScope, "", ErrOutOfScope},
		{"age disputed to the SCA", func(id *v1.ChildIdentity) { id.AgeDisputed = true },
			RecordScope{InScope: false, Reason: "Age disputed."}, v1.StateReferredToSCA, nil},
		{"too close to 18", func(id *v1.ChildIdentity) { id.DateOfBirth.Date = "2008-05-01" }, inScope, "", ErrOutOfScope},
		{"no date of birth: a person decides", func(id *v1.ChildIdentity) { id.DateOfBirth = nil }, inScope, v1.StateRGPending, nil},
		{"uncertain estimate: a person decides", func(id *v1.ChildIdentity) {
			// 18th birthday of the centre, 1 Jun 2026, is 91 days after the
			// referral: out; the window reaches 40 days later: in.
			id.DateOfBirth = &v1.DateOfBirth{Date: "2008-06-01", Estimated: true, UncertaintyDays: 40, Basis: "age assessment"}
		}, inScope, v1.StateRGPending, nil},
		{"in scope may still go to the SCA", func(*v1.ChildIdentity) {}, RecordScope{InScope: false, Reason: "Other route."}, v1.StateReferredToSCA, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCase(t, "ISL", t0)
			tt.change(&c.Identity)
			c = mustApply(t, c, StartScopeCheck{}, t0.Add(hour), p)
			n, err := Apply(c, tt.ev, t0.Add(2*hour), "sw-0042", p)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.State != tt.want {
				t.Errorf("state %s, want %s", n.State, tt.want)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "rg_pending", p)
	later := when.Add(hour)
	noViews := rgDecision(v1.OutcomePositive)
	noViews.ChildViews = ""
	badPolicy := p
	badPolicy.RGDecision.Amount = 0
	unknownState := cloneCase(c)
	unknownState.State = "limbo"
	unknownAuthority := cloneCase(c)
	unknownAuthority.Responsible = "ZZZ"
	tests := []struct {
		name   string
		c      *v1.Case
		ev     Event
		at     time.Time
		actor  string
		p      Policy
		err    error
		saying string
	}{
		{"nil case", nil, StartScopeCheck{}, later, "a", p, ErrInvalidCase, "nil case"},
		{"unknown state", unknownState, rgDecision(v1.OutcomePositive), later, "a", p, ErrInvalidCase, `unknown state "limbo"`},
		{"unknown authority", unknownAuthority, rgDecision(v1.OutcomePositive), later, "a", p, ErrInvalidCase, `"ZZZ"`},
		{"nil event", c, nil, later, "a", p, ErrInvalidEvent, "nil event"},
		{"no time", c, rgDecision(v1.OutcomePositive), time.Time{}, "a", p, ErrInvalidEvent, "time of the event"},
		{"no actor", c, rgDecision(v1.OutcomePositive), later, "", p, ErrInvalidEvent, "actor"},
		{"out of order", c, rgDecision(v1.OutcomePositive), when.Add(-time.Second), "a", p, ErrInvalidEvent, "before the case's last change"},
		{"no child views", c, noViews, later, "a", p, ErrInvalidEvent, "field child_views: is required"},
		{"decided in the future", c, decidedAt(rgDecision(v1.OutcomePositive), later.Add(time.Minute)), later, "a", p, ErrInvalidEvent, "after the time of recording"},
		{"decided before referral", c, decidedAt(rgDecision(v1.OutcomePositive), t0.Add(-time.Minute)), later, "a", p, ErrInvalidEvent, "before the referral"},
		{"bad stage", c, RecordDecision{Stage: "final", Outcome: v1.OutcomePositive, Reasons: "r", ChildViews: "v"}, later, "a", p, ErrInvalidEvent, "record a decision: invalid event: field stage"},
		{"bad policy", c, rgDecision(v1.OutcomePositive), later, "a", badPolicy, ErrInvalidPolicy, "rg_decision"},
		{"too long", c, RecordScope{Reason: strings.Repeat("x", v1.MaxLongText+1)}, later, "a", p, ErrInvalidEvent, "limit"},
		{"query without assurance", c, RecordAssurance{Assured: false}, later, "a", p, ErrInvalidEvent, "field query: is required"},
		{"transfer to self", c, TransferOut{To: "ISL", Request: testRequest}, later, "a", p, ErrInvalidEvent, "already holds it"},
		{"transfer to unknown", c, TransferOut{To: "ZZZ", Request: testRequest}, later, "a", p, ErrInvalidEvent, "field to"},
		{"transfer requested in the future", c, TransferOut{To: "CMD", Request: testRequest, RequestedAt: later.Add(day)}, later, "a", p, ErrInvalidEvent, "outside the case's life"},
		{"actor too long", c, rgDecision(v1.OutcomePositive), later, strings.Repeat("a", v1.MaxShortText+1), p, ErrInvalidEvent, "field actor"},
		{"year out of range", c, rgDecision(v1.OutcomePositive), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), "a", p, ErrInvalidEvent, "field at: year 2200"},
		{"strategy meeting year", c, UpdateSafeguarding{Safeguarding: v1.Safeguarding{StrategyMeeting: &time.Time{}}}, later, "a", p, ErrInvalidEvent, "field strategy_meeting: year 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(tt.c, tt.ev, tt.at, tt.actor, tt.p)
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.saying) {
				t.Errorf("error %q does not say %q", err, tt.saying)
			}
			var fe *schemas.FieldError
			if strings.HasPrefix(tt.saying, "field ") && !errors.As(err, &fe) {
				t.Errorf("error %q carries no FieldError", err)
			}
		})
	}
}

func TestAssurance(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "assurance_queried", p)
	if c.Assurance.Status != v1.AssuranceQueried || c.Assurance.ResolvedAt == nil || c.Assurance.Query == "" {
		t.Fatalf("queried assurance %+v", c.Assurance)
	}
	c = mustApply(t, c, SubmitAssurance{}, when.Add(hour), p)
	if c.Assurance.Status != v1.AssuranceSubmitted || c.Assurance.ResolvedAt != nil || !c.Assurance.SubmittedAt.Equal(when.Add(hour)) {
		t.Errorf("resubmitted assurance %+v", c.Assurance)
	}
	if c.Assurance.Query == "" {
		t.Error("resubmission lost the query it answers")
	}
	c = mustApply(t, c, RecordAssurance{Assured: true}, when.Add(day), p)
	if c.State != v1.StateAssured || c.Assurance.Status != v1.AssuranceAssured {
		t.Errorf("state %s, assurance %+v", c.State, c.Assurance)
	}
}

func TestPostExitReviews(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "assured", p)
	c = mustApply(t, c, RateRisk{RAG: v1.RAGGreen, Stage: v1.RiskAfterDiscussion}, when, p) // triage held
	// Exit on Mon 31 Aug 2026 at 10:00 BST: the 6-month review falls on
	// the last day of February 2027 (28th) at 10:00 GMT, the 12-month on
	// Tue 31 Aug 2027 at 10:00 BST.
	exit := at(t, "2026-08-31 10:00")
	c = mustApply(t, c, ExitProcess{}, exit, p)
	if len(c.PostExitReviews) != 2 {
		t.Fatalf("%d reviews, want 2", len(c.PostExitReviews))
	}
	if got, want := c.PostExitReviews[0].DueAt, at(t, "2027-02-28 10:00"); !got.Equal(want) || c.PostExitReviews[0].Month != 6 {
		t.Errorf("6-month review due %v, want %v", got, want)
	}
	if got, want := c.PostExitReviews[1].DueAt, at(t, "2027-08-31 10:00"); !got.Equal(want) || c.PostExitReviews[1].Month != 12 {
		t.Errorf("12-month review due %v, want %v", got, want)
	}
	if c.NextDeadline == nil || !c.NextDeadline.Equal(at(t, "2027-02-28 10:00")) {
		t.Errorf("next deadline %v, want the 6-month review", c.NextDeadline)
	}
	c = mustApply(t, c, RecordPostExitReview{Month: 6, Outcome: "Plan working."}, at(t, "2027-03-01 11:00"), p)
	if c.NextDeadline == nil || !c.NextDeadline.Equal(at(t, "2027-08-31 10:00")) {
		t.Errorf("next deadline %v, want the 12-month review", c.NextDeadline)
	}
	_, err := Apply(c, RecordPostExitReview{Month: 6, Outcome: "Again."}, at(t, "2027-03-02 11:00"), "sw-0042", p)
	if te := transitionError(t, err); !strings.Contains(te.Reason, "6-month review was held on Mon 1 Mar 2027") {
		t.Errorf("reason %q", te.Reason)
	}
	p6 := p
	p6.PostExitReviews = []int{6}
	c6, _ := build(t, "assured", p6)
	c6 = mustApply(t, c6, ExitProcess{}, exit, p6)
	_, err = Apply(c6, RecordPostExitReview{Month: 12, Outcome: "x"}, at(t, "2027-09-01 11:00"), "sw-0042", p6)
	if te := transitionError(t, err); te.Reason != "no 12-month review is scheduled" {
		t.Errorf("reason %q", te.Reason)
	}
}

func TestTransferOut(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "cg_pending", p)
	requested := when.Add(-day)
	c.Relocations = []v1.RelocationRecord{
		{RequestID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", From: "ISL", To: "KEN", RequestedAt: requested, Status: v1.RelocationRevoked, ResolvedAt: &requested},
		{RequestID: testRequest, From: "ISL", To: "CMD", RequestedAt: requested, Status: v1.RelocationRequested},
	}
	n := mustApply(t, c, TransferOut{To: "CMD", Request: testRequest}, when.Add(hour), p)
	r := n.Relocations[1]
	if n.State != v1.StateTransferredOut || r.Status != v1.RelocationAccepted || r.ResolvedAt == nil || !r.ResolvedAt.Equal(when.Add(hour)) {
		t.Errorf("state %s, relocation %+v", n.State, r)
	}
	if n.NextDeadline != nil || n.Responsible != "ISL" {
		t.Errorf("transferred-out case: next deadline %v, responsible %s", n.NextDeadline, n.Responsible)
	}
	_, err := Apply(c, TransferOut{To: "KEN", Request: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}, when.Add(hour), "sw-0042", p)
	transitionError(t, err)
	_, err = Apply(c, TransferOut{To: "KEN", Request: testRequest}, when.Add(hour), "sw-0042", p)
	if !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("got %v, want ErrInvalidEvent for a request to another authority", err)
	}
	n = mustApply(t, c, TransferOut{To: "MAN", Request: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", RequestedAt: requested}, when.Add(hour), p)
	if r := n.Relocations[2]; r.From != "ISL" || r.To != "MAN" || !r.RequestedAt.Equal(requested) || r.Status != v1.RelocationAccepted {
		t.Errorf("added relocation %+v", r)
	}
}

func TestNextDeadlineFollowsTheCase(t *testing.T) {
	p := DefaultPolicy()
	// Referral Mon 2 Mar 2026 09:00 GMT in Islington, amber at referral.
	c := newCase(t, "ISL", t0)
	steps := []struct {
		ev   timed
		want time.Time // zero: none
	}{
		// Amber triage: 24 hours.
		{timed{t0.Add(hour), StartScopeCheck{}}, t0.Add(24 * hour)},
		// Triage held; next the RG decision, 5 working days: Mon 9 Mar.
		{timed{t0.Add(3 * hour), RateRisk{RAG: v1.RAGRed, Stage: v1.RiskAfterDiscussion}}, at(t, "2026-03-09 09:00")},
		{timed{t0.Add(4 * hour), RecordScope{InScope: true, Reason: "14."}}, at(t, "2026-03-09 09:00")},
		// Positive RG on Tue 3 Mar 09:00: recovery ends Thu 2 Apr 09:00 BST.
		{timed{t0.Add(day), rgDecision(v1.OutcomePositive)}, at(t, "2026-04-02 09:00")},
		{timed{t0.Add(day + hour), StartRecoveryPeriod{}}, at(t, "2026-04-02 09:00")},
		// The reconsideration window lapses; it is never the next deadline.
		{timed{at(t, "2026-04-03 09:00"), StartConclusiveGrounds{}}, at(t, "2026-04-02 09:00")},
		{timed{at(t, "2026-04-03 10:00"), cgDecision(v1.OutcomeNegative)}, time.Time{}},
		{timed{at(t, "2026-04-03 11:00"), SubmitAssurance{}}, time.Time{}},
	}
	for _, s := range steps {
		c = mustApply(t, c, s.ev.ev, s.ev.at, p)
		switch {
		case s.want.IsZero() && c.NextDeadline != nil:
			t.Errorf("after %s: next deadline %v, want none", s.ev.ev.Kind(), c.NextDeadline)
		case !s.want.IsZero() && (c.NextDeadline == nil || !c.NextDeadline.Equal(s.want)):
			t.Errorf("after %s: next deadline %v, want %v", s.ev.ev.Kind(), c.NextDeadline, s.want)
		case c.NextDeadline != nil && c.NextDeadline.Location() != time.UTC:
			t.Errorf("next deadline %v is not in UTC", c.NextDeadline)
		}
	}
}

// TestMissingBankHolidays: NRM events need the bank holidays to set their
// clocks; safeguarding never waits for them.
func TestMissingBankHolidays(t *testing.T) {
	p := DefaultPolicy()
	referred := time.Date(2029, time.January, 10, 9, 0, 0, 0, time.UTC) // the built-in calendar ends in 2028
	c := newCase(t, "ISL", referred)
	_, err := Apply(c, StartScopeCheck{}, referred.Add(hour), "sw-0042", p)
	if !errors.Is(err, ErrCalendar) {
		t.Fatalf("got %v, want ErrCalendar", err)
	}
	n, err := Apply(c, RateRisk{RAG: v1.RAGRed, Stage: v1.RiskReview}, referred.Add(hour), "sw-0042", p)
	if err != nil {
		t.Fatalf("a safeguarding event waited on the calendar: %v", err)
	}
	if !reflect.DeepEqual(n.NextDeadline, c.NextDeadline) {
		t.Errorf("next deadline changed from %v to %v", c.NextDeadline, n.NextDeadline)
	}
}
