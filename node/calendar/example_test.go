package calendar_test

import (
	"fmt"
	"log"
	"time"

	"nrmnet/node/calendar"
)

// A referral received on Tuesday 23 December 2025 with five working days to
// respond: Christmas Day, Boxing Day and New Year’s Day do not count, nor, in
// Scotland, does 2 January.
func ExampleCalendar_AddWorkingDays() {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		log.Fatal(err)
	}
	received := time.Date(2025, time.December, 23, 10, 30, 0, 0, london)
	cal := calendar.Default()
	for _, nation := range []string{"Wales", "Scotland"} {
		division, err := calendar.DivisionForNation(nation)
		if err != nil {
			log.Fatal(err)
		}
		due, err := cal.AddWorkingDays(division, received, 5)
		if err != nil {
			log.Fatal(err) // outside the years the calendar covers
		}
		fmt.Printf("%s: %s\n", nation, due.Format("Monday 2 January 2006 15:04 MST"))
	}
	// Output:
	// Wales: Friday 2 January 2026 00:00 GMT
	// Scotland: Monday 5 January 2026 00:00 GMT
}

func ExampleCalendar_Due() {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		log.Fatal(err)
	}
	received := time.Date(2025, time.December, 23, 10, 30, 0, 0, london)
	for _, s := range []string{"4 hours", "5 working days", "30 calendar days"} {
		period, err := calendar.ParsePeriod(s)
		if err != nil {
			log.Fatal(err)
		}
		due, err := calendar.Default().Due(calendar.NorthernIreland, received, period)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", period, due.Format("Mon 2 Jan 2006 15:04"))
	}
	// Output:
	// 4 hours: Tue 23 Dec 2025 14:30
	// 5 working days: Fri 2 Jan 2026 10:30
	// 30 calendar days: Thu 22 Jan 2026 10:30
}
