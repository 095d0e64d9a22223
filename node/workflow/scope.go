package workflow

import (
	"fmt"
	"time"

	v1 "nrmnet/schemas/v1"
)

// london is the zone in which dates are read: the NRM is a UK process.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err) // unreachable: node/calendar embeds the time zone database
	}
	return loc
}()

// ScopeResult is what the scope rule says about a child on a date.
type ScopeResult struct {
	// InScope: a local panel may decide. False for a child out of scope,
	// whose case goes to the Single Competent Authority, and when
	// NeedsAssessment.
	InScope bool
	// AgeDisputed: the child's age is disputed, so the case is out of scope
	// and goes to the SCA.
	AgeDisputed bool
	// NeedsAssessment: there is no usable date of birth; a person decides.
	NeedsAssessment bool
	// Uncertain: the date of birth is an estimate whose window crosses the
	// boundary. InScope follows the estimate's centre; a person should
	// confirm.
	Uncertain bool
	// Eighteenth is the 18th birthday (of the centre, for an estimate); empty
	// without a date of birth.
	Eighteenth v1.Date
	// Age is the child's age in whole years on the date of the check (of
	// the centre, for an estimate); 0 without a date of birth.
	Age int
	// DaysToEighteenth is the number of days from the date of the check to
	// Eighteenth: 0 on the birthday, negative after it.
	DaysToEighteenth int
	// Reason says why, in words.
	Reason string
}

// CheckScope applies the scope rule for devolved decisions (DOMAIN.md:
// "children aged 17 or under and more than 100 days from their 18th birthday;
// an age-disputed person is out of scope and goes to the SCA") on the date of
// at in Europe/London, with the margin p.ScopeMargin in calendar days. Apply
// checks scope at the referral.
//
// A child born on 29 February turns 18 on 1 March: 18 is not a multiple of
// four, so their 18th birthday never falls in a leap year. Scots law says so
// expressly (Age of Legal Capacity (Scotland) Act 1991 s6); 1 March is also
// the usual reading in England and Wales, and it is what one line changes if
// guidance ever says otherwise.
func CheckScope(id v1.ChildIdentity, at time.Time, p Policy) ScopeResult {
	margin := p.ScopeMargin.Amount
	today := dateOf(at)
	var r ScopeResult
	dob := id.DateOfBirth
	var centre time.Time
	haveDOB := false
	if dob != nil {
		if t, err := dob.Date.Time(); err == nil && dob.Date.Valid() && !t.After(today) {
			centre, haveDOB = t, true
			r.Eighteenth = v1.DateOf(eighteenth(centre))
			r.DaysToEighteenth = daysBetween(today, eighteenth(centre))
			r.Age = ageOn(centre, today)
		}
	}
	switch {
	case id.AgeDisputed:
		r.AgeDisputed = true
		r.Reason = "the child's age is disputed: the Single Competent Authority decides"
		return r
	case !haveDOB && dob != nil:
		r.NeedsAssessment = true
		r.Reason = fmt.Sprintf("the date of birth %q is not a date on or before %s: a person must decide", dob.Date, v1.DateOf(today))
		return r
	case !haveDOB:
		r.NeedsAssessment = true
		r.Reason = "no date of birth: a person must decide"
		return r
	}
	r.InScope = r.DaysToEighteenth > margin
	switch {
	case r.DaysToEighteenth <= 0:
		r.Reason = fmt.Sprintf("18 or over (18th birthday %s): the Single Competent Authority decides", r.Eighteenth)
	case !r.InScope:
		r.Reason = fmt.Sprintf("%d days before the 18th birthday on %s, not more than %d: the Single Competent Authority decides",
			r.DaysToEighteenth, r.Eighteenth, margin)
	default:
		r.Reason = fmt.Sprintf("17 or under, %d days before the 18th birthday on %s, more than %d", r.DaysToEighteenth, r.Eighteenth, margin)
	}
	if u := dob.UncertaintyDays; dob.Estimated && u > 0 {
		oldest, youngest := centre.AddDate(0, 0, -u), centre.AddDate(0, 0, u)
		if (daysBetween(today, eighteenth(oldest)) > margin) != (daysBetween(today, eighteenth(youngest)) > margin) {
			r.Uncertain = true
			r.Reason += fmt.Sprintf("; but the date of birth is estimated, %s to %s, and the window crosses the boundary: a person must confirm",
				v1.DateOf(oldest), v1.DateOf(youngest))
		}
	}
	return r
}

// eighteenth returns the 18th birthday of someone born on dob (a UTC
// midnight). time.Date would roll 29 February into 1 March by itself; the
// rule is spelt out so that it is a decision, not an accident.
func eighteenth(dob time.Time) time.Time {
	y, m, d := dob.Date()
	if m == time.February && d == 29 && !isLeap(y+18) {
		return time.Date(y+18, time.March, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y+18, m, d, 0, 0, 0, 0, time.UTC)
}

// ageOn returns the age in whole years on day of someone born on dob (both
// UTC midnights), with the same 29 February rule as eighteenth: a birthday
// that does not exist in a year falls on 1 March.
func ageOn(dob, day time.Time) int {
	age := day.Year() - dob.Year()
	_, m, d := dob.Date()
	if m == time.February && d == 29 && !isLeap(day.Year()) {
		m, d = time.March, 1
	}
	if day.Before(time.Date(day.Year(), m, d, 0, 0, 0, 0, time.UTC)) {
		age--
	}
	return max(age, 0)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// dateOf returns the date of t in Europe/London as a UTC midnight, for
// counting days.
func dateOf(t time.Time) time.Time {
	y, m, d := t.In(london).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// daysBetween counts the days from UTC midnight a to UTC midnight b.
func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }
