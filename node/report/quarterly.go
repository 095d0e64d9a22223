package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"nrmnet/node/calendar"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
)

// Return is the quarterly return, every count already suppressed.
type Return struct {
	Quarter     Quarter     `json:"quarter"`
	Suppression Suppression `json:"suppression"`
	// Referrals received in the quarter.
	Referrals ReferralFigures `json:"referrals"`
	// Decisions issued in the quarter.
	RGDecisions DecisionFigures `json:"rg_decisions"`
	CGDecisions DecisionFigures `json:"cg_decisions"`
	// AwaitingCG: cases with a positive RG decision and no CG decision at
	// the end of the quarter, by days waited since the RG decision.
	AwaitingCG Table `json:"awaiting_cg"`
	// Reconsiderations requested and decided in the quarter.
	Reconsiderations ReconsiderationFigures `json:"reconsiderations"`
}

// Suppression says how small numbers were hidden.
type Suppression struct {
	Threshold int    `json:"threshold"`
	Rule      string `json:"rule"`
}

// ReferralFigures break the quarter's referrals down in the Home Office
// statistics' categories. Every table's total is the number of referrals.
type ReferralFigures struct {
	// ByExploitation counts a referral with one exploitation type under it
	// and one with several under "multiple".
	ByExploitation Table `json:"by_exploitation"`
	// CountyLines counts the referrals flagged county lines (all of them
	// criminal exploitation, alone or with other types).
	CountyLines      Count `json:"county_lines"`
	BySex            Table `json:"by_sex"`
	ByAgeGroup       Table `json:"by_age_group"`       // age at referral
	ByNationality    Table `json:"by_nationality"`     // first nationality; small groups folded into "other"
	ByFirstResponder Table `json:"by_first_responder"` // first-responder type
}

// DecisionFigures are the decisions of one stage issued in the quarter.
type DecisionFigures struct {
	// Issued has the cells "positive" and "negative".
	Issued Table `json:"issued"`
	// SharePositive is the percentage positive, or suppressed when either
	// cell is.
	SharePositive Share `json:"share_positive"`
}

// ReconsiderationFigures are the reconsiderations of the quarter.
type ReconsiderationFigures struct {
	// Requested in the quarter, by the stage of the decision reconsidered.
	Requested Table `json:"requested"`
	// Decided in the quarter: "accepted" and "refused".
	Decided Table `json:"decided"`
}

// Share is a percentage, whole, or suppressed.
type Share struct {
	pct   int
	shown bool
}

// Shown returns the percentage and true, or 0 and false.
func (s Share) Shown() (int, bool) { return s.pct, s.shown }

// String is "83%", "-" when nothing was issued, or "suppressed".
func (s Share) String() string {
	if !s.shown {
		return "suppressed"
	}
	if s.pct < 0 {
		return "-"
	}
	return strconv.Itoa(s.pct) + "%"
}

// MarshalJSON writes the percentage as a number, null when nothing was
// issued, or the string "suppressed".
func (s Share) MarshalJSON() ([]byte, error) {
	switch {
	case !s.shown:
		return json.Marshal("suppressed")
	case s.pct < 0:
		return []byte("null"), nil
	}
	return []byte(strconv.Itoa(s.pct)), nil
}

// The categories of the return.
const (
	CategoryMultiple      = "multiple"
	CategoryOtherNational = "other"
	CategoryStateless     = "stateless"
	CategoryNotKnown      = "not known"
	AgeUnder12            = "0-11"
	Age12To15             = "12-15"
	Age16To17             = "16-17"
	Age18AndOver          = "18 and over"
	AgeDisputed           = "age disputed"
	AgeNotKnown           = "not known"
)

// SuppressionRule is the rule in words, written into every return.
const SuppressionRule = "Counts from 1 to T-1 are shown as <T. Where one count in a table is hidden and the total is shown, " +
	"the next smallest non-zero count is hidden too, so that no hidden count can be worked out from the total. " +
	"A share positive is hidden when either of its counts is. Nationalities with fewer than T referrals are counted as other."

// Quarterly builds the quarterly return for quarter q from cases, counting
// working days with cal. Which events count, and at which authority when a
// child moved, is set out in DESIGN.md. It is NewQuarterly with every case
// added in turn.
func Quarterly(cases []*v1.Case, q Quarter, cal *calendar.Calendar, cfg Config) (*Return, error) {
	b, err := NewQuarterly(q, cal, cfg)
	if err != nil {
		return nil, err
	}
	for _, c := range cases {
		if err := b.Add(c); err != nil {
			return nil, err
		}
	}
	return b.Return(), nil
}

// QuarterlyBuilder builds a quarterly return one case at a time, for a
// caller that streams the cases (the node, from the store's bulk read)
// rather than holding them all: it keeps the counts, never a case. The
// counts it holds are raw, not yet suppressed, so it prints as its quarter
// only, and has no exported field to encode; Return is the only way out.
// It is not safe for concurrent use.
type QuarterlyBuilder struct {
	quarter Quarter
	cfg     Config
	in      span
	policy  workflow.Policy
	t       *quarterTallies
}

// NewQuarterly starts the quarterly return for quarter q, counting working
// days with cal. It refuses an invalid quarter (ErrInvalidQuarter), a nil
// calendar (ErrNilCalendar) or an invalid cfg (ErrInvalidConfig).
func NewQuarterly(q Quarter, cal *calendar.Calendar, cfg Config) (*QuarterlyBuilder, error) {
	if err := check(q, cal, cfg); err != nil {
		return nil, err
	}
	return &QuarterlyBuilder{quarter: q, cfg: cfg, in: q.span(), policy: workflow.DefaultPolicy(), t: newQuarterTallies(cfg)}, nil
}

// Add counts c in the return; a nil case is skipped. c is read during the
// call only: nothing of it but the counts is kept. The error is always nil:
// Add has the shape of the function storage.Store.ExportCases calls with
// each case, so that a builder can be handed to it as it is.
func (b *QuarterlyBuilder) Add(c *v1.Case) error {
	b.t.add(c, b.in, b.cfg, b.policy)
	return nil
}

// Return suppresses the counts of the cases added so far and returns the
// quarterly return. The builder is unchanged: more cases may be added and
// Return called again.
func (b *QuarterlyBuilder) Return() *Return {
	return b.t.publish(b.quarter, b.cfg.Threshold)
}

// Format prints the builder as its quarter, whatever the verb, so that no
// log line or error message can show a raw count or a small nationality.
func (b *QuarterlyBuilder) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "report.QuarterlyBuilder(%s)", b.quarter)
}

// quarterTallies are the raw counts of a quarter, before suppression. They
// never leave this package.
type quarterTallies struct {
	exploitation, sex, age, nationality, responder *tally
	countyLines                                    int
	rg, cg, awaiting, requested, decided           *tally
}

func newQuarterTallies(cfg Config) *quarterTallies {
	exploitation := newTally()
	for _, e := range v1.ExploitationTypes {
		exploitation.ensure(string(e))
	}
	exploitation.ensure(CategoryMultiple)
	responder := newTally()
	for _, r := range v1.FirstResponderTypes {
		responder.ensure(string(r))
	}
	return &quarterTallies{
		exploitation: exploitation,
		sex:          newTally(string(v1.SexFemale), string(v1.SexMale), string(v1.SexOther), string(v1.SexUnknown)),
		age:          newTally(AgeUnder12, Age12To15, Age16To17, Age18AndOver, AgeDisputed, AgeNotKnown),
		nationality:  newTally(),
		responder:    responder,
		rg:           newTally(string(v1.OutcomePositive), string(v1.OutcomeNegative)),
		cg:           newTally(string(v1.OutcomePositive), string(v1.OutcomeNegative)),
		awaiting:     newTally(bandLabels(cfg.AwaitingBands)...),
		requested:    newTally(string(v1.StageRG), string(v1.StageCG)),
		decided:      newTally(string(v1.ReconsiderationAccepted), string(v1.ReconsiderationRefused)),
	}
}

// add counts c, for the quarter q.
func (t *quarterTallies) add(c *v1.Case, q span, cfg Config, policy workflow.Policy) {
	if c == nil {
		return
	}
	if countsAsReferral(c, q) {
		if len(c.Referral.ExploitationTypes) == 1 {
			t.exploitation.add(string(c.Referral.ExploitationTypes[0]))
		} else {
			t.exploitation.add(CategoryMultiple)
		}
		if c.Referral.CountyLines {
			t.countyLines++
		}
		t.sex.add(string(orDefault(c.Identity.Sex, v1.SexUnknown)))
		t.age.add(ageGroup(c, policy))
		t.nationality.add(nationalityOf(c))
		t.responder.add(string(orDefault(c.Referral.FirstResponderType, v1.ResponderOther)))
	}
	for _, d := range c.Decisions {
		if !q.Contains(d.DecidedAt) || !ownsAt(c, d.DecidedAt) {
			continue
		}
		if d.Stage == v1.StageCG {
			t.cg.add(string(d.Outcome))
		} else {
			t.rg.add(string(d.Outcome))
		}
	}
	for _, r := range c.Reconsiderations {
		if q.Contains(r.RequestedAt) && ownsAt(c, r.RequestedAt) {
			t.requested.add(string(r.Stage))
		}
		if r.DecidedAt != nil && r.Outcome != v1.ReconsiderationPending && q.Contains(*r.DecidedAt) && ownsAt(c, *r.DecidedAt) {
			t.decided.add(string(r.Outcome))
		}
	}
	if since, ok := awaitingCG(c, q.end); ok {
		t.awaiting.add(band(cfg.AwaitingBands, civilDays(since, q.end)))
	}
}

// publish suppresses the tallies with threshold T.
func (t *quarterTallies) publish(q Quarter, T int) *Return {
	return &Return{
		Quarter:     q,
		Suppression: Suppression{Threshold: T, Rule: SuppressionRule},
		Referrals: ReferralFigures{
			ByExploitation:   t.exploitation.table(T),
			CountyLines:      count(t.countyLines, t.countyLines > 0 && t.countyLines < T, T),
			BySex:            t.sex.table(T),
			ByAgeGroup:       t.age.table(T),
			ByNationality:    foldNationalities(t.nationality, T).table(T),
			ByFirstResponder: t.responder.table(T),
		},
		RGDecisions:      decisionFigures(t.rg, T),
		CGDecisions:      decisionFigures(t.cg, T),
		AwaitingCG:       t.awaiting.table(T),
		Reconsiderations: ReconsiderationFigures{Requested: t.requested.table(T), Decided: t.decided.table(T)},
	}
}

func orDefault[T ~string](v, d T) T {
	if v == "" {
		return d
	}
	return v
}

func decisionFigures(t *tally, threshold int) DecisionFigures {
	tab := t.table(threshold)
	f := DecisionFigures{Issued: tab}
	pos, ok1 := tab.Cells[0].Count.Shown()
	neg, ok2 := tab.Cells[1].Count.Shown()
	switch {
	case !ok1 || !ok2:
		// hidden: either count would follow from the share and the total
	case pos+neg == 0:
		f.SharePositive = Share{pct: -1, shown: true}
	default:
		f.SharePositive = Share{pct: (200*pos + pos + neg) / (2 * (pos + neg)), shown: true} // rounded half up
	}
	return f
}

// ageGroup is the child's age group at referral, from the date of birth
// (the centre of an estimate) in Europe/London.
func ageGroup(c *v1.Case, p workflow.Policy) string {
	if c.Identity.AgeDisputed {
		return AgeDisputed
	}
	r := workflow.CheckScope(c.Identity, c.Referral.ReferredAt, p)
	switch {
	case r.NeedsAssessment:
		return AgeNotKnown
	case r.Age >= 18:
		return Age18AndOver
	case r.Age >= 16:
		return Age16To17
	case r.Age >= 12:
		return Age12To15
	}
	return AgeUnder12
}

func nationalityOf(c *v1.Case) string {
	if len(c.Identity.Nationalities) == 0 {
		return CategoryNotKnown
	}
	switch n := c.Identity.Nationalities[0]; n {
	case "UNK":
		return CategoryNotKnown
	case "XXX":
		return CategoryStateless
	default:
		return n
	}
}

// foldNationalities orders nationalities by count, largest first, and
// folds those below the threshold into "other", so that a published table
// never names a nationality held by fewer than T children.
func foldNationalities(t *tally, threshold int) *tally {
	type kv struct {
		k string
		n int
	}
	var big []kv
	other := 0
	for _, k := range t.cats {
		if n := t.counts[k]; n >= threshold {
			big = append(big, kv{k, n})
		} else {
			other += n
		}
	}
	slices.SortFunc(big, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.k, b.k)) })
	out := newTally()
	for _, e := range big {
		out.ensure(e.k)
		out.counts[e.k] = e.n
	}
	out.ensure(CategoryOtherNational)
	out.counts[CategoryOtherNational] = other
	return out
}

// awaitingCG reports whether, at end, the case (held by this authority)
// had a positive RG decision as its latest decision and was open; and
// since when.
func awaitingCG(c *v1.Case, end time.Time) (time.Time, bool) {
	last := end.Add(-time.Nanosecond)
	if !ownsAt(c, last) || c.CreatedAt.After(last) {
		return time.Time{}, false
	}
	if c.State == v1.StateClosed {
		closed := c.UpdatedAt
		if c.Closure != nil {
			closed = c.Closure.ClosedAt
		}
		if closed.Before(end) {
			return time.Time{}, false
		}
	}
	var latest *v1.NRMDecision
	for i := range c.Decisions {
		if d := &c.Decisions[i]; d.DecidedAt.Before(end) {
			latest = d
		}
	}
	if latest == nil || latest.Stage != v1.StageRG || latest.Outcome != v1.OutcomePositive {
		return time.Time{}, false
	}
	return latest.DecidedAt, true
}

// civilDays counts calendar days between the dates of a and b in
// Europe/London.
func civilDays(a, b time.Time) int {
	ay, am, ad := a.In(london).Date()
	by, bm, bd := b.In(london).Date()
	return int(time.Date(by, bm, bd, 0, 0, 0, 0, time.UTC).Sub(time.Date(ay, am, ad, 0, 0, 0, 0, time.UTC)).Hours() / 24)
}

func bandLabels(bounds []int) []string {
	labels := make([]string, 0, len(bounds)+1)
	lo := 0
	for _, b := range bounds {
		labels = append(labels, strconv.Itoa(lo)+"-"+strconv.Itoa(b)+" days")
		lo = b + 1
	}
	return append(labels, "over "+strconv.Itoa(bounds[len(bounds)-1])+" days")
}

func band(bounds []int, days int) string {
	labels := bandLabels(bounds)
	for i, b := range bounds {
		if days <= b {
			return labels[i]
		}
	}
	return labels[len(labels)-1]
}
