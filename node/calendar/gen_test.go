package calendar

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"testing"
	"time"
)

// This file holds the generator of bank-holidays.json. Regenerate the file
// with
//
//	go test ./node/calendar -run TestGenerated -update

var update = flag.Bool("update", false, "rewrite bank-holidays.json from the generator")

// The years the generator covers.
const firstYear, lastYear = 2020, 2028

func TestGenerated(t *testing.T) {
	want := generate()
	if *update {
		if err := os.WriteFile("bank-holidays.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(bankHolidaysJSON, want) {
		t.Error("bank-holidays.json differs from the generator's output; run go test ./node/calendar -run TestGenerated -update")
	}
}

// generate returns bank-holidays.json for firstYear to lastYear.
func generate() []byte {
	f := fileJSON[event]{
		EnglandAndWales: generateDivision(EnglandAndWales),
		Scotland:        generateDivision(Scotland),
		NorthernIreland: generateDivision(NorthernIreland),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func generateDivision(d Division) *divisionJSON[event] {
	dj := &divisionJSON[event]{Division: string(d)}
	for y := firstYear; y <= lastYear; y++ {
		for _, h := range holidaysOf(d, y) {
			h.Date = h.on.String()
			dj.Events = append(dj.Events, h.event)
		}
	}
	return dj
}

// oneOffs are the bank holidays proclaimed for single occasions, in all
// three divisions. Their titles are those on gov.uk.
var oneOffs = []entry{
	holiday("Platinum Jubilee bank holiday", date{2022, time.June, 3}, true),
	holiday("Bank Holiday for the State Funeral of Queen Elizabeth II", date{2022, time.September, 19}, false),
	holiday("Bank holiday for the coronation of King Charles III", date{2023, time.May, 8}, true),
}

func holiday(title string, on date, bunting bool) entry {
	return entry{on: on, event: event{Title: title, Bunting: bunting}}
}

// holidaysOf returns the bank holidays of division d in year y, in date
// order. Bunting follows gov.uk: false for Good Friday, the Battle of the
// Boyne and the State Funeral, true otherwise.
func holidaysOf(d Division, y int) []entry {
	var hs holidays
	easter := easterSunday(y)

	if d == Scotland {
		hs.scottishNewYear(y)
	} else {
		hs.fixed(holiday("New Year’s Day", date{y, time.January, 1}, true))
	}
	if d == NorthernIreland {
		hs.fixed(holiday("St Patrick’s Day", date{y, time.March, 17}, true))
	}
	hs.add(holiday("Good Friday", easter.addDays(-2), false))
	if d != Scotland {
		hs.add(holiday("Easter Monday", easter.addDays(1), true))
	}
	if y == 2020 {
		// Moved from Monday 4 May for the 75th anniversary of VE Day.
		hs.add(holiday("Early May bank holiday (VE day)", date{2020, time.May, 8}, true))
	} else {
		hs.add(holiday("Early May bank holiday", firstMonday(y, time.May), true))
	}
	if y == 2022 {
		// Moved from Monday 30 May for the Platinum Jubilee.
		hs.add(holiday("Spring bank holiday", date{2022, time.June, 2}, true))
	} else {
		hs.add(holiday("Spring bank holiday", lastMonday(y, time.May), true))
	}
	if d == NorthernIreland {
		hs.fixed(holiday("Battle of the Boyne (Orangemen’s Day)", date{y, time.July, 12}, false))
	}
	if d == Scotland {
		hs.add(holiday("Summer bank holiday", firstMonday(y, time.August), true))
	} else {
		hs.add(holiday("Summer bank holiday", lastMonday(y, time.August), true))
	}
	if d == Scotland {
		hs.fixed(holiday("St Andrew’s Day", date{y, time.November, 30}, true))
	}
	hs.fixed(
		holiday("Christmas Day", date{y, time.December, 25}, true),
		holiday("Boxing Day", date{y, time.December, 26}, true),
	)
	for _, h := range oneOffs {
		if h.on.year == y {
			hs.add(h)
		}
	}

	slices.SortFunc(hs, func(a, b entry) int { return a.on.compare(b.on) })
	return hs
}

// holidays collects the bank holidays of one division and year.
type holidays []entry

func (hs *holidays) add(h entry) {
	if hs.has(h.on) {
		panic("two bank holidays on " + h.on.String())
	}
	*hs = append(*hs, h)
}

func (hs holidays) has(on date) bool {
	return slices.ContainsFunc(hs, func(h entry) bool { return h.on == on })
}

// fixed adds holidays with fixed dates. One that falls on a weekday keeps its
// date. One that falls at a weekend moves to the next weekday that is not
// already a holiday and is noted "Substitute day". Holidays that keep their
// dates are placed first, so in 2022, when Christmas Day was a Sunday, Boxing
// Day stays on Monday 26 December and Christmas Day moves to Tuesday 27
// December, as gov.uk lists them.
func (hs *holidays) fixed(list ...entry) {
	var moved []entry
	for _, h := range list {
		if h.on.isWeekend() {
			moved = append(moved, h)
		} else {
			hs.add(h)
		}
	}
	for _, h := range moved {
		for h.on.isWeekend() || hs.has(h.on) {
			h.on = h.on.addDays(1)
		}
		h.Notes = "Substitute day"
		hs.add(h)
	}
}

// scottishNewYear adds New Year’s Day and 2nd January. When either falls at
// a weekend, the pair is taken on the first two weekdays of the year, in
// order, and each that moved is noted "Substitute day". This is how gov.uk
// labels years when 1 January is a Sunday (2023: New Year’s Day on Monday 2
// January, 2nd January on Tuesday 3 January); unlike Christmas, the day that
// was already a weekday is relabelled rather than kept.
func (hs *holidays) scottishNewYear(y int) {
	on := date{y, time.January, 1}
	for i, title := range []string{"New Year’s Day", "2nd January"} {
		for on.isWeekend() {
			on = on.addDays(1)
		}
		h := holiday(title, on, true)
		if on.day != i+1 {
			h.Notes = "Substitute day"
		}
		hs.add(h)
		on = on.addDays(1)
	}
}

func firstMonday(y int, m time.Month) date {
	d := date{y, m, 1}
	for d.utc().Weekday() != time.Monday {
		d = d.addDays(1)
	}
	return d
}

func lastMonday(y int, m time.Month) date {
	d := date{y, m + 1, 1}.addDays(-1)
	for d.utc().Weekday() != time.Monday {
		d = d.addDays(-1)
	}
	return d
}

// easterSunday returns the date of Easter Sunday in the Gregorian calendar,
// by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
func easterSunday(y int) date {
	a := y % 19
	b, c := y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return date{y, time.Month(month), day}
}

func TestEasterSunday(t *testing.T) {
	for _, want := range []string{
		"2020-04-12", "2021-04-04", "2022-04-17", "2023-04-09", "2024-03-31",
		"2025-04-20", "2026-04-05", "2027-03-28", "2028-04-16",
		"1818-03-22", "2038-04-25", "2285-03-22", // earliest and latest possible
	} {
		t.Run(want, func(t *testing.T) {
			on, err := parseDate(want)
			if err != nil {
				t.Fatal(err)
			}
			if got := easterSunday(on.year); got != on {
				t.Errorf("easterSunday(%d) = %s, want %s", on.year, got, on)
			}
		})
	}
}
