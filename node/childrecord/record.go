package childrecord

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"nrmnet/node/calendar"
	"nrmnet/node/workflow"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Errors. Every error of this package wraps one of these.
var (
	// ErrInvalidCase: the case is nil or fails v1.Case.Validate.
	ErrInvalidCase = errors.New("invalid case")
	// ErrOtherCase: a panel record given is not about this case.
	ErrOtherCase = errors.New("panel record of another case")
	// ErrInvalidOptions: the policy is invalid.
	ErrInvalidOptions = errors.New("invalid options")
)

// Options are what a record needs besides the case.
type Options struct {
	// Panels are the panels' full records of decisions on this case (who
	// attended, how they voted). Optional; each must be about this case.
	Panels []*v1.PanelDecision
	// Policy gives the periods the page explains (recovery period,
	// reconsideration window). Nil means workflow.DefaultPolicy().
	Policy *workflow.Policy
	// Calendar holds the bank holidays; nil means calendar.Default().
	Calendar *calendar.Calendar
}

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err) // unreachable: node/calendar embeds the time zone database
	}
	return loc
}()

// record is the page's content, in the words the templates print.
type record struct {
	Name      string // the name the child uses
	AsOf      when
	Now       string // where things are now
	About     []fact
	Helpers   []string
	Timeline  []event
	Decisions []decision
	Views     []view
	Rights    []right
	Glossary  []fact
}

type when struct {
	Text string // "7 March 2025"
	ISO  string // "2025-03-07"
}

type fact struct{ Label, Value string }

type event struct {
	When when
	What string
}

type decision struct {
	Anchor     string
	Heading    string
	When       when
	Result     string
	Meaning    []string
	DecidedBy  string
	Meeting    []string
	Chair      string
	HowVoted   string
	Why        []string
	Question   string
	TestText   string
	YourViews  []string
	FollowedBy []string
}

type view struct {
	When          when
	By            string
	Views         []string
	HowConsidered []string
}

type right struct {
	Heading string
	Text    []string
}

func dateOf(t time.Time) when {
	l := t.In(london)
	return when{Text: l.Format("2 January 2006"), ISO: l.Format("2006-01-02")}
}

// paragraphs splits free text into paragraphs at line breaks, dropping
// empty ones.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func authorityName(code v1.AuthorityCode) string {
	if a, ok := authority.Lookup(code); ok {
		return a.OfficialName
	}
	return string(code)
}

// build turns the case into the page's content.
func build(c *v1.Case, opts Options) (*record, error) {
	if c == nil {
		return nil, fmt.Errorf("childrecord: nil case: %w", ErrInvalidCase)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("childrecord: %w: %w", ErrInvalidCase, err)
	}
	p := workflow.DefaultPolicy()
	if opts.Policy != nil {
		p = *opts.Policy
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("childrecord: %w: %w", ErrInvalidOptions, err)
	}
	cal := opts.Calendar
	if cal == nil {
		cal = calendar.Default()
	}
	panels := map[v1.ID]*v1.PanelDecision{}
	for i, d := range opts.Panels {
		if d == nil {
			continue
		}
		if d.CaseRef != c.ID {
			// Never print a record about another child, even by mistake.
			return nil, fmt.Errorf("childrecord: panel record %d is not about this case: %w", i, ErrOtherCase)
		}
		panels[d.ID] = d
	}

	r := &record{AsOf: dateOf(c.UpdatedAt), Name: "you"}
	if n := c.Identity.Names; len(n) > 0 {
		r.Name = strings.TrimSpace(n[0].Given + " " + n[0].Family)
	}
	r.Now = stateText(c)
	r.About = about(c)
	r.Helpers = helpers(c)
	r.Timeline = timeline(c)
	r.Decisions = decisions(c, panels, p)
	for _, v := range c.WishesAndFeelings {
		r.Views = append(r.Views, view{When: dateOf(v.RecordedAt), By: v.RecordedBy,
			Views: paragraphs(v.Views), HowConsidered: paragraphs(v.HowConsidered)})
	}
	r.Rights = rights(c, p, cal)
	r.Glossary = glossary(p)
	return r, nil
}

func about(c *v1.Case) []fact {
	var fs []fact
	for _, n := range c.Identity.Names {
		label := map[v1.NameKind]string{
			v1.NameUsed: "The name you use", v1.NameLegal: "Name on your documents",
			v1.NameAlias: "Another name you are known by", v1.NameTransliteration: "Another spelling of your name",
		}[n.Kind]
		v := strings.TrimSpace(n.Given + " " + n.Family)
		if n.Original != "" {
			v += " (" + n.Original + ")"
		}
		fs = append(fs, fact{label, v})
	}
	if d := c.Identity.DateOfBirth; d != nil {
		v := string(d.Date)
		if t, err := d.Date.Time(); err == nil {
			v = t.Format("2 January 2006")
		}
		if d.Estimated {
			v += " (this is an estimate"
			if d.Basis != "" {
				v += ", from " + d.Basis
			}
			v += ")"
		}
		fs = append(fs, fact{"Date of birth", v})
	}
	if len(c.Identity.Nationalities) > 0 {
		fs = append(fs, fact{"Nationality", strings.Join(c.Identity.Nationalities, ", ")})
	}
	if len(c.Identity.Languages) > 0 {
		v := strings.Join(c.Identity.Languages, ", ")
		if c.Identity.InterpreterNeeded {
			v += " (you should have an interpreter when you want one)"
		}
		fs = append(fs, fact{"Languages", v})
	}
	if c.Identity.AgeDisputed {
		fs = append(fs, fact{"Your age", "Your age has been questioned. That is why a different team, at the Home Office, makes the decisions about you."})
	}
	fs = append(fs, fact{"Council looking after your case", authorityName(c.Responsible)},
		fact{"Your case reference", string(c.ID)})
	return fs
}

func helpers(c *v1.Case) []string {
	var hs []string
	if c.LeadWorker != "" {
		hs = append(hs, "Your social worker (staff reference "+c.LeadWorker+") leads your case. You can ask them anything about this page.")
	}
	if a := c.Advocate; a != nil {
		who := a.Name
		if a.Organisation != "" {
			who += " from " + a.Organisation
		}
		if a.Kind == v1.AdvocateICTG {
			hs = append(hs, "Your Independent Child Trafficking Guardian is "+who+", since "+dateOf(a.AssignedAt).Text+
				". Their job is to be on your side, to explain what is happening and to make sure your views are heard. They do not work for the council or the police.")
		} else {
			hs = append(hs, "Your advocate, whom you chose, is "+who+", since "+dateOf(a.AssignedAt).Text+
				". Their job is to be on your side and to make sure your views are heard.")
		}
	} else {
		hs = append(hs, "You do not have a guardian or advocate recorded yet. You have the right to one: ask your social worker.")
	}
	return hs
}

// stateText says where the case is now, in words.
func stateText(c *v1.Case) string {
	switch c.State {
	case v1.StateReceived, v1.StateScopeCheck:
		return "We have received the referral and are checking who should make the decisions about you."
	case v1.StateReferredToSCA:
		return "The decisions about you are being made by the Home Office's Single Competent Authority, not by the local panel."
	case v1.StateRGPending:
		return "The panel is getting ready to make the first decision (the reasonable grounds decision)."
	case v1.StateRGPositive, v1.StateRecoveryPeriod:
		return "The first decision was positive. You are in your recovery period, a time to get support before the final decision."
	case v1.StateCGPending:
		return "The panel is getting ready to make the final decision (the conclusive grounds decision)."
	case v1.StateRGNegative, v1.StateCGNegative:
		return "The latest decision was negative. You can ask for it to be looked at again: see \"Your rights\"."
	case v1.StateCGPositive:
		return "The final decision was positive: the panel decided you were a victim of modern slavery."
	case v1.StateReconsiderationRequest:
		return "Someone has asked for a decision to be looked at again. The panel will decide whether to do that."
	case v1.StateReconsiderationAccepted:
		return "The panel agreed to look at a decision again and will make a new decision."
	case v1.StateReconsiderationRefused:
		return "The panel decided not to look at the decision again. The reasons are below."
	case v1.StateAssuranceSubmitted, v1.StateAssuranceQueried:
		return "The decision has been sent to the Home Office to check that it was made in the right way."
	case v1.StateAssured:
		return "The Home Office has checked the decision and confirmed it was made in the right way."
	case v1.StatePostExitReview:
		return "The decisions are finished. The panel will check in with you later to see that the help you get is working."
	case v1.StateClosed:
		return "Your case is closed. You can still ask your social worker for help at any time."
	case v1.StateTransferredOut:
		return "Your case has moved to another council, which now looks after it."
	}
	return ""
}

func timeline(c *v1.Case) []event {
	type ev struct {
		at   time.Time
		what string
	}
	var es []ev
	add := func(t time.Time, s string) { es = append(es, ev{t, s}) }
	add(c.Referral.ReferredAt, c.Referral.FirstResponderOrg+" told us they were worried that someone might be exploiting you "+
		"(using you to make money or get things for themselves). This is called a referral to the National Referral Mechanism.")
	if s := c.Scope; s != nil {
		if s.Outcome == v1.ScopeInScope {
			add(s.AssessedAt, "We checked that the local panel could make the decisions about you. It could.")
		} else {
			add(s.AssessedAt, "We checked who should make the decisions about you. The Home Office's Single Competent Authority will make them. The reason: "+s.Reason)
		}
	}
	for _, d := range c.Decisions {
		add(d.DecidedAt, fmt.Sprintf("The %s was made: %s. See \"Decisions about you\".", stageName(d.Stage), outcomeWord(d.Outcome)))
	}
	for _, rc := range c.Reconsiderations {
		add(rc.RequestedAt, rc.RequestedBy+" asked for the "+stageName(rc.Stage)+" to be looked at again, because "+groundsText(rc.Grounds)+".")
		if rc.DecidedAt != nil {
			switch rc.Outcome {
			case v1.ReconsiderationAccepted:
				add(*rc.DecidedAt, "The panel agreed to look at the decision again.")
			case v1.ReconsiderationRefused:
				add(*rc.DecidedAt, "The panel decided not to look at the decision again.")
			}
		}
	}
	if a := c.Assurance; a != nil {
		steps := a.History
		if len(steps) == 0 {
			steps = []v1.AssuranceStep{{Status: v1.AssuranceSubmitted, At: a.SubmittedAt}}
			if a.ResolvedAt != nil && a.Status != v1.AssuranceSubmitted {
				steps = append(steps, v1.AssuranceStep{Status: a.Status, At: *a.ResolvedAt, Query: a.Query})
			}
		}
		for _, s := range steps {
			switch s.Status {
			case v1.AssuranceSubmitted:
				add(s.At, "We sent the decision to the Home Office so they could check it was made in the right way.")
			case v1.AssuranceAssured:
				add(s.At, "The Home Office confirmed the decision was made in the right way.")
			case v1.AssuranceQueried:
				add(s.At, "The Home Office asked a question about the decision: "+s.Query)
			}
		}
	}
	for _, rv := range c.PostExitReviews {
		if rv.HeldAt != nil {
			add(*rv.HeldAt, fmt.Sprintf("The %d-month check-in was held. What it found: %s", rv.Month, rv.Outcome))
		} else {
			add(rv.DueAt, fmt.Sprintf("The %d-month check-in is planned for around this date.", rv.Month))
		}
	}
	for _, m := range c.Relocations {
		from, to := authorityName(m.From), authorityName(m.To)
		add(m.RequestedAt, "We asked "+to+" to take over your case from "+from+", because you moved or were going to move.")
		if m.ResolvedAt != nil {
			switch m.Status {
			case v1.RelocationAccepted:
				add(*m.ResolvedAt, to+" agreed to take over your case.")
			case v1.RelocationRejected:
				add(*m.ResolvedAt, to+" said no, so "+from+" kept your case.")
			case v1.RelocationRevoked:
				add(*m.ResolvedAt, "The request to "+to+" was withdrawn.")
			}
		}
		if m.ConferenceAt != nil {
			add(*m.ConferenceAt, "A meeting was held in "+to+" to plan how to keep you safe there.")
		}
	}
	if cl := c.Closure; cl != nil {
		add(cl.ClosedAt, "Your case was closed. Why: "+closureText(cl.Reason)+" "+cl.Note)
	}
	slices.SortStableFunc(es, func(a, b ev) int { return a.at.Compare(b.at) })
	out := make([]event, len(es))
	for i, e := range es {
		out[i] = event{When: dateOf(e.at), What: capitalise(strings.TrimSpace(e.what))}
	}
	return out
}

// capitalise upper-cases the first letter, for a sentence that starts with
// a value ("his guardian asked ...").
func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func stageName(s v1.DecisionStage) string {
	if s == v1.StageCG {
		return "conclusive grounds decision"
	}
	return "reasonable grounds decision"
}

func outcomeWord(o v1.Outcome) string {
	if o == v1.OutcomePositive {
		return "positive"
	}
	return "negative"
}

func groundsText(g v1.ReconsiderationGrounds) string {
	if g == v1.GroundsNewEvidence {
		return "there was new information"
	}
	return "the decision may not have followed the rules (the guidance)"
}

func closureText(r v1.ClosureReason) string {
	switch r {
	case v1.ClosureDuplicate:
		return "the same referral had been recorded twice."
	case v1.ClosureRecordedInError:
		return "it had been recorded by mistake."
	case v1.ClosureReferredToSCA:
		return "the Home Office's Single Competent Authority is making the decisions about you."
	case v1.ClosureProcessComplete:
		return "the decisions were made and checked."
	case v1.ClosureReviewsComplete:
		return "the decisions were made and the check-ins afterwards were held."
	}
	return "see the note."
}
