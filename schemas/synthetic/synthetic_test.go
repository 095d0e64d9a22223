package synthetic_test

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// corpus is 10,000 cases from 20 seeds, shared by the tests that only read it.
var corpus = sync.OnceValue(func() []*v1.Case {
	var out []*v1.Case
	for seed := int64(1); seed <= 20; seed++ {
		out = append(out, synthetic.New(seed).Cases(500)...)
	}
	return out
})

func mustMarshal(t testing.TB, c *v1.Case) []byte {
	t.Helper()
	b, err := v1.Marshal(c)
	if err != nil {
		t.Fatalf("marshal case %s: %v", c.ID, err)
	}
	return b
}

func TestCasesValidateAndRoundTrip(t *testing.T) {
	cases := corpus()
	if len(cases) != 10000 {
		t.Fatalf("corpus has %d cases, want 10000", len(cases))
	}
	failures := 0
	for _, c := range cases {
		if err := c.Validate(); err != nil {
			t.Errorf("case %s (state %s) does not validate: %v", c.ID, c.State, err)
			if failures++; failures > 5 {
				t.FailNow()
			}
			continue
		}
		b := mustMarshal(t, c)
		back, err := v1.UnmarshalCase(b)
		if err != nil {
			t.Fatalf("unmarshal case %s: %v", c.ID, err)
		}
		if again := mustMarshal(t, back); !bytes.Equal(again, b) {
			t.Fatalf("case %s does not round-trip byte for byte", c.ID)
		}
	}
}

func TestEdgeClocksValidate(t *testing.T) {
	tests := []struct {
		name string
		opts []synthetic.Option
	}{
		{"earliest period", []synthetic.Option{
			synthetic.WithClock(time.Date(2001, 6, 1, 0, 0, 0, 0, time.UTC)),
			synthetic.WithPeriod(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 6, 1, 0, 0, 0, 0, time.UTC)),
		}},
		{"far future", []synthetic.Option{synthetic.WithClock(time.Date(2190, 12, 31, 23, 59, 0, 0, time.UTC))}},
		{"one-day period ending at the clock", []synthetic.Option{
			synthetic.WithClock(time.Date(2025, 12, 25, 12, 0, 0, 0, time.UTC)),
			synthetic.WithPeriod(time.Date(2025, 12, 24, 12, 0, 0, 0, time.UTC), time.Date(2025, 12, 25, 12, 0, 0, 0, time.UTC)),
		}},
		{"clock in another zone", []synthetic.Option{synthetic.WithClock(time.Date(2024, 7, 1, 9, 30, 15, 99, time.FixedZone("BST", 3600)))}},
		{"Welsh authority", []synthetic.Option{synthetic.WithAuthority("CRF")}},
		{"Scottish authority", []synthetic.Option{synthetic.WithAuthority("GLG")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := synthetic.New(9, tt.opts...)
			for _, c := range g.Cases(500) {
				if err := c.Validate(); err != nil {
					t.Fatalf("case %s: %v", c.ID, err)
				}
				if c.UpdatedAt.After(g.Now()) {
					t.Fatalf("case %s updated %s after the clock %s", c.ID, c.UpdatedAt, g.Now())
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	encode := func(t *testing.T, cs []*v1.Case) [][]byte {
		var out [][]byte
		for _, c := range cs {
			out = append(out, mustMarshal(t, c))
		}
		return out
	}
	tests := []struct {
		name string
		a, b func() []*v1.Case
		same bool
	}{
		{
			name: "same seed gives the same cases",
			a:    func() []*v1.Case { return synthetic.New(7).Cases(200) },
			b:    func() []*v1.Case { return synthetic.New(7).Cases(200) },
			same: true,
		},
		{
			name: "same seed and options give the same cases",
			a: func() []*v1.Case {
				return synthetic.New(7, synthetic.WithAuthority("ISL"), synthetic.WithClock(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))).Cases(200)
			},
			b: func() []*v1.Case {
				return synthetic.New(7, synthetic.WithAuthority("ISL"), synthetic.WithClock(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))).Cases(200)
			},
			same: true,
		},
		{
			name: "variants and identities do not disturb the cases",
			a:    func() []*v1.Case { return synthetic.New(7).Cases(200) },
			b: func() []*v1.Case {
				g := synthetic.New(7)
				var cs []*v1.Case
				for range 200 {
					c := g.Case()
					g.Variant(c)
					g.Identity()
					cs = append(cs, c)
				}
				return cs
			},
			same: true,
		},
		{
			name: "different seeds give different cases",
			a:    func() []*v1.Case { return synthetic.New(7).Cases(200) },
			b:    func() []*v1.Case { return synthetic.New(8).Cases(200) },
			same: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := encode(t, tt.a()), encode(t, tt.b())
			same := slices.EqualFunc(a, b, bytes.Equal)
			if same != tt.same {
				t.Fatalf("cases equal = %v, want %v", same, tt.same)
			}
		})
	}
	t.Run("variants repeat for a seed", func(t *testing.T) {
		g1, g2 := synthetic.New(3), synthetic.New(3)
		for range 200 {
			c1, c2 := g1.Case(), g2.Case()
			a, da := g1.VariantDetail(c1)
			b, db := g2.VariantDetail(c2)
			if !reflect.DeepEqual(a, b) || da != db {
				t.Fatalf("variants differ for the same seed: %+v (%s), %+v (%s)", a, da, b, db)
			}
		}
	})
}

// counter counts labelled occurrences.
type counter map[string]int

func (c counter) share(k string, n int) float64 { return float64(c[k]) / float64(n) }

func TestDistribution(t *testing.T) {
	cases := corpus()
	n := len(cases)
	var (
		sex, types, nats, fr, states, nameKinds      = counter{}, counter{}, counter{}, counter{}, counter{}, counter{}
		countyLines, ukCriminal, ukCountyLines       int
		estimated, disputed, teen, multiType, ictg   int
		reconsidered, assured, relocated, originals  int
		interpreter, deadlines, postExit, transferIn int
	)
	for _, c := range cases {
		id := c.Identity
		sex[string(id.Sex)]++
		nats[id.Nationalities[0]]++
		fr[string(c.Referral.FirstResponderType)]++
		states[string(c.State)]++
		for _, e := range c.Referral.ExploitationTypes {
			types[string(e)]++
		}
		if len(c.Referral.ExploitationTypes) > 1 {
			multiType++
		}
		if c.Referral.CountyLines {
			countyLines++
		}
		if id.Nationalities[0] == "GBR" && slices.Contains(c.Referral.ExploitationTypes, v1.ExploitationCriminal) {
			ukCriminal++
			if c.Referral.CountyLines {
				ukCountyLines++
			}
		}
		if id.DateOfBirth != nil && id.DateOfBirth.Estimated {
			estimated++
		}
		if id.AgeDisputed {
			disputed++
		}
		if id.DateOfBirth != nil {
			dob, _ := id.DateOfBirth.Date.Time()
			if age := ageAt(dob, c.Referral.ReferredAt); age >= 14 && age <= 17 {
				teen++
			}
		}
		for _, nm := range id.Names {
			nameKinds[string(nm.Kind)]++
			if nm.Original != "" {
				originals++
			}
		}
		if id.InterpreterNeeded {
			interpreter++
		}
		if c.Advocate != nil && c.Advocate.Kind == v1.AdvocateICTG {
			ictg++
		}
		if len(c.Reconsiderations) > 0 {
			reconsidered++
		}
		if c.Assurance != nil {
			assured++
		}
		if len(c.Relocations) > 0 {
			relocated++
			if c.Relocations[0].To == c.Responsible {
				transferIn++
			}
		}
		if c.NextDeadline != nil {
			deadlines++
		}
		if len(c.PostExitReviews) > 0 {
			postExit++
		}
	}
	t.Logf("sex %v", sex)
	t.Logf("types %v (county lines %d, of UK criminal %d/%d)", types, countyLines, ukCountyLines, ukCriminal)
	t.Logf("nationalities %v", nats)
	t.Logf("first responders %v", fr)
	t.Logf("states %v", states)
	t.Logf("names %v, with original script %d", nameKinds, originals)
	t.Logf("estimated DOB %d, disputed %d, aged 14-17 %d, interpreter %d", estimated, disputed, teen, interpreter)
	t.Logf("ICTG %d, reconsidered %d, assurance %d, relocated %d (in %d), post-exit %d, with deadline %d",
		ictg, reconsidered, assured, relocated, transferIn, postExit, deadlines)

	mostCommon := func(c counter) string {
		best := ""
		for k, v := range c {
			if best == "" || v > c[best] || (v == c[best] && k < best) {
				best = k
			}
		}
		return best
	}
	checks := []struct {
		name string
		ok   bool
		got  any
	}{
		{"male share 65-90%", sex.share("male", n) >= 0.65 && sex.share("male", n) <= 0.90, sex.share("male", n)},
		{"criminal exploitation is the most common type", mostCommon(types) == "criminal", types},
		{"every exploitation type appears", len(types) == len(v1.ExploitationTypes), types},
		{"sexual exploitation second", secondMost(types) == "sexual", types},
		{"county lines present", countyLines > 0, countyLines},
		{"county lines on most UK criminal cases", float64(ukCountyLines) > 0.5*float64(ukCriminal), ukCountyLines},
		{"several types on some cases", multiType > 100, multiType},
		{"at least 15 nationalities", len(nats) >= 15, len(nats)},
		{"UK nationals the largest group", mostCommon(nats) == "GBR", nats},
		{"UK nationals under two thirds", nats.share("GBR", n) < 0.66, nats.share("GBR", n)},
		{"stateless children present", nats["XXX"] > 0, nats["XXX"]},
		{"some estimated dates of birth", estimated > n/10, estimated},
		{"some age-disputed", disputed > n/100, disputed},
		{"most aged 14 to 17", teen > n*6/10, teen},
		{"some younger than 14", teen < n*95/100, teen},
		{"local authorities refer most", mostCommon(fr) == "local_authority", fr},
		{"police refer next", secondMost(fr) == "police", fr},
		{"aliases recorded", nameKinds["alias"] > n/20, nameKinds},
		{"transliterations recorded", nameKinds["transliteration"] > n/50, nameKinds},
		{"legal names recorded", nameKinds["legal"] > 0, nameKinds},
		{"original scripts recorded", originals > n/50, originals},
		{"some ICTGs", ictg > n/5, ictg},
		{"some reconsiderations", reconsidered > 0, reconsidered},
		{"some SCA assurance", assured > n/10, assured},
		{"a few relocations", relocated > 0 && relocated < n/10, relocated},
		{"some transferred in", transferIn > 0, transferIn},
		{"some post-exit reviews", postExit > 0, postExit},
		{"many states", len(states) >= 14, states},
		{"open deadlines on some cases", deadlines > 0, deadlines},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("got %v", c.got)
			}
		})
	}
}

func secondMost(c counter) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c[a] != c[b] {
			return c[b] - c[a]
		}
		return strings.Compare(a, b)
	})
	if len(keys) < 2 {
		return ""
	}
	return keys[1]
}

func ageAt(dob, at time.Time) int {
	age := at.Year() - dob.Year()
	if at.YearDay() < dob.YearDay() {
		age--
	}
	return age
}

// lastDecision returns the last decision of a stage, if any.
func lastDecision(c *v1.Case, stage v1.DecisionStage) (v1.NRMDecision, bool) {
	for i := len(c.Decisions) - 1; i >= 0; i-- {
		if c.Decisions[i].Stage == stage {
			return c.Decisions[i], true
		}
	}
	return v1.NRMDecision{}, false
}

func TestStateConsistency(t *testing.T) {
	now := synthetic.DefaultClock()
	positive := func(c *v1.Case, s v1.DecisionStage) bool {
		d, ok := lastDecision(c, s)
		return ok && d.Outcome == v1.OutcomePositive
	}
	negative := func(c *v1.Case, s v1.DecisionStage) bool {
		d, ok := lastDecision(c, s)
		return ok && d.Outcome == v1.OutcomeNegative
	}
	lastReconsideration := func(c *v1.Case, o v1.ReconsiderationOutcome) bool {
		return len(c.Reconsiderations) > 0 && c.Reconsiderations[len(c.Reconsiderations)-1].Outcome == o
	}
	rules := map[v1.CaseState]func(c *v1.Case) bool{
		v1.StateReceived:   func(c *v1.Case) bool { return len(c.Decisions) == 0 && c.NextDeadline != nil },
		v1.StateScopeCheck: func(c *v1.Case) bool { return len(c.Decisions) == 0 && c.NextDeadline != nil },
		v1.StateRGPending:  func(c *v1.Case) bool { return len(c.Decisions) == 0 && c.NextDeadline != nil },
		v1.StateReferredToSCA: func(c *v1.Case) bool {
			dob, _ := c.Identity.DateOfBirth.Date.Time()
			nearly18 := !c.Referral.ReferredAt.Before(dob.AddDate(18, 0, -100))
			return len(c.Decisions) == 0 && (c.Identity.AgeDisputed || nearly18)
		},
		v1.StateRGPositive:     func(c *v1.Case) bool { return positive(c, v1.StageRG) },
		v1.StateRecoveryPeriod: func(c *v1.Case) bool { return positive(c, v1.StageRG) && c.NextDeadline != nil },
		v1.StateCGPending:      func(c *v1.Case) bool { return positive(c, v1.StageRG) },
		v1.StateRGNegative:     func(c *v1.Case) bool { return negative(c, v1.StageRG) },
		v1.StateCGPositive:     func(c *v1.Case) bool { return positive(c, v1.StageRG) && positive(c, v1.StageCG) },
		v1.StateCGNegative:     func(c *v1.Case) bool { return positive(c, v1.StageRG) && negative(c, v1.StageCG) },
		v1.StatePostExitReview: func(c *v1.Case) bool { return len(c.PostExitReviews) == 2 && len(c.Decisions) > 0 },
		v1.StateClosed:         func(c *v1.Case) bool { return len(c.Decisions) > 0 },
		v1.StateAssuranceQueried: func(c *v1.Case) bool {
			return c.Assurance != nil && c.Assurance.Status == v1.AssuranceQueried && c.Assurance.Query != ""
		},
		v1.StateAssuranceSubmitted: func(c *v1.Case) bool {
			return c.Assurance != nil && c.Assurance.Status == v1.AssuranceSubmitted && len(c.Decisions) > 0
		},
		v1.StateAssured: func(c *v1.Case) bool { return c.Assurance != nil && c.Assurance.Status == v1.AssuranceAssured },
		v1.StateReconsiderationRequest: func(c *v1.Case) bool {
			return lastReconsideration(c, v1.ReconsiderationPending)
		},
		v1.StateReconsiderationAccepted: func(c *v1.Case) bool {
			return lastReconsideration(c, v1.ReconsiderationAccepted)
		},
		v1.StateReconsiderationRefused: func(c *v1.Case) bool {
			return lastReconsideration(c, v1.ReconsiderationRefused)
		},
		v1.StateTransferredOut: func(c *v1.Case) bool {
			r := c.Relocations[len(c.Relocations)-1]
			return r.Status == v1.RelocationAccepted && r.From == c.Responsible && c.NextDeadline == nil
		},
	}
	tests := map[string]int{}
	for _, c := range corpus() {
		name := string(c.State)
		rule, ok := rules[c.State]
		if !ok {
			t.Fatalf("no rule for state %s", c.State)
		}
		if !rule(c) {
			t.Errorf("case %s in state %s is inconsistent: decisions %+v reconsiderations %+v", c.ID, c.State, c.Decisions, c.Reconsiderations)
		}
		tests[name]++
		if c.ID.Authority() != c.Responsible {
			t.Errorf("case %s is held by %s", c.ID, c.Responsible)
		}
		if c.UpdatedAt.After(now) || c.CreatedAt.After(c.UpdatedAt) {
			t.Errorf("case %s created %s updated %s, clock %s", c.ID, c.CreatedAt, c.UpdatedAt, now)
		}
		// A case referred just before the clock may not be rated yet.
		if len(c.Risk) == 0 && now.Sub(c.CreatedAt) > 2*time.Hour || len(c.Risk) > 0 && c.Risk[0].Stage != v1.RiskAtReferral {
			t.Errorf("case %s has no RAG rating at referral: %+v", c.ID, c.Risk)
		}
		for i, d := range c.Decisions {
			want := v1.TestReasonableGrounds
			if d.Stage == v1.StageCG {
				want = v1.TestConclusiveGrounds
				if !positive(&v1.Case{Decisions: c.Decisions[:i]}, v1.StageRG) {
					t.Errorf("case %s has a CG decision without a positive RG before it", c.ID)
				}
			}
			if d.TestApplied != want || d.Reasons == "" {
				t.Errorf("case %s decision %d: test %q, reasons %q", c.ID, i, d.TestApplied, d.Reasons)
			}
			if i > 0 && d.DecidedAt.Before(c.Decisions[i-1].DecidedAt) {
				t.Errorf("case %s decisions out of order", c.ID)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("states checked: %v", tests)
}

func TestVariant(t *testing.T) {
	g := synthetic.New(11)
	seen := map[synthetic.Variation]int{}
	const n = 5000
	for range n {
		c := g.Case()
		v, d := g.VariantDetail(c)
		orig := c.Identity
		for bit := synthetic.VariedGivenSpelling; bit <= synthetic.VariedDOBDropped; bit <<= 1 {
			if d.Has(bit) {
				seen[bit]++
			}
		}
		if v.Sex != orig.Sex || !slices.Equal(v.Nationalities, orig.Nationalities) || !slices.Equal(v.Languages, orig.Languages) {
			t.Fatalf("variant is not the same child: %+v vs %+v", v, orig)
		}
		name, used := v.Names[0], orig.Names[0]
		if name.Kind != v1.NameUsed {
			t.Fatalf("variant's first name is a %s", name.Kind)
		}
		sameName := name.Given == used.Given && name.Family == used.Family
		if sameName && sameDate(v.DateOfBirth, orig.DateOfBirth) {
			t.Fatalf("variant (%s) does not differ: %+v", d, v)
		}
		if !withinUncertainty(v.DateOfBirth, orig.DateOfBirth) {
			t.Fatalf("variant DOB %+v is not within the uncertainty of %+v (%s)", v.DateOfBirth, orig.DateOfBirth, d)
		}
		if d.Has(synthetic.VariedDOBDropped) != (v.DateOfBirth == nil) {
			t.Fatalf("variation %s but DOB %+v", d, v.DateOfBirth)
		}
		// Put the variant in the case to validate it.
		cv := *c
		cv.Identity = v
		if err := cv.Validate(); err != nil {
			t.Fatalf("variant does not validate: %v", err)
		}
	}
	t.Logf("variations over %d cases: %v", n, seen)
	for bit := synthetic.VariedGivenSpelling; bit <= synthetic.VariedDOBDropped; bit <<= 1 {
		if seen[bit] == 0 {
			t.Errorf("variation %s never made", bit)
		}
	}
	t.Run("rates are close to the configured ones", func(t *testing.T) {
		// Spelling changes apply only where another spelling exists, so the
		// observed shares are lower bounds of a sort; check order of magnitude.
		if s := float64(seen[synthetic.VariedGivenSpelling]) / n; s < 0.15 || s > 0.6 {
			t.Errorf("given spelling share %.2f", s)
		}
		if s := float64(seen[synthetic.VariedDOBDropped]) / n; s < 0.01 || s > 0.08 {
			t.Errorf("dropped DOB share %.2f", s)
		}
	})
	t.Run("zero rates still give a differing variant", func(t *testing.T) {
		g := synthetic.New(12, synthetic.WithVariantRates(synthetic.VariantRates{}))
		for range 1000 {
			c := g.Case()
			v, d := g.VariantDetail(c)
			if d == 0 || (v.Names[0].Given == c.Identity.Names[0].Given && v.Names[0].Family == c.Identity.Names[0].Family && sameDate(v.DateOfBirth, c.Identity.DateOfBirth)) {
				t.Fatalf("variant %+v (%s) equals %+v", v, d, c.Identity)
			}
		}
	})
	t.Run("all-one rates", func(t *testing.T) {
		r := synthetic.VariantRates{GivenSpelling: 1, FamilySpelling: 1, UpperFamily: 1, DropOriginal: 1, ShiftEstimate: 1}
		g := synthetic.New(13, synthetic.WithVariantRates(r))
		for range 500 {
			c := g.Case()
			v, d := g.VariantDetail(c)
			if f := v.Names[0].Family; f != strings.ToUpper(f) {
				t.Fatalf("family %q not in capitals (%s)", f, d)
			}
			if v.Names[0].Original != "" {
				t.Fatalf("original kept: %q", v.Names[0].Original)
			}
		}
	})
}

func sameDate(a, b *v1.DateOfBirth) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Date == b.Date
}

func withinUncertainty(v, orig *v1.DateOfBirth) bool {
	if v == nil || orig == nil {
		return v == nil
	}
	a, _ := v.Date.Time()
	b, _ := orig.Date.Time()
	diff := math.Abs(a.Sub(b).Hours() / 24)
	if diff <= float64(orig.UncertaintyDays) {
		return true
	}
	// or day and month swapped
	return a.Year() == b.Year() && a.Day() == int(b.Month()) && int(a.Month()) == b.Day()
}

func TestIdentity(t *testing.T) {
	g := synthetic.New(21)
	base := g.Case()
	same := 0
	for range 2000 {
		id := g.Identity()
		c := *base
		c.Identity = id
		if err := c.Validate(); err != nil {
			t.Fatalf("identity does not validate: %v", err)
		}
		if id.Names[0] == base.Identity.Names[0] && sameDate(id.DateOfBirth, base.Identity.DateOfBirth) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d of 2000 unrelated identities equal one case's", same)
	}
}

func TestCanaryCase(t *testing.T) {
	valid := []string{
		"CANARY-7f3a9c",
		"canary.ünïcödé.ṩ",
		"Zebra Quokka 42",
		strings.Repeat("x", 100),
	}
	g := synthetic.New(5)
	for _, canary := range valid {
		t.Run(canary[:min(len(canary), 20)], func(t *testing.T) {
			c := synthetic.CanaryCase(g, canary)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			b := mustMarshal(t, c)
			if got := bytes.Count(b, []byte(canary)); got < 4 {
				t.Errorf("canary appears %d times in the encoded case, want at least 4 (given, family, alias, wishes)", got)
			}
			var alias, wish bool
			for _, nm := range c.Identity.Names {
				alias = alias || (nm.Kind == v1.NameAlias && strings.Contains(nm.Given+nm.Family, canary))
			}
			for _, w := range c.WishesAndFeelings {
				wish = wish || strings.Contains(w.Views, canary)
			}
			used := c.Identity.Names[0]
			if !strings.Contains(used.Given, canary) || !strings.Contains(used.Family, canary) || !alias || !wish {
				t.Errorf("canary missing: used %+v, alias %v, wishes %v", used, alias, wish)
			}
		})
	}
	invalid := []string{"", "two\nlines", "nul\x00", strings.Repeat("x", 101)}
	for _, canary := range invalid {
		t.Run(fmt.Sprintf("invalid %q", canary[:min(len(canary), 12)]), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("CanaryCase(%q) did not panic", canary)
				}
			}()
			synthetic.CanaryCase(g, canary)
		})
	}
}

func TestOptions(t *testing.T) {
	clock := time.Date(2024, time.June, 3, 12, 0, 0, 0, time.UTC)
	start, end := time.Date(2023, time.January, 1, 0, 0, 0, 0, time.UTC), time.Date(2023, time.July, 1, 0, 0, 0, 0, time.UTC)
	t.Run("authority", func(t *testing.T) {
		g := synthetic.New(1, synthetic.WithAuthority("ISL"))
		for _, c := range g.Cases(100) {
			if c.Responsible != "ISL" || c.ID.Authority() != "ISL" {
				t.Fatalf("case %s held by %s", c.ID, c.Responsible)
			}
		}
	})
	t.Run("default authority is English and fixed by the seed", func(t *testing.T) {
		for seed := int64(0); seed < 20; seed++ {
			a, b := synthetic.New(seed).Authority(), synthetic.New(seed).Authority()
			if a.Nation != "England" || a.Code != b.Code {
				t.Fatalf("seed %d: %s (%s) and %s", seed, a.Code, a.Nation, b.Code)
			}
		}
	})
	t.Run("period and clock", func(t *testing.T) {
		g := synthetic.New(1, synthetic.WithClock(clock), synthetic.WithPeriod(start, end))
		for _, c := range g.Cases(500) {
			if at := c.Referral.ReferredAt; at.Before(start) || !at.Before(end) {
				t.Fatalf("referred at %s, outside %s to %s", at, start, end)
			}
			if c.UpdatedAt.After(clock) {
				t.Fatalf("updated at %s, after the clock %s", c.UpdatedAt, clock)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("recent referrals are mostly still open", func(t *testing.T) {
		g := synthetic.New(1, synthetic.WithClock(clock), synthetic.WithPeriod(clock.AddDate(0, 0, -3), clock))
		early := 0
		for _, c := range g.Cases(300) {
			switch c.State {
			case v1.StateReceived, v1.StateScopeCheck, v1.StateRGPending, v1.StateReferredToSCA, v1.StateRGPositive,
				v1.StateRGNegative, v1.StateRecoveryPeriod, v1.StateCGPositive, v1.StateCGNegative:
				early++
			}
		}
		if early != 300 {
			t.Errorf("%d of 300 cases referred in the last 3 days are in an early state", early)
		}
	})
	bad := []struct {
		name string
		opts []synthetic.Option
	}{
		{"unknown authority", []synthetic.Option{synthetic.WithAuthority("ZZZ")}},
		{"period backwards", []synthetic.Option{synthetic.WithPeriod(end, start)}},
		{"period after the clock", []synthetic.Option{synthetic.WithClock(start), synthetic.WithPeriod(start, end)}},
		{"period before 2001", []synthetic.Option{synthetic.WithPeriod(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), end)}},
		{"rate above one", []synthetic.Option{synthetic.WithVariantRates(synthetic.VariantRates{SwapOrder: 1.5})}},
		{"rate NaN", []synthetic.Option{synthetic.WithVariantRates(synthetic.VariantRates{UpperFamily: math.NaN()})}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			synthetic.New(1, tt.opts...)
		})
	}
}

func TestVolume(t *testing.T) {
	var total float64
	for _, a := range authority.All() {
		if a.Nation == "England" || a.Nation == "Wales" {
			total += synthetic.ReferralsPerMonth(a) * 12
		}
	}
	if math.Abs(total-synthetic.ChildReferralsPerYear) > 1 {
		t.Errorf("England and Wales refer %.1f a year, want %d", total, synthetic.ChildReferralsPerYear)
	}
	big, _ := authority.Lookup("BIR")
	small, _ := authority.Lookup("RUT")
	tests := []struct {
		name string
		ok   bool
	}{
		{"a city refers more than a small county", synthetic.ReferralsPerMonth(big) > 10*synthetic.ReferralsPerMonth(small)},
		{"a large city refers about ten a month", synthetic.ReferralsPerMonth(big) > 5 && synthetic.ReferralsPerMonth(big) < 20},
		{"no years, no cases", synthetic.Caseload(big, 0) == 0},
		{"caseload grows with years", synthetic.Caseload(big, 10) > synthetic.Caseload(big, 1)},
		{"caseload is whole referrals", synthetic.Caseload(small, 1) >= 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Errorf("BIR %.2f/month, caseload 10y %d; RUT %.2f/month", synthetic.ReferralsPerMonth(big),
					synthetic.Caseload(big, 10), synthetic.ReferralsPerMonth(small))
			}
		})
	}
}

func BenchmarkCase(b *testing.B) {
	g := synthetic.New(1)
	b.ReportAllocs()
	for b.Loop() {
		g.Case()
	}
}

func BenchmarkVariant(b *testing.B) {
	g := synthetic.New(1)
	cs := g.Cases(1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		g.Variant(cs[i%len(cs)])
		i++
	}
}
