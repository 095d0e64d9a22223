package calendar

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Unit is the unit of a Period.
type Unit int

// The units of a Period.
const (
	WorkingDays  Unit = iota + 1 // days that are Monday to Friday and not bank holidays
	CalendarDays                 // all days
	Hours                        // exact hours of elapsed time
)

// String returns the plural name of u, as written in a period: "working days",
// "calendar days" or "hours".
func (u Unit) String() string {
	switch u {
	case WorkingDays:
		return "working days"
	case CalendarDays:
		return "calendar days"
	case Hours:
		return "hours"
	}
	return "Unit(" + strconv.Itoa(int(u)) + ")"
}

// units maps each accepted spelling of a unit, in lower case, to the unit.
var units = map[string]Unit{
	"working days": WorkingDays, "working day": WorkingDays, "wd": WorkingDays,
	"calendar days": CalendarDays, "calendar day": CalendarDays, "d": CalendarDays,
	"hours": Hours, "hour": Hours, "h": Hours,
}

// Period is a length of time in a statutory timescale, such as "5 working
// days". It implements encoding.TextMarshaler and encoding.TextUnmarshaler,
// so configuration files can hold periods as strings.
type Period struct {
	Amount int
	Unit   Unit
}

// ParsePeriod parses a whole number followed by a unit: "working days" (or
// "working day", "wd"), "calendar days" ("calendar day", "d") or "hours"
// ("hour", "h"), in any case, with optional spaces, such as "5 working days",
// "30d" or "4 hours". A bare "days" is rejected as ambiguous.
func ParsePeriod(s string) (Period, error) {
	text := strings.TrimSpace(s)
	i := strings.IndexFunc(text, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(text)
	}
	if i == 0 {
		return Period{}, fmt.Errorf(`calendar: period %q: want a whole number and a unit, such as "5 working days"`, s)
	}
	amount, err := strconv.Atoi(text[:i])
	if err != nil {
		return Period{}, fmt.Errorf("calendar: period %q: amount out of range", s)
	}
	if strings.HasPrefix(text[i:], ".") || strings.HasPrefix(text[i:], ",") {
		return Period{}, fmt.Errorf("calendar: period %q: amount must be a whole number", s)
	}
	name := strings.ToLower(strings.Join(strings.Fields(text[i:]), " "))
	if unit, ok := units[name]; ok {
		return Period{amount, unit}, nil
	}
	switch name {
	case "":
		return Period{}, fmt.Errorf(`calendar: period %q: missing unit ("working days", "calendar days" or "hours")`, s)
	case "day", "days":
		return Period{}, fmt.Errorf(`calendar: period %q: ambiguous unit %q (say "working days" or "calendar days")`, s, name)
	}
	return Period{}, fmt.Errorf(`calendar: period %q: unknown unit %q (want "working days", "calendar days" or "hours")`, s, name)
}

// String formats p as ParsePeriod accepts it, such as "5 working days" or
// "1 hour".
func (p Period) String() string {
	unit := p.Unit.String()
	if p.Amount == 1 {
		unit = strings.TrimSuffix(unit, "s")
	}
	return strconv.Itoa(p.Amount) + " " + unit
}

func (p Period) validate() error {
	if p.Amount < 0 {
		return fmt.Errorf("calendar: period %v: negative amount", p)
	}
	if p.Unit < WorkingDays || p.Unit > Hours {
		return fmt.Errorf("calendar: period %v: unknown unit", p)
	}
	return nil
}

// MarshalText implements encoding.TextMarshaler, returning p.String(). It
// fails if the amount is negative or the unit unknown.
func (p Period) MarshalText() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using ParsePeriod.
func (p *Period) UnmarshalText(text []byte) error {
	q, err := ParsePeriod(string(text))
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// Due returns the end of period p starting at start, for division d, in
// Europe/London:
//   - Hours adds exactly that much elapsed time to start;
//   - CalendarDays adds days to the date of start, keeping its time of day;
//   - WorkingDays adds working days as AddWorkingDays does, keeping the time
//     of day of start.
//
// Only WorkingDays uses the division and can fail for lack of bank holidays.
// The UK clocks change on Sundays, so only CalendarDays can land on a day
// where the time of day is skipped or repeated; time.Date then decides.
func (c *Calendar) Due(d Division, start time.Time, p Period) (time.Time, error) {
	if err := p.validate(); err != nil {
		return time.Time{}, err
	}
	start = start.In(london)
	switch p.Unit {
	case Hours:
		if int64(p.Amount) > math.MaxInt64/int64(time.Hour) {
			return time.Time{}, fmt.Errorf("calendar: period %v: too long", p)
		}
		return start.Add(time.Duration(p.Amount) * time.Hour), nil
	case CalendarDays:
		return start.AddDate(0, 0, p.Amount), nil
	default: // WorkingDays
		day, err := c.AddWorkingDays(d, start, p.Amount)
		if err != nil {
			return time.Time{}, err
		}
		y, m, dd := day.Date()
		h, mi, s := start.Clock()
		return time.Date(y, m, dd, h, mi, s, start.Nanosecond(), london), nil
	}
}
