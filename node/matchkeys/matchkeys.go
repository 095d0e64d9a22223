package matchkeys

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	v1 "nrmnet/schemas/v1"
)

// Errors returned by this package.
var (
	// ErrConfig: a Config field is out of range.
	ErrConfig = errors.New("invalid matchkeys config")
)

// Strength says how loose the evidence behind a key is. A match reports the
// strongest key that met, for the person who reviews it.
type Strength uint8

// The strengths, weakest first.
const (
	// StrengthName: the name alone; one side or both had no date of birth.
	StrengthName Strength = iota + 1
	// StrengthBirthYear: the name and a year the date of birth may fall in.
	StrengthBirthYear
	// StrengthExactDate: the name and the date, day and month in either order.
	StrengthExactDate
)

func (s Strength) String() string {
	switch s {
	case StrengthName:
		return "name_only"
	case StrengthBirthYear:
		return "name_and_birth_year"
	case StrengthExactDate:
		return "name_and_date_of_birth"
	}
	return fmt.Sprintf("strength(%d)", uint8(s))
}

// Key is one identity key: the OPRF input, and how strong a match on it is.
// Bytes is personal data; never log it or send it unblinded.
type Key struct {
	Bytes    []byte
	Strength Strength
}

// Config says which keys to derive.
type Config struct {
	// MaxKeys caps the keys of one identity, strongest and first-recorded
	// name first. It bounds both an alert's tokens (at most
	// v1.MaxMatchTokens) and the queries a receiver makes per candidate.
	MaxKeys int
	// YearKeys adds the birth-year keys. Without them only exact dates meet,
	// and estimated dates of birth meet nothing.
	YearKeys bool
	// NameOnly adds a key with no date, so a record without a date of birth
	// can still meet. It makes online guessing much cheaper; off by default.
	NameOnly bool
	// BandSlackDays widens a case's date-of-birth range when Candidate
	// decides whether it could be in an alert's age band, so a day-month
	// swap or an estimate on the other side does not drop it.
	BandSlackDays int
}

// DefaultConfig returns the configuration measured in docs/matching.md.
func DefaultConfig() Config {
	return Config{MaxKeys: 48, YearKeys: true, NameOnly: false, BandSlackDays: 366}
}

// Validate reports every field out of range.
func (c Config) Validate() error {
	var errs []error
	if c.MaxKeys < 1 || c.MaxKeys > v1.MaxMatchTokens {
		errs = append(errs, fmt.Errorf("%w: MaxKeys is %d, want 1 to %d", ErrConfig, c.MaxKeys, v1.MaxMatchTokens))
	}
	if c.BandSlackDays < 0 || c.BandSlackDays > 3*366 {
		errs = append(errs, fmt.Errorf("%w: BandSlackDays is %d, want 0 to %d", ErrConfig, c.BandSlackDays, 3*366))
	}
	return errors.Join(errs...)
}

// Deriver derives identity keys under one Config. Every authority in a
// federation must use the same Config for keys to meet; it is safe for
// concurrent use.
type Deriver struct {
	cfg Config
}

// New returns a Deriver for cfg, or the errors in cfg.
func New(cfg Config) (*Deriver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Deriver{cfg: cfg}, nil
}

// keyDomain separates these keys from any other OPRF input; bump the version
// when the folding changes, since old and new keys no longer meet.
const keyDomain = "nrmnet/matchkey/v1"

// Key tags: which kind of name and which kind of date a key carries.
const (
	tagLatin    = 'l' // a pair of folded Latin name parts
	tagOriginal = 'o' // a name in its own script
	tagExact    = 'd' // year, then day and month as an unordered pair
	tagYear     = 'y' // a calendar year
	tagNone     = 'n' // no date
)

// Keys returns the identity keys of id: distinct, strongest first, at most
// MaxKeys. An identity with no usable name has no keys.
func (d *Deriver) Keys(id v1.ChildIdentity) []Key {
	names := nameKeys(id.Names)
	if len(names) == 0 {
		return nil
	}
	type datePart struct {
		b []byte
		s Strength
	}
	var dates []datePart
	if dob := id.DateOfBirth; dob != nil {
		if t, err := dob.Date.Time(); err == nil {
			if !dob.Estimated || dob.UncertaintyDays == 0 {
				lo, hi := t.Day(), int(t.Month())
				if lo > hi {
					lo, hi = hi, lo
				}
				dates = append(dates, datePart{[]byte{tagExact, byte(t.Year() >> 8), byte(t.Year()), byte(lo), byte(hi)}, StrengthExactDate})
			}
			if d.cfg.YearKeys {
				for _, y := range birthYears(t, dob) {
					dates = append(dates, datePart{[]byte{tagYear, byte(y >> 8), byte(y)}, StrengthBirthYear})
				}
			}
		}
	}
	if d.cfg.NameOnly {
		dates = append(dates, datePart{[]byte{tagNone}, StrengthName})
	}

	var out []Key
	seen := map[string]bool{}
	for _, dp := range dates { // strongest date first, then names in record order
		for _, n := range names {
			k := make([]byte, 0, len(keyDomain)+len(n)+len(dp.b)+1)
			k = append(k, keyDomain...)
			k = append(k, 0)
			k = append(k, n...)
			k = append(k, dp.b...)
			if seen[string(k)] {
				continue
			}
			seen[string(k)] = true
			out = append(out, Key{Bytes: k, Strength: dp.s})
			if len(out) == d.cfg.MaxKeys {
				return out
			}
		}
	}
	return out
}

// birthYears returns the calendar years from Date−UncertaintyDays to
// Date+UncertaintyDays; a documented date gives its own year.
func birthYears(t time.Time, dob *v1.DateOfBirth) []int {
	u := 0
	if dob.Estimated && dob.UncertaintyDays > 0 {
		u = min(dob.UncertaintyDays, 3*366) // v1 bounds it; stay bounded here too
	}
	first, last := t.AddDate(0, 0, -u).Year(), t.AddDate(0, 0, u).Year()
	ys := make([]int, 0, last-first+1)
	for y := first; y <= last; y++ {
		ys = append(ys, y)
	}
	return ys
}

// nameKeys returns the encoded name parts of every recorded name: for each
// name, the unordered pairs of its given and family forms, then its
// original-script form. Distinct, in record order.
func nameKeys(names []v1.PersonName) [][]byte {
	var out [][]byte
	seen := map[string]bool{}
	add := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			out = append(out, b)
		}
	}
	for _, n := range names {
		gs, fs := partForms(n.Given), partForms(n.Family)
		switch {
		case len(gs) == 0 && len(fs) == 0:
		case len(gs) == 0 || len(fs) == 0:
			for _, f := range append(gs, fs...) {
				add(pairKey(f, ""))
			}
		default:
			for _, g := range gs {
				for _, f := range fs {
					add(pairKey(g, f))
				}
			}
		}
		if o := foldOriginal(n.Original); o != "" {
			add(appendString([]byte{tagOriginal}, o))
		}
	}
	return out
}

// pairKey encodes an unordered pair of name forms, length-prefixed so that no
// two pairs share an encoding.
func pairKey(a, b string) []byte {
	if b < a {
		a, b = b, a
	}
	k := []byte{tagLatin}
	k = appendString(k, a)
	return appendString(k, b)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AlertFields returns the coarse fields an alert about this child carries:
// the age band at the given instant (from the centre of an estimate), and the
// recorded sex.
func AlertFields(id v1.ChildIdentity, at time.Time) (v1.AgeBand, v1.Sex) {
	sex := id.Sex
	if sex == "" {
		sex = v1.SexUnknown
	}
	if id.DateOfBirth == nil {
		return v1.AgeUnknown, sex
	}
	t, err := id.DateOfBirth.Date.Time()
	if err != nil {
		return v1.AgeUnknown, sex
	}
	return v1.AgeBandOf(ageAt(t, at)), sex
}

// ID names the keys this Deriver derives: the key format's version and the
// configuration fields that change the keys (not BandSlackDays, which only
// changes Candidate). Keys cached under one ID are the keys Keys returns
// for the same identity under any Deriver with that ID.
func (d *Deriver) ID() string {
	return fmt.Sprintf("%s;max=%d;year=%t;name=%t", keyDomain, d.cfg.MaxKeys, d.cfg.YearKeys, d.cfg.NameOnly)
}

// Candidate reports whether a receiver should ask about a case with identity
// id for an alert carrying band and sex: the sexes agree or either is not
// known, and the child's age, over its date-of-birth range widened by
// BandSlackDays, reaches the band. It reads only id's Sex and DateOfBirth
// (see Eligible).
func (d *Deriver) Candidate(id v1.ChildIdentity, at time.Time, band v1.AgeBand, sex v1.Sex) bool {
	return d.Eligible(id.Sex, id.DateOfBirth, at, band, sex)
}

// Eligible is Candidate given only the case's recorded sex and date of
// birth (nil when none is recorded), which is all Candidate reads: a store
// can keep just these two fields in an index to narrow its cases for an
// alert and get exactly Candidate's answer. A case with no date of birth,
// or one that does not parse, is always eligible for its sex.
func (d *Deriver) Eligible(caseSex v1.Sex, dob *v1.DateOfBirth, at time.Time, band v1.AgeBand, sex v1.Sex) bool {
	if !sexMayMatch(caseSex, sex) {
		return false
	}
	lo, hi, ok := bandAges(band)
	if !ok || dob == nil {
		return true
	}
	t, err := dob.Date.Time()
	if err != nil {
		return true
	}
	u := d.cfg.BandSlackDays
	if dob.Estimated {
		u += dob.UncertaintyDays
	}
	youngest := ageAt(t.AddDate(0, 0, u), at)
	oldest := ageAt(t.AddDate(0, 0, -u), at)
	return oldest >= lo && youngest <= hi
}

func sexMayMatch(a, b v1.Sex) bool {
	known := func(s v1.Sex) bool { return s == v1.SexFemale || s == v1.SexMale }
	return !known(a) || !known(b) || a == b
}

// bandAges returns the whole-year ages a band covers; ok is false for an
// unknown or unrecognised band, which every case may be in.
func bandAges(b v1.AgeBand) (lo, hi int, ok bool) {
	switch b {
	case v1.AgeUnder10:
		return 0, 9, true
	case v1.Age10To12:
		return 10, 12, true
	case v1.Age13To15:
		return 13, 15, true
	case v1.Age16To17:
		return 16, 17, true
	}
	return 0, 0, false
}

// ageAt returns the age in whole years at instant at of a child born on
// birth (a civil date at midnight UTC).
func ageAt(birth, at time.Time) int {
	at = at.UTC()
	y := at.Year() - birth.Year()
	if at.Month() < birth.Month() || (at.Month() == birth.Month() && at.Day() < birth.Day()) {
		y--
	}
	return y
}

// sortedUnique sorts ss and drops repeats and empty strings.
func sortedUnique(ss []string) []string {
	ss = slices.DeleteFunc(ss, func(s string) bool { return s == "" })
	slices.Sort(ss)
	return slices.Compact(ss)
}
