package calendar_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/node/calendar"
)

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

// day returns 00:00 on the given "YYYY-MM-DD" in Europe/London.
func day(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, s, london)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const (
	ew = calendar.EnglandAndWales
	sc = calendar.Scotland
	ni = calendar.NorthernIreland
)

// TestHolidays checks whole years against the lists published on gov.uk,
// written out by hand rather than derived from the generator's rules.
func TestHolidays(t *testing.T) {
	tests := []struct {
		div   calendar.Division
		year  int
		dates string
	}{
		// VE Day moved the Early May bank holiday to Friday 8 May; Boxing
		// Day (Saturday) moved to Monday 28 December.
		{ew, 2020, "01-01 04-10 04-13 05-08 05-25 08-31 12-25 12-28"},
		{sc, 2020, "01-01 01-02 04-10 05-08 05-25 08-03 11-30 12-25 12-28"},
		{ni, 2020, "01-01 03-17 04-10 04-13 05-08 05-25 07-13 08-31 12-25 12-28"},
		// Christmas at a weekend: 27 and 28 December.
		{ew, 2021, "01-01 04-02 04-05 05-03 05-31 08-30 12-27 12-28"},
		{sc, 2021, "01-01 01-04 04-02 05-03 05-31 08-02 11-30 12-27 12-28"},
		// Spring bank holiday on Thursday 2 June, Platinum Jubilee on Friday
		// 3 June, the State Funeral on 19 September, Christmas Day (Sunday)
		// substituted on Tuesday 27 December.
		{ew, 2022, "01-03 04-15 04-18 05-02 06-02 06-03 08-29 09-19 12-26 12-27"},
		{sc, 2022, "01-03 01-04 04-15 05-02 06-02 06-03 08-01 09-19 11-30 12-26 12-27"},
		{ni, 2022, "01-03 03-17 04-15 04-18 05-02 06-02 06-03 07-12 08-29 09-19 12-26 12-27"},
		// The coronation on Monday 8 May; 1 January a Sunday.
		{ew, 2023, "01-02 04-07 04-10 05-01 05-08 05-29 08-28 12-25 12-26"},
		{sc, 2023, "01-02 01-03 04-07 05-01 05-08 05-29 08-07 11-30 12-25 12-26"},
		{ni, 2023, "01-02 03-17 04-07 04-10 05-01 05-08 05-29 07-12 08-28 12-25 12-26"},
		// St Andrew’s Day (Saturday) on Monday 2 December; St Patrick’s Day
		// (Sunday) on Monday 18 March.
		{ew, 2024, "01-01 03-29 04-01 05-06 05-27 08-26 12-25 12-26"},
		{sc, 2024, "01-01 01-02 03-29 05-06 05-27 08-05 12-02 12-25 12-26"},
		{ni, 2024, "01-01 03-18 03-29 04-01 05-06 05-27 07-12 08-26 12-25 12-26"},
		// St Andrew’s Day (Sunday) on Monday 1 December; the Boyne
		// (Saturday) on Monday 14 July.
		{ew, 2025, "01-01 04-18 04-21 05-05 05-26 08-25 12-25 12-26"},
		{sc, 2025, "01-01 01-02 04-18 05-05 05-26 08-04 12-01 12-25 12-26"},
		{ni, 2025, "01-01 03-17 04-18 04-21 05-05 05-26 07-14 08-25 12-25 12-26"},
		{ew, 2026, "01-01 04-03 04-06 05-04 05-25 08-31 12-25 12-28"},
		{sc, 2026, "01-01 01-02 04-03 05-04 05-25 08-03 11-30 12-25 12-28"},
		{ni, 2026, "01-01 03-17 04-03 04-06 05-04 05-25 07-13 08-31 12-25 12-28"},
		// 1 and 2 January at a weekend.
		{ew, 2028, "01-03 04-14 04-17 05-01 05-29 08-28 12-25 12-26"},
		{sc, 2028, "01-03 01-04 04-14 05-01 05-29 08-07 11-30 12-25 12-26"},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(string(tt.div)+"/"+strconv.Itoa(tt.year), func(t *testing.T) {
			var got []string
			for _, h := range cal.Holidays(tt.div, tt.year) {
				if h.Date.Location().String() != "Europe/London" || h.Date.Hour() != 0 || h.Date.Year() != tt.year {
					t.Errorf("%s: Date %v, want 00:00 Europe/London in %d", h.Title, h.Date, tt.year)
				}
				got = append(got, h.Date.Format("01-02"))
			}
			if want := strings.Fields(tt.dates); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

func TestHolidayTitles(t *testing.T) {
	tests := []struct {
		div          calendar.Division
		date         string
		title, notes string
	}{
		{ew, "2020-05-08", "Early May bank holiday (VE day)", ""},
		{ew, "2021-12-27", "Christmas Day", "Substitute day"},
		{ew, "2021-12-28", "Boxing Day", "Substitute day"},
		{ew, "2022-06-02", "Spring bank holiday", ""},
		{ew, "2022-06-03", "Platinum Jubilee bank holiday", ""},
		{sc, "2022-09-19", "Bank Holiday for the State Funeral of Queen Elizabeth II", ""},
		{ew, "2022-12-26", "Boxing Day", ""},
		{ew, "2022-12-27", "Christmas Day", "Substitute day"},
		{ni, "2023-05-08", "Bank holiday for the coronation of King Charles III", ""},
		{ew, "2023-01-02", "New Year’s Day", "Substitute day"},
		{sc, "2021-01-04", "2nd January", "Substitute day"},
		{sc, "2024-01-02", "2nd January", ""},
		{sc, "2024-08-05", "Summer bank holiday", ""},
		{sc, "2024-12-02", "St Andrew’s Day", "Substitute day"},
		{sc, "2023-11-30", "St Andrew’s Day", ""},
		{ni, "2024-03-18", "St Patrick’s Day", "Substitute day"},
		{ni, "2025-03-17", "St Patrick’s Day", ""},
		{ni, "2025-07-14", "Battle of the Boyne (Orangemen’s Day)", "Substitute day"},
		{ni, "2024-07-12", "Battle of the Boyne (Orangemen’s Day)", ""},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(string(tt.div)+"/"+tt.date, func(t *testing.T) {
			on := day(t, tt.date)
			for _, h := range cal.Holidays(tt.div, on.Year()) {
				if h.Date.Equal(on) {
					if h.Title != tt.title || h.Notes != tt.notes {
						t.Errorf("got %q (%q), want %q (%q)", h.Title, h.Notes, tt.title, tt.notes)
					}
					return
				}
			}
			t.Errorf("no holiday on %s", tt.date)
		})
	}
}

func TestHolidayCounts(t *testing.T) {
	// England and Wales normally has 8 bank holidays, Scotland 9 and
	// Northern Ireland 10; 2022 had two extra and 2023 one.
	want := map[calendar.Division][]int{ // 2020 to 2028
		ew: {8, 8, 10, 9, 8, 8, 8, 8, 8},
		sc: {9, 9, 11, 10, 9, 9, 9, 9, 9},
		ni: {10, 10, 12, 11, 10, 10, 10, 10, 10},
	}
	cal := calendar.Default()
	for div, counts := range want {
		for i, n := range counts {
			year := 2020 + i
			t.Run(string(div)+"/"+strconv.Itoa(year), func(t *testing.T) {
				hs := cal.Holidays(div, year)
				if len(hs) != n {
					t.Errorf("%d holidays, want %d", len(hs), n)
				}
				for _, h := range hs {
					if wd := h.Date.Weekday(); wd == time.Saturday || wd == time.Sunday {
						t.Errorf("%s on a %s", h.Title, wd)
					}
				}
			})
		}
	}
	if hs := cal.Holidays(ew, 2029); hs != nil {
		t.Errorf("Holidays(2029) = %v, want nil", hs)
	}
}

func TestDivisionForNation(t *testing.T) {
	tests := []struct {
		nation string
		want   calendar.Division
	}{
		{"England", ew},
		{"wales", ew},
		{"SCOTLAND", sc},
		{"Northern Ireland", ni},
		{" northern  ireland ", ni},
	}
	for _, tt := range tests {
		t.Run(tt.nation, func(t *testing.T) {
			got, err := calendar.DivisionForNation(tt.nation)
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "Ireland", "Great Britain", "england-and-wales"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := calendar.DivisionForNation(bad); err == nil || !strings.Contains(err.Error(), "unknown nation") {
				t.Errorf("err = %v, want unknown nation", err)
			}
		})
	}
}

func TestIsWorkingDay(t *testing.T) {
	tests := []struct {
		div         calendar.Division
		at          time.Time
		holiday     bool
		workingDay  bool
		description string
	}{
		{ew, day(t, "2024-06-07"), false, true, "ordinary Friday"},
		{ew, day(t, "2024-06-08"), false, false, "Saturday"},
		{ew, day(t, "2024-04-01"), true, false, "Easter Monday"},
		{sc, day(t, "2024-04-01"), false, true, "no Easter Monday in Scotland"},
		{sc, day(t, "2025-01-02"), true, false, "2 January in Scotland"},
		{ew, day(t, "2025-01-02"), false, true, "2 January in England"},
		{ew, day(t, "2024-11-30"), false, false, "St Andrew’s Day on a Saturday"},
		// 23:30 UTC on Friday 7 June 2024 is 00:30 BST on Saturday.
		{ew, time.Date(2024, 6, 7, 23, 30, 0, 0, time.UTC), false, false, "civil date in London"},
		// 23:30 UTC on Thursday 28 March 2024 is still Thursday in GMT.
		{ew, time.Date(2024, 3, 28, 23, 30, 0, 0, time.UTC), false, true, "GMT"},
		{ew, time.Date(2024, 3, 28, 23, 30, 0, 0, time.FixedZone("UTC-1", -3600)), true, false, "other zone"},
		{calendar.Division("wales"), day(t, "2024-04-01"), false, true, "unknown division"},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(tt.description, func(t *testing.T) {
			if got := cal.IsBankHoliday(tt.div, tt.at); got != tt.holiday {
				t.Errorf("IsBankHoliday = %v", got)
			}
			if got := cal.IsWorkingDay(tt.div, tt.at); got != tt.workingDay {
				t.Errorf("IsWorkingDay = %v", got)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	cal := calendar.Default()
	for _, tt := range []struct {
		div  calendar.Division
		at   time.Time
		want bool
	}{
		{ew, day(t, "2020-01-01"), true},
		{sc, day(t, "2028-12-31"), true},
		{ni, day(t, "2019-12-31"), false},
		{ni, day(t, "2029-01-01"), false},
		// 2019-12-31 23:30 in New York is 04:30 on 1 January 2020 in London.
		{ew, time.Date(2019, 12, 31, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)), true},
		{"wales", day(t, "2024-01-01"), false},
	} {
		if got := cal.Covers(tt.div, tt.at); got != tt.want {
			t.Errorf("Covers(%s, %v) = %v, want %v", tt.div, tt.at, got, tt.want)
		}
	}
}

func TestAddWorkingDays(t *testing.T) {
	tests := []struct {
		name string
		div  calendar.Division
		from string
		n    int
		want string
	}{
		{"zero", ew, "2024-06-07", 0, "2024-06-07"},
		{"zero from a Saturday", ew, "2024-06-08", 0, "2024-06-08"},
		{"within a week", ew, "2024-06-03", 4, "2024-06-07"},
		{"over a weekend", ew, "2024-06-07", 1, "2024-06-10"},
		{"from a Saturday", ew, "2024-06-08", 1, "2024-06-10"},
		{"two weeks", ew, "2024-06-07", 10, "2024-06-21"},
		// Tue 23 Dec 2025 + 5: Wed 24 (1); Thu 25 and Fri 26 Christmas and
		// Boxing Day; Sat 27, Sun 28; Mon 29 (2), Tue 30 (3), Wed 31 (4);
		// Thu 1 Jan New Year’s Day; Fri 2 Jan (5). So Friday 2 January 2026.
		{"Christmas and New Year", ew, "2025-12-23", 5, "2026-01-02"},
		// In Scotland Fri 2 Jan is a holiday too: Mon 5 Jan (5).
		{"Christmas and New Year in Scotland", sc, "2025-12-23", 5, "2026-01-05"},
		// Christmas 2021 at a weekend: Fri 24 (1), Mon 27 and Tue 28
		// substitutes, Wed 29 (2).
		{"Christmas substitutes", ew, "2021-12-23", 2, "2021-12-29"},
		// Thu 28 Mar 2024 + 1: Good Friday 29, weekend, Easter Monday 1 Apr,
		// Tue 2 Apr (1).
		{"Easter", ew, "2024-03-28", 1, "2024-04-02"},
		{"Easter in Scotland", sc, "2024-03-28", 1, "2024-04-01"},
		{"Easter in Northern Ireland", ni, "2024-03-28", 1, "2024-04-02"},
		// Tue 31 Dec 2024 + 1: 1 January holiday everywhere, 2 January
		// in Scotland only.
		{"2 January in England", ew, "2024-12-31", 1, "2025-01-02"},
		{"2 January in Scotland", sc, "2024-12-31", 1, "2025-01-03"},
		// Fri 28 Nov 2025 + 1: St Andrew’s Day (Sunday) is substituted on
		// Mon 1 Dec in Scotland.
		{"St Andrew’s Day in Scotland", sc, "2025-11-28", 1, "2025-12-02"},
		{"St Andrew’s Day in England", ew, "2025-11-28", 1, "2025-12-01"},
		// Fri 15 Mar 2024 + 1: St Patrick’s Day (Sunday) is substituted
		// on Mon 18 Mar in Northern Ireland.
		{"St Patrick’s Day in Northern Ireland", ni, "2024-03-15", 1, "2024-03-19"},
		{"St Patrick’s Day in England", ew, "2024-03-15", 1, "2024-03-18"},
		// Fri 11 Jul 2025 + 1: the Boyne (Saturday) is substituted on Mon 14.
		{"Battle of the Boyne", ni, "2025-07-11", 1, "2025-07-15"},
		// Wed 1 Jun 2022 + 1: Thu 2 and Fri 3 June holidays.
		{"Platinum Jubilee", sc, "2022-06-01", 1, "2022-06-06"},
		{"State Funeral", ni, "2022-09-16", 1, "2022-09-20"},
		{"coronation", ew, "2023-05-05", 1, "2023-05-09"},
		{"to the last covered year", ew, "2028-12-20", 4, "2028-12-28"},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cal.AddWorkingDays(tt.div, day(t, tt.from), tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if want := day(t, tt.want); !got.Equal(want) || got.Location().String() != "Europe/London" {
				t.Errorf("AddWorkingDays(%s, %d) = %v, want %v", tt.from, tt.n, got, want)
			}
			// Counting the working days back must give n.
			if n, err := cal.WorkingDaysBetween(tt.div, day(t, tt.from), got); err != nil || n != tt.n {
				t.Errorf("WorkingDaysBetween(%s, %s) = %d, %v; want %d", tt.from, tt.want, n, err, tt.n)
			}
		})
	}
}

func TestAddWorkingDaysKeepsCivilDate(t *testing.T) {
	// 23:30 UTC on Mon 30 Sep 2024 is 00:30 BST on Tue 1 Oct, so one
	// working day later is Wed 2 Oct, not Tue 1 Oct.
	got, err := calendar.Default().AddWorkingDays(ew, time.Date(2024, 9, 30, 23, 30, 0, 0, time.UTC), 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := day(t, "2024-10-02"); !got.Equal(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAddWorkingDaysErrors(t *testing.T) {
	tests := []struct {
		name string
		div  calendar.Division
		from string
		n    int
		want string
	}{
		{"negative", ew, "2024-01-01", -1, "cannot add -1 working days"},
		{"unknown division", "wales", "2024-01-01", 1, `no bank holidays for division "wales"`},
		{"before the covered years", ew, "2019-12-31", 1, "2019-12-31 is outside the years covered, 2020 to 2028"},
		{"after the covered years", sc, "2029-01-02", 0, "2029-01-02 is outside the years covered"},
		// Thu 21, Fri 22, Wed 27, Thu 28, Fri 29 Dec 2028, then 2029.
		{"leaving the covered years", ew, "2028-12-20", 6, "england-and-wales: 2029-01-01 is outside the years covered"},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cal.AddWorkingDays(tt.div, day(t, tt.from), tt.n)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, %v; want error containing %q", got, err, tt.want)
			}
		})
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	tests := []struct {
		div      calendar.Division
		from, to string
		want     int
	}{
		{ew, "2024-06-07", "2024-06-07", 0},
		{ew, "2024-06-07", "2024-06-10", 1},
		{ew, "2024-06-08", "2024-06-09", 0},
		{ew, "2024-06-10", "2024-06-07", -1},
		{ew, "2025-12-23", "2026-01-02", 5},
		{sc, "2025-12-23", "2026-01-02", 4},
		{sc, "2026-01-02", "2025-12-23", -4},
		{ni, "2020-01-01", "2020-12-31", 262 - 10},
	}
	cal := calendar.Default()
	for _, tt := range tests {
		t.Run(string(tt.div)+"/"+tt.from+"/"+tt.to, func(t *testing.T) {
			got, err := cal.WorkingDaysBetween(tt.div, day(t, tt.from), day(t, tt.to))
			if err != nil || got != tt.want {
				t.Errorf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	for _, tt := range []struct{ from, to string }{
		{"2019-12-31", "2020-01-02"},
		{"2028-12-30", "2029-01-02"},
		{"2029-01-02", "2028-12-30"},
	} {
		t.Run("outside/"+tt.from+"/"+tt.to, func(t *testing.T) {
			if n, err := cal.WorkingDaysBetween(ew, day(t, tt.from), day(t, tt.to)); err == nil {
				t.Errorf("got %d, want an error", n)
			}
		})
	}
}

// file is a small valid calendar for parser tests.
const file = `{"scotland": {"division": "scotland", "events": [
	{"title": "New Year’s Day", "date": "2024-01-01", "notes": "", "bunting": true},
	{"title": "2nd January", "date": "2024-01-02", "notes": "", "bunting": true},
	{"title": "St Andrew’s Day", "date": "2025-12-01", "notes": "Substitute day", "bunting": true}
]}}`

func TestParse(t *testing.T) {
	cal, err := calendar.Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if !cal.Covers(sc, day(t, "2025-06-01")) || cal.Covers(sc, day(t, "2026-01-01")) || cal.Covers(ew, day(t, "2024-06-01")) {
		t.Error("wrong coverage")
	}
	want := []calendar.Holiday{{Date: day(t, "2025-12-01"), Title: "St Andrew’s Day", Notes: "Substitute day"}}
	if got := cal.Holidays(sc, 2025); !reflect.DeepEqual(got, want) {
		t.Errorf("Holidays = %v, want %v", got, want)
	}
	if _, err := cal.AddWorkingDays(ew, day(t, "2024-06-01"), 1); err == nil {
		t.Error("AddWorkingDays in a missing division succeeded")
	}
}

func TestDefaultRoundTrip(t *testing.T) {
	data, err := calendar.Default().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := calendar.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, calendar.Default()) {
		t.Error("re-parsed default calendar differs")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"scotland": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := calendar.Load(good); err != nil {
		t.Error(err)
	}
	if _, err := calendar.Load(bad); err == nil || !strings.Contains(err.Error(), "bad.json: calendar: scotland: division field") {
		t.Errorf("Load(bad) error = %v", err)
	}
	if _, err := calendar.Load(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Load(missing) succeeded")
	}
}

func TestParseErrors(t *testing.T) {
	event := func(fields string) string {
		return `{"scotland": {"division": "scotland", "events": [{"title": "A", "date": "2024-01-01", "notes": "", "bunting": true}, ` + fields + `]}}`
	}
	tests := []struct {
		name, input, want string
	}{
		{"empty", "", "calendar: empty input"},
		{"not an object", "[]", "calendar: unexpected JSON array, want an object"},
		{"no divisions", "{}", "calendar: no divisions"},
		{"syntax", `{"scotland": x}`, "calendar: malformed JSON at byte 14"},
		{"truncated", `{"scotland": {"division": "scotland"`, "calendar: truncated JSON"},
		{"trailing data", file + ` {}`, "calendar: unexpected data after the JSON value"},
		{"unknown division", `{"wales": {"division": "wales", "events": []}}`, `calendar: unknown field "wales"`},
		{"unknown division field", `{"scotland": {"division": "scotland", "events": [], "year": 2024}}`, `calendar: unknown field "year"`},
		{"events not an array", `{"scotland": {"division": "scotland", "events": "none"}}`, "calendar: scotland.events: unexpected JSON string"},
		{"division mismatch", `{"scotland": {"division": "england-and-wales", "events": []}}`, `calendar: scotland: division field is "england-and-wales", want "scotland"`},
		{"no events", `{"scotland": {"division": "scotland", "events": []}}`, "calendar: scotland: no events"},
		{"unknown event field", event(`{"title": "B", "date": "2024-01-02", "colour": "red"}`), `calendar: scotland event 2: unknown field "colour"`},
		{"event not an object", event(`"2024-01-02"`), "calendar: scotland event 2: unexpected JSON string, want an object"},
		{"wrong type", event(`{"title": "B", "date": "2024-01-02", "bunting": "yes"}`), "calendar: scotland event 2: bunting: unexpected JSON string"},
		{"missing title", event(`{"date": "2024-01-02"}`), "calendar: scotland event 2: missing title"},
		{"missing date", event(`{"title": "B"}`), `calendar: scotland event 2: date "": want YYYY-MM-DD`},
		{"short date", event(`{"title": "B", "date": "2024-1-02"}`), `calendar: scotland event 2: date "2024-1-02": want YYYY-MM-DD`},
		{"date with time", event(`{"title": "B", "date": "2024-01-02T00:00:00Z"}`), `date "2024-01-02T00:00:00Z": want YYYY-MM-DD`},
		{"signed date", event(`{"title": "B", "date": "2024-+1-02"}`), `date "2024-+1-02": want YYYY-MM-DD`},
		{"month", event(`{"title": "B", "date": "2024-13-01"}`), `calendar: scotland event 2: date "2024-13-01": month out of range`},
		{"day", event(`{"title": "B", "date": "2023-02-29"}`), `calendar: scotland event 2: date "2023-02-29": day out of range`},
		{"duplicate date", event(`{"title": "B", "date": "2024-01-01"}`), "calendar: scotland event 2: duplicate date 2024-01-01 (also event 1)"},
		{"too large", `{"scotland": {"division": "scotland", "events": [` + strings.Repeat(" ", 1<<20) + `]}}`, "calendar: input is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal, err := calendar.Parse(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("got %v, want an error", cal)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	// Leap day is fine.
	if _, err := calendar.Parse(strings.NewReader(event(`{"title": "B", "date": "2024-02-29"}`))); err != nil {
		t.Error(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			cal := calendar.Default()
			if _, err := cal.AddWorkingDays(ew, day(t, "2025-12-23"), 5); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}
