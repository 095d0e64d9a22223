package workflow

import (
	"strings"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

func TestCheckScope(t *testing.T) {
	p := DefaultPolicy()
	// Checked at 12:00 on Mon 1 Jun 2026 (BST).
	on := time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC)
	known := func(d v1.Date) *v1.DateOfBirth { return &v1.DateOfBirth{Date: d} }
	estimate := func(d v1.Date, u int) *v1.DateOfBirth {
		return &v1.DateOfBirth{Date: d, Estimated: true, UncertaintyDays: u, Basis: "age assessment"}
	}
	tests := []struct {
		name     string
		id       v1.ChildIdentity
		at       time.Time
		in       bool
		flags    string // which of "disputed", "assess", "uncertain" are set
		days     int
		eighteen v1.Date
		saying   string
	}{
		// 1 Jun + 101 days: 29 days to 30 Jun, 31 to 31 Jul, 31 to 31 Aug,
		// 10 to 10 Sep. Born 10 Sep 2008: 17, 101 days before 18.
		{name: "17 and 101 days from 18", id: v1.ChildIdentity{DateOfBirth: known("2008-09-10")},
			at: on, in: true, days: 101, eighteen: "2026-09-10", saying: "more than 100"},
		{name: "100 days from 18", id: v1.ChildIdentity{DateOfBirth: known("2008-09-09")},
			at: on, in: false, days: 100, eighteen: "2026-09-09", saying: "not more than 100"},
		{name: "exactly 18", id: v1.ChildIdentity{DateOfBirth: known("2008-06-01")},
			at: on, in: false, days: 0, eighteen: "2026-06-01", saying: "18 or over"},
		{name: "the day before 18", id: v1.ChildIdentity{DateOfBirth: known("2008-06-02")},
			at: on, in: false, days: 1, eighteen: "2026-06-02"},
		{name: "19", id: v1.ChildIdentity{DateOfBirth: known("2007-01-01")},
			at: on, in: false, days: -516, eighteen: "2025-01-01", saying: "18 or over"},
		{name: "10", id: v1.ChildIdentity{DateOfBirth: known("2016-03-03")},
			at: on, in: true, days: 2832, eighteen: "2034-03-03"},
		{name: "age disputed", id: v1.ChildIdentity{DateOfBirth: known("2012-01-01"), AgeDisputed: true},
			at: on, in: false, flags: "disputed", days: 1310, eighteen: "2030-01-01", saying: "Single Competent Authority"},
		{name: "age disputed without a date of birth", id: v1.ChildIdentity{AgeDisputed: true},
			at: on, in: false, flags: "disputed"},
		{name: "no date of birth", id: v1.ChildIdentity{},
			at: on, in: false, flags: "assess", saying: "no date of birth"},
		{name: "born after the check", id: v1.ChildIdentity{DateOfBirth: known("2026-06-02")},
			at: on, in: false, flags: "assess", saying: "not a date on or before 2026-06-01"},
		// Born 29 Feb 2008: the 18th birthday is 1 Mar 2026 (2026 is not a
		// leap year). On Thu 20 Nov 2025 that is 101 days away (10 to 30
		// Nov, 31 to 31 Dec, 31 to 31 Jan, 28 to 28 Feb, 1 to 1 Mar): in
		// scope. Taking 28 Feb would make it 100: out.
		{name: "leap-day birthday, 18th on 1 March", id: v1.ChildIdentity{DateOfBirth: known("2008-02-29")},
			at: time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC), in: true, days: 101, eighteen: "2026-03-01"},
		{name: "leap-day birthday, a day later", id: v1.ChildIdentity{DateOfBirth: known("2008-02-29")},
			at: time.Date(2025, 11, 21, 12, 0, 0, 0, time.UTC), in: false, days: 100, eighteen: "2026-03-01"},
		{name: "leap-day birthday, on 28 February still 17", id: v1.ChildIdentity{DateOfBirth: known("2008-02-29")},
			at: time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), in: false, days: 1, eighteen: "2026-03-01"},
		// Estimated 10 Sep 2008 ± 30 days: the centre is in (101 days), the
		// oldest end, 11 Aug 2008, is out (71 days).
		{name: "estimate straddling the boundary, centre in", id: v1.ChildIdentity{DateOfBirth: estimate("2008-09-10", 30)},
			at: on, in: true, flags: "uncertain", days: 101, eighteen: "2026-09-10", saying: "2008-08-11 to 2008-10-10"},
		// Estimated 1 Sep 2008 ± 30 days: the centre is out (92 days), the
		// youngest end, 1 Oct 2008, is in (122 days).
		{name: "estimate straddling the boundary, centre out", id: v1.ChildIdentity{DateOfBirth: estimate("2008-09-01", 30)},
			at: on, in: false, flags: "uncertain", days: 92, eighteen: "2026-09-01"},
		// Estimated 1 Jan 2012 ± 365 days: in at both ends.
		{name: "estimate wholly in scope", id: v1.ChildIdentity{DateOfBirth: estimate("2012-01-01", 365)},
			at: on, in: true, days: 1310, eighteen: "2030-01-01"},
		// Estimated 1 Jun 2007 ± 60 days: out at both ends.
		{name: "estimate wholly out of scope", id: v1.ChildIdentity{DateOfBirth: estimate("2007-06-01", 60)},
			at: on, in: false, days: -365, eighteen: "2025-06-01"},
		// The date is the civil date in London: 23:30 UTC on 31 May is
		// 00:30 BST on 1 Jun.
		{name: "London date, not UTC", id: v1.ChildIdentity{DateOfBirth: known("2008-09-10")},
			at: time.Date(2026, 5, 31, 23, 30, 0, 0, time.UTC), in: true, days: 101, eighteen: "2026-09-10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := CheckScope(tt.id, tt.at, p)
			flags := map[string]bool{"disputed": r.AgeDisputed, "assess": r.NeedsAssessment, "uncertain": r.Uncertain}
			for name, set := range flags {
				if set != strings.Contains(tt.flags, name) {
					t.Errorf("%s is %v", name, set)
				}
			}
			if r.InScope != tt.in || r.DaysToEighteenth != tt.days || r.Eighteenth != tt.eighteen {
				t.Errorf("got in=%v days=%d 18th=%s, want in=%v days=%d 18th=%s (%s)",
					r.InScope, r.DaysToEighteenth, r.Eighteenth, tt.in, tt.days, tt.eighteen, r.Reason)
			}
			if r.Reason == "" || !strings.Contains(r.Reason, tt.saying) {
				t.Errorf("reason %q does not say %q", r.Reason, tt.saying)
			}
		})
	}
}

func TestScopeMarginIsConfigurable(t *testing.T) {
	p := DefaultPolicy()
	p.ScopeMargin.Amount = 30
	on := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if r := CheckScope(v1.ChildIdentity{DateOfBirth: &v1.DateOfBirth{Date: "2008-07-10"}}, on, p); !r.InScope {
		t.Errorf("39 days from 18 with a 30-day margin: %s", r.Reason)
	}
}

func TestEighteenthNeverInALeapYear(t *testing.T) {
	for y := 1904; y < 2200; y += 4 {
		if !isLeap(y) {
			continue
		}
		dob := time.Date(y, time.February, 29, 0, 0, 0, 0, time.UTC)
		if got := eighteenth(dob); got.Month() != time.March || got.Day() != 1 {
			t.Errorf("born %s: 18th birthday %s, want 1 March", dob.Format(time.DateOnly), got.Format(time.DateOnly))
		}
	}
}
