package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
)

// directPanel is a PanelService that applies each proposal to a real
// in-memory panel state machine at once, as Raft would after commit, and can
// be told to answer the next proposals ambiguously: after applying them
// (committed, answer lost) or without (never committed). Fast unit tests
// only; the loopback tests use real Raft.
type directPanel struct {
	mu    sync.Mutex
	fsm   *panel.FSM
	index uint64
	// lostAfter and lostBefore count the next proposals to answer with
	// ErrAmbiguous after and before applying them.
	lostAfter, lostBefore int
	proposals             int
	// mirrors are other members' replicas of the state: each applies every
	// proposal the primary applies, at the same index.
	mirrors []*panel.FSM
}

func (d *directPanel) Propose(_ context.Context, cmd []byte) (consensus.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.proposals++
	if d.lostBefore > 0 {
		d.lostBefore--
		return consensus.Result{}, fmt.Errorf("%w: stream broke", consensus.ErrAmbiguous)
	}
	d.index++
	res := d.fsm.Apply(&raft.Log{Index: d.index, Type: raft.LogCommand, Data: cmd})
	for _, m := range d.mirrors {
		m.Apply(&raft.Log{Index: d.index, Type: raft.LogCommand, Data: cmd})
	}
	if d.lostAfter > 0 {
		d.lostAfter--
		return consensus.Result{}, fmt.Errorf("%w: leadership lost", consensus.ErrAmbiguous)
	}
	b, err := d.fsm.EncodeResponse(res)
	if err != nil {
		return consensus.Result{}, err
	}
	return consensus.Result{Index: d.index, Response: b}, nil
}

func (d *directPanel) CommandApplied(_ context.Context, id v1.ID) (uint64, bool, error) {
	return panelFSM{FSM: d.fsm}.CommandApplied(id)
}
func (d *directPanel) Sync(context.Context) error { return nil }
func (d *directPanel) Status(context.Context) (consensus.Status, error) {
	return consensus.Status{State: "Leader", AppliedIndex: d.fsm.AppliedIndex()}, nil
}

const unitPanel v1.PanelID = "islington-camden"

type panelFixture struct {
	*fixture
	panels *Panels
	svc    *directPanel
	fsm    *panel.FSM
	c      *v1.Case
}

// panelOption changes the fixture's configuration before it starts.
type panelOption func(*PanelsConfig, *panel.Config)

func newPanelFixture(t *testing.T, opts ...panelOption) *panelFixture {
	t.Helper()
	f := newFixture(t)
	fc := panel.DefaultConfig()
	fc.Panel, fc.InMemory, fc.Plaintext, fc.Logger = unitPanel, true, true, testLogger(t)
	pc := DefaultPanelsConfig()
	pc.Node, pc.ResolvePause = f.node, time.Millisecond
	for _, o := range opts {
		o(&pc, nil)
	}
	ps, err := NewPanels(pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	fc.Observer, fc.ChangeObserver = ps.Observer(unitPanel), ps.ChangeObserver(unitPanel)
	for _, o := range opts {
		o(nil, &fc)
	}
	fsm, err := panel.Open(fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fsm.Close() })
	svc := &directPanel{fsm: fsm}
	if err := ps.Attach(unitPanel, svc, fsm); err != nil {
		t.Fatal(err)
	}
	c := f.mustCreate(t)
	for _, ev := range []workflow.Event{workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "in scope"}} {
		rec, err := f.node.Apply(context.Background(), f.users[RoleSocialWorker], Change{Case: c.ID, Revision: c.Revision, Event: ev})
		if err != nil {
			t.Fatal(err)
		}
		c = rec.Case
	}
	return &panelFixture{fixture: f, panels: ps, svc: svc, fsm: fsm, c: c}
}

var (
	unitPolice = Principal{ID: "police", Role: RolePanelMember, Authority: testAuthority}
	unitHealth = Principal{ID: "health", Role: RolePanelMember, Authority: testAuthority}
)

func (pf *panelFixture) accept(t *testing.T, what string, out PanelOutcome, err error) PanelOutcome {
	t.Helper()
	if err != nil || !out.Accepted() {
		t.Fatalf("%s: %+v %v", what, out, err)
	}
	return out
}

// decide runs a case to a concluded RG decision and returns its ID.
func (pf *panelFixture) decide(t *testing.T) v1.ID {
	t.Helper()
	return pf.decideThen(t, nil)
}

// decideThen is decide with beforeConclude, if not nil, run once the votes
// are cast and before the chair concludes the decision.
func (pf *panelFixture) decideThen(t *testing.T, beforeConclude func()) v1.ID {
	t.Helper()
	ctx := context.Background()
	u := pf.users
	out, err := pf.panels.OpenPanelCase(ctx, u[RoleSocialWorker], unitPanel, PanelCaseOpening{Case: pf.c.ID})
	pf.accept(t, "open", out, err)
	att := []v1.Attendee{
		{MemberID: "chair", Capacity: v1.CapacityAdviser, Chair: true},
		{MemberID: "member", Capacity: v1.CapacityLocalAuthority, Authority: testAuthority},
		{MemberID: "police", Capacity: v1.CapacityPolice}, {MemberID: "health", Capacity: v1.CapacityHealth},
		{MemberID: "ictg", Capacity: v1.CapacityICTG},
	}
	pf.clock.Advance(time.Hour)
	out, err = pf.panels.RecordPanelMeeting(ctx, u[RolePanelChair], unitPanel, pf.c.ID, PanelMeeting{HeldAt: pf.clock.Now().Add(-time.Minute), Attendance: att})
	meeting := pf.accept(t, "meeting", out, err).Subject
	out, err = pf.panels.RecordPanelChildViews(ctx, u[RoleAdvocate], unitPanel, pf.c.ID, "I want my sister told.")
	pf.accept(t, "views", out, err)
	out, err = pf.panels.ProposePanelDecision(ctx, u[RolePanelChair], unitPanel, pf.c.ID, PanelProposal{Meeting: meeting, Stages: []v1.DecisionStage{v1.StageRG}})
	proposal := pf.accept(t, "propose", out, err).Subject
	for _, who := range []Principal{u[RolePanelMember], unitPolice, unitHealth} {
		out, err = pf.panels.CastPanelVote(ctx, who, unitPanel, pf.c.ID, panel.CastVote{Proposal: proposal, Stage: v1.StageRG, Choice: v1.VoteNegative})
		pf.accept(t, "vote", out, err)
	}
	if beforeConclude != nil {
		beforeConclude()
	}
	out, err = pf.panels.ConcludePanelDecision(ctx, u[RolePanelChair], unitPanel, pf.c.ID, panel.ConcludeDecision{Proposal: proposal, Reasons: "r", ChildViewsConsidered: "c"})
	pf.accept(t, "conclude", out, err)
	return proposal
}

func (pf *panelFixture) decisionsOnCase(t *testing.T, id v1.ID) int {
	t.Helper()
	n := 0
	for _, d := range pf.mustRead(t, pf.c.ID).Case.Decisions {
		if d.PanelDecisionID == id {
			n++
		}
	}
	return n
}

func waitPanel(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 400 {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// An ambiguous proposal is resolved by its command ID: committed ones are
// read back, never proposed again; uncommitted ones are proposed again under
// the same ID. Either way it is applied exactly once.
func TestPanelAmbiguousProposalResolvedByID(t *testing.T) {
	for _, tc := range []struct {
		name              string
		after, before     int
		wantProposalsMore int
	}{
		{"committed, answer lost", 1, 0, 1},
		{"never committed", 0, 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPanelFixture(t)
			ctx := context.Background()
			out, err := pf.panels.OpenPanelCase(ctx, pf.users[RoleSocialWorker], unitPanel, PanelCaseOpening{Case: pf.c.ID})
			pf.accept(t, "open", out, err)
			pf.svc.lostAfter, pf.svc.lostBefore = tc.after, tc.before
			n := pf.svc.proposals
			out, err = pf.panels.RecordPanelChildViews(ctx, pf.users[RoleAdvocate], unitPanel, pf.c.ID, "views")
			pf.accept(t, "views", out, err)
			if got := pf.svc.proposals - n; got != tc.wantProposalsMore {
				t.Errorf("%d proposals, want %d", got, tc.wantProposalsMore)
			}
			pc, err := pf.fsm.Case(pf.c.ID)
			if err != nil || len(pc.ChildViews) != 1 || pc.ChildViews[0].Command != out.Command {
				t.Fatalf("child views %+v %v, want exactly the one command %s", pc.ChildViews, err, out.Command)
			}
		})
	}
}

// A concluded decision reaches the lead authority's case once, through the
// workflow, however often it is seen (observer, catch-up after a restore).
func TestPanelDecisionRecordedOnceOnCase(t *testing.T) {
	pf := newPanelFixture(t)
	id := pf.decide(t)
	waitPanel(t, "the decision on the case", func() bool { return pf.decisionsOnCase(t, id) == 1 })
	pf.panels.Reconcile(unitPanel)
	pf.panels.Reconcile(unitPanel)
	ds, err := pf.fsm.DecisionsSince(0)
	if err != nil || len(ds) != 1 {
		t.Fatalf("DecisionsSince: %v %v", ds, err)
	}
	pf.panels.Observer(unitPanel)(ds[0])
	time.Sleep(50 * time.Millisecond)
	if n := pf.decisionsOnCase(t, id); n != 1 {
		t.Fatalf("decision recorded %d times", n)
	}
	c := pf.mustRead(t, pf.c.ID).Case
	d := c.Decisions[len(c.Decisions)-1]
	if c.State != v1.StateRGNegative || d.Outcome != v1.OutcomeNegative || d.DecidedBy != "combined panel "+string(unitPanel) {
		t.Fatalf("case %s, decision %+v", c.State, d)
	}
}

// Roles the panel tables refuse are refused before anything is proposed,
// and the refusal is audited.
func TestPanelRolesRefusedAndAudited(t *testing.T) {
	pf := newPanelFixture(t)
	ctx := context.Background()
	cases := []struct {
		name string
		do   func(Principal) (PanelOutcome, error)
		ok   []Role
	}{
		{"open", func(w Principal) (PanelOutcome, error) {
			return pf.panels.OpenPanelCase(ctx, w, unitPanel, PanelCaseOpening{Case: pf.c.ID})
		}, panelOpenRoles},
		{"vote", func(w Principal) (PanelOutcome, error) {
			return pf.panels.CastPanelVote(ctx, w, unitPanel, pf.c.ID, panel.CastVote{Proposal: v1.NewID(), Stage: v1.StageRG, Choice: v1.VotePositive})
		}, panelVoteRoles},
		{"conclude", func(w Principal) (PanelOutcome, error) {
			return pf.panels.ConcludePanelDecision(ctx, w, unitPanel, pf.c.ID, panel.ConcludeDecision{Proposal: v1.NewID(), Reasons: "r", ChildViewsConsidered: "c"})
		}, []Role{RolePanelChair}},
	}
	for _, tc := range cases {
		for _, r := range Roles {
			allowed := false
			for _, ok := range tc.ok {
				allowed = allowed || ok == r
			}
			if allowed {
				continue
			}
			before, n := pf.auditSize(t), pf.svc.proposals
			_, err := tc.do(pf.users[r])
			if !errors.Is(err, ErrForbidden) {
				t.Errorf("%s by %s: %v, want ErrForbidden", tc.name, r, err)
			}
			if pf.svc.proposals != n {
				t.Errorf("%s by %s reached the panel", tc.name, r)
			}
			if es := pf.auditSince(t, before); len(es) != 1 || es[0].Outcome != v1.AuditDenied {
				t.Errorf("%s by %s audited as %+v", tc.name, r, es)
			}
		}
	}
}

// The leader's check of forwarded commands refuses a command in another
// authority's name, one from a peer off the roster, and bytes that are not a
// command; it passes the forwarding authority's own command.
func TestForwardedCommandCheck(t *testing.T) {
	isl, cmdPeer := ghostID(t), ghostID(t)
	check := ForwardedCommandCheck(func(p peer.ID) (v1.AuthorityCode, bool) {
		switch p {
		case isl:
			return "ISL", true
		case cmdPeer:
			return "CMD", true
		}
		return "", false
	})
	data, err := panel.Encode(panel.NewCommand(panel.Header{ID: v1.NewID(), Panel: unitPanel, Case: "ISL-3f9a0c1b2d4e5f60", Authority: "ISL",
		Actor: panel.Actor{PersonID: "sw", Role: panel.RoleSocialWorker}, At: start}, &panel.RecordChildViews{Views: "v"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := check(isl, data); err != nil {
		t.Errorf("own authority's command: %v", err)
	}
	if err := check(cmdPeer, data); !errors.Is(err, ErrWrongProposer) {
		t.Errorf("another authority's command: %v", err)
	}
	if err := check(ghostID(t), data); !errors.Is(err, ErrWrongProposer) {
		t.Errorf("off the roster: %v", err)
	}
	if err := check(isl, []byte("not a command")); err == nil {
		t.Error("garbage passed")
	}
}

func ghostID(t *testing.T) peer.ID {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
