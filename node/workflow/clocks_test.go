package workflow

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"nrmnet/node/calendar"
	v1 "nrmnet/schemas/v1"
)

const (
	ew = calendar.EnglandAndWales
	sc = calendar.Scotland
	ni = calendar.NorthernIreland
)

// deadline returns the deadline of kind k, failing if there is not exactly one.
func deadline(t testing.TB, ds []Deadline, k DeadlineKind) Deadline {
	t.Helper()
	var found []Deadline
	for _, d := range ds {
		if d.Kind == k {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s deadlines in %+v, want 1", len(found), k, ds)
	}
	return found[0]
}

func mustDeadlines(t testing.TB, c *v1.Case, p Policy, div calendar.Division) []Deadline {
	t.Helper()
	ds, err := Deadlines(c, p, calendar.Default(), div)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestRGDecisionDue checks 5 working days from referral against dates worked
// out by hand from the published bank holidays. The day of referral never
// counts; the time of day is kept.
func TestRGDecisionDue(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name     string
		div      calendar.Division
		referred string
		due      string
	}{
		// Wed 28 Dec 2022. Scotland: Thu 29 (1), Fri 30 (2); Sat 31, Sun 1;
		// Mon 2 Jan (New Year's Day substitute) and Tue 3 Jan (2nd January
		// substitute) are holidays; Wed 4 (3), Thu 5 (4), Fri 6 (5).
		{"Scotland, New Year 2023", sc, "2022-12-28 10:00", "2023-01-06 10:00"},
		// England and Wales keep only Mon 2 Jan: Thu 29, Fri 30, Tue 3,
		// Wed 4, Thu 5.
		{"England, New Year 2023", ew, "2022-12-28 10:00", "2023-01-05 10:00"},
		// Thu 27 Nov 2025. St Andrew's Day, Sun 30 Nov, is taken on Mon
		// 1 Dec in Scotland: Fri 28 (1), Tue 2 (2), Wed 3 (3), Thu 4 (4),
		// Fri 5 (5).
		{"Scotland, St Andrew's Day substitute", sc, "2025-11-27 14:15", "2025-12-05 14:15"},
		// In England Mon 1 Dec is a working day: Fri 28, Mon 1, Tue 2,
		// Wed 3, Thu 4.
		{"England, no St Andrew's Day", ew, "2025-11-27 14:15", "2025-12-04 14:15"},
		// Fri 13 Mar 2026. St Patrick's Day, Tue 17 Mar, in Northern
		// Ireland: Mon 16 (1), Wed 18 (2), Thu 19 (3), Fri 20 (4), Mon 23 (5).
		{"Northern Ireland, St Patrick's Day", ni, "2026-03-13 09:00", "2026-03-23 09:00"},
		{"England, no St Patrick's Day", ew, "2026-03-13 09:00", "2026-03-20 09:00"},
		// Thu 9 Jul 2026. The Battle of the Boyne, Sun 12 Jul, is taken on
		// Mon 13 Jul in Northern Ireland: Fri 10 (1), Tue 14 (2), Wed 15 (3),
		// Thu 16 (4), Fri 17 (5).
		{"Northern Ireland, 12 July substitute", ni, "2026-07-09 16:00", "2026-07-17 16:00"},
		{"England, no 12 July", ew, "2026-07-09 16:00", "2026-07-16 16:00"},
		// Referred on Sat 11 Jul 2026 in Northern Ireland: Mon 13 is a
		// holiday; Tue 14 (1) ... Fri 17 (4), Mon 20 (5).
		{"Northern Ireland, weekend referral before 12 July", ni, "2026-07-11 11:00", "2026-07-20 11:00"},
		// Thu 2 Apr 2026 in England: Good Friday 3 Apr and Easter Monday
		// 6 Apr are holidays: Tue 7 (1), Wed 8 (2), Thu 9 (3), Fri 10 (4),
		// Mon 13 (5).
		{"England, Easter 2026", ew, "2026-04-02 10:00", "2026-04-13 10:00"},
		// Scotland has Good Friday but not Easter Monday: Mon 6 (1) ...
		// Fri 10 (5).
		{"Scotland, Easter 2026", sc, "2026-04-02 10:00", "2026-04-10 10:00"},
		// Tue 23 Dec 2025 in England: Wed 24 (1); Thu 25, Fri 26 holidays;
		// Mon 29 (2), Tue 30 (3), Wed 31 (4); Thu 1 Jan holiday; Fri 2 (5).
		{"England, Christmas 2025", ew, "2025-12-23 10:30", "2026-01-02 10:30"},
		// Scotland adds Fri 2 Jan: Wed 24, Mon 29, Tue 30, Wed 31, Mon 5 Jan.
		{"Scotland, Christmas 2025", sc, "2025-12-23 10:30", "2026-01-05 10:30"},
		// Fri 6 Mar 2026 at 17:00: the weekend does not count; Mon 9 (1) ...
		// Fri 13 (5).
		{"England, across a weekend", ew, "2026-03-06 17:00", "2026-03-13 17:00"},
		// Referred on Sat 7 Mar: the first working day counted is Mon 9.
		{"England, referred on a Saturday", ew, "2026-03-07 11:00", "2026-03-13 11:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCase(t, "ISL", at(t, tt.referred))
			d := deadline(t, mustDeadlines(t, c, p, tt.div), DeadlineRGDecision)
			if want := at(t, tt.due); !d.Due.Equal(want) || d.Met {
				t.Errorf("RG decision due %s (met %v), want %s", fmtTime(d.Due), d.Met, fmtTime(want))
			}
		})
	}
}

// TestDivisionFromAuthority: Apply counts working days in the bank holidays
// of the responsible authority's nation.
func TestDivisionFromAuthority(t *testing.T) {
	p := DefaultPolicy()
	for _, tt := range []struct {
		authority v1.AuthorityCode
		due       string
	}{
		{"GLG", "2023-01-06 10:00"}, // Glasgow: Scotland, as above
		{"CRF", "2023-01-05 10:00"}, // Cardiff: England and Wales
		{"ISL", "2023-01-05 10:00"},
	} {
		t.Run(string(tt.authority), func(t *testing.T) {
			referred := at(t, "2022-12-28 10:00")
			c := run(t, newCase(t, tt.authority, referred), p,
				timed{referred.Add(hour), RateRisk{RAG: v1.RAGAmber, Stage: v1.RiskAfterDiscussion}})
			if want := at(t, tt.due); c.NextDeadline == nil || !c.NextDeadline.Equal(want) {
				t.Errorf("next deadline %v, want %s", c.NextDeadline, fmtTime(want))
			}
		})
	}
}

func TestTransferInConferenceDue(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name     string
		div      calendar.Division
		accepted string
		due      string
	}{
		// Accepted Wed 1 Apr 2026 in England: Thu 2 (1); Good Friday, the
		// weekend and Easter Monday; Tue 7 (2) ... Fri 10 (5), Mon 13 (6) ...
		// Fri 17 (10), Mon 20 (11) ... Fri 24 (15).
		{"England, Easter", ew, "2026-04-01 12:00", "2026-04-24 12:00"},
		// Scotland works on Easter Monday: Thu 2 (1), Mon 6 (2) ... Thu 23 (15).
		{"Scotland, Easter", sc, "2026-04-01 12:00", "2026-04-23 12:00"},
		// Accepted Mon 6 Jul 2026 in Northern Ireland: Tue 7 (1) ... Fri 10
		// (4); Mon 13 holiday; Tue 14 (5) ... Fri 17 (8), Mon 20 (9) ... Fri
		// 24 (13), Mon 27 (14), Tue 28 (15).
		{"Northern Ireland, 12 July", ni, "2026-07-06 09:00", "2026-07-28 09:00"},
		{"England, July", ew, "2026-07-06 09:00", "2026-07-27 09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted := at(t, tt.accepted).UTC()
			c := newCase(t, "KEN", accepted.Add(-30*day))
			c.Safeguarding.ProtectionPlan = true
			c.Relocations = []v1.RelocationRecord{{RequestID: testRequest, From: "ISL", To: "KEN",
				RequestedAt: accepted.Add(-day), Status: v1.RelocationAccepted, ResolvedAt: &accepted}}
			d := deadline(t, mustDeadlines(t, c, p, tt.div), DeadlineTransferInConference)
			if want := at(t, tt.due); !d.Due.Equal(want) {
				t.Errorf("conference due %s, want %s", fmtTime(d.Due), fmtTime(want))
			}
			c.Safeguarding.ProtectionPlan = false
			for _, d := range mustDeadlines(t, c, p, tt.div) {
				if d.Kind == DeadlineTransferInConference {
					t.Error("a transfer-in conference for a child not on a protection plan")
				}
			}
		})
	}
}

// TestCalendarDayPeriods: the recovery period and the reconsideration window
// count calendar days, keeping the civil time of day across month ends and
// clock changes (Europe/London).
func TestCalendarDayPeriods(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name        string
		decided     string
		recoveryEnd time.Time // positive RG decided then
		windowEnd   time.Time // negative RG decided then
	}{
		// 31 Jan + 30 days: 28 days of February, so Mon 2 Mar 2026. The
		// window runs to the end of 2 Mar: 00:00 GMT on 3 Mar.
		{"month end", "2026-01-31 10:00",
			time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
		// 2028 is a leap year: 31 Jan + 30 days is Wed 1 Mar 2028.
		{"leap year February", "2028-01-31 10:00",
			time.Date(2028, 3, 1, 10, 0, 0, 0, time.UTC), time.Date(2028, 3, 2, 0, 0, 0, 0, time.UTC)},
		// Fri 6 Mar 2026 10:00 GMT + 30 days: Sun 5 Apr 10:00 BST = 09:00
		// UTC, after the clocks went forward on 29 Mar. The window closes at
		// 00:00 BST on 6 Apr = 23:00 UTC on 5 Apr.
		{"clocks go forward", "2026-03-06 10:00",
			time.Date(2026, 4, 5, 9, 0, 0, 0, time.UTC), time.Date(2026, 4, 5, 23, 0, 0, 0, time.UTC)},
		// Fri 2 Oct 2026 14:00 BST (13:00 UTC) + 30 days: Sun 1 Nov 14:00
		// GMT = 14:00 UTC, after the clocks went back on 25 Oct. The window
		// closes at 00:00 GMT on 2 Nov.
		{"clocks go back", "2026-10-02 14:00",
			time.Date(2026, 11, 1, 14, 0, 0, 0, time.UTC), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)},
		// Calendar days do not skip bank holidays, in any nation: Wed 10
		// Dec 2025 + 30 days runs over Christmas, Boxing Day, 1 and (in
		// Scotland) 2 January to Fri 9 Jan 2026.
		{"Christmas and New Year", "2025-12-10 10:00",
			time.Date(2026, 1, 9, 10, 0, 0, 0, time.UTC), time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)},
		// Mon 1 Mar 2027 + 30 days, over St Patrick's Day and Good Friday:
		// Wed 31 Mar 2027 10:00 BST.
		{"St Patrick's Day and Easter", "2027-03-01 10:00",
			time.Date(2027, 3, 31, 9, 0, 0, 0, time.UTC), time.Date(2027, 3, 31, 23, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			decided := at(t, tt.decided).UTC()
			c := newCase(t, "ISL", decided.Add(-2*day))
			c.State = v1.StateRGPositive
			c.Decisions = []v1.NRMDecision{{Stage: v1.StageRG, Outcome: v1.OutcomePositive, DecidedAt: decided,
				Reasons: "r", TestApplied: v1.TestReasonableGrounds}}
			for _, div := range []calendar.Division{ew, sc, ni} {
				c.State = v1.StateRGPositive
				c.Decisions[0].Outcome = v1.OutcomePositive
				d := deadline(t, mustDeadlines(t, c, p, div), DeadlineRecoveryEnds)
				if !d.Due.Equal(tt.recoveryEnd) || d.Met {
					t.Errorf("%s: recovery ends %v (met %v), want %v", div, d.Due, d.Met, tt.recoveryEnd)
				}
				c.State = v1.StateRGNegative
				c.Decisions[0].Outcome = v1.OutcomeNegative
				d = deadline(t, mustDeadlines(t, c, p, div), DeadlineReconsiderationWindow)
				if !d.Due.Equal(tt.windowEnd) || d.Met || !d.Kind.Lapses() {
					t.Errorf("%s: window closes %v (met %v), want %v", div, d.Due, d.Met, tt.windowEnd)
				}
			}
		})
	}
}

// TestTriageAcrossClockChanges: RAG timescales are elapsed hours.
func TestTriageAcrossClockChanges(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		name     string
		referred time.Time
		rag      v1.RAG
		due      time.Time
	}{
		// Sat 28 Mar 2026 22:00 GMT. At 01:00 GMT on Sun 29 Mar the clocks
		// go forward to 02:00 BST; 4 hours later is 02:00 UTC, 03:00 BST.
		{"red, spring", time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC), v1.RAGRed, time.Date(2026, 3, 29, 2, 0, 0, 0, time.UTC)},
		// 24 hours later is 23:00 BST on Sunday, not 22:00.
		{"amber, spring", time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC), v1.RAGAmber, time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC)},
		{"green, spring", time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC), v1.RAGGreen, time.Date(2026, 3, 31, 22, 0, 0, 0, time.UTC)},
		// Sat 24 Oct 2026 23:30 BST (22:30 UTC). At 02:00 BST on Sun 25 Oct
		// the clocks go back to 01:00 GMT; 4 hours later is 02:30 GMT.
		{"red, autumn", time.Date(2026, 10, 24, 22, 30, 0, 0, time.UTC), v1.RAGRed, time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC)},
		// 24 hours later is 22:30 GMT on Sunday, not 23:30.
		{"amber, autumn", time.Date(2026, 10, 24, 22, 30, 0, 0, time.UTC), v1.RAGAmber, time.Date(2026, 10, 25, 22, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCase(t, "ISL", tt.referred)
			c.Risk[0].Rating = tt.rag
			d := deadline(t, mustDeadlines(t, c, p, ew), DeadlineTriage)
			if !d.Due.Equal(tt.due) || d.Met || d.Name != "triage ("+string(tt.rag)+")" {
				t.Errorf("triage %+v, want due %v", d, tt.due)
			}
			discussed := tt.referred.Add(time.Hour)
			c.Risk = append(c.Risk, v1.RiskRating{Rating: v1.RAGGreen, Stage: v1.RiskAfterDiscussion, At: discussed, By: "x"})
			d = deadline(t, mustDeadlines(t, c, p, ew), DeadlineTriage)
			if !d.Met || !d.MetAt.Equal(discussed) {
				t.Errorf("triage %+v, want met at %v", d, discussed)
			}
		})
	}
	t.Run("the current rating at referral", func(t *testing.T) {
		c := newCase(t, "ISL", t0)
		c.Risk = append(c.Risk, v1.RiskRating{Rating: v1.RAGRed, Stage: v1.RiskAtReferral, At: t0.Add(time.Minute), By: "x"})
		if d := deadline(t, mustDeadlines(t, c, p, ew), DeadlineTriage); !d.Due.Equal(t0.Add(4 * time.Hour)) {
			t.Errorf("triage due %v, want red: 4 hours", d.Due)
		}
		c.Risk = nil
		for _, d := range mustDeadlines(t, c, p, ew) {
			if d.Kind == DeadlineTriage {
				t.Error("triage deadline without a rating at referral")
			}
		}
	})
}

func TestDeadlinesByState(t *testing.T) {
	p := DefaultPolicy()
	kinds := func(ds []Deadline) []DeadlineKind {
		var ks []DeadlineKind
		for _, d := range ds {
			ks = append(ks, d.Kind)
		}
		return ks
	}
	tests := []struct {
		fixture string
		want    []DeadlineKind
	}{
		{"received", []DeadlineKind{DeadlineTriage, DeadlineRGDecision}},
		{"referred_to_sca", []DeadlineKind{DeadlineTriage}},
		{"rg_positive", []DeadlineKind{DeadlineTriage, DeadlineRGDecision, DeadlineRecoveryEnds}},
		{"rg_negative", []DeadlineKind{DeadlineTriage, DeadlineRGDecision, DeadlineReconsiderationWindow}},
		{"cg_positive", []DeadlineKind{DeadlineTriage, DeadlineRGDecision, DeadlineRecoveryEnds}},
		{"post_exit_review", []DeadlineKind{DeadlineTriage, DeadlineRGDecision, DeadlineReconsiderationWindow, DeadlinePostExitReview, DeadlinePostExitReview}},
		{"closed", nil},
		{"transferred_out", nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			c, _ := build(t, tt.fixture, p)
			ds := mustDeadlines(t, c, p, ew)
			if got := kinds(ds); !slices.Equal(got, tt.want) {
				t.Errorf("deadlines %v, want %v", got, tt.want)
			}
			if !slices.IsSortedFunc(ds, func(a, b Deadline) int { return a.Due.Compare(b.Due) }) {
				t.Error("deadlines not in order of due time")
			}
		})
	}
	t.Run("met deadlines", func(t *testing.T) {
		c, _ := build(t, "cg_positive", p)
		ds := mustDeadlines(t, c, p, ew)
		rg := deadline(t, ds, DeadlineRGDecision)
		rec := deadline(t, ds, DeadlineRecoveryEnds)
		if !rg.Met || !rg.MetAt.Equal(c.Decisions[0].DecidedAt) || !rec.Met || !rec.MetAt.Equal(c.Decisions[1].DecidedAt) {
			t.Errorf("RG %+v, recovery %+v", rg, rec)
		}
		if d := deadline(t, ds, DeadlineTriage); d.Met {
			t.Error("triage met without a rating after discussion")
		}
	})
	t.Run("window met by a request", func(t *testing.T) {
		c, _ := build(t, "reconsideration_requested", p)
		if d := deadline(t, mustDeadlines(t, c, p, ew), DeadlineReconsiderationWindow); !d.Met || !d.MetAt.Equal(c.Reconsiderations[0].RequestedAt) {
			t.Errorf("window %+v", d)
		}
	})
	t.Run("missing bank holidays", func(t *testing.T) {
		c := newCase(t, "ISL", time.Date(2029, 1, 10, 9, 0, 0, 0, time.UTC))
		if _, err := Deadlines(c, p, nil, ew); err == nil {
			t.Error("no error for a year outside the calendar")
		}
	})
}

func TestNextDeadline(t *testing.T) {
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	ds := []Deadline{
		{Kind: DeadlineTriage, Due: base, Met: true, MetAt: base},
		{Kind: DeadlineReconsiderationWindow, Due: base.Add(hour)},
		{Kind: DeadlinePostExitReview, Due: base.Add(3 * hour)},
		{Kind: DeadlineRGDecision, Due: base.Add(2 * hour)},
	}
	if d, ok := NextDeadline(ds); !ok || d.Kind != DeadlineRGDecision {
		t.Errorf("next %+v, want the RG decision", d)
	}
	if _, ok := NextDeadline(ds[:2]); ok {
		t.Error("a met deadline or a lapsing window is never next")
	}
}

func TestDueStatus(t *testing.T) {
	due := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	soon := 24 * time.Hour
	duty := Deadline{Kind: DeadlineRGDecision, Due: due}
	window := Deadline{Kind: DeadlineReconsiderationWindow, Due: due}
	met := Deadline{Kind: DeadlineRGDecision, Due: due, Met: true, MetAt: due.Add(day)}
	tests := []struct {
		name string
		d    Deadline
		now  time.Time
		want Status
	}{
		{"well ahead", duty, due.Add(-48 * time.Hour), OK},
		{"just inside the warning", duty, due.Add(-soon), DueSoon},
		{"due now", duty, due, DueSoon},
		{"a second late", duty, due.Add(time.Second), Overdue},
		{"met late is done", met, due.Add(48 * time.Hour), OK},
		{"window closing", window, due.Add(-time.Hour), DueSoon},
		{"window closed lapses", window, due.Add(time.Hour), OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DueStatus(tt.d, tt.now, soon); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOverdue(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clocks := []CaseClock{
		{ID: "ISL-0000000000000003", Worker: "sw-1", Authority: "ISL", NextDeadline: now.Add(-time.Hour)},
		{ID: "ISL-0000000000000001", Worker: "sw-1", Authority: "ISL", NextDeadline: now.Add(-48 * time.Hour)},
		{ID: "ISL-0000000000000002", Worker: "sw-2", Authority: "ISL", NextDeadline: now.Add(time.Hour)}, // not yet
		{ID: "CMD-0000000000000004", Worker: "sw-1", Authority: "CMD", NextDeadline: now.Add(-time.Hour)},
		{ID: "CMD-0000000000000005", Worker: "", Authority: "CMD", NextDeadline: now.Add(-time.Minute)},
		{ID: "CMD-0000000000000006", Worker: "sw-3", Authority: "CMD"},                    // nothing due
		{ID: "CMD-0000000000000007", Worker: "sw-3", Authority: "CMD", NextDeadline: now}, // due now, not overdue
	}
	ids := func(cs []CaseClock) []v1.CaseID {
		var out []v1.CaseID
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return out
	}
	byWorker := OverdueByWorker(clocks, now)
	want := map[string][]v1.CaseID{
		"sw-1": {"ISL-0000000000000001", "CMD-0000000000000004", "ISL-0000000000000003"},
		"":     {"CMD-0000000000000005"},
	}
	got := map[string][]v1.CaseID{}
	for w, cs := range byWorker {
		got[w] = ids(cs)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("by worker %v, want %v", got, want)
	}
	byAuthority := OverdueByAuthority(clocks, now)
	if g := ids(byAuthority["ISL"]); !slices.Equal(g, []v1.CaseID{"ISL-0000000000000001", "ISL-0000000000000003"}) {
		t.Errorf("ISL overdue %v", g)
	}
	if g := ids(byAuthority["CMD"]); !slices.Equal(g, []v1.CaseID{"CMD-0000000000000004", "CMD-0000000000000005"}) {
		t.Errorf("CMD overdue %v", g)
	}
	if len(byAuthority) != 2 {
		t.Errorf("%d authorities, want 2", len(byAuthority))
	}

	c, _ := build(t, "received", DefaultPolicy())
	c = mustApply(t, c, StartScopeCheck{}, t0.Add(hour), DefaultPolicy())
	if cc := ClockOf(c); cc.ID != c.ID || cc.Worker != "sw-0042" || cc.Authority != "ISL" || !cc.NextDeadline.Equal(*c.NextDeadline) {
		t.Errorf("clock %+v", cc)
	}
}
