package synthetic

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	v1 "nrmnet/schemas/v1"
)

// VariantRates are the probabilities with which Variant changes each part of
// a child's identity. Name changes are drawn independently of each other; the
// date of birth gets at most one change (dropped, else shifted if estimated,
// else day and month swapped). A rate applies only where the change is
// possible: a spelling change needs a name the tables know another spelling
// of, an alias needs an alias on the record, and so on.
type VariantRates struct {
	// GivenSpelling: the given name is recorded in another spelling of the
	// same name (Mohammed for Muhammad, Tesfai for Tesfay, Nam for Van Nam).
	GivenSpelling float64
	// FamilySpelling: likewise for the family name (Nguyễn for Nguyen,
	// Al-Enezi for Alenezi, Hoxhaj for Hoxha, Cheung for Zhang).
	FamilySpelling float64
	// SwapOrder: given and family names are recorded the other way round.
	SwapOrder float64
	// SwapOrderFamilyFirst: the same, for names whose own order puts the
	// family name first (Vietnamese, Chinese), where the swap is common.
	SwapOrderFamilyFirst float64
	// UpperFamily: the family name is recorded in capitals, as some police
	// systems do.
	UpperFamily float64
	// AliasAsUsed: the other authority knows the child only by the alias on
	// this record. No spelling change is then made to the name.
	AliasAsUsed float64
	// DropOriginal: the name in its own script is not recorded.
	DropOriginal float64
	// ShiftEstimate: an estimated date of birth becomes another estimate,
	// shifted by 1 to UncertaintyDays days either way.
	ShiftEstimate float64
	// SwapDayMonth: the day and month of the date of birth are swapped, where
	// that gives another valid date (a US-style entry).
	SwapDayMonth float64
	// DropDateOfBirth: no date of birth is recorded.
	DropDateOfBirth float64
}

// DefaultVariantRates returns the rates Variant uses unless WithVariantRates
// is given.
func DefaultVariantRates() VariantRates {
	return VariantRates{
		GivenSpelling:        0.40,
		FamilySpelling:       0.30,
		SwapOrder:            0.05,
		SwapOrderFamilyFirst: 0.35,
		UpperFamily:          0.10,
		AliasAsUsed:          0.15,
		DropOriginal:         0.50,
		ShiftEstimate:        0.60,
		SwapDayMonth:         0.04,
		DropDateOfBirth:      0.03,
	}
}

var errRate = errors.New("must be between 0 and 1")

func (v VariantRates) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		rate float64
	}{
		{"GivenSpelling", v.GivenSpelling}, {"FamilySpelling", v.FamilySpelling},
		{"SwapOrder", v.SwapOrder}, {"SwapOrderFamilyFirst", v.SwapOrderFamilyFirst},
		{"UpperFamily", v.UpperFamily}, {"AliasAsUsed", v.AliasAsUsed}, {"DropOriginal", v.DropOriginal},
		{"ShiftEstimate", v.ShiftEstimate}, {"SwapDayMonth", v.SwapDayMonth}, {"DropDateOfBirth", v.DropDateOfBirth},
	} {
		if !(f.rate >= 0 && f.rate <= 1) {
			errs = append(errs, fmt.Errorf("variant rate %s is %v: %w", f.name, f.rate, errRate))
		}
	}
	return errors.Join(errs...)
}

// Variation records which changes Variant made.
type Variation uint16

// The changes Variant makes.
const (
	VariedGivenSpelling  Variation = 1 << iota // another spelling of the given name
	VariedFamilySpelling                       // another spelling of the family name
	VariedOrder                                // given and family names swapped
	VariedUpperFamily                          // family name in capitals
	VariedAlias                                // the alias recorded as the used name
	VariedOriginal                             // the original-script form dropped
	VariedDOBShifted                           // estimated date of birth moved within its uncertainty
	VariedDOBDayMonth                          // day and month of the date of birth swapped
	VariedDOBDropped                           // no date of birth
)

var variationNames = []string{
	"given_spelling", "family_spelling", "order", "upper_family", "alias",
	"original_dropped", "dob_shifted", "dob_day_month", "dob_dropped",
}

// Has reports whether v includes every change in x.
func (v Variation) Has(x Variation) bool { return v&x == x }

// String lists the changes, e.g. "given_spelling|dob_shifted".
func (v Variation) String() string {
	var parts []string
	for i, n := range variationNames {
		if v&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Variant returns the identity of the child in c as another authority might
// have recorded it; see VariantDetail.
func (g *Generator) Variant(c *v1.Case) v1.ChildIdentity {
	id, _ := g.VariantDetail(c)
	return id
}

// VariantDetail returns the identity of the child in c as another authority
// might have recorded it, and which changes were made. It is the same child:
// the sex, nationalities, languages and age-dispute flag are kept, and a date
// of birth, if recorded, is the original, one shifted within the stated
// uncertainty, or one with day and month swapped.
//
// The changes are drawn at the rates in VariantRates. The variant always
// differs from the original in its first name (given or family part) or its
// date of birth: if no drawn change did that, one is forced, trying in turn
// another given spelling, another family spelling, the family name in
// capitals, swapped order, and finally dropping the date of birth.
//
// Because of that forcing, the observed rate of a change is higher than its
// configured rate. With the default rates and case mix, about: 47% another
// given spelling, 20% another family spelling, 27% family in capitals (mostly
// forced, for English names with no other spelling in the tables), 7% swapped
// order, 2% alias as the used name, 5% original script dropped, 20% estimated
// date of birth shifted, 1% day and month swapped, 3.5% no date of birth.
// VariantDetail reports exactly what was done, so a matching test can break
// its recall down by change.
//
// The variant records one name, of kind used; the alias, when the case has
// one and it was not taken as the used name, is kept as an alias half the
// time. Variants come from their own stream of the seed.
func (g *Generator) VariantDetail(c *v1.Case) (v1.ChildIdentity, Variation) {
	r, rates := g.variants, g.rates
	orig := c.Identity
	out := v1.ChildIdentity{
		Sex:               orig.Sex,
		Nationalities:     append([]string(nil), orig.Nationalities...),
		Languages:         append([]string(nil), orig.Languages...),
		InterpreterNeeded: orig.InterpreterNeeded,
		AgeDisputed:       orig.AgeDisputed,
	}
	var nat *nationality
	if len(orig.Nationalities) > 0 {
		nat = tables.byCode[orig.Nationalities[0]]
	}
	var v Variation

	used := orig.Names[0]
	var alias *v1.PersonName
	for i := range orig.Names {
		if orig.Names[i].Kind == v1.NameAlias {
			alias = &orig.Names[i]
			break
		}
	}
	name := v1.PersonName{Kind: v1.NameUsed, Given: used.Given, Family: used.Family, Original: used.Original}
	if alias != nil && chance(r, rates.AliasAsUsed) {
		name = v1.PersonName{Kind: v1.NameUsed, Given: alias.Given, Family: alias.Family, Original: alias.Original}
		v |= VariedAlias
	} else {
		if s, ok := respell(r, nat, true, name.Given); ok && chance(r, rates.GivenSpelling) {
			name.Given, v = s, v|VariedGivenSpelling
		}
		if s, ok := respell(r, nat, false, name.Family); ok && chance(r, rates.FamilySpelling) {
			name.Family, v = s, v|VariedFamilySpelling
		}
	}
	swap := rates.SwapOrder
	if nat != nil && nat.familyFirst {
		swap = rates.SwapOrderFamilyFirst
	}
	if canSwap(name) && chance(r, swap) {
		name.Given, name.Family, v = name.Family, name.Given, v|VariedOrder
	}
	if up := strings.ToUpper(name.Family); up != name.Family && chance(r, rates.UpperFamily) {
		name.Family, v = up, v|VariedUpperFamily
	}
	if name.Original != "" && chance(r, rates.DropOriginal) {
		name.Original, v = "", v|VariedOriginal
	}

	if d := orig.DateOfBirth; d != nil {
		nd := *d
		out.DateOfBirth = &nd
		switch {
		case chance(r, rates.DropDateOfBirth):
			out.DateOfBirth, v = nil, v|VariedDOBDropped
		case d.Estimated && d.UncertaintyDays > 0 && chance(r, rates.ShiftEstimate):
			if s, ok := shiftDate(d.Date, between(r, 1, d.UncertaintyDays)*one(r, []int{-1, 1})); ok {
				nd.Date, nd.Basis, v = s, pick(r, estimateBases), v|VariedDOBShifted
			}
		case chance(r, rates.SwapDayMonth):
			if s, ok := swapDayMonth(d.Date); ok {
				nd.Date, v = s, v|VariedDOBDayMonth
			}
		}
	}

	// Make sure the variant differs in its name or date of birth.
	if name.Given == used.Given && name.Family == used.Family && sameDOB(out.DateOfBirth, orig.DateOfBirth) {
		if s, ok := respell(r, nat, true, name.Given); ok {
			name.Given, v = s, v|VariedGivenSpelling
		} else if s, ok := respell(r, nat, false, name.Family); ok {
			name.Family, v = s, v|VariedFamilySpelling
		} else if up := strings.ToUpper(name.Family); up != name.Family {
			name.Family, v = up, v|VariedUpperFamily
		} else if canSwap(name) {
			name.Given, name.Family, v = name.Family, name.Given, v|VariedOrder
		} else {
			out.DateOfBirth, v = nil, v|VariedDOBDropped
		}
	}

	out.Names = []v1.PersonName{name}
	if alias != nil && !v.Has(VariedAlias) && chance(r, 0.5) {
		out.Names = append(out.Names, *alias)
	}
	return out, v
}

func canSwap(n v1.PersonName) bool { return n.Given != "" && n.Family != "" && n.Given != n.Family }

// respell returns another spelling of a given (or family) name, looking first
// in the child's own nationality's tables and then in all of them.
func respell(r *rand.Rand, nat *nationality, given bool, s string) (string, bool) {
	if s == "" {
		return "", false
	}
	var f *nameForm
	if nat != nil {
		if given {
			f = nat.givenIndex[s]
		} else {
			f = nat.familyIndex[s]
		}
	}
	if f == nil {
		if given {
			f = tables.givenIndex[s]
		} else {
			f = tables.familyIndex[s]
		}
	}
	if f == nil {
		return "", false
	}
	return otherSpelling(r, f, s)
}

func sameDOB(a, b *v1.DateOfBirth) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Date == b.Date
}

func shiftDate(d v1.Date, n int) (v1.Date, bool) {
	t, err := d.Time()
	if err != nil {
		return "", false
	}
	s := v1.DateOf(t.AddDate(0, 0, n))
	return s, s.Valid()
}

// swapDayMonth returns the date with day and month swapped, if that is
// another valid date.
func swapDayMonth(d v1.Date) (v1.Date, bool) {
	t, err := d.Time()
	if err != nil || t.Day() > 12 || t.Day() == int(t.Month()) {
		return "", false
	}
	s := time.Date(t.Year(), time.Month(t.Day()), int(t.Month()), 0, 0, 0, 0, time.UTC)
	if s.Day() != int(t.Month()) { // e.g. 31 February would roll over
		return "", false
	}
	return v1.DateOf(s), true
}
