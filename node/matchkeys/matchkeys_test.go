package matchkeys_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"nrmnet/node/matchkeys"
	v1 "nrmnet/schemas/v1"
)

func mustDeriver(t testing.TB, cfg matchkeys.Config) *matchkeys.Deriver {
	t.Helper()
	d, err := matchkeys.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func known(date string) *v1.DateOfBirth { return &v1.DateOfBirth{Date: v1.Date(date)} }

func estimated(date string, days int) *v1.DateOfBirth {
	return &v1.DateOfBirth{Date: v1.Date(date), Estimated: true, UncertaintyDays: days, Basis: "age assessment"}
}

func child(given, family string, dob *v1.DateOfBirth, more ...v1.PersonName) v1.ChildIdentity {
	return v1.ChildIdentity{
		Names:       append([]v1.PersonName{{Kind: v1.NameUsed, Given: given, Family: family}}, more...),
		DateOfBirth: dob, Sex: v1.SexMale,
	}
}

func strongest(a, b []matchkeys.Key) matchkeys.Strength {
	var s matchkeys.Strength
	for _, x := range a {
		for _, y := range b {
			if bytes.Equal(x.Bytes, y.Bytes) && x.Strength > s {
				s = x.Strength
			}
		}
	}
	return s
}

func TestVariantsMeet(t *testing.T) {
	d := mustDeriver(t, matchkeys.DefaultConfig())
	for _, c := range []struct {
		name string
		a, b v1.ChildIdentity
		want matchkeys.Strength
	}{
		{"case and punctuation", child("Connor", "O'Brien", known("2009-05-17")), child("connor", "OBRIEN", known("2009-05-17")), matchkeys.StrengthExactDate},
		{"transliteration", child("Mohammed", "Abdelrahman", known("2008-02-03")), child("Muhammad", "Abdel Rahman", known("2008-02-03")), matchkeys.StrengthExactDate},
		{"diacritics", child("Văn Nam", "Nguyễn", known("2010-10-10")), child("Van Nam", "Nguyen", known("2010-10-10")), matchkeys.StrengthExactDate},
		{"middle name dropped", child("Van Nam", "Nguyen", known("2010-10-10")), child("Nam", "Nguyen", known("2010-10-10")), matchkeys.StrengthExactDate},
		{"order swapped", child("Tesfay", "Kidane", known("2007-01-30")), child("Kidane", "Tesfaye", known("2007-01-30")), matchkeys.StrengthExactDate},
		{"article joined or split", child("Omar", "Al-Amin", known("2007-01-30")), child("Omer", "Elamin", known("2007-01-30")), matchkeys.StrengthExactDate},
		{"Albanian definite form", child("Erion", "Hoxha", known("2006-06-01")), child("Erjon", "Hoxhaj", known("2006-06-01")), matchkeys.StrengthExactDate},
		{"day and month swapped", child("Kyle", "Smith", known("2009-04-03")), child("Kyle", "Smith", known("2009-03-04")), matchkeys.StrengthExactDate},
		{"estimate shifted within its range", child("Yonas", "Tekle", estimated("2008-01-01", 365)), child("Yonas", "Tecle", estimated("2008-11-20", 365)), matchkeys.StrengthBirthYear},
		{"documented against estimated", child("Ali", "Ahmadi", known("2008-07-07")), child("Ali", "Ahmady", estimated("2008-01-01", 365)), matchkeys.StrengthExactDate - 1},
		{"alias as used name", child("Zana", "Karim", known("2008-07-07"), v1.PersonName{Kind: v1.NameAlias, Given: "Rebwar", Family: "Aziz"}), child("Rebuar", "Aziz", known("2008-07-07")), matchkeys.StrengthExactDate},
		{"original script only", v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Yasir", Family: "Osman", Original: "ياسر عثمان"}}, DateOfBirth: known("2008-01-01")},
			v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Yasser", Family: "Uthman", Original: "عثمان ياسر"}}, DateOfBirth: known("2008-01-01")}, matchkeys.StrengthExactDate},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := strongest(d.Keys(c.a), d.Keys(c.b)); got != c.want {
				t.Fatalf("strongest shared key %v, want %v", got, c.want)
			}
		})
	}
}

func TestDifferentChildrenDoNotMeet(t *testing.T) {
	d := mustDeriver(t, matchkeys.DefaultConfig())
	for _, c := range []struct {
		name string
		a, b v1.ChildIdentity
	}{
		{"other name, same date", child("Kyle", "Smith", known("2009-04-03")), child("Liam", "Smith", known("2009-04-03"))},
		{"same name, other year", child("Kyle", "Smith", known("2009-04-03")), child("Kyle", "Smith", known("2011-04-03"))},
		{"estimates that cannot overlap", child("Yonas", "Tekle", estimated("2006-06-01", 180)), child("Yonas", "Tekle", estimated("2009-06-01", 180))},
		{"no date of birth, name-only keys off", child("Kyle", "Smith", nil), child("Kyle", "Smith", known("2009-04-03"))},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := strongest(d.Keys(c.a), d.Keys(c.b)); got != 0 {
				t.Fatalf("met with strength %v", got)
			}
		})
	}
	withName := matchkeys.DefaultConfig()
	withName.NameOnly = true
	dn := mustDeriver(t, withName)
	if got := strongest(dn.Keys(child("Kyle", "Smith", nil)), dn.Keys(child("Kyle", "Smith", known("2009-04-03")))); got != matchkeys.StrengthName {
		t.Fatalf("with name-only keys: %v, want %v", got, matchkeys.StrengthName)
	}
}

func TestKeysBoundedDistinctStrongestFirst(t *testing.T) {
	cfg := matchkeys.DefaultConfig()
	cfg.MaxKeys = 5
	d := mustDeriver(t, cfg)
	id := child("Van Nam", "Nguyen Van", estimated("2008-06-01", 730),
		v1.PersonName{Kind: v1.NameAlias, Given: "Minh Tuan", Family: "Tran"})
	ks := d.Keys(id)
	if len(ks) != 5 {
		t.Fatalf("%d keys, want MaxKeys 5", len(ks))
	}
	all := mustDeriver(t, matchkeys.DefaultConfig()).Keys(id)
	if len(all) <= 5 || len(all) > matchkeys.DefaultConfig().MaxKeys {
		t.Fatalf("%d keys without the cap", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b matchkeys.Key) int { return int(b.Strength) - int(a.Strength) }) {
		t.Fatal("keys are not strongest first")
	}
	seen := map[string]bool{}
	for _, k := range all {
		if seen[string(k.Bytes)] {
			t.Fatalf("repeated key %x", k.Bytes)
		}
		seen[string(k.Bytes)] = true
		if bytes.Contains(k.Bytes, []byte("Nguyen")) || bytes.Contains(k.Bytes, []byte("2008-06-01")) {
			t.Fatalf("key %q holds the recorded name or date as written", k.Bytes)
		}
	}
	if ks := d.Keys(v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "-"}}, DateOfBirth: known("2009-01-01")}); ks != nil {
		t.Fatalf("a name with no letters gave keys: %q", ks)
	}
	if again := d.Keys(id); !slices.EqualFunc(again, ks, func(a, b matchkeys.Key) bool { return bytes.Equal(a.Bytes, b.Bytes) }) {
		t.Fatal("keys are not deterministic")
	}
}

func TestAlertFieldsAndCandidate(t *testing.T) {
	d := mustDeriver(t, matchkeys.DefaultConfig())
	at := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	issued := child("Kyle", "Smith", known("2010-12-01")) // 16 on the day
	band, sex := matchkeys.AlertFields(issued, at)
	if band != v1.Age16To17 || sex != v1.SexMale {
		t.Fatalf("alert fields %s %s, want 16_17 male", band, sex)
	}
	if b, _ := matchkeys.AlertFields(child("A", "B", nil), at); b != v1.AgeUnknown {
		t.Fatalf("no date of birth: band %s", b)
	}
	girl := child("Kyle", "Smith", known("2010-12-01"))
	girl.Sex = v1.SexFemale
	unknownSex := girl
	unknownSex.Sex = v1.SexUnknown
	for _, c := range []struct {
		name string
		id   v1.ChildIdentity
		band v1.AgeBand
		sex  v1.Sex
		want bool
	}{
		{"same band and sex", issued, band, sex, true},
		{"day-month swap across a birthday", child("Kyle", "Smith", known("2010-01-12")), band, sex, true},
		{"other sex", girl, band, sex, false},
		{"unknown sex on the case", unknownSex, band, sex, true},
		{"unknown sex on the alert", girl, band, v1.SexUnknown, true},
		{"far younger", child("Kyle", "Smith", known("2019-06-01")), band, sex, false},
		{"estimate reaching the band", child("Kyle", "Smith", estimated("2012-01-01", 730)), band, sex, true},
		{"estimate short of the band", child("Kyle", "Smith", estimated("2014-06-01", 180)), band, sex, false},
		{"unknown band", child("Kyle", "Smith", known("2019-06-01")), v1.AgeUnknown, sex, true},
		{"no date of birth", child("Kyle", "Smith", nil), band, sex, true},
	} {
		if got := d.Candidate(c.id, at, c.band, c.sex); got != c.want {
			t.Errorf("%s: Candidate = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := matchkeys.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*matchkeys.Config)
	}{
		{"MaxKeys", func(c *matchkeys.Config) { c.MaxKeys = 0 }},
		{"MaxKeys", func(c *matchkeys.Config) { c.MaxKeys = v1.MaxMatchTokens + 1 }},
		{"BandSlackDays", func(c *matchkeys.Config) { c.BandSlackDays = -1 }},
	} {
		cfg := matchkeys.DefaultConfig()
		c.edit(&cfg)
		_, err := matchkeys.New(cfg)
		if !errors.Is(err, matchkeys.ErrConfig) || !bytes.Contains([]byte(err.Error()), []byte(c.name)) {
			t.Errorf("%s: error %v, want ErrConfig naming the field", c.name, err)
		}
	}
}

// Two authorities' records of the same child share a key; the strength says
// how loose the evidence is.
func Example() {
	d, _ := matchkeys.New(matchkeys.DefaultConfig())
	ours := v1.ChildIdentity{
		Names:       []v1.PersonName{{Kind: v1.NameUsed, Given: "Mohammed", Family: "Al-Amin"}},
		DateOfBirth: &v1.DateOfBirth{Date: "2009-01-01", Estimated: true, UncertaintyDays: 365},
		Sex:         v1.SexMale,
	}
	theirs := v1.ChildIdentity{
		Names:       []v1.PersonName{{Kind: v1.NameUsed, Given: "ELAMIN", Family: "Muhammad"}},
		DateOfBirth: &v1.DateOfBirth{Date: "2009-08-14", Estimated: true, UncertaintyDays: 365},
		Sex:         v1.SexMale,
	}
	fmt.Println(len(d.Keys(ours)), "keys;", strongest(d.Keys(ours), d.Keys(theirs)))
	// Output: 3 keys; name_and_birth_year
}
