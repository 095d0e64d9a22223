package node

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/consensus/panel"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// reconsider asks the panel, as the lead authority's social worker, to
// reconsider decision id.
func (pf *panelFixture) reconsider(t *testing.T, id v1.ID) {
	t.Helper()
	pf.clock.Advance(time.Minute)
	out, err := pf.panels.RequestPanelReconsideration(context.Background(), pf.users[RoleSocialWorker], unitPanel, pf.c.ID,
		panel.RequestReconsideration{Decision: id, Grounds: panel.GroundsNewEvidence, Detail: "The police have new evidence."})
	pf.accept(t, "reconsider", out, err)
}

// assure records the SCA's assurance status of decision id at the panel, as
// the lead authority's NRM coordinator.
func (pf *panelFixture) assure(t *testing.T, id v1.ID, st v1.AssuranceStatus, query string) {
	t.Helper()
	pf.clock.Advance(time.Minute)
	out, err := pf.panels.RecordPanelAssurance(context.Background(), pf.users[RoleNRMCoordinator], unitPanel, pf.c.ID,
		panel.RecordAssurance{Decision: id, Status: st, Query: query})
	pf.accept(t, "assurance "+string(st), out, err)
}

// caseNow reads the fixture's case as it is stored.
func (pf *panelFixture) caseNow(t *testing.T) *v1.Case { return pf.mustRead(t, pf.c.ID).Case }

func (pf *panelFixture) waitState(t *testing.T, want v1.CaseState) {
	t.Helper()
	waitPanel(t, "case "+string(want), func() bool { return pf.caseNow(t).State == want })
}

func assuranceSteps(c *v1.Case) []v1.AssuranceStatus {
	if c.Assurance == nil {
		return nil
	}
	var out []v1.AssuranceStatus
	for _, s := range c.Assurance.History {
		out = append(out, s.Status)
	}
	return out
}

// checkReconsidered checks the case records one reconsideration, accepted,
// of the panel's decision id (the link points at its entry).
func checkReconsidered(t *testing.T, c *v1.Case, id v1.ID) {
	t.Helper()
	if len(c.Reconsiderations) != 1 {
		t.Fatalf("%d reconsiderations on the case, want 1", len(c.Reconsiderations))
	}
	r := c.Reconsiderations[0]
	if r.Outcome != v1.ReconsiderationAccepted || r.Stage != v1.StageRG || r.Grounds != v1.GroundsNewEvidence || r.Decision == nil ||
		!strings.Contains(r.Reasons, "reasonable grounds decision afresh") {
		t.Fatalf("reconsideration %+v", r)
	}
	if got := c.Decisions[*r.Decision].PanelDecisionID; got != id {
		t.Fatalf("the reconsideration links decision %s, want the panel's %s", got, id)
	}
}

// What the panel records after a decision (a reconsideration, the SCA's
// assurance at each step) moves the lead authority's case through its
// workflow, once: seeing it again (the observers, a catch-up) changes
// nothing.
func TestPanelOutcomesRecordedOnCase(t *testing.T) {
	const query = "Say how the child's views were weighed."
	type step struct {
		do   func(pf *panelFixture, id v1.ID)
		want v1.CaseState
	}
	for _, tc := range []struct {
		name  string
		steps func(t *testing.T) []step
		check func(t *testing.T, c *v1.Case, id v1.ID)
	}{
		{"reconsideration", func(t *testing.T) []step {
			return []step{{func(pf *panelFixture, id v1.ID) { pf.reconsider(t, id) }, v1.StateReconsiderationAccepted}}
		}, checkReconsidered},
		{"assurance submitted", func(t *testing.T) []step {
			return []step{{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceSubmitted, "") }, v1.StateAssuranceSubmitted}}
		}, func(t *testing.T, c *v1.Case, _ v1.ID) {
			if got := assuranceSteps(c); len(got) != 1 || got[0] != v1.AssuranceSubmitted {
				t.Fatalf("assurance history %v", got)
			}
		}},
		{"assurance queried", func(t *testing.T) []step {
			return []step{
				{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceSubmitted, "") }, v1.StateAssuranceSubmitted},
				{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceQueried, query) }, v1.StateAssuranceQueried},
			}
		}, func(t *testing.T, c *v1.Case, _ v1.ID) {
			got := assuranceSteps(c)
			if len(got) != 2 || got[1] != v1.AssuranceQueried || c.Assurance.Query != query {
				t.Fatalf("assurance %+v", c.Assurance)
			}
		}},
		{"assurance queried, resubmitted and assured", func(t *testing.T) []step {
			return []step{
				{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceSubmitted, "") }, v1.StateAssuranceSubmitted},
				{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceQueried, query) }, v1.StateAssuranceQueried},
				{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceSubmitted, "") }, v1.StateAssuranceSubmitted},
				{func(pf *panelFixture, id v1.ID) { pf.assure(t, id, v1.AssuranceAssured, "") }, v1.StateAssured},
			}
		}, func(t *testing.T, c *v1.Case, _ v1.ID) {
			got := assuranceSteps(c)
			want := []v1.AssuranceStatus{v1.AssuranceSubmitted, v1.AssuranceQueried, v1.AssuranceSubmitted, v1.AssuranceAssured}
			if strings.Join(statusStrings(got), ",") != strings.Join(statusStrings(want), ",") {
				t.Fatalf("assurance history %v, want %v", got, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPanelFixture(t)
			id := pf.decide(t)
			pf.waitState(t, v1.StateRGNegative)
			for _, s := range tc.steps(t) {
				s.do(pf, id)
				pf.waitState(t, s.want)
			}
			c := pf.caseNow(t)
			tc.check(t, c, id)

			// Applied again: the observers and a catch-up, run here at once.
			d, err := pf.fsm.Decision(id)
			if err != nil {
				t.Fatal(err)
			}
			pf.panels.record(unitPanel, d)
			pf.panels.record(unitPanel, panel.Decision{Index: d.Index, Record: d.Record})
			pf.panels.catchUp(unitPanel)
			again := pf.caseNow(t)
			if again.Revision != c.Revision || again.State != c.State {
				t.Fatalf("seen again, the case moved from revision %d (%s) to %d (%s)", c.Revision, c.State, again.Revision, again.State)
			}
			tc.check(t, again, id)
			if n := pf.decisionsOnCase(t, id); n != 1 {
				t.Fatalf("decision recorded %d times", n)
			}
			if st := pf.status(t); st.Unrecorded != 0 {
				t.Fatalf("status %+v, want nothing unrecorded", st)
			}
		})
	}
}

func statusStrings(ss []v1.AssuranceStatus) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func (pf *panelFixture) status(t *testing.T) PanelStatus {
	t.Helper()
	st, err := pf.panels.PanelStatus(context.Background(), pf.users[RoleAdministrator], unitPanel)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// withoutChangeObserver leaves the panel's change observer unset: the node
// is down while the panel records reconsiderations and assurance.
func withoutChangeObserver(_ *PanelsConfig, fc *panel.Config) {
	if fc != nil {
		fc.ChangeObserver = nil
	}
}

// What the panel recorded while the node was down reaches the case when the
// node starts again and attaches the panel (catch-up), in the order the panel
// recorded it: here the decision's submission for assurance, then a request
// to reconsider it.
func TestPanelOutcomesCaughtUpAfterRestart(t *testing.T) {
	pf := newPanelFixture(t, withoutChangeObserver)
	id := pf.decide(t)
	pf.waitState(t, v1.StateRGNegative)
	pf.assure(t, id, v1.AssuranceSubmitted, "")
	pf.reconsider(t, id)
	if c := pf.caseNow(t); c.State != v1.StateRGNegative || len(c.Reconsiderations) != 0 || c.Assurance != nil {
		t.Fatalf("the case moved while the node was down: %s", c.State)
	}

	// Restart: the node's panels stop and start again on the same stores.
	if err := pf.panels.Close(); err != nil {
		t.Fatal(err)
	}
	pc := DefaultPanelsConfig()
	pc.Node, pc.ResolvePause = pf.node, time.Millisecond
	restarted, err := NewPanels(pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = restarted.Close() })
	pf.panels = restarted
	if err := restarted.Attach(unitPanel, pf.svc, pf.fsm); err != nil {
		t.Fatal(err)
	}
	pf.waitState(t, v1.StateReconsiderationAccepted)
	c := pf.caseNow(t)
	checkReconsidered(t, c, id)
	if got := assuranceSteps(c); len(got) != 1 || got[0] != v1.AssuranceSubmitted {
		t.Fatalf("assurance history %v, want the submission before the reconsideration", got)
	}
	if st := pf.status(t); st.Unrecorded != 0 {
		t.Fatalf("status %+v", st)
	}
}

// newNodeAt is a node of another authority on its own in-memory store, with
// an administrator.
func newNodeAt(t *testing.T, a v1.AuthorityCode) (*Node, Principal) {
	t.Helper()
	dir := t.TempDir()
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir = filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	sc.Authority, sc.InMemory, sc.Logger = a, true, testLogger(t)
	if err := storage.CreateKeys(sc.KeysDir); err != nil {
		t.Fatal(err)
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cfg := DefaultConfig()
	cfg.Store, cfg.Authority, cfg.Now, cfg.Logger = s, a, newTestClock(start).Now, testLogger(t)
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := s.CreateUser(context.Background(), storage.User{ID: "admin", Name: "Admin", Role: string(RoleAdministrator), Authority: a},
		storage.Access{Actor: "node", Role: "node"})
	if err != nil {
		t.Fatal(err)
	}
	return n, Principal{ID: u.ID, Name: u.Name, Role: RoleAdministrator, Authority: a}
}

// Another member of the panel (Camden, which the case does not lead) sees
// the same decision, reconsideration and assurance in its replica of the
// panel's state, and records none of them: only the lead authority's node
// holds the case.
func TestPanelOutcomesNotRecordedOnOtherMember(t *testing.T) {
	pf := newPanelFixture(t)
	other, admin := newNodeAt(t, "CMD")
	pc := DefaultPanelsConfig()
	pc.Node, pc.ResolvePause = other, time.Millisecond
	ps, err := NewPanels(pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	fc := panel.DefaultConfig()
	fc.Panel, fc.InMemory, fc.Plaintext, fc.Logger = unitPanel, true, true, testLogger(t)
	fc.Observer, fc.ChangeObserver = ps.Observer(unitPanel), ps.ChangeObserver(unitPanel)
	replica, err := panel.Open(fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = replica.Close() })
	pf.svc.mirrors = append(pf.svc.mirrors, replica)
	if err := ps.Attach(unitPanel, &directPanel{fsm: replica}, replica); err != nil {
		t.Fatal(err)
	}

	id := pf.decide(t)
	pf.waitState(t, v1.StateRGNegative)
	pf.assure(t, id, v1.AssuranceSubmitted, "")
	pf.waitState(t, v1.StateAssuranceSubmitted)
	pf.reconsider(t, id)
	pf.waitState(t, v1.StateReconsiderationAccepted)

	if _, err := replica.Decision(id); err != nil {
		t.Fatalf("the other member's replica lacks the decision: %v", err)
	}
	ps.catchUp(unitPanel) // at once, here: nothing for this authority
	ps.mu.Lock()
	pending := len(ps.pending)
	ps.mu.Unlock()
	if pending != 0 {
		t.Fatalf("the other member tried to record %d decisions", pending)
	}
	st, err := ps.PanelStatus(context.Background(), admin, unitPanel)
	if err != nil || st.Unrecorded != 0 || st.Refused != 0 {
		t.Fatalf("other member's status %+v %v", st, err)
	}
}

// errorLog counts the messages logged at Error.
type errorLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.mu.Lock()
		l.msgs = append(l.msgs, r.Message)
		l.mu.Unlock()
	}
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }
func (l *errorLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// A case whose workflow cannot take what the panel would do is refused
// before anything is proposed, with a message that names the case's state
// and what is needed.
func TestPanelRefusesWhatTheCaseCannotTake(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// setup brings the case to the state of the test; do is refused.
		setup func(t *testing.T, pf *panelFixture) *v1.Case
		do    func(pf *panelFixture, c *v1.Case) error
		want  []string
	}{
		{"open before the scope decision", func(t *testing.T, pf *panelFixture) *v1.Case {
			return pf.newCaseThrough(t, workflow.StartScopeCheck{})
		}, func(pf *panelFixture, c *v1.Case) error {
			_, err := pf.panels.OpenPanelCase(ctx, pf.users[RoleSocialWorker], unitPanel, PanelCaseOpening{Case: c.ID})
			return err
		}, []string{"is scope_check", "rg_pending", "record the scope decision first"}},
		{"open a case referred to the SCA", func(t *testing.T, pf *panelFixture) *v1.Case {
			return pf.newCaseThrough(t, workflow.StartScopeCheck{}, workflow.RecordScope{InScope: false, Reason: "age disputed"})
		}, func(pf *panelFixture, c *v1.Case) error {
			_, err := pf.panels.OpenPanelCase(ctx, pf.users[RoleSocialWorker], unitPanel, PanelCaseOpening{Case: c.ID})
			return err
		}, []string{"is referred_to_sca", "Single Competent Authority"}},
		{"open a case decided already", func(t *testing.T, pf *panelFixture) *v1.Case {
			return pf.newCaseThrough(t, workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "in scope"},
				workflow.RecordDecision{Stage: v1.StageRG, Outcome: v1.OutcomePositive, Reasons: "r", ChildViews: "c"})
		}, func(pf *panelFixture, c *v1.Case) error {
			_, err := pf.panels.OpenPanelCase(ctx, pf.users[RoleSocialWorker], unitPanel, PanelCaseOpening{Case: c.ID})
			return err
		}, []string{"is rg_positive", "has a reasonable grounds decision already"}},
		{"propose CG while the case awaits RG", func(t *testing.T, pf *panelFixture) *v1.Case {
			out, err := pf.panels.OpenPanelCase(ctx, pf.users[RoleSocialWorker], unitPanel, PanelCaseOpening{Case: pf.c.ID})
			pf.accept(t, "open", out, err)
			return pf.c
		}, func(pf *panelFixture, c *v1.Case) error {
			_, err := pf.panels.ProposePanelDecision(ctx, pf.users[RolePanelChair], unitPanel, c.ID,
				PanelProposal{Meeting: v1.NewID(), Stages: []v1.DecisionStage{v1.StageCG}})
			return err
		}, []string{"could not be recorded on case", "record a conclusive grounds decision", "while the case is rg_pending",
			"allowed now: record a reasonable grounds decision"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPanelFixture(t)
			c := tc.setup(t, pf)
			n := pf.svc.proposals
			err := tc.do(pf, c)
			if !errors.Is(err, ErrNotAllowedNow) {
				t.Fatalf("got %v, want ErrNotAllowedNow", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not say %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), string(c.ID)) {
				t.Errorf("message %q does not name the case", err)
			}
			if pf.svc.proposals != n {
				t.Errorf("the refused command reached the panel")
			}
		})
	}
}

// newCaseThrough creates a case and applies events to it as its social
// worker (decisions as a panel chair).
func (pf *panelFixture) newCaseThrough(t *testing.T, evs ...workflow.Event) *v1.Case {
	t.Helper()
	c := pf.mustCreate(t)
	for _, ev := range evs {
		who := pf.users[RoleSocialWorker]
		if isDecision(ev.Kind()) {
			who = pf.users[RolePanelChair]
		}
		rec, err := pf.node.Apply(context.Background(), who, Change{Case: c.ID, Revision: c.Revision, Event: ev})
		if err != nil {
			t.Fatalf("%s: %v", ev.Kind(), err)
		}
		c = rec.Case
	}
	return c
}

// A concluded decision the case's workflow refuses (a CG decision for a case
// still awaiting RG) is not retried on the interval: it is logged once at
// Error and shown, with its reason, in the panel's status; a catch-up tries
// it again, without logging it again.
func TestPanelRefusedDecisionNotRetried(t *testing.T) {
	errs := &errorLog{}
	pf := newPanelFixture(t, func(pc *PanelsConfig, _ *panel.Config) {
		if pc != nil {
			pc.RetryInterval, pc.Logger = time.Millisecond, slog.New(errs)
		}
	})
	id := v1.NewID()
	pf.panels.Observer(unitPanel)(panel.ConcludedDecision{Index: 7, Record: v1.PanelDecision{
		ID: id, Panel: unitPanel, CaseRef: pf.c.ID, LeadAuthority: testAuthority,
		MeetingAt: start, DecidedAt: start.Add(time.Minute),
		Outcomes: []v1.StageOutcome{{Stage: v1.StageCG, Outcome: v1.OutcomePositive, TestApplied: v1.TestConclusiveGrounds}},
		Reasons:  "r", ChildViews: "c",
	}})
	waitPanel(t, "the refusal", func() bool { return pf.status(t).Refused == 1 })
	before := pf.auditSize(t)
	time.Sleep(50 * time.Millisecond) // fifty retry intervals
	if got := pf.auditSize(t); got != before {
		t.Fatalf("the refused decision was tried again on the interval: %d audit entries more", got-before)
	}
	st := pf.status(t)
	if st.Unrecorded != 1 || len(st.Problems) != 1 || !st.Problems[0].Refused || st.Problems[0].Decision != id {
		t.Fatalf("status %+v", st)
	}
	if r := st.Problems[0].Reason; !strings.Contains(r, "record a conclusive grounds decision while the case is rg_pending") ||
		!strings.Contains(r, string(id)) {
		t.Fatalf("reason %q does not say what was refused and why", r)
	}
	pf.panels.catchUp(unitPanel) // finds nothing of its own to record, but
	pf.panels.record(unitPanel, pf.panels.pendingOf(t, id))
	if n := errs.count(); n != 1 {
		t.Fatalf("%d messages at Error, want the refusal logged once", n)
	}
	if c := pf.caseNow(t); c.State != v1.StateRGPending || len(c.Decisions) != 0 {
		t.Fatalf("case %s with %d decisions", c.State, len(c.Decisions))
	}
}

func (p *Panels) pendingOf(t *testing.T, id v1.ID) panel.Decision {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	pd, ok := p.pending[id]
	if !ok {
		t.Fatalf("decision %s is not pending", id)
	}
	return pd.d
}

// RG and CG decided together with a negative RG put a negative RG decision on
// the case, never a positive one: a CG decision follows only a positive RG.
func TestPanelCombinedNegativeRecordedAsNegativeRG(t *testing.T) {
	pf := newPanelFixture(t)
	id := v1.NewID()
	pf.clock.Advance(time.Hour)
	pf.panels.Observer(unitPanel)(panel.ConcludedDecision{Index: 9, Record: v1.PanelDecision{
		ID: id, Panel: unitPanel, CaseRef: pf.c.ID, LeadAuthority: testAuthority,
		MeetingAt: start.Add(time.Minute), DecidedAt: start.Add(2 * time.Minute),
		Outcomes: []v1.StageOutcome{
			{Stage: v1.StageRG, Outcome: v1.OutcomeNegative, TestApplied: v1.TestReasonableGrounds},
			{Stage: v1.StageCG, Outcome: v1.OutcomeNegative, TestApplied: v1.TestConclusiveGrounds},
		},
		Reasons: "r", ChildViews: "c",
	}})
	pf.waitState(t, v1.StateRGNegative)
	c := pf.caseNow(t)
	if len(c.Decisions) != 1 || c.Decisions[0].Stage != v1.StageRG || c.Decisions[0].Outcome != v1.OutcomeNegative || c.Decisions[0].PanelDecisionID != id {
		t.Fatalf("decisions on the case: %+v", c.Decisions)
	}
}

// A decision the case's workflow refused is recorded, without a restart, once
// the case is corrected and an operator asks for the panel to be reconciled
// (ReconcilePanel); the retry interval alone never records it.
func TestPanelReconcileRecordsRefusedDecision(t *testing.T) {
	pf := newPanelFixture(t, func(pc *PanelsConfig, _ *panel.Config) {
		if pc != nil {
			pc.RetryInterval = time.Millisecond
		}
	})
	ctx := context.Background()
	apply := func(who Principal, ev workflow.Event) {
		t.Helper()
		c := pf.caseNow(t)
		if _, err := pf.node.Apply(ctx, who, Change{Case: c.ID, Revision: c.Revision, Event: ev}); err != nil {
			t.Fatalf("%s: %v", ev.Kind(), err)
		}
	}
	// While the panel votes, a reasonable grounds decision is recorded on
	// the case directly, so the panel's own cannot be.
	id := pf.decideThen(t, func() {
		apply(pf.users[RolePanelChair], workflow.RecordDecision{Stage: v1.StageRG, Outcome: v1.OutcomeNegative,
			Reasons: "recorded outside the panel", ChildViews: "c"})
	})
	waitPanel(t, "the refusal", func() bool { return pf.status(t).Refused == 1 })

	// The case is corrected: the stray decision is reconsidered, so the case
	// awaits a reasonable grounds decision again.
	apply(pf.users[RoleSocialWorker], workflow.RequestReconsideration{Stage: v1.StageRG, Grounds: v1.GroundsNewEvidence})
	apply(pf.users[RoleNRMCoordinator], workflow.DecideReconsideration{Accepted: true, Reasons: "the panel decides this"})
	time.Sleep(50 * time.Millisecond) // fifty retry intervals
	if n, st := pf.decisionsOnCase(t, id), pf.status(t); n != 0 || st.Refused != 1 {
		t.Fatalf("before reconciling: decision on the case %d times, status %+v; want it still refused", n, st)
	}

	who := pf.users[RoleNRMCoordinator]
	before := pf.auditSize(t)
	if err := pf.panels.ReconcilePanel(ctx, who, unitPanel); err != nil {
		t.Fatal(err)
	}
	es := pf.auditSince(t, before)
	if len(es) == 0 || es[0].Outcome != v1.AuditAllowed || es[0].Actor != who.ID || es[0].Subject != "panel:"+string(unitPanel) ||
		!strings.Contains(es[0].Purpose, "reconcile") {
		t.Fatalf("reconciliation audited as %+v", es)
	}
	waitPanel(t, "the decision on the case", func() bool { return pf.decisionsOnCase(t, id) == 1 })
	waitPanel(t, "nothing unrecorded", func() bool { st := pf.status(t); return st.Unrecorded == 0 && st.Refused == 0 })
	c := pf.caseNow(t)
	last := c.Decisions[len(c.Decisions)-1]
	if c.State != v1.StateRGNegative || last.PanelDecisionID != id || len(c.Decisions) != 2 {
		t.Fatalf("case %s, %d decisions, last %+v", c.State, len(c.Decisions), last)
	}

	// Reconciling again records nothing more.
	if err := pf.panels.ReconcilePanel(ctx, pf.users[RoleAdministrator], unitPanel); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if again := pf.caseNow(t); again.Revision != c.Revision || pf.decisionsOnCase(t, id) != 1 {
		t.Fatalf("reconciled again, the case moved from revision %d to %d", c.Revision, again.Revision)
	}
}

// ReconcilePanel is refused, audited, to the roles not in its table; an
// unknown or malformed panel and a stopping node are refused with a clear
// error.
func TestPanelReconcileRefusals(t *testing.T) {
	pf := newPanelFixture(t)
	ctx := context.Background()
	for _, r := range Roles {
		if slices.Contains(panelReconcileRoles, r) {
			continue
		}
		before := pf.auditSize(t)
		err := pf.panels.ReconcilePanel(ctx, pf.users[r], unitPanel)
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", r, err)
		}
		if es := pf.auditSince(t, before); len(es) != 1 || es[0].Outcome != v1.AuditDenied {
			t.Errorf("%s refused, audited as %+v", r, es)
		}
	}
	admin := pf.users[RoleAdministrator]
	if err := pf.panels.ReconcilePanel(ctx, admin, "no-such-panel"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no-such-panel") {
		t.Errorf("unknown panel: %v, want ErrNotFound naming it", err)
	}
	if err := pf.panels.ReconcilePanel(ctx, admin, "../etc"); !errors.Is(err, ErrInvalid) {
		t.Errorf("malformed panel: %v, want ErrInvalid", err)
	}
	if err := pf.panels.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pf.panels.ReconcilePanel(ctx, admin, unitPanel); !errors.Is(err, ErrUnavailable) {
		t.Errorf("stopped: %v, want ErrUnavailable", err)
	}
}
