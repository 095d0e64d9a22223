package workflow

import (
	"errors"
	"reflect"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// Synthetic data only: no real child.

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

// at returns a time in Europe/London: at(t, "2026-03-02 09:00").
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, london)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// t0 is the referral time of the fixtures: Monday 2 March 2026, 09:00 GMT.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

const (
	testRequest = v1.ID("0123456789abcdef0123456789abcdef")
	testPanel   = v1.ID("fedcba9876543210fedcba9876543210")
	// movedInRequest is the fixtures' move into Islington before referral.
	movedInRequest = v1.ID("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")
)

// newCase returns a valid case at authority a, received at referred, with an
// amber rating at referral. The child is 14.
func newCase(t testing.TB, a v1.AuthorityCode, referred time.Time) *v1.Case {
	t.Helper()
	referred = referred.UTC()
	c := &v1.Case{
		ID:          v1.CaseID(string(a) + "-3f9a0c1b2d4e5f60"),
		ChildID:     "00112233445566778899aabbccddeeff",
		Revision:    1,
		State:       v1.StateReceived,
		Responsible: a,
		LeadWorker:  "sw-0042",
		CreatedAt:   referred,
		UpdatedAt:   referred,
		Identity: v1.ChildIdentity{
			Names: []v1.PersonName{
				{Kind: v1.NameUsed, Given: "Ardit", Family: "Krasniqi"},
				{Kind: v1.NameTransliteration, Given: "Ardite", Family: "Krasniqi"},
			},
			DateOfBirth:   &v1.DateOfBirth{Date: "2011-07-14"},
			Sex:           v1.SexMale,
			Nationalities: []string{"ALB"},
			Languages:     []string{"sqi"},
		},
		Referral: v1.Referral{
			ReferredAt:           referred,
			FirstResponderOrg:    "Synthetic Police Service",
			FirstResponderType:   v1.ResponderPolice,
			ExploitationTypes:    []v1.ExploitationType{v1.ExploitationCriminal},
			CountyLines:          true,
			ExploitationLocation: v1.LocationUK,
			Source:               "police",
			PresentingIssue:      "missing episodes",
		},
		Risk: []v1.RiskRating{{Rating: v1.RAGAmber, Stage: v1.RiskAtReferral, At: referred, By: "sw-0042"}},
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("fixture case is invalid: %v", err)
	}
	return c
}

// mustApply applies ev and fails the test on error or on an invalid result.
func mustApply(t testing.TB, c *v1.Case, ev Event, when time.Time, p Policy) *v1.Case {
	t.Helper()
	n, err := Apply(c, ev, when, "sw-0042", p)
	if err != nil {
		t.Fatalf("Apply(%s in %s at %s): %v", ev.Kind(), c.State, fmtTime(when), err)
	}
	if err := n.Validate(); err != nil {
		t.Fatalf("Apply(%s) produced an invalid case: %v", ev.Kind(), err)
	}
	return n
}

func rgDecision(o v1.Outcome) RecordDecision {
	return RecordDecision{Stage: v1.StageRG, Outcome: o, Reasons: "Synthetic reasons.",
		ChildViews: "The child's wishes were heard through the ICTG.", PanelDecisionID: testPanel}
}

func cgDecision(o v1.Outcome) RecordDecision {
	d := rgDecision(o)
	d.Stage = v1.StageCG
	return d
}

func sameMeetingEvent(o v1.Outcome) RecordDecisions {
	return RecordDecisions{CGOutcome: o, RGReasons: "RG reasons.", CGReasons: "CG reasons.",
		ChildViews: "The child spoke to the panel.", PanelDecisionID: testPanel}
}

// fixture reaches a state by one event from its parent fixture.
type fixture struct {
	parent string
	after  time.Duration
	ev     Event
}

// fixtures reach every state (and some variants) by legal paths from t0 at
// Islington. The assurance states follow a negative RG decision, so that a
// reconsideration may still be requested from them.
var fixtures = map[string]fixture{
	"received":                     {},
	"scope_check":                  {"received", hour, StartScopeCheck{}},
	"referred_to_sca":              {"scope_check", hour, RecordScope{InScope: false, Reason: "Age disputed at interview."}},
	"rg_pending":                   {"scope_check", hour, RecordScope{InScope: true, Reason: "14, documented date of birth."}},
	"rg_positive":                  {"rg_pending", day, rgDecision(v1.OutcomePositive)},
	"rg_negative":                  {"rg_pending", day, rgDecision(v1.OutcomeNegative)},
	"recovery_period":              {"rg_positive", hour, StartRecoveryPeriod{}},
	"cg_pending":                   {"recovery_period", 31 * day, StartConclusiveGrounds{}},
	"cg_positive":                  {"cg_pending", hour, cgDecision(v1.OutcomePositive)},
	"cg_negative":                  {"cg_pending", hour, cgDecision(v1.OutcomeNegative)},
	"reconsideration_requested":    {"rg_negative", day, RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}},
	"reconsideration_accepted":     {"reconsideration_requested", day, DecideReconsideration{Accepted: true, Reasons: "New evidence."}},
	"reconsideration_refused":      {"reconsideration_requested", day, DecideReconsideration{Accepted: false, Reasons: "Nothing new."}},
	"assurance_submitted":          {"rg_negative", hour, SubmitAssurance{}},
	"assurance_queried":            {"assurance_submitted", day, RecordAssurance{Assured: false, Query: "Explain the weight given to the school's report."}},
	"assured":                      {"assurance_submitted", day, RecordAssurance{Assured: true}},
	"post_exit_review":             {"assured", day, ExitProcess{}},
	"closed":                       {"assured", day, Close{Reason: "Plan complete."}},
	"transferred_out":              {"received", hour, TransferOut{To: "CMD", Request: testRequest}},
	"cg_reconsideration_requested": {"cg_negative", day, RequestReconsideration{Stage: v1.StageCG, Grounds: v1.GroundsNotInLineGuidance}},
	"cg_reconsideration_accepted":  {"cg_reconsideration_requested", day, DecideReconsideration{Accepted: true, Reasons: "Guidance misapplied."}},
	"assured_positive":             {"cg_positive", day, SubmitAssurance{}},
}

// build returns the case of the named fixture and the time of its last event.
func build(t testing.TB, name string, p Policy) (*v1.Case, time.Time) {
	t.Helper()
	f, ok := fixtures[name]
	if !ok {
		t.Fatalf("no fixture %q", name)
	}
	if f.parent == "" {
		// The child moved to Islington from Kent before
		// the referral, so the transfer-in conference can be recorded in
		// every state. Not on a protection plan: no clock runs.
		c := newCase(t, "ISL", t0)
		moved := t0.Add(-2 * day)
		c.Relocations = []v1.RelocationRecord{{RequestID: movedInRequest, From: "KEN", To: "ISL",
			RequestedAt: moved.Add(-day), Status: v1.RelocationAccepted, ResolvedAt: &moved}}
		return c, t0
	}
	c, when := build(t, f.parent, p)
	when = when.Add(f.after)
	return mustApply(t, c, f.ev, when, p), when
}

// sampleEvent returns a valid event of kind k suited to case c.
func sampleEvent(k EventKind, c *v1.Case) Event {
	switch k {
	case KindStartScopeCheck:
		return StartScopeCheck{}
	case KindRecordScope:
		return RecordScope{InScope: true, Reason: "Documented date of birth."}
	case KindRecordRGDecision:
		return rgDecision(v1.OutcomePositive)
	case KindRecordCGDecision:
		return cgDecision(v1.OutcomePositive)
	case KindRecordSameMeeting:
		return sameMeetingEvent(v1.OutcomePositive)
	case KindStartRecoveryPeriod:
		return StartRecoveryPeriod{}
	case KindStartConclusiveGrounds:
		return StartConclusiveGrounds{}
	case KindRequestReconsideration:
		stage := v1.StageRG
		if d, ok := lastDecision(c); ok {
			stage = d.Stage
		}
		return RequestReconsideration{Stage: stage, Grounds: v1.GroundsNewEvidence, By: "ictg-07"}
	case KindDecideReconsideration:
		return DecideReconsideration{Accepted: true, Reasons: "New evidence."}
	case KindSubmitAssurance:
		return SubmitAssurance{}
	case KindRecordAssurance:
		return RecordAssurance{Assured: true}
	case KindExitProcess:
		return ExitProcess{}
	case KindRecordPostExitReview:
		return RecordPostExitReview{Month: 6, Outcome: "Plan working."}
	case KindClose:
		return Close{Code: v1.ClosureOther, Reason: "Synthetic closure."}
	case KindTransferOut:
		return TransferOut{To: "CMD", Request: testRequest}
	case KindUpdateSafeguarding:
		return UpdateSafeguarding{Safeguarding: v1.Safeguarding{Section47: true, ProtectionPlan: true}}
	case KindRateRisk:
		return RateRisk{RAG: v1.RAGRed, Stage: v1.RiskReview, Reason: "Seen with older males."}
	case KindRecordChildViews:
		return RecordChildViews{Views: "Wants to stay at school.", HowConsidered: "Placement kept local."}
	case KindRecordTransferInConference:
		return RecordTransferInConference{}
	case KindAssignAdvocate:
		return AssignAdvocate{AdvocateKind: v1.AdvocateICTG, Name: "Synthetic Guardian", Organisation: "ICTG service"}
	case KindAssignLeadWorker:
		return AssignLeadWorker{Worker: "sw-0077"}
	}
	panic("no sample event for " + string(k))
}

// assertNoSharing fails if a and b share any pointer or slice backing array:
// a deep copy shares nothing, whatever fields the schema gains later.
func assertNoSharing(t testing.TB, a, b any) {
	t.Helper()
	var walk func(path string, x, y reflect.Value)
	walk = func(path string, x, y reflect.Value) {
		switch x.Kind() {
		case reflect.Pointer:
			if x.IsNil() || y.IsNil() {
				return
			}
			if x.Pointer() == y.Pointer() {
				t.Errorf("%s: pointer shared", path)
			}
			walk(path, x.Elem(), y.Elem())
		case reflect.Slice:
			if x.Len() == 0 || y.Len() == 0 {
				return
			}
			if x.Pointer() == y.Pointer() {
				t.Errorf("%s: slice shared", path)
			}
			for i := 0; i < min(x.Len(), y.Len()); i++ {
				walk(path+"[]", x.Index(i), y.Index(i))
			}
		case reflect.Map:
			if !x.IsNil() && !y.IsNil() && x.Pointer() == y.Pointer() {
				t.Errorf("%s: map shared", path)
			}
		case reflect.Struct:
			if x.Type() == reflect.TypeFor[time.Time]() {
				return // a value; its *Location is shared by design
			}
			for i := 0; i < x.NumField(); i++ {
				walk(path+"."+x.Type().Field(i).Name, x.Field(i), y.Field(i))
			}
		}
	}
	walk("case", reflect.ValueOf(a), reflect.ValueOf(b))
}

func transitionError(t testing.TB, err error) *TransitionError {
	t.Helper()
	var te *TransitionError
	if !errors.As(err, &te) || !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("error %v is not a *TransitionError matching ErrIllegalTransition", err)
	}
	return te
}
