package synthetic

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Each kind of output draws from its own PCG stream of the seed, so asking
// for variants or unrelated identities never changes the cases a seed gives.
const (
	streamCases      = 0x6e726d2d63617365 // "nrm-case"
	streamVariants   = 0x6e726d2d76617269 // "nrm-vari"
	streamIdentities = 0x6e726d2d6964656e // "nrm-iden"
	streamAuthority  = 0x6e726d2d61757468 // "nrm-auth"
)

// DefaultPeriodYears is how far back referral dates go when WithPeriod is not
// given: the three years before the clock.
const DefaultPeriodYears = 3

// DefaultClock returns the clock a Generator uses when WithClock is not given:
// a fixed instant (Monday 5 January 2026, 09:00 UTC), so that output never
// depends on when a test runs.
func DefaultClock() time.Time { return time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC) }

// Option changes a Generator's defaults.
type Option func(*config)

type config struct {
	authority  authority.Code
	start, end time.Time
	periodSet  bool
	now        time.Time
	rates      VariantRates
}

// WithAuthority makes code the responsible authority of every case. The
// default is an English authority drawn from the seed, weighted by population.
func WithAuthority(code authority.Code) Option {
	return func(c *config) { c.authority = code }
}

// WithPeriod sets the span referral dates are drawn from, [start, end). The
// default is the DefaultPeriodYears before the clock. end must not be after
// the clock.
func WithPeriod(start, end time.Time) Option {
	return func(c *config) { c.start, c.end, c.periodSet = start, end, true }
}

// WithClock sets the instant at which cases are observed: each case's history
// is drawn in full and then cut at the clock, which decides its state, its
// open deadline and which decisions it holds.
func WithClock(now time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithVariantRates sets the rates at which Variant changes an identity.
func WithVariantRates(r VariantRates) Option {
	return func(c *config) { c.rates = r }
}

// Generator makes synthetic NRM cases. The same seed and options give the
// same cases, in the same order, on every platform and Go release (math/rand/v2
// pins the output of a seeded PCG), for a given version of this package:
// editing the tables or the logic changes the cases, so tests should assert
// properties of generated cases, not their exact content. Cases, variants and
// unrelated identities come from separate streams of the seed, so calling
// Variant or Identity between calls to Case does not change the cases.
//
// A Generator is not safe for concurrent use; give each goroutine its own.
type Generator struct {
	home       authority.Authority
	start, end time.Time
	now        time.Time
	rates      VariantRates

	cases      *rand.Rand
	variants   *rand.Rand
	identities *rand.Rand

	nearby []authority.Code // the nearest other authorities, where most moves go
	others []authority.Code // every other authority
}

// New returns a Generator for seed. It panics if an option is invalid (an
// unknown authority, an empty period, a period ending after the clock, a rate
// outside [0, 1]): options are fixed by the calling test, so a bad one is a
// programming error, as with regexp.MustCompile.
func New(seed int64, opts ...Option) *Generator {
	cfg := config{now: DefaultClock(), rates: DefaultVariantRates()}
	for _, o := range opts {
		o(&cfg)
	}
	g, err := newGenerator(seed, cfg)
	if err != nil {
		panic("synthetic: " + err.Error())
	}
	return g
}

func newGenerator(seed int64, cfg config) (*Generator, error) {
	g := &Generator{
		now:        cfg.now.UTC().Truncate(time.Minute),
		rates:      cfg.rates,
		cases:      rand.New(rand.NewPCG(uint64(seed), streamCases)),
		variants:   rand.New(rand.NewPCG(uint64(seed), streamVariants)),
		identities: rand.New(rand.NewPCG(uint64(seed), streamIdentities)),
	}
	if y := g.now.Year(); y < 2001 || y > 2190 {
		return nil, fmt.Errorf("clock year %d is outside 2001 to 2190", y)
	}
	g.start, g.end = g.now.AddDate(-DefaultPeriodYears, 0, 0), g.now
	if cfg.periodSet {
		g.start, g.end = cfg.start.UTC().Truncate(time.Minute), cfg.end.UTC().Truncate(time.Minute)
	}
	switch {
	case g.end.Sub(g.start) < 24*time.Hour:
		return nil, fmt.Errorf("period %s to %s is shorter than a day", g.start, g.end)
	case g.end.After(g.now):
		return nil, fmt.Errorf("period ends at %s, after the clock %s", g.end, g.now)
	case g.start.Year() < 2001:
		return nil, fmt.Errorf("period starts in %d, before 2001", g.start.Year())
	}
	if cfg.authority == "" {
		g.home = defaultAuthority(seed)
	} else {
		a, ok := authority.Lookup(cfg.authority)
		if !ok {
			return nil, fmt.Errorf("unknown authority %q", cfg.authority)
		}
		g.home = a
	}
	if err := g.rates.validate(); err != nil {
		return nil, err
	}
	g.nearby, g.others = neighbours(g.home, 10)
	return g, nil
}

// Authority returns the responsible authority of the generated cases.
func (g *Generator) Authority() authority.Authority { return g.home }

// Now returns the clock at which cases are observed.
func (g *Generator) Now() time.Time { return g.now }

// Period returns the span referral dates are drawn from, [start, end).
func (g *Generator) Period() (start, end time.Time) { return g.start, g.end }

// VariantRates returns the rates Variant uses.
func (g *Generator) VariantRates() VariantRates { return g.rates }

// defaultAuthority draws an English authority, weighted by population.
func defaultAuthority(seed int64) authority.Authority {
	r := rand.New(rand.NewPCG(uint64(seed), streamAuthority))
	var english []weighted[authority.Authority]
	for _, a := range authority.All() {
		if a.Nation == "England" {
			english = append(english, weighted[authority.Authority]{a, float64(a.Population)})
		}
	}
	return pick(r, english)
}

// neighbours returns the n authorities nearest home, and every other one.
func neighbours(home authority.Authority, n int) (near, others []authority.Code) {
	type far struct {
		code authority.Code
		d    float64
	}
	var list []far
	for _, a := range authority.All() {
		if a.Code == home.Code {
			continue
		}
		dx := (a.Long - home.Long) * math.Cos(home.Lat*math.Pi/180)
		dy := a.Lat - home.Lat
		list = append(list, far{a.Code, dx*dx + dy*dy})
	}
	slices.SortFunc(list, func(a, b far) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.code, b.code)) })
	for i, f := range list {
		if i < n {
			near = append(near, f.code)
		}
		others = append(others, f.code)
	}
	return near, others
}

// Case returns a new synthetic case held by the generator's authority. It
// always passes Validate.
func (g *Generator) Case() *v1.Case { return g.newCase(g.cases) }

// Cases returns n new cases.
func (g *Generator) Cases(n int) []*v1.Case {
	if n <= 0 {
		return nil
	}
	out := make([]*v1.Case, n)
	for i := range out {
		out[i] = g.Case()
	}
	return out
}

// Identity returns the identity of a child unrelated to any case: the same
// distribution as a case's identity, drawn from its own stream. Unrelated
// children can share a common name, or even a name and a date of birth, as
// real ones do; that is what a matching precision test needs.
func (g *Generator) Identity() v1.ChildIdentity {
	r := g.identities
	return g.child(r, g.instant(r)).identity
}

// ---- small helpers over the random source ----

func pick[T any](r *rand.Rand, ws []weighted[T]) T {
	total := 0.0
	for _, w := range ws {
		total += w.w
	}
	x := r.Float64() * total
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

func one[T any](r *rand.Rand, vs []T) T { return vs[r.IntN(len(vs))] }

func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// between returns a whole number in [lo, hi].
func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

func newID(r *rand.Rand) v1.ID {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	return v1.ID(hex.EncodeToString(b[:]))
}

func newCaseID(r *rand.Rand, a authority.Code) v1.CaseID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], r.Uint64())
	return v1.CaseID(string(a) + "-" + hex.EncodeToString(b[:]))
}

// user returns a user ID of the form "isl.sw.017": the authority, a role and
// a number. Roles: sw (social worker), mash (MASH officer), ictg (guardian).
// v1 defines no form for user IDs; this one is invented.
func (g *Generator) user(r *rand.Rand, role string, n int) string {
	return fmt.Sprintf("%s.%s.%03d", strings.ToLower(string(g.home.Code)), role, 1+r.IntN(n))
}

// ---- time helpers: working days are Monday to Friday except 1 January and
// 25 and 26 December, the fixed-date holidays every GB division shares. Other
// bank holidays are ignored; synthetic deadlines need not be exact, and the
// schemas layer must not depend on node/calendar. ----

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

func ptr(t time.Time) *time.Time { return &t }

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func isWorkingDay(t time.Time) bool {
	switch _, m, d := t.Date(); {
	case t.Weekday() == time.Saturday || t.Weekday() == time.Sunday:
		return false
	case m == time.January && d == 1, m == time.December && (d == 25 || d == 26):
		return false
	}
	return true
}

func addWorkingDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if isWorkingDay(t) {
			n--
		}
	}
	return t
}

// officeTime returns a time in office hours (09:00 to 17:00) on the first
// working day at or after t, and after t.
func officeTime(r *rand.Rand, t time.Time) time.Time { return dayTime(r, t, 9*60, 17*60) }

// meetingTime returns a panel meeting time (10:00 to 15:30) on the first
// working day at or after t, and after t.
func meetingTime(r *rand.Rand, t time.Time) time.Time { return dayTime(r, t, 10*60, 15*60+30) }

func dayTime(r *rand.Rand, t time.Time, from, to int) time.Time {
	day := midnight(t)
	for {
		if isWorkingDay(day) {
			at := day.Add(time.Duration(between(r, from, to)) * time.Minute)
			if at.After(t) {
				return at
			}
		}
		day = day.AddDate(0, 0, 1)
	}
}

// recoveryDays is the minimum recovery period after a positive RG: 45 days
// before 30 January 2023, 30 after.
func recoveryDays(rg time.Time) int {
	if rg.Before(time.Date(2023, time.January, 30, 0, 0, 0, 0, time.UTC)) {
		return 45
	}
	return 30
}

// instant draws an instant in the period.
func (g *Generator) instant(r *rand.Rand) time.Time {
	return g.start.Add(time.Duration(r.Int64N(int64(g.end.Sub(g.start))))).Truncate(time.Minute)
}

// referralTime settles when a referral drawn at t was made. The police refer
// at any time; local authorities, the Home Office and others in office hours
// on the first working day at or after t that is still in the period.
func (g *Generator) referralTime(r *rand.Rand, t time.Time, fr v1.FirstResponderType) time.Time {
	if fr == v1.ResponderPolice {
		return t
	}
	minute := time.Duration(between(r, 8*60+30, 17*60+30)) * time.Minute
	for day := midnight(t); day.Before(g.end); day = day.AddDate(0, 0, 1) {
		if at := day.Add(minute); isWorkingDay(day) && !at.Before(g.start) && at.Before(g.end) {
			return at
		}
	}
	return t
}

// ---- the child ----

// child is a generated child and what the rest of the case needs to know
// about them.
type child struct {
	identity v1.ChildIdentity
	nat      *nationality
	foreign  bool
}

// outOfScope reports whether a child referred at the given time is outside
// the devolved decisions: age-disputed, or not more than 100 days from their
// 18th birthday (by the date of birth recorded, estimated or not).
func outOfScope(id v1.ChildIdentity, at time.Time) bool {
	if id.AgeDisputed || id.DateOfBirth == nil {
		return true
	}
	dob, err := id.DateOfBirth.Date.Time()
	return err != nil || !at.Before(dob.AddDate(18, 0, -100))
}

var (
	uncertainties = []weighted[int]{{180, 40}, {365, 45}, {730, 15}}
	estimateBases = []weighted[string]{
		{"age assessment", 30}, {"child's account", 30}, {"Merton-compliant age assessment", 15},
		{"Home Office initial age decision", 10}, {"visual assessment at port of entry", 8},
		{"documents of uncertain provenance", 7},
	}
	disputedBases = []string{"Merton-compliant age assessment", "Home Office initial age decision", "age assessment"}
)

// child draws a child referred at the given time.
func (g *Generator) child(r *rand.Rand, at time.Time) child {
	nat := pick(r, tables.nationalities)
	ch := child{nat: nat, foreign: nat.code != "GBR"}
	id := &ch.identity

	switch x := r.Float64(); {
	case x < 0.003:
		id.Sex = v1.SexUnknown
	case x < 0.005:
		id.Sex = v1.SexOther
	case chance(r, nat.maleShare):
		id.Sex = v1.SexMale
	default:
		id.Sex = v1.SexFemale
	}

	// A child of unknown nationality has a name from some other group.
	pools := nat
	if len(nat.male) == 0 {
		pools = pick(r, tables.donors)
	}

	age := pick(r, nat.profile.ages)
	birth := midnight(at).AddDate(-age, 0, -r.IntN(365))
	dob := &v1.DateOfBirth{Date: v1.DateOf(birth)}
	documented := chance(r, nat.documented)
	if !documented {
		dob.Estimated = true
		dob.UncertaintyDays = pick(r, uncertainties)
		if !ch.foreign {
			dob.UncertaintyDays = min(dob.UncertaintyDays, 365)
		}
		dob.Basis = pick(r, estimateBases)
		if chance(r, 0.25) { // the 1 January convention for an unknown birthday
			dob.Date = v1.DateOf(time.Date(birth.Year(), time.January, 1, 0, 0, 0, 0, time.UTC))
		}
		if chance(r, nat.disputed) {
			id.AgeDisputed = true
			dob.Basis = one(r, disputedBases)
		}
	}
	id.DateOfBirth = dob

	id.Names = personNames(r, nat, pools, id.Sex, documented)

	id.Nationalities = []string{nat.code}
	if nat.secondShare > 0 && chance(r, nat.secondShare) {
		id.Nationalities = append(id.Nationalities, one(r, nat.second))
	}
	langs := pools.languages
	if len(nat.languages) > 0 {
		langs = nat.languages
	} else if chance(r, 0.4) { // unknown nationality and no language recorded either
		langs = nil
	}
	if len(langs) > 0 {
		first := pick(r, langs)
		id.Languages = []string{first}
		if first != "eng" {
			if ch.foreign && chance(r, 0.25) {
				id.Languages = append(id.Languages, "eng")
			}
			id.InterpreterNeeded = chance(r, nat.interpreter)
		}
	}
	return ch
}

// spelling draws how a name is spelt: usually its most common spelling.
func spelling(r *rand.Rand, f nameForm) string {
	if len(f.spellings) == 1 || chance(r, 0.7) {
		return f.spellings[0]
	}
	return f.spellings[1+r.IntN(len(f.spellings)-1)]
}

// otherSpelling returns a spelling of f other than s.
func otherSpelling(r *rand.Rand, f *nameForm, s string) (string, bool) {
	var alts []string
	for _, sp := range f.spellings {
		if sp != s {
			alts = append(alts, sp)
		}
	}
	if len(alts) == 0 {
		return "", false
	}
	return one(r, alts), true
}

func givenPool(r *rand.Rand, n *nationality, sex v1.Sex) []nameForm {
	switch {
	case sex == v1.SexMale || len(n.female) == 0:
		return n.male
	case sex == v1.SexFemale:
		return n.female
	case chance(r, 0.5):
		return n.male
	}
	return n.female
}

func familyPool(n *nationality, sex v1.Sex) []nameForm {
	if sex == v1.SexFemale && n.familyFemale != nil {
		return n.familyFemale
	}
	return n.family
}

// original writes a name in its own script, or "" if a part has none.
func original(n *nationality, given, family *nameForm) string {
	if given.original == "" || (family != nil && family.original == "") {
		return ""
	}
	if family == nil {
		return given.original
	}
	if n.familyFirst {
		return family.original + n.originalJoin + given.original
	}
	return given.original + n.originalJoin + family.original
}

func avoided(p v1.PersonName) bool {
	return avoidNames[p.Given+" "+p.Family] || avoidNames[p.Family+" "+p.Given]
}

// personNames draws the names recorded for a child: the name they use, and
// sometimes a legal name, another transliteration and an alias.
func personNames(r *rand.Rand, nat, pools *nationality, sex v1.Sex, documented bool) []v1.PersonName {
	var (
		given, family *nameForm
		used          v1.PersonName
	)
	for try := 0; ; try++ {
		gp, fp := givenPool(r, pools, sex), familyPool(pools, sex)
		given, family = &gp[r.IntN(len(gp))], &fp[r.IntN(len(fp))]
		used = v1.PersonName{Kind: v1.NameUsed, Given: spelling(r, *given), Family: spelling(r, *family)}
		if !avoided(used) || try > 10 {
			break
		}
	}
	if chance(r, nat.oneName) {
		used.Family, family = "", nil
	}
	if pools.originals > 0 && chance(r, pools.originals) {
		used.Original = original(pools, given, family)
	}
	names := []v1.PersonName{used}

	if documented && chance(r, 0.25) {
		legal := v1.PersonName{Kind: v1.NameLegal, Given: given.spellings[0]}
		if family != nil {
			legal.Family = family.spellings[0]
		}
		if pools.code == "GBR" {
			if middle := one(r, givenPool(r, pools, sex)); middle.spellings[0] != given.spellings[0] {
				legal.Given += " " + middle.spellings[0]
			}
		}
		if pools.originals > 0 && chance(r, 0.5) {
			legal.Original = original(pools, given, family)
		}
		if legal.Given != used.Given || legal.Family != used.Family {
			names = append(names, legal)
		}
	}

	if pools.code != "GBR" && chance(r, 0.2) {
		alt := v1.PersonName{Kind: v1.NameTransliteration, Given: used.Given, Family: used.Family}
		if s, ok := otherSpelling(r, given, used.Given); ok && (family == nil || chance(r, 0.6)) {
			alt.Given = s
		} else if family != nil {
			if s, ok := otherSpelling(r, family, used.Family); ok {
				alt.Family = s
			}
		}
		if alt != (v1.PersonName{Kind: v1.NameTransliteration, Given: used.Given, Family: used.Family}) {
			names = append(names, alt)
		}
	}

	if chance(r, 0.12) {
		from := pools
		if pools.code != "GBR" && chance(r, 0.25) { // an English name taken in the UK
			from = tables.byCode["GBR"]
		}
		a := one(r, givenPool(r, from, sex))
		alias := v1.PersonName{Kind: v1.NameAlias, Given: spelling(r, a)}
		switch x := r.Float64(); {
		case x < 0.5:
			alias.Family = used.Family
		case x < 0.75:
			alias.Family = spelling(r, one(r, familyPool(from, sex)))
		}
		if alias.Given != used.Given {
			names = append(names, alias)
		}
	}
	return names
}

// ---- the referral ----

var typeLabels = map[v1.ExploitationType]string{
	v1.ExploitationSexual:            "sexual exploitation",
	v1.ExploitationCriminal:          "criminal exploitation",
	v1.ExploitationLabour:            "labour exploitation",
	v1.ExploitationDomesticServitude: "domestic servitude",
	v1.ExploitationOrganHarvesting:   "organ harvesting",
	v1.ExploitationUnknown:           "exploitation",
}

// exploitationWeights adjusts a profile for girls, who are referred far more
// often for sexual exploitation and domestic servitude.
func exploitationWeights(p *exploitationProfile, sex v1.Sex) []weighted[v1.ExploitationType] {
	if sex != v1.SexFemale {
		return p.types
	}
	out := slices.Clone(p.types)
	for i := range out {
		switch out[i].v {
		case v1.ExploitationSexual:
			out[i].w *= 3
		case v1.ExploitationDomesticServitude:
			out[i].w *= 2.5
		case v1.ExploitationCriminal:
			out[i].w *= 0.5
		case v1.ExploitationLabour:
			out[i].w *= 0.7
		}
	}
	return out
}

func (g *Generator) referral(r *rand.Rand, ch child, fr v1.FirstResponderType, at time.Time) v1.Referral {
	p := ch.nat.profile
	weights := exploitationWeights(p, ch.identity.Sex)
	first := pick(r, weights)
	ref := v1.Referral{
		ReferredAt:         at,
		FirstResponderOrg:  strings.ReplaceAll(one(r, firstResponderOrgs[fr]), "%s", g.home.Name),
		FirstResponderType: fr,
		ExploitationTypes:  []v1.ExploitationType{first},
		Source:             pick(r, sources[fr]),
		PresentingIssue:    one(r, forChild(presentingIssues, arrivalIssues, first, ch.foreign)),
		ICTGReferred:       chance(r, 0.5),
	}
	if first != v1.ExploitationUnknown && chance(r, p.secondType) {
		if second := pick(r, weights); second != first && second != v1.ExploitationUnknown {
			ref.ExploitationTypes = append(ref.ExploitationTypes, second)
		}
	}
	if slices.Contains(ref.ExploitationTypes, v1.ExploitationCriminal) && chance(r, p.countyLines) {
		ref.CountyLines = true
	}
	ref.ExploitationLocation = pick(r, p.locations)
	if ref.CountyLines && ref.ExploitationLocation == v1.LocationOverseas {
		ref.ExploitationLocation = v1.LocationBoth
	}
	return ref
}

// ---- the case and its history ----

// event is one step of a case's NRM history.
type event struct {
	at       time.Time
	deadline time.Time // the deadline open while this event is awaited; zero for none
	apply    func()    // records the event on the case; nil for a step that changes nothing
	openOnly bool      // a side event that belongs only to an open case
}

// caseBuilder draws a case's whole history, then cuts it at the clock (or at
// the case's transfer out). The NRM steps form one chain: a step that has not
// happened yet stops the chain, and its deadline becomes the case's next
// deadline. Other records (risk ratings, wishes, the advocate, relocations)
// are side events, each kept if it happened by the cut.
type caseBuilder struct {
	g        *Generator
	r        *rand.Rand
	c        *v1.Case
	ch       child
	referred time.Time
	opened   time.Time // when the case was first opened, here or at the authority it came from
	rgDue    time.Time

	chain  []event
	side   []event
	until  time.Time // the clock, or when the case was transferred out
	exitAt time.Time // when the case left the NRM process; zero if it never does here

	latest  time.Time
	changes uint64

	wishTimes []time.Time
	out       *v1.RelocationRecord // a transfer out, once resolved
}

func (g *Generator) newCase(r *rand.Rand) *v1.Case {
	drawn := g.instant(r)
	ch := g.child(r, drawn)
	fr := pick(r, firstResponderTypes[ch.foreign])
	referred := g.referralTime(r, drawn, fr)
	c := &v1.Case{
		ID:          newCaseID(r, g.home.Code),
		ChildID:     newID(r),
		State:       v1.StateReceived,
		Responsible: g.home.Code,
		LeadWorker:  g.user(r, "sw", 60),
		Identity:    ch.identity,
	}
	c.Referral = g.referral(r, ch, fr, referred)
	c.CreatedAt = referred.Add(time.Duration(between(r, 5, 120)) * time.Minute)
	if c.CreatedAt.After(g.now) {
		c.CreatedAt = g.now
	}
	b := &caseBuilder{
		g: g, r: r, c: c, ch: ch, referred: referred, opened: c.CreatedAt,
		rgDue: addWorkingDays(referred, 5),
		until: g.now, latest: c.CreatedAt, changes: 1,
	}
	b.transferIn()
	b.planWishes()
	b.planNRM()
	b.planSafeguarding()
	b.planRisk()
	b.planAdvocate()
	b.planTransferOut()
	b.materialise()
	return c
}

func (b *caseBuilder) then(at, deadline time.Time, apply func()) {
	if n := len(b.chain); n > 0 && !at.After(b.chain[n-1].at) {
		at = b.chain[n-1].at.Add(time.Minute)
	}
	b.chain = append(b.chain, event{at: at, deadline: deadline, apply: apply})
}

func (b *caseBuilder) also(at time.Time, apply func()) {
	b.side = append(b.side, event{at: at, apply: apply})
}

// whileOpen adds a side event that is kept only if it happened before the
// case left the NRM process.
func (b *caseBuilder) whileOpen(at time.Time, apply func()) {
	b.side = append(b.side, event{at: at, apply: apply, openOnly: true})
}

func (b *caseBuilder) touch(at time.Time) {
	b.changes++
	if at.After(b.latest) {
		b.latest = at
	}
}

func (b *caseBuilder) materialise() {
	c := b.c
	for _, e := range b.chain {
		if e.at.After(b.until) {
			if !e.deadline.IsZero() {
				c.NextDeadline = ptr(e.deadline)
			}
			break
		}
		if e.apply != nil {
			e.apply()
			b.touch(e.at)
		}
	}
	slices.SortStableFunc(b.side, func(x, y event) int { return x.at.Compare(y.at) })
	for _, e := range b.side {
		if e.openOnly && !b.exitAt.IsZero() && e.at.After(b.exitAt) {
			continue
		}
		if !e.at.After(b.until) {
			e.apply()
			b.touch(e.at)
		}
	}
	if b.out != nil && b.out.Status == v1.RelocationAccepted && !b.out.ResolvedAt.After(b.until) {
		c.State = v1.StateTransferredOut
		c.NextDeadline = nil
	}
	c.Revision = b.changes
	c.UpdatedAt = b.latest
}

// transferIn makes a few cases ones that another authority transferred here:
// the case was created here when the transfer was accepted.
func (b *caseBuilder) transferIn() {
	r, g := b.r, b.g
	if !chance(r, 0.02) {
		return
	}
	from := b.destination()
	req := officeTime(r, b.referred.Add(days(between(r, 2, 40))))
	acc := officeTime(r, req.Add(days(between(r, 2, 10))))
	if acc.After(g.now) {
		return
	}
	rec := v1.RelocationRecord{
		RequestID: newID(r), From: from, To: g.home.Code, RequestedAt: req,
		Status: v1.RelocationAccepted, ResolvedAt: ptr(acc),
	}
	b.c.CreatedAt, b.latest = acc, acc
	b.c.Relocations = append(b.c.Relocations, rec)
}

// destination draws another authority, usually a near one.
func (b *caseBuilder) destination() authority.Code {
	if chance(b.r, 0.8) {
		return one(b.r, b.g.nearby)
	}
	return one(b.r, b.g.others)
}

func (b *caseBuilder) decision(stage v1.DecisionStage, positive bool, at time.Time, panel v1.ID) v1.NRMDecision {
	r := b.r
	d := v1.NRMDecision{Stage: stage, Outcome: v1.OutcomeNegative, DecidedAt: at, PanelDecisionID: panel}
	if positive {
		d.Outcome = v1.OutcomePositive
	}
	first := b.c.Referral.ExploitationTypes[0]
	seen := forChild(indicators, arrivalIndicators, first, b.ch.foreign)
	switch {
	case stage == v1.StageRG && positive:
		d.TestApplied = v1.TestReasonableGrounds
		d.Reasons = fmt.Sprintf("%s Indicators of %s included %s. The reasonable grounds threshold was met.",
			one(r, rgPositiveOpen), typeLabels[first], one(r, seen))
	case stage == v1.StageRG:
		d.TestApplied = v1.TestReasonableGrounds
		d.Reasons = one(r, rgNegative)
	case positive:
		d.TestApplied = v1.TestConclusiveGrounds
		d.Reasons = one(r, cgPositive) + "\n\nThe panel noted " + one(r, seen) + "."
	default:
		d.TestApplied = v1.TestConclusiveGrounds
		d.Reasons = one(r, cgNegative)
	}
	for _, w := range b.wishTimes {
		if w.Before(at) {
			d.ChildViews = one(r, decisionChildViews)
			if b.c.Referral.ICTGReferred && chance(r, 0.5) {
				d.ChildViews = decisionChildViewsICTG
			}
			break
		}
	}
	return d
}

func (b *caseBuilder) panelID() v1.ID {
	if chance(b.r, 0.85) {
		return newID(b.r)
	}
	return ""
}

// planNRM draws the NRM chain: scope check, RG, recovery, CG, any
// reconsideration, assurance and exit.
func (b *caseBuilder) planNRM() {
	r, c := b.r, b.c
	scopeAt := b.opened.Add(time.Duration(between(r, 30, 240)) * time.Minute)
	b.then(scopeAt, b.rgDue, func() { c.State = v1.StateScopeCheck })
	scopeDone := scopeAt.Add(time.Duration(between(r, 2, 20)) * time.Hour)
	if outOfScope(c.Identity, b.referred) {
		b.then(scopeDone, b.rgDue, func() { c.State = v1.StateReferredToSCA })
		return
	}
	b.then(scopeDone, b.rgDue, func() { c.State = v1.StateRGPending })
	delay := between(r, 1, 5) // most RG decisions meet the 5-working-day target
	if chance(r, 0.2) {
		delay = between(r, 6, 15)
	}
	rgAt := meetingTime(r, addWorkingDays(b.referred, delay))
	if !rgAt.After(scopeDone) {
		rgAt = meetingTime(r, scopeDone)
	}
	b.reasonableGrounds(rgAt, 0.9, true, b.rgDue)
}

func (b *caseBuilder) reasonableGrounds(at time.Time, pPositive float64, mayReconsider bool, deadline time.Time) {
	r, c := b.r, b.c
	positive := chance(r, pPositive)
	panel := b.panelID()
	rg := b.decision(v1.StageRG, positive, at, panel)
	if !positive {
		b.then(at, deadline, func() {
			c.Decisions = append(c.Decisions, rg)
			c.State = v1.StateRGNegative
		})
		b.negative(v1.StageRG, at, mayReconsider)
		return
	}
	if chance(r, 0.15) { // RG and CG at the same meeting, as devolved panels may
		cgPositive := chance(r, 0.92)
		cg := b.decision(v1.StageCG, cgPositive, at, panel)
		b.then(at, deadline, func() {
			c.Decisions = append(c.Decisions, rg, cg)
			c.State = v1.StateCGNegative
			if cgPositive {
				c.State = v1.StateCGPositive
			}
		})
		b.afterCG(at, cgPositive, true)
		return
	}
	b.then(at, deadline, func() {
		c.Decisions = append(c.Decisions, rg)
		c.State = v1.StateRGPositive
	})
	recoveryEnd := at.AddDate(0, 0, recoveryDays(at))
	b.then(at.Add(time.Duration(between(r, 10, 120))*time.Minute), time.Time{}, func() { c.State = v1.StateRecoveryPeriod })
	b.then(recoveryEnd, recoveryEnd, func() { c.State = v1.StateCGPending })
	wait := min(int(r.ExpFloat64()*40), 300)
	b.conclusiveGrounds(meetingTime(r, recoveryEnd.Add(days(wait))), 0.88, true, time.Time{})
}

func (b *caseBuilder) conclusiveGrounds(at time.Time, pPositive float64, mayReconsider bool, deadline time.Time) {
	c := b.c
	positive := chance(b.r, pPositive)
	cg := b.decision(v1.StageCG, positive, at, b.panelID())
	b.then(at, deadline, func() {
		c.Decisions = append(c.Decisions, cg)
		c.State = v1.StateCGNegative
		if positive {
			c.State = v1.StateCGPositive
		}
	})
	b.afterCG(at, positive, mayReconsider)
}

func (b *caseBuilder) afterCG(at time.Time, positive, mayReconsider bool) {
	if positive {
		b.finish(at, time.Time{})
		return
	}
	b.negative(v1.StageCG, at, mayReconsider)
}

// negative follows a negative decision: the 30-day window for a
// reconsideration request, and sometimes a request.
func (b *caseBuilder) negative(stage v1.DecisionStage, at time.Time, mayReconsider bool) {
	r, c := b.r, b.c
	window := at.AddDate(0, 0, 30)
	if !mayReconsider || !chance(r, 0.35) {
		b.then(window, window, nil) // the window closes unused
		b.finish(window, time.Time{})
		return
	}
	req := officeTime(r, at.Add(days(between(r, 2, 26))))
	by := b.g.user(r, "sw", 60)
	if c.Referral.ICTGReferred {
		by = b.g.user(r, "ictg", 15)
	}
	rec := v1.Reconsideration{
		Stage: stage, RequestedAt: req, RequestedBy: by,
		Grounds: one(r, []v1.ReconsiderationGrounds{v1.GroundsNewEvidence, v1.GroundsNotInLineGuidance}),
		Outcome: v1.ReconsiderationPending,
	}
	slot := -1
	b.then(req, window, func() {
		c.Reconsiderations = append(c.Reconsiderations, rec)
		slot = len(c.Reconsiderations) - 1
		c.State = v1.StateReconsiderationRequest
	})
	decided := meetingTime(r, req.Add(days(between(r, 10, 40))))
	accepted := chance(r, 0.4)
	outcome, state := v1.ReconsiderationRefused, v1.StateReconsiderationRefused
	if accepted {
		outcome, state = v1.ReconsiderationAccepted, v1.StateReconsiderationAccepted
	}
	reasons := one(r, reconsiderationReasons[outcome])
	b.then(decided, time.Time{}, func() {
		rr := &c.Reconsiderations[slot]
		rr.Outcome, rr.DecidedAt, rr.Reasons = outcome, ptr(decided), reasons
		c.State = state
	})
	if !accepted {
		b.finish(decided, time.Time{})
		return
	}
	again := meetingTime(r, addWorkingDays(decided, between(r, 3, 15)))
	if stage == v1.StageRG {
		b.reasonableGrounds(again, 0.75, false, time.Time{})
	} else {
		b.conclusiveGrounds(again, 0.7, false, time.Time{})
	}
}

// finish follows the last decision: assurance by the SCA on some cases, then
// exit, then on some cases the 6- and 12-month post-exit reviews. deadline is
// the one open until the first of these steps.
func (b *caseBuilder) finish(from, deadline time.Time) {
	r, c := b.r, b.c
	next := from
	if chance(r, 0.6) {
		submitted := officeTime(r, from.Add(days(between(r, 3, 20))))
		b.then(submitted, deadline, func() {
			c.Assurance = &v1.Assurance{Status: v1.AssuranceSubmitted, SubmittedAt: submitted}
			c.State = v1.StateAssuranceSubmitted
		})
		deadline = time.Time{}
		answered := officeTime(r, submitted.Add(days(between(r, 15, 75))))
		if chance(r, 0.85) {
			b.then(answered, time.Time{}, func() {
				c.Assurance = &v1.Assurance{Status: v1.AssuranceAssured, SubmittedAt: submitted, ResolvedAt: ptr(answered)}
				c.State = v1.StateAssured
			})
			next = answered
		} else {
			query := one(r, assuranceQueries)
			b.then(answered, time.Time{}, func() {
				c.Assurance = &v1.Assurance{Status: v1.AssuranceQueried, SubmittedAt: submitted, ResolvedAt: ptr(answered), Query: query}
				c.State = v1.StateAssuranceQueried
			})
			assured := officeTime(r, answered.Add(days(between(r, 10, 40))))
			b.then(assured, time.Time{}, func() {
				c.Assurance = &v1.Assurance{Status: v1.AssuranceAssured, SubmittedAt: submitted, ResolvedAt: ptr(assured), Query: query}
				c.State = v1.StateAssured
			})
			next = assured
		}
	}
	exit := officeTime(r, next.Add(days(between(r, 7, 60))))
	b.exitAt = exit
	if !chance(r, 0.5) {
		b.then(exit, deadline, func() { c.State = v1.StateClosed })
		return
	}
	due6, due12 := exit.AddDate(0, 6, 0), exit.AddDate(0, 12, 0)
	b.then(exit, deadline, func() {
		c.State = v1.StatePostExitReview
		c.PostExitReviews = []v1.PostExitReview{{Month: 6, DueAt: due6}, {Month: 12, DueAt: due12}}
	})
	held6 := officeTime(r, due6.Add(days(between(r, -7, 14))))
	outcome6 := one(r, postExitOutcomes)
	b.then(held6, due6, func() {
		c.PostExitReviews[0].HeldAt, c.PostExitReviews[0].Outcome = ptr(held6), outcome6
	})
	held12 := officeTime(r, due12.Add(days(between(r, -7, 14))))
	outcome12 := one(r, postExitOutcomes)
	b.then(held12, due12, func() {
		c.PostExitReviews[1].HeldAt, c.PostExitReviews[1].Outcome = ptr(held12), outcome12
		c.State = v1.StateClosed
	})
}

// planWishes draws up to three records of the child's wishes and feelings
// over the first year.
func (b *caseBuilder) planWishes() {
	r, c := b.r, b.c
	n := pick(r, []weighted[int]{{0, 20}, {1, 45}, {2, 25}, {3, 10}})
	offsets := make([]int, n)
	for i := range offsets {
		offsets[i] = between(r, 1, 365)
	}
	slices.Sort(offsets)
	for _, off := range offsets {
		at := officeTime(r, b.opened.Add(days(off)))
		by := c.LeadWorker
		if c.Referral.ICTGReferred && chance(r, 0.5) {
			by = b.g.user(r, "ictg", 15)
		}
		views, response := b.views()
		view := v1.ChildView{RecordedAt: at, RecordedBy: by, Views: views}
		switch x := r.Float64(); {
		case x < 0.6:
			view.HowConsidered = response
		case x < 0.8:
			view.HowConsidered = one(r, generalResponses)
		}
		b.wishTimes = append(b.wishTimes, at)
		b.whileOpen(at, func() { c.WishesAndFeelings = append(c.WishesAndFeelings, view) })
	}
}

// views puts together two to four neutral sentences, and returns with them
// how the first wish was answered.
func (b *caseBuilder) views() (views, response string) {
	r := b.r
	parts := []string{one(r, viewFeelings)}
	for i := range between(r, 1, 2) {
		w := one(r, viewWishes)
		if b.c.Identity.InterpreterNeeded && chance(r, 0.1) {
			w = interpreterWish
		}
		if i == 0 {
			response = w.response
		}
		wish := strings.ReplaceAll(w.wish, "%s", one(r, subjects))
		if !slices.Contains(parts, wish) {
			parts = append(parts, wish)
		}
	}
	if chance(r, 0.4) {
		parts = append(parts, one(r, viewWorries))
	}
	return strings.Join(parts, " "), response
}

// forChild returns the entries of a table for a type, with those that only
// fit a child from abroad added for such a child.
func forChild[K comparable](all, arrival map[K][]string, k K, foreign bool) []string {
	if !foreign || len(arrival[k]) == 0 {
		return all[k]
	}
	return append(slices.Clip(all[k]), arrival[k]...)
}

func (b *caseBuilder) planSafeguarding() {
	r, c := b.r, b.c
	s := &c.Safeguarding
	s.Section47 = chance(r, 0.7)
	s.Section17 = !s.Section47 || chance(r, 0.3)
	if s.Section47 {
		s.ProtectionPlan = chance(r, 0.45)
		meeting := officeTime(r, b.opened.Add(days(between(r, -3, 3))))
		b.also(meeting, func() { s.StrategyMeeting = ptr(meeting) })
	}
	// Most children referred from abroad are unaccompanied and looked after.
	p := 0.25
	if b.ch.foreign {
		p = 0.7
		if c.Referral.FirstResponderType == v1.ResponderHomeOffice {
			p = 0.92
		}
	}
	s.LookedAfter = chance(r, p)
}

// planRisk draws the RAG history: at referral, after the multi-agency
// discussion, and reviews every two to four months while the case is open.
func (b *caseBuilder) planRisk() {
	r, c := b.r, b.c
	ref := c.Referral
	weights := []weighted[v1.RAG]{{v1.RAGRed, 35}, {v1.RAGAmber, 50}, {v1.RAGGreen, 15}}
	if ref.CountyLines || slices.Contains(ref.ExploitationTypes, v1.ExploitationSexual) {
		weights = []weighted[v1.RAG]{{v1.RAGRed, 55}, {v1.RAGAmber, 38}, {v1.RAGGreen, 7}}
	}
	rating := pick(r, weights)
	b.rate(b.opened.Add(time.Duration(between(r, 0, 90))*time.Minute), rating, v1.RiskAtReferral, b.g.user(r, "mash", 12))
	switch x := r.Float64(); {
	case x < 0.2:
		rating = up(rating)
	case x < 0.45:
		rating = down(rating)
	}
	at := officeTime(r, b.opened.Add(time.Duration(between(r, 2, 48))*time.Hour))
	b.rate(at, rating, v1.RiskAfterDiscussion, c.LeadWorker)
	for range 4 {
		at = officeTime(r, at.Add(days(between(r, 60, 120))))
		if !b.exitAt.IsZero() && at.After(b.exitAt) {
			break
		}
		if chance(r, 0.45) {
			rating = down(rating)
		} else if chance(r, 0.1) {
			rating = up(rating)
		}
		b.rate(at, rating, v1.RiskReview, c.LeadWorker)
	}
}

func (b *caseBuilder) rate(at time.Time, rating v1.RAG, stage v1.RiskStage, by string) {
	c := b.c
	rr := v1.RiskRating{Rating: rating, Stage: stage, At: at, By: by}
	if chance(b.r, 0.8) {
		rr.Reason = one(b.r, riskReasons[rating])
	}
	b.also(at, func() { c.Risk = append(c.Risk, rr) })
}

func up(r v1.RAG) v1.RAG {
	if r == v1.RAGGreen {
		return v1.RAGAmber
	}
	return v1.RAGRed
}

func down(r v1.RAG) v1.RAG {
	if r == v1.RAGRed {
		return v1.RAGAmber
	}
	return v1.RAGGreen
}

var guardianServices = []string{
	"Regional ICTG Service (synthetic)", "Independent Child Trafficking Guardians North (synthetic)",
	"ICTG Service South and West (synthetic)",
}

var advocacyServices = []string{
	"Young People's Advocacy Network (synthetic)", "Children's Rights Advocacy Service (synthetic)",
}

// planAdvocate assigns an ICTG where one was referred, or sometimes an
// advocate the child chose.
func (b *caseBuilder) planAdvocate() {
	r, c := b.r, b.c
	adv := &v1.Advocate{Kind: v1.AdvocateICTG}
	switch {
	case c.Referral.ICTGReferred:
		adv.Organisation = one(r, guardianServices)
	case chance(r, 0.1):
		adv.Kind, adv.Organisation = v1.AdvocateIndependent, one(r, advocacyServices)
	default:
		return
	}
	adv.Name = one(r, advocateGiven) + " " + one(r, advocateFamily)
	adv.AssignedAt = officeTime(r, b.opened.Add(days(between(r, 1, 10))))
	b.also(adv.AssignedAt, func() { c.Advocate = adv })
}

// planTransferOut moves a few cases to another authority while they are
// still open. An accepted transfer ends the case's history here.
func (b *caseBuilder) planTransferOut() {
	r, c, g := b.r, b.c, b.g
	if !chance(r, 0.04) {
		return
	}
	lo := b.referred.Add(days(10))
	hi := b.referred.Add(days(300))
	if !b.exitAt.IsZero() && b.exitAt.Add(-days(5)).Before(hi) {
		hi = b.exitAt.Add(-days(5))
	}
	if !hi.After(lo) {
		return
	}
	req := officeTime(r, lo.Add(time.Duration(r.Int64N(int64(hi.Sub(lo))))))
	resolved := officeTime(r, req.Add(days(between(r, 2, 20))))
	to := b.destination()
	status := pick(r, []weighted[v1.RelocationStatus]{
		{v1.RelocationAccepted, 70}, {v1.RelocationRejected, 15}, {v1.RelocationRevoked, 7}, {v1.RelocationRequested, 8},
	})
	id := newID(r)
	slot := -1
	b.also(req, func() {
		c.Relocations = append(c.Relocations, v1.RelocationRecord{
			RequestID: id, From: g.home.Code, To: to, RequestedAt: req, Status: v1.RelocationRequested,
		})
		slot = len(c.Relocations) - 1
	})
	if status == v1.RelocationRequested || resolved.After(g.now) || req.After(g.now) {
		return
	}
	b.out = &v1.RelocationRecord{Status: status, ResolvedAt: ptr(resolved)}
	if status == v1.RelocationAccepted {
		b.until = resolved
	}
	b.also(resolved, func() {
		c.Relocations[slot].Status, c.Relocations[slot].ResolvedAt = status, ptr(resolved)
	})
}
