package calendar

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Division is a gov.uk bank holiday division: one of the top-level keys of
// bank-holidays.json.
type Division string

// The three gov.uk divisions.
const (
	EnglandAndWales Division = "england-and-wales"
	Scotland        Division = "scotland"
	NorthernIreland Division = "northern-ireland"
)

// divisions lists the divisions in gov.uk file order.
var divisions = []Division{EnglandAndWales, Scotland, NorthernIreland}

// DivisionForNation returns the division whose bank holidays apply in nation,
// one of "England", "Wales", "Scotland" or "Northern Ireland" (in any case).
func DivisionForNation(nation string) (Division, error) {
	switch strings.ToLower(strings.Join(strings.Fields(nation), " ")) {
	case "england", "wales":
		return EnglandAndWales, nil
	case "scotland":
		return Scotland, nil
	case "northern ireland":
		return NorthernIreland, nil
	}
	return "", fmt.Errorf("calendar: unknown nation %q (want England, Wales, Scotland or Northern Ireland)", nation)
}

// Holiday is one bank holiday. Date is 00:00 in Europe/London on the day.
// Notes is "Substitute day" when the holiday has moved off a weekend.
type Holiday struct {
	Date  time.Time
	Title string
	Notes string
}

// Calendar holds bank holidays per division. A Calendar is immutable and
// safe for concurrent use.
//
// Methods take the civil date (year, month, day) of their time arguments in
// Europe/London, ignoring the time of day, and return dates at 00:00 in
// Europe/London.
type Calendar struct {
	divisions map[Division]*division
}

// division holds the bank holidays of one division.
type division struct {
	name        Division
	holidays    []entry      // sorted by date
	index       map[date]int // position in holidays
	first, last int          // first and last year with any holiday
}

// entry is a parsed event.
type entry struct {
	on date
	event
}

// fileJSON is the gov.uk bank-holidays.json document. E is the type of an
// event: json.RawMessage when parsing, so that each event is decoded
// separately and errors can name it, and event when writing.
type fileJSON[E any] struct {
	EnglandAndWales *divisionJSON[E] `json:"england-and-wales,omitempty"`
	Scotland        *divisionJSON[E] `json:"scotland,omitempty"`
	NorthernIreland *divisionJSON[E] `json:"northern-ireland,omitempty"`
}

func (f *fileJSON[E]) division(d Division) *divisionJSON[E] {
	switch d {
	case EnglandAndWales:
		return f.EnglandAndWales
	case Scotland:
		return f.Scotland
	case NorthernIreland:
		return f.NorthernIreland
	}
	return nil
}

type divisionJSON[E any] struct {
	Division string `json:"division"`
	Events   []E    `json:"events"`
}

type event struct {
	Title   string `json:"title"`
	Date    string `json:"date"`
	Notes   string `json:"notes"`
	Bunting bool   `json:"bunting"`
}

// maxFileSize is the largest input Parse accepts.
const maxFileSize = 1 << 20

//go:embed bank-holidays.json
var bankHolidaysJSON []byte

var defaultCalendar = sync.OnceValue(func() *Calendar {
	c, err := Parse(bytes.NewReader(bankHolidaysJSON))
	if err != nil {
		panic("calendar: embedded bank-holidays.json: " + err.Error())
	}
	return c
})

// Default returns the calendar built into the package: bank holidays for
// 2020 to 2028 in all three divisions.
func Default() *Calendar { return defaultCalendar() }

// Load reads a calendar from a file in the gov.uk bank-holidays.json format;
// see Parse.
func Load(path string) (*Calendar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a calendar in the gov.uk bank-holidays.json format. It accepts
// any non-empty subset of the three divisions and rejects input over 1 MiB,
// unknown fields, dates not in the form YYYY-MM-DD, events without a title,
// divisions without events, repeated dates within a division and a division
// key that differs from its "division" field. Events are numbered from 1 in
// errors. Each division covers the years from its first event to its last.
func Parse(r io.Reader) (*Calendar, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, errors.New("calendar: input is larger than 1 MiB")
	}
	var f fileJSON[json.RawMessage]
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	c := &Calendar{divisions: make(map[Division]*division)}
	for _, d := range divisions {
		if dj := f.division(d); dj != nil {
			div, err := parseDivision(d, dj)
			if err != nil {
				return nil, fmt.Errorf("calendar: %w", err)
			}
			c.divisions[d] = div
		}
	}
	if len(c.divisions) == 0 {
		return nil, errors.New(`calendar: no divisions (want "england-and-wales", "scotland" or "northern-ireland")`)
	}
	return c, nil
}

// parseDivision validates and indexes the events of division d.
func parseDivision(d Division, dj *divisionJSON[json.RawMessage]) (*division, error) {
	if dj.Division != string(d) {
		return nil, fmt.Errorf("%s: division field is %q, want %q", d, dj.Division, d)
	}
	if len(dj.Events) == 0 {
		return nil, fmt.Errorf("%s: no events", d)
	}
	div := &division{name: d, index: make(map[date]int, len(dj.Events))}
	seen := make(map[date]int) // event number by date
	for i, raw := range dj.Events {
		n := i + 1
		var e event
		if err := decodeStrict(raw, &e); err != nil {
			return nil, fmt.Errorf("%s event %d: %w", d, n, err)
		}
		if strings.TrimSpace(e.Title) == "" {
			return nil, fmt.Errorf("%s event %d: missing title", d, n)
		}
		on, err := parseDate(e.Date)
		if err != nil {
			return nil, fmt.Errorf("%s event %d: date %q: %w", d, n, e.Date, err)
		}
		if prev, dup := seen[on]; dup {
			return nil, fmt.Errorf("%s event %d: duplicate date %s (also event %d)", d, n, on, prev)
		}
		seen[on] = n
		div.holidays = append(div.holidays, entry{on, e})
	}
	slices.SortFunc(div.holidays, func(a, b entry) int { return a.on.compare(b.on) })
	for i, h := range div.holidays {
		div.index[h.on] = i
	}
	div.first, div.last = div.holidays[0].on.year, div.holidays[len(div.holidays)-1].on.year
	return div, nil
}

// decodeStrict decodes exactly one JSON value from data into v, rejecting
// unknown fields, and rewrites decoding errors to say what is wrong in JSON
// terms rather than Go ones.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return errors.New("unexpected data after the JSON value")
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == io.EOF:
		return errors.New("empty input")
	case err == io.ErrUnexpectedEOF:
		return errors.New("truncated JSON")
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Errorf("unexpected JSON %s, want an object", typ.Value)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: unexpected JSON %s", typ.Field, typ.Value)
	}
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// MarshalJSON encodes the calendar in the gov.uk bank-holidays.json format,
// events in date order. Parse accepts the result and returns an equal
// calendar.
func (c *Calendar) MarshalJSON() ([]byte, error) {
	return json.Marshal(fileJSON[event]{
		EnglandAndWales: c.toJSON(EnglandAndWales),
		Scotland:        c.toJSON(Scotland),
		NorthernIreland: c.toJSON(NorthernIreland),
	})
}

// toJSON returns the events of division d, or nil if the calendar has none.
func (c *Calendar) toJSON(d Division) *divisionJSON[event] {
	div, ok := c.divisions[d]
	if !ok {
		return nil
	}
	dj := &divisionJSON[event]{Division: string(d)}
	for _, h := range div.holidays {
		dj.Events = append(dj.Events, h.event)
	}
	return dj
}

// Covers reports whether the calendar has bank holidays for division d in the
// year of day, that is, whether that year lies between the first and last
// years present in the division's data.
func (c *Calendar) Covers(d Division, day time.Time) bool {
	div, ok := c.divisions[d]
	return ok && div.covers(civil(day))
}

func (div *division) covers(day date) bool {
	return div.first <= day.year && day.year <= div.last
}

// check returns an error unless div covers day.
func (div *division) check(day date) error {
	if !div.covers(day) {
		return fmt.Errorf("calendar: %s: %s is outside the years covered, %d to %d", div.name, day, div.first, div.last)
	}
	return nil
}

// lookup returns the data of division d and checks that it covers the days.
func (c *Calendar) lookup(d Division, days ...date) (*division, error) {
	div, ok := c.divisions[d]
	if !ok {
		return nil, fmt.Errorf("calendar: no bank holidays for division %q", d)
	}
	for _, day := range days {
		if err := div.check(day); err != nil {
			return nil, err
		}
	}
	return div, nil
}

// IsBankHoliday reports whether day is a bank holiday in division d. It
// reports false for a division or year the calendar does not cover; see
// Covers.
func (c *Calendar) IsBankHoliday(d Division, day time.Time) bool {
	div, ok := c.divisions[d]
	return ok && div.isHoliday(civil(day))
}

func (div *division) isHoliday(day date) bool {
	_, ok := div.index[day]
	return ok
}

// IsWorkingDay reports whether day is a Monday to Friday that is not a bank
// holiday in division d. For a division or year the calendar does not cover
// it knows no bank holidays; see Covers.
func (c *Calendar) IsWorkingDay(d Division, day time.Time) bool {
	div, ok := c.divisions[d]
	on := civil(day)
	return !on.isWeekend() && !(ok && div.isHoliday(on))
}

func (div *division) isWorkingDay(day date) bool {
	return !day.isWeekend() && !div.isHoliday(day)
}

// AddWorkingDays returns the date n working days after the date of from in
// division d, at 00:00 in Europe/London. The date of from itself does not
// count, whether or not it is a working day, so n = 0 returns the date of
// from. It returns an error if n is negative or if from or any day counted
// lies outside the covered years.
func (c *Calendar) AddWorkingDays(d Division, from time.Time, n int) (time.Time, error) {
	if n < 0 {
		return time.Time{}, fmt.Errorf("calendar: cannot add %d working days", n)
	}
	day := civil(from)
	div, err := c.lookup(d, day)
	if err != nil {
		return time.Time{}, err
	}
	for n > 0 {
		day = day.addDays(1)
		if err := div.check(day); err != nil {
			return time.Time{}, err
		}
		if div.isWorkingDay(day) {
			n--
		}
	}
	return day.midnight(), nil
}

// WorkingDaysBetween returns the number of working days in division d after
// the date of from up to and including the date of to. If to is before from
// it returns minus the number of working days after to up to and including
// from. It returns an error if either date lies outside the covered years.
func (c *Calendar) WorkingDaysBetween(d Division, from, to time.Time) (int, error) {
	a, b := civil(from), civil(to)
	sign := 1
	if b.compare(a) < 0 {
		a, b, sign = b, a, -1
	}
	div, err := c.lookup(d, a, b)
	if err != nil {
		return 0, err
	}
	n := 0
	for day := a.addDays(1); day.compare(b) <= 0; day = day.addDays(1) {
		if div.isWorkingDay(day) {
			n++
		}
	}
	return sign * n, nil
}

// Holidays returns the bank holidays of division d in year, in date order.
// It returns nil if there are none, including for years not covered.
func (c *Calendar) Holidays(d Division, year int) []Holiday {
	div, ok := c.divisions[d]
	if !ok {
		return nil
	}
	var hs []Holiday
	for _, h := range div.holidays {
		if h.on.year == year {
			hs = append(hs, Holiday{Date: h.on.midnight(), Title: h.Title, Notes: h.Notes})
		}
	}
	return hs
}
