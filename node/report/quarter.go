package report

import (
	"fmt"
	"strconv"
	"time"
)

// london is the zone in which quarters begin and end.
var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err) // unreachable: node/calendar embeds the time zone database
	}
	return loc
}()

// Quarter is a calendar quarter, written "2026-Q3": July to September 2026.
// Quarters begin and end at midnight in Europe/London, as the Home Office
// statistics' quarters do.
type Quarter struct {
	Year int // 2000 to 2199
	Q    int // 1 to 4
}

// ParseQuarter reads "YYYY-Qn".
func ParseQuarter(s string) (Quarter, error) {
	if len(s) != 7 || s[4] != '-' || s[5] != 'Q' {
		return Quarter{}, fmt.Errorf("report: quarter %q: want the form 2026-Q3: %w", short(s), ErrInvalidQuarter)
	}
	y, err := strconv.Atoi(s[:4])
	if err != nil || s[0] == '+' || s[0] == '-' {
		return Quarter{}, fmt.Errorf("report: quarter %q: the year is not a number: %w", short(s), ErrInvalidQuarter)
	}
	q := Quarter{Year: y, Q: int(s[6] - '0')}
	if err := q.Validate(); err != nil {
		return Quarter{}, err
	}
	return q, nil
}

// Validate checks the year and the quarter number.
func (q Quarter) Validate() error {
	if q.Year < 2000 || q.Year > 2199 {
		return fmt.Errorf("report: quarter year %d: want 2000 to 2199: %w", q.Year, ErrInvalidQuarter)
	}
	if q.Q < 1 || q.Q > 4 {
		return fmt.Errorf("report: quarter number %d: want 1 to 4: %w", q.Q, ErrInvalidQuarter)
	}
	return nil
}

// String formats the quarter as "2026-Q3".
func (q Quarter) String() string { return fmt.Sprintf("%04d-Q%d", q.Year, q.Q) }

// MarshalText implements encoding.TextMarshaler.
func (q Quarter) MarshalText() ([]byte, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return []byte(q.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (q *Quarter) UnmarshalText(b []byte) error {
	p, err := ParseQuarter(string(b))
	if err != nil {
		return err
	}
	*q = p
	return nil
}

// Start is the first instant of the quarter: midnight in Europe/London.
func (q Quarter) Start() time.Time {
	return time.Date(q.Year, time.Month(3*(q.Q-1)+1), 1, 0, 0, 0, 0, london)
}

// End is the first instant after the quarter.
func (q Quarter) End() time.Time { return q.Next().Start() }

// Contains reports whether t falls in the quarter.
func (q Quarter) Contains(t time.Time) bool {
	return !t.Before(q.Start()) && t.Before(q.End())
}

// span is a quarter's bounds, computed once for a loop over many cases.
type span struct{ start, end time.Time }

func (q Quarter) span() span { return span{q.Start(), q.End()} }

// Contains reports whether t falls in the span.
func (s span) Contains(t time.Time) bool { return !t.Before(s.start) && t.Before(s.end) }

// Next is the following quarter.
func (q Quarter) Next() Quarter {
	if q.Q == 4 {
		return Quarter{Year: q.Year + 1, Q: 1}
	}
	return Quarter{Year: q.Year, Q: q.Q + 1}
}

// QuarterOf returns the quarter in which t falls, in Europe/London.
func QuarterOf(t time.Time) Quarter {
	l := t.In(london)
	return Quarter{Year: l.Year(), Q: (int(l.Month())-1)/3 + 1}
}

// short keeps error messages short when quoting hostile input.
func short(s string) string {
	if len(s) <= 20 {
		return s
	}
	n := 0
	for i := range s {
		if i > 20 {
			break
		}
		n = i
	}
	return s[:n] + "..."
}
