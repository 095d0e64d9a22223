package workflow

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	v1 "nrmnet/schemas/v1"
)

// randomEvent returns an event of kind k with random, mostly valid, fields.
func randomEvent(rng *rand.Rand, k EventKind, c *v1.Case) Event {
	text := func(s string) string {
		if rng.IntN(20) == 0 {
			return "" // sometimes missing
		}
		return s
	}
	outcome := func() v1.Outcome {
		return []v1.Outcome{v1.OutcomePositive, v1.OutcomeNegative}[rng.IntN(2)]
	}
	stage := func() v1.DecisionStage {
		return []v1.DecisionStage{v1.StageRG, v1.StageCG}[rng.IntN(2)]
	}
	switch k {
	case KindRecordScope:
		return RecordScope{InScope: rng.IntN(4) != 0, Reason: text("Scope reason.")}
	case KindRecordRGDecision, KindRecordCGDecision:
		s := v1.StageRG
		if k == KindRecordCGDecision {
			s = v1.StageCG
		}
		d := RecordDecision{Stage: s, Outcome: outcome(), Reasons: text("Reasons."), ChildViews: text("Views.")}
		if rng.IntN(5) == 0 {
			d.DecidedAt = c.UpdatedAt.Add(-time.Duration(rng.IntN(48)) * time.Hour)
		}
		return d
	case KindRecordSameMeeting:
		return RecordDecisions{CGOutcome: outcome(), RGReasons: "RG.", CGReasons: text("CG."), ChildViews: "Views."}
	case KindRequestReconsideration:
		s := stage()
		if d, ok := lastDecision(c); ok && rng.IntN(5) != 0 {
			s = d.Stage
		}
		return RequestReconsideration{Stage: s, Grounds: []v1.ReconsiderationGrounds{v1.GroundsNewEvidence, v1.GroundsNotInLineGuidance}[rng.IntN(2)]}
	case KindDecideReconsideration:
		return DecideReconsideration{Accepted: rng.IntN(2) == 0, Reasons: text("Reasons.")}
	case KindRecordAssurance:
		if rng.IntN(2) == 0 {
			return RecordAssurance{Assured: true}
		}
		return RecordAssurance{Query: text("A query.")}
	case KindRecordPostExitReview:
		return RecordPostExitReview{Month: []int{6, 12, 3}[rng.IntN(3)], Outcome: text("Outcome.")}
	case KindClose:
		codes := append([]v1.ClosureReason{""}, v1.ClosureReasons...)
		return Close{Code: codes[rng.IntN(len(codes))], Reason: text("Reason.")}
	case KindRecordTransferInConference:
		e := RecordTransferInConference{}
		if rng.IntN(3) == 0 {
			e.HeldAt = c.UpdatedAt.Add(-time.Duration(rng.IntN(72)) * time.Hour)
		}
		return e
	case KindTransferOut:
		return TransferOut{To: []v1.AuthorityCode{"CMD", "GLG", "ISL", "CRF"}[rng.IntN(4)],
			Request: v1.ID(fmt.Sprintf("%032x", rng.Uint64()))}
	case KindUpdateSafeguarding:
		g := v1.Safeguarding{Section17: rng.IntN(2) == 0, Section47: rng.IntN(2) == 0, ProtectionPlan: rng.IntN(2) == 0, LookedAfter: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			g.StrategyMeeting = ptr(c.UpdatedAt.Add(time.Duration(rng.IntN(72)) * time.Hour))
		}
		return UpdateSafeguarding{Safeguarding: g}
	case KindRateRisk:
		return RateRisk{RAG: []v1.RAG{v1.RAGRed, v1.RAGAmber, v1.RAGGreen}[rng.IntN(3)],
			Stage: []v1.RiskStage{v1.RiskAtReferral, v1.RiskAfterDiscussion, v1.RiskReview}[rng.IntN(3)]}
	case KindRecordChildViews:
		return RecordChildViews{Views: text("Views."), HowConsidered: "Considered."}
	case KindAssignAdvocate:
		return AssignAdvocate{AdvocateKind: []v1.AdvocateKind{v1.AdvocateICTG, v1.AdvocateIndependent}[rng.IntN(2)], Name: text("Synthetic Advocate")}
	}
	return sampleEvent(k, c)
}

// randomStep returns how long after the last event the next one comes.
func randomStep(rng *rand.Rand) time.Duration {
	switch rng.IntN(10) {
	case 0:
		return 0
	case 1, 2, 3:
		return time.Duration(rng.IntN(180)) * time.Minute
	case 4, 5, 6:
		return time.Duration(rng.IntN(72)) * time.Hour
	case 7, 8:
		return time.Duration(5+rng.IntN(20)) * day
	}
	return time.Duration(28+rng.IntN(10)) * day
}

// TestRandomEventSequences drives cases with 10,000 random events. Every
// case produced is valid, every move is one the table allows, a closed or
// transferred_out case never moves, and the input is never changed.
func TestRandomEventSequences(t *testing.T) {
	p := DefaultPolicy()
	rng := rand.New(rand.NewPCG(2026, 17))
	sentinels := []error{ErrIllegalTransition, ErrInvalidEvent, ErrOutOfScope, ErrRecoveryPeriod, ErrReconsiderationWindowClosed}
	authorities := []v1.AuthorityCode{"ISL", "GLG", "CRF", "KEN"}
	fresh := func() (*v1.Case, time.Time) {
		start := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(2*365*24)) * time.Hour)
		c := newCase(t, authorities[rng.IntN(len(authorities))], start)
		if rng.IntN(3) == 0 {
			c.Identity.AgeDisputed = true
		}
		return c, start
	}
	c, now := fresh()
	visited := map[v1.CaseState]int{}
	moves, refusals, stuck := 0, 0, 0
	for i := 0; i < 10000; i++ {
		if terminal(c.State) {
			stuck++
		}
		if stuck > 15 || now.Year() >= 2028 {
			c, now = fresh()
			stuck = 0
		}
		// Mostly events allowed now, so that cases get deep; closing and
		// transferring out are made rarer, or few cases would get far.
		var k EventKind
		if allowed := Allowed(c.State, p); rng.IntN(10) < 7 {
			k = allowed[rng.IntN(len(allowed))]
			for (k == KindClose || k == KindTransferOut) && rng.IntN(10) != 0 {
				k = allowed[rng.IntN(len(allowed))]
			}
		} else {
			k = eventKinds[rng.IntN(len(eventKinds))]
		}
		now = now.Add(randomStep(rng))
		ev := randomEvent(rng, k, c)
		before := cloneCase(c)
		n, err := Apply(c, ev, now, "sw-0042", p)
		if !reflect.DeepEqual(c, before) {
			t.Fatalf("step %d: Apply(%s) modified its input", i, k)
		}
		if err != nil {
			if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
				t.Fatalf("step %d: %s in %s: unexpected error %v", i, k, c.State, err)
			}
			refusals++
			continue
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("step %d: %s in %s produced an invalid case: %v", i, k, c.State, err)
		}
		targets, ok := lookup(c.State, k, p)
		if !ok || !slices.Contains(targets, n.State) {
			t.Fatalf("step %d: %s moved %s to %s; the table allows %v", i, k, c.State, n.State, targets)
		}
		if terminal(c.State) && (n.State != c.State || !slices.Contains(everyState, k)) {
			t.Fatalf("step %d: %s moved a %s case to %s", i, k, c.State, n.State)
		}
		if n.Revision != c.Revision+1 || !n.UpdatedAt.Equal(now) {
			t.Fatalf("step %d: revision %d→%d, updated %v want %v", i, c.Revision, n.Revision, n.UpdatedAt, now)
		}
		if n.State != c.State {
			moves++
		}
		c = n
		visited[c.State]++
	}
	for _, s := range v1.CaseStates {
		if visited[s] == 0 {
			t.Errorf("no random sequence reached %s", s)
		}
	}
	t.Logf("%d moves, %d refusals; states visited: %v", moves, refusals, visited)
}
