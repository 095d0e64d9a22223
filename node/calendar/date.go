package calendar

import (
	"cmp"
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // Europe/London must resolve even in a scratch container.
)

// london is the location in which civil dates are read and returned.
var london = mustLoadLocation("Europe/London")

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err) // unreachable: the time zone database is embedded
	}
	return loc
}

// date is a civil date: a day in the calendar, with no time of day or zone.
type date struct {
	year  int
	month time.Month
	day   int
}

// civil returns the date of t in Europe/London.
func civil(t time.Time) date {
	y, m, d := t.In(london).Date()
	return date{y, m, d}
}

// utc returns the start of d in UTC, used only for arithmetic.
func (d date) utc() time.Time {
	return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, time.UTC)
}

// midnight returns the start of d in Europe/London.
func (d date) midnight() time.Time {
	return time.Date(d.year, d.month, d.day, 0, 0, 0, 0, london)
}

// addDays returns the date n days after d (before d if n is negative).
func (d date) addDays(n int) date {
	y, m, dd := d.utc().AddDate(0, 0, n).Date()
	return date{y, m, dd}
}

func (d date) isWeekend() bool {
	wd := d.utc().Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

func (d date) compare(e date) int {
	return cmp.Or(cmp.Compare(d.year, e.year), cmp.Compare(d.month, e.month), cmp.Compare(d.day, e.day))
}

// String formats d as YYYY-MM-DD.
func (d date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.year, int(d.month), d.day)
}

// parseDate parses a date in exactly the form YYYY-MM-DD.
func parseDate(s string) (date, error) {
	if len(s) != len("YYYY-MM-DD") || s[4] != '-' || s[7] != '-' {
		return date{}, errors.New("want YYYY-MM-DD")
	}
	y, okY := digits(s[0:4])
	m, okM := digits(s[5:7])
	d, okD := digits(s[8:10])
	if !okY || !okM || !okD {
		return date{}, errors.New("want YYYY-MM-DD")
	}
	if m < 1 || m > 12 {
		return date{}, errors.New("month out of range")
	}
	if lastDay := (date{y, time.Month(m) + 1, 1}).addDays(-1).day; d < 1 || d > lastDay {
		return date{}, errors.New("day out of range")
	}
	return date{y, time.Month(m), d}, nil
}

// digits parses a string of ASCII decimal digits.
func digits(s string) (int, bool) {
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}
