package workflow

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "nrmnet/schemas/v1"
)

// guarded are the pairs the table allows but the fixture of that state does
// not meet the condition for, with the reason given.
var guarded = map[[2]string]string{
	// The reconsideration fixture is of an RG decision.
	{"reconsideration_accepted", string(KindRecordCGDecision)}: "the reconsideration accepted is of the reasonable grounds decision",
}

// TestEveryStateEveryEvent applies every kind of event in every state and
// checks the outcome against the table: legal ones succeed and move the case
// to a state the table allows; illegal ones fail naming the state, the event
// and what is allowed now.
func TestEveryStateEveryEvent(t *testing.T) {
	p := DefaultPolicy()
	for _, s := range v1.CaseStates {
		c, when := build(t, string(s), p)
		if c.State != s {
			t.Fatalf("fixture %s is in %s", s, c.State)
		}
		for _, k := range eventKinds {
			t.Run(string(s)+"/"+string(k), func(t *testing.T) {
				targets, legal := lookup(s, k, p)
				n, err := Apply(c, sampleEvent(k, c), when.Add(hour), "sw-0042", p)
				if reason, ok := guarded[[2]string{string(s), string(k)}]; ok {
					te := transitionError(t, err)
					if !legal || te.Reason != reason {
						t.Fatalf("got %v, want refusal %q", err, reason)
					}
					return
				}
				if legal {
					if err != nil {
						t.Fatalf("table allows %s in %s, Apply: %v", k, s, err)
					}
					if !slices.Contains(targets, n.State) {
						t.Fatalf("moved to %s, table allows %v", n.State, targets)
					}
					if slices.Contains(everyState, k) && n.State != s {
						t.Fatalf("safeguarding event moved the case from %s to %s", s, n.State)
					}
					if err := n.Validate(); err != nil {
						t.Fatalf("invalid result: %v", err)
					}
					return
				}
				te := transitionError(t, err)
				if te.State != s || te.Event != k {
					t.Fatalf("error names %s/%s, want %s/%s", te.State, te.Event, s, k)
				}
				var labels []string
				for _, a := range Allowed(s, p) {
					labels = append(labels, a.String())
				}
				want := "workflow: cannot " + k.String() + " while the case is " + string(s) + ": allowed now: " + strings.Join(labels, ", ")
				if err.Error() != want {
					t.Fatalf("error\n%s\nwant\n%s", err, want)
				}
			})
		}
	}
}

func TestSafeguardingAllowedInEveryState(t *testing.T) {
	p := DefaultPolicy()
	for _, s := range v1.CaseStates {
		allowed := Allowed(s, p)
		for _, k := range everyState {
			if !slices.Contains(allowed, k) {
				t.Errorf("%s is not allowed in %s", k, s)
			}
		}
		if terminal(s) {
			if !slices.Equal(allowed, everyState) {
				t.Errorf("%s allows %v, want only safeguarding and risk events", s, allowed)
			}
		}
	}
}

func TestIllegalTransitionMessage(t *testing.T) {
	p := DefaultPolicy()
	c, when := build(t, "rg_pending", p)
	_, err := Apply(c, cgDecision(v1.OutcomePositive), when.Add(hour), "sw-0042", p)
	const want = "workflow: cannot record a conclusive grounds decision while the case is rg_pending: " +
		"allowed now: record a reasonable grounds decision, record reasonable and conclusive grounds decisions made at one meeting, " +
		"transfer the case out, update safeguarding, rate the risk, record the child's views, assign an advocate, " +
		"record the transfer-in conference, assign the lead social worker"
	if transitionError(t, err); err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}

// TestEveryLegalTransition walks every edge of the table, each target state,
// and checks that together they cover the table, transfer out from every
// open state and safeguarding in every state.
func TestEveryLegalTransition(t *testing.T) {
	p := DefaultPolicy()
	walks := []struct {
		from string // fixture
		ev   Event
		want v1.CaseState
	}{
		{"received", StartScopeCheck{}, v1.StateScopeCheck},
		{"received", Close{Code: v1.ClosureDuplicate, Reason: "Duplicate of another referral."}, v1.StateClosed},
		{"scope_check", RecordScope{InScope: true, Reason: "14."}, v1.StateRGPending},
		{"scope_check", RecordScope{InScope: false, Reason: "Age disputed."}, v1.StateReferredToSCA},
		{"referred_to_sca", Close{Reason: "With the SCA."}, v1.StateClosed},
		{"rg_pending", rgDecision(v1.OutcomePositive), v1.StateRGPositive},
		{"rg_pending", rgDecision(v1.OutcomeNegative), v1.StateRGNegative},
		{"rg_pending", sameMeetingEvent(v1.OutcomePositive), v1.StateCGPositive},
		{"rg_pending", sameMeetingEvent(v1.OutcomeNegative), v1.StateCGNegative},
		{"rg_positive", StartRecoveryPeriod{}, v1.StateRecoveryPeriod},
		{"rg_negative", RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}, v1.StateReconsiderationRequest},
		{"rg_negative", SubmitAssurance{}, v1.StateAssuranceSubmitted},
		{"recovery_period", StartConclusiveGrounds{}, v1.StateCGPending},
		{"cg_pending", cgDecision(v1.OutcomePositive), v1.StateCGPositive},
		{"cg_pending", cgDecision(v1.OutcomeNegative), v1.StateCGNegative},
		{"cg_positive", SubmitAssurance{}, v1.StateAssuranceSubmitted},
		{"cg_negative", RequestReconsideration{Stage: v1.StageCG, Grounds: v1.GroundsNewEvidence}, v1.StateReconsiderationRequest},
		{"cg_negative", SubmitAssurance{}, v1.StateAssuranceSubmitted},
		{"reconsideration_requested", DecideReconsideration{Accepted: true, Reasons: "New evidence."}, v1.StateReconsiderationAccepted},
		{"reconsideration_requested", DecideReconsideration{Accepted: false, Reasons: "Nothing new."}, v1.StateReconsiderationRefused},
		{"reconsideration_accepted", rgDecision(v1.OutcomePositive), v1.StateRGPositive},
		{"reconsideration_accepted", rgDecision(v1.OutcomeNegative), v1.StateRGNegative},
		{"cg_reconsideration_accepted", cgDecision(v1.OutcomePositive), v1.StateCGPositive},
		{"cg_reconsideration_accepted", cgDecision(v1.OutcomeNegative), v1.StateCGNegative},
		{"reconsideration_accepted", sameMeetingEvent(v1.OutcomePositive), v1.StateCGPositive},
		{"reconsideration_accepted", sameMeetingEvent(v1.OutcomeNegative), v1.StateCGNegative},
		{"reconsideration_refused", SubmitAssurance{}, v1.StateAssuranceSubmitted},
		{"assurance_submitted", RecordAssurance{Assured: true}, v1.StateAssured},
		{"assurance_submitted", RecordAssurance{Assured: false, Query: "Why?"}, v1.StateAssuranceQueried},
		{"assurance_submitted", RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}, v1.StateReconsiderationRequest},
		{"assurance_queried", SubmitAssurance{}, v1.StateAssuranceSubmitted},
		{"assurance_queried", RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}, v1.StateReconsiderationRequest},
		{"assured", ExitProcess{}, v1.StatePostExitReview},
		{"assured", Close{Reason: "Assured; no reviews needed."}, v1.StateClosed},
		{"assured", RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence}, v1.StateReconsiderationRequest},
		{"post_exit_review", RecordPostExitReview{Month: 6, Outcome: "Plan working."}, v1.StatePostExitReview},
		{"post_exit_review", Close{Code: v1.ClosureOther, Reason: "Moved abroad with family before the reviews."}, v1.StateClosed},
	}
	type triple struct {
		from v1.CaseState
		on   EventKind
		to   v1.CaseState
	}
	covered := map[triple]bool{}
	for _, w := range walks {
		c, when := build(t, w.from, p)
		t.Run(string(c.State)+"/"+string(w.ev.Kind())+"/"+string(w.want), func(t *testing.T) {
			n := mustApply(t, c, w.ev, when.Add(hour), p)
			if n.State != w.want {
				t.Fatalf("moved to %s, want %s", n.State, w.want)
			}
			covered[triple{c.State, w.ev.Kind(), n.State}] = true
		})
	}
	for _, s := range v1.CaseStates {
		c, when := build(t, string(s), p)
		for _, k := range append(slices.Clone(everyOpenState), everyState...) {
			if _, ok := lookup(s, k, p); !ok {
				continue
			}
			n := mustApply(t, c, sampleEvent(k, c), when.Add(hour), p)
			covered[triple{s, k, n.State}] = true
		}
	}
	for _, s := range v1.CaseStates {
		for _, k := range eventKinds {
			targets, ok := lookup(s, k, p)
			if !ok {
				continue
			}
			for _, to := range targets {
				if !covered[triple{s, k, to}] {
					t.Errorf("transition %s --%s--> %s is not walked", s, k, to)
				}
			}
		}
	}
}

func TestPolicyGates(t *testing.T) {
	p := DefaultPolicy()
	p.AllowSameMeeting = false
	c, when := build(t, "rg_pending", p)
	if slices.Contains(Allowed(c.State, p), KindRecordSameMeeting) {
		t.Error("Allowed lists RG and CG at one meeting when the policy forbids it")
	}
	_, err := Apply(c, sameMeetingEvent(v1.OutcomePositive), when.Add(hour), "sw-0042", p)
	if te := transitionError(t, err); te.Reason != sameMeetingOff {
		t.Errorf("reason %q, want %q", te.Reason, sameMeetingOff)
	}

	p = DefaultPolicy()
	c, when = build(t, "assured", p)
	p.PostExitReviews = nil
	_, err = Apply(c, ExitProcess{}, when.Add(hour), "sw-0042", p)
	if te := transitionError(t, err); te.Reason != reviewsOff {
		t.Errorf("reason %q, want %q", te.Reason, reviewsOff)
	}
}

// TestDesignDiagramMatchesTable keeps DESIGN.md's state diagram and the
// transition table in step.
func TestDesignDiagramMatchesTable(t *testing.T) {
	f, err := os.Open("DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^\s+(\w+) --> (\w+): (\w+)( if (\w+))?$`)
	diagram := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		switch {
		case sc.Text() == "```mermaid":
			in = true
		case sc.Text() == "```":
			in = false
		case in:
			if m := line.FindStringSubmatch(sc.Text()); m != nil {
				diagram[m[1]+" "+m[3]+" "+m[2]+" "+m[5]] = true
			}
		}
	}
	table := map[string]bool{}
	for s, edges := range transitions {
		for _, e := range edges {
			cond := map[string]string{"": "", sameMeetingOff: "AllowSameMeeting", reviewsOff: "PostExitReviews"}[e.Off]
			for _, to := range e.To {
				table[string(s)+" "+string(e.On)+" "+string(to)+" "+cond] = true
			}
		}
	}
	for k := range table {
		if !diagram[k] {
			t.Errorf("DESIGN.md lacks the edge %q", k)
		}
	}
	for k := range diagram {
		if !table[k] {
			t.Errorf("DESIGN.md has the edge %q, which the table does not", k)
		}
	}
}

func TestTableCoversEveryState(t *testing.T) {
	for _, s := range v1.CaseStates {
		if _, ok := transitions[s]; !ok {
			t.Errorf("state %s is not in the table", s)
		}
	}
	for _, k := range eventKinds {
		if _, ok := eventLabels[k]; !ok {
			t.Errorf("kind %s has no label", k)
		}
	}
}
