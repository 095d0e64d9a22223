package calendar_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"nrmnet/node/calendar"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want calendar.Period
	}{
		{"5 working days", calendar.Period{Amount: 5, Unit: calendar.WorkingDays}},
		{"1 working day", calendar.Period{Amount: 1, Unit: calendar.WorkingDays}},
		{"15wd", calendar.Period{Amount: 15, Unit: calendar.WorkingDays}},
		{" 15 WD ", calendar.Period{Amount: 15, Unit: calendar.WorkingDays}},
		{"5  Working\tDays", calendar.Period{Amount: 5, Unit: calendar.WorkingDays}},
		{"30 calendar days", calendar.Period{Amount: 30, Unit: calendar.CalendarDays}},
		{"1 calendar day", calendar.Period{Amount: 1, Unit: calendar.CalendarDays}},
		{"30d", calendar.Period{Amount: 30, Unit: calendar.CalendarDays}},
		{"4 hours", calendar.Period{Amount: 4, Unit: calendar.Hours}},
		{"1 hour", calendar.Period{Amount: 1, Unit: calendar.Hours}},
		{"4h", calendar.Period{Amount: 4, Unit: calendar.Hours}},
		{"0 hours", calendar.Period{Amount: 0, Unit: calendar.Hours}},
		{"007d", calendar.Period{Amount: 7, Unit: calendar.CalendarDays}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := calendar.ParsePeriod(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParsePeriodErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "want a whole number and a unit"},
		{"working days", "want a whole number and a unit"},
		{"-5 working days", "want a whole number and a unit"},
		{"+5 working days", "want a whole number and a unit"},
		{"5", "missing unit"},
		{"5.5 hours", "amount must be a whole number"},
		{"1,000 hours", "amount must be a whole number"},
		{"5 days", `ambiguous unit "days"`},
		{"1d ay", `unknown unit "d ay"`},
		{"5 weeks", `unknown unit "weeks"`},
		{"5 working", `unknown unit "working"`},
		{"5wdx", `unknown unit "wdx"`},
		{"99999999999999999999 hours", "amount out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := calendar.ParsePeriod(tt.in)
			if err == nil {
				t.Fatalf("got %v, want an error", p)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `period "`+tt.in+`"`) {
				t.Errorf("error %q does not name the input and %q", err, tt.want)
			}
		})
	}
}

func TestPeriodString(t *testing.T) {
	for _, tt := range []struct {
		p    calendar.Period
		want string
	}{
		{calendar.Period{Amount: 5, Unit: calendar.WorkingDays}, "5 working days"},
		{calendar.Period{Amount: 1, Unit: calendar.WorkingDays}, "1 working day"},
		{calendar.Period{Amount: 30, Unit: calendar.CalendarDays}, "30 calendar days"},
		{calendar.Period{Amount: 1, Unit: calendar.Hours}, "1 hour"},
		{calendar.Period{Amount: 0, Unit: calendar.Hours}, "0 hours"},
		{calendar.Period{Amount: 2}, "2 Unit(0)"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestPeriodText(t *testing.T) {
	var config struct {
		Deadline calendar.Period `json:"deadline"`
	}
	if err := json.Unmarshal([]byte(`{"deadline": "5 working days"}`), &config); err != nil {
		t.Fatal(err)
	}
	if want := (calendar.Period{Amount: 5, Unit: calendar.WorkingDays}); config.Deadline != want {
		t.Errorf("got %v, want %v", config.Deadline, want)
	}
	out, err := json.Marshal(config)
	if err != nil || string(out) != `{"deadline":"5 working days"}` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"deadline": "5 days"}`), &config); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("Unmarshal(5 days) error = %v", err)
	}
	for _, bad := range []calendar.Period{{Amount: 1}, {Amount: -1, Unit: calendar.Hours}} {
		if _, err := bad.MarshalText(); err == nil {
			t.Errorf("MarshalText(%v) succeeded", bad)
		}
	}
}

func TestDue(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, london)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name   string
		div    calendar.Division
		start  time.Time
		period string
		want   time.Time
	}{
		// The clocks went forward at 01:00 GMT on Sunday 31 March 2024:
		// 24 hours is 13:00 BST by the wall clock, a calendar day 12:00.
		{"hours across the clock change", ew, at("2024-03-30 12:00"), "24 hours", at("2024-03-31 13:00")},
		{"calendar days across the clock change", ew, at("2024-03-30 12:00"), "1 calendar day", at("2024-03-31 12:00")},
		{"hours from UTC", ew, time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC), "4h", at("2024-06-01 14:00")},
		{"calendar days over Christmas", sc, at("2025-12-23 15:04"), "30d", at("2026-01-22 15:04")},
		{"working days keep the time of day", ew, at("2025-12-23 15:04"), "5 working days", at("2026-01-02 15:04")},
		{"working days in Scotland", sc, at("2025-12-23 15:04"), "5wd", at("2026-01-05 15:04")},
		// 23:30 UTC on Mon 30 Sep 2024 is 00:30 BST on Tue 1 Oct.
		{"working days from UTC", ew, time.Date(2024, 9, 30, 23, 30, 0, 0, time.UTC), "1 working day", at("2024-10-02 00:30")},
		// 10:00 GMT on Fri 25 Oct 2024 + 1 working day is Mon 28 Oct, in GMT.
		{"working days across the clock change", ew, at("2024-10-25 10:00"), "1wd", at("2024-10-28 10:00")},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := calendar.ParsePeriod(tt.period)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cal.Due(tt.div, tt.start, p)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) || got.Location().String() != "Europe/London" {
				t.Errorf("Due = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDueErrors(t *testing.T) {
	cal := calendar.Default()
	start := time.Date(2028, 12, 20, 9, 0, 0, 0, london)
	for _, tt := range []struct {
		name string
		p    calendar.Period
		want string
	}{
		{"beyond the covered years", calendar.Period{Amount: 20, Unit: calendar.WorkingDays}, "outside the years covered"},
		{"negative", calendar.Period{Amount: -1, Unit: calendar.CalendarDays}, "negative amount"},
		{"no unit", calendar.Period{Amount: 1}, "unknown unit"},
		{"too many hours", calendar.Period{Amount: 1 << 62, Unit: calendar.Hours}, "too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cal.Due(ew, start, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want error containing %q", got, err, tt.want)
			}
		})
	}
}
