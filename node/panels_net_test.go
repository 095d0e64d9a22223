package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/consensus/transport/transporttest"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const netPanel v1.PanelID = "islington-camden-hackney"

// panelCanary is seeded in the child's views: it must never be found in the
// clear on any member's disk (Raft log, snapshots and panel state are
// encrypted at rest).
const panelCanary = "CANARY-panel-views-9c41e7"

// panelNode is one whole authority node on loopback: an on-disk store, the
// node, its Panels, a libp2p host and the panel's Raft group and state.
type panelNode struct {
	authority v1.AuthorityCode
	id        peer.ID
	dir       string
	store     *storage.Store
	node      *Node
	panels    *Panels
	host      *PanelHost
	users     map[string]Principal // by user ID
}

type panelNet struct {
	t       testing.TB
	net     *transporttest.Network
	key     []byte
	nodes   []*panelNode
	members []consensus.Member
}

// Users at each node; IDs are unique across the panel because attendance
// lists name people by ID. The chair is independent (an adviser capacity).
var panelUsers = map[v1.AuthorityCode][]struct {
	id   string
	role Role
}{
	"ISL": {{"sw-isl", RoleSocialWorker}, {"la-isl", RolePanelMember}, {"ictg-isl", RoleAdvocate}, {"coord-isl", RoleNRMCoordinator}, {"admin-isl", RoleAdministrator}},
	"CMD": {{"chair-cmd", RolePanelChair}, {"la-cmd", RolePanelMember}, {"health-cmd", RolePanelMember}},
	"HCK": {{"la-hck", RolePanelMember}, {"police-hck", RolePanelMember}},
}

func netTimeouts() consensus.Timeouts {
	return consensus.Timeouts{Heartbeat: 300 * time.Millisecond, Election: 300 * time.Millisecond,
		LeaderLease: 150 * time.Millisecond, Commit: 5 * time.Millisecond, RPC: 2 * time.Second, Forward: 5 * time.Second}
}

func newPanelNet(t testing.TB) *panelNet {
	t.Helper()
	pn := &panelNet{t: t, net: transporttest.NewNetwork(t), key: make([]byte, 32)}
	copy(pn.key, "panel-test-key-0123456789abcdef!")
	for _, a := range []v1.AuthorityCode{"ISL", "CMD", "HCK"} {
		n := &panelNode{authority: a, id: pn.net.NewIdentity(), dir: t.TempDir(), users: map[string]Principal{}}
		pn.nodes = append(pn.nodes, n)
		pn.members = append(pn.members, consensus.Member{ID: n.id})
	}
	for _, n := range pn.nodes {
		pn.openNode(n)
		pn.startPanel(n)
	}
	t.Cleanup(func() {
		for _, n := range pn.nodes {
			pn.stopPanel(n)
			pn.closeNode(n)
		}
	})
	return pn
}

func (pn *panelNet) admit(p peer.ID) bool {
	return slices.ContainsFunc(pn.members, func(m consensus.Member) bool { return m.ID == p })
}

func (pn *panelNet) authorityOf(p peer.ID) (v1.AuthorityCode, bool) {
	for _, n := range pn.nodes {
		if n.id == p {
			return n.authority, true
		}
	}
	return "", false
}

// openNode opens the node's store, node and Panels, and its users.
func (pn *panelNet) openNode(n *panelNode) {
	t := pn.t
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir = filepath.Join(n.dir, "data"), filepath.Join(n.dir, "keys")
	sc.Authority, sc.Logger = n.authority, testLogger(t).With("store", string(n.authority))
	if _, err := os.Stat(sc.KeysDir); err != nil {
		if err := storage.CreateKeys(sc.KeysDir); err != nil {
			t.Fatal(err)
		}
	}
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Store, cfg.Authority, cfg.Logger = s, n.authority, testLogger(t).With("node", string(n.authority))
	nd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc := DefaultPanelsConfig()
	pc.Node, pc.RetryInterval, pc.ResolvePause = nd, time.Second, 50*time.Millisecond
	ps, err := NewPanels(pc)
	if err != nil {
		t.Fatal(err)
	}
	n.store, n.node, n.panels = s, nd, ps
	for _, u := range panelUsers[n.authority] {
		_, _, err := s.CreateUser(context.Background(), storage.User{ID: u.id, Name: "Test " + u.id, Role: string(u.role), Authority: n.authority},
			storage.Access{Actor: "node", Role: "node"})
		if err != nil && !errors.Is(err, storage.ErrExists) {
			t.Fatal(err)
		}
		n.users[u.id] = Principal{ID: u.id, Name: "Test " + u.id, Role: u.role, Authority: n.authority}
	}
}

func (pn *panelNet) closeNode(n *panelNode) {
	if n.panels != nil {
		_ = n.panels.Close()
		n.panels = nil
	}
	if n.store != nil {
		if err := n.store.Close(); err != nil {
			pn.t.Errorf("close store: %v", err)
		}
		n.store = nil
	}
}

// startPanel (re)starts the node's host and its panel from its directory.
func (pn *panelNet) startPanel(n *panelNode) {
	t := pn.t
	if pn.net.Host(n.id) == nil {
		pn.net.Start(n.id)
	}
	cc := consensus.DefaultConfig()
	cc.Timeouts, cc.SnapshotInterval = netTimeouts(), 200*time.Millisecond
	h, err := StartPanel(n.panels, PanelHostConfig{Panel: netPanel, Host: pn.net.Host(n.id), Members: pn.members,
		Admit: pn.admit, AuthorityOf: pn.authorityOf, Dir: filepath.Join(n.dir, "panels", string(netPanel)), EncryptionKey: pn.key,
		Consensus: &cc, Logger: testLogger(t).With("panel", string(n.authority))})
	if err != nil {
		t.Fatalf("start panel on %s: %v", n.authority, err)
	}
	n.host = h
}

// stopPanel shuts the node's panel down and stops its host: to the others,
// a crash.
func (pn *panelNet) stopPanel(n *panelNode) {
	if n.host != nil {
		if err := n.host.Close(); err != nil {
			pn.t.Errorf("close panel on %s: %v", n.authority, err)
		}
		n.host = nil
	}
	if pn.net.Host(n.id) != nil {
		pn.net.Stop(n.id)
	}
}

func (pn *panelNet) node(a v1.AuthorityCode) *panelNode {
	for _, n := range pn.nodes {
		if n.authority == a {
			return n
		}
	}
	pn.t.Fatalf("no node %s", a)
	return nil
}

// leader waits for a leader among the running nodes.
func (pn *panelNet) leader(ctx context.Context) *panelNode {
	pn.t.Helper()
	for {
		for _, n := range pn.nodes {
			if n.host == nil {
				continue
			}
			st, err := n.host.Panel().Status(ctx)
			if err == nil && st.State == "Leader" {
				return n
			}
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			pn.t.Fatal("no panel leader")
		}
	}
}

func netCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// rgPendingCase makes a referral at ISL and takes it to RG pending.
func rgPendingCase(t testing.TB, n *panelNode) *v1.Case {
	t.Helper()
	ctx := context.Background()
	sw := n.users["sw-isl"]
	f := &fixture{clock: newTestClock(time.Now().UTC())}
	r, err := n.node.CreateReferral(ctx, sw, f.referral())
	if err != nil {
		t.Fatal(err)
	}
	c := r.Case
	for _, ev := range []workflow.Event{workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "aged 16, in scope"}} {
		rec, err := n.node.Apply(ctx, sw, Change{Case: c.ID, Revision: c.Revision, Event: ev})
		if err != nil {
			t.Fatalf("apply %s: %v", ev.Kind(), err)
		}
		c = rec.Case
	}
	return c
}

func quorateAttendance() []v1.Attendee {
	return []v1.Attendee{
		{MemberID: "chair-cmd", Capacity: v1.CapacityAdviser, Chair: true},
		{MemberID: "la-isl", Capacity: v1.CapacityLocalAuthority, Authority: "ISL"},
		{MemberID: "la-cmd", Capacity: v1.CapacityLocalAuthority, Authority: "CMD"},
		{MemberID: "la-hck", Capacity: v1.CapacityLocalAuthority, Authority: "HCK"},
		{MemberID: "police-hck", Capacity: v1.CapacityPolice},
		{MemberID: "health-cmd", Capacity: v1.CapacityHealth},
		{MemberID: "ictg-isl", Capacity: v1.CapacityICTG},
	}
}

// voters maps each voting member to the node they act from.
var netVoters = []struct {
	authority v1.AuthorityCode
	user      string
}{{"ISL", "la-isl"}, {"CMD", "la-cmd"}, {"HCK", "la-hck"}, {"HCK", "police-hck"}, {"CMD", "health-cmd"}}

func mustAccept(t testing.TB, what string, out PanelOutcome, err error) PanelOutcome {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !out.Accepted() {
		t.Fatalf("%s: %s %s", what, out.Code, out.Message)
	}
	return out
}

// openAndMeet opens the case on the panel from ISL, records a quorate
// meeting from CMD (the chair's node) and the child's views from ISL.
func openAndMeet(t *testing.T, pn *panelNet, c *v1.Case) (meeting v1.ID) {
	t.Helper()
	ctx := netCtx(t, time.Minute)
	isl, cmd := pn.node("ISL"), pn.node("CMD")
	out, err := isl.panels.OpenPanelCase(ctx, isl.users["sw-isl"], netPanel, PanelCaseOpening{Case: c.ID, Touches: []v1.AuthorityCode{"CMD", "HCK"}})
	mustAccept(t, "open", out, err)
	out, err = cmd.panels.RecordPanelMeeting(ctx, cmd.users["chair-cmd"], netPanel, c.ID, PanelMeeting{HeldAt: time.Now().Add(-time.Minute), Attendance: quorateAttendance()})
	meeting = mustAccept(t, "meeting", out, err).Subject
	out, err = isl.panels.RecordPanelChildViews(ctx, isl.users["ictg-isl"], netPanel, c.ID, panelCanary+": I want to stay at school here.")
	mustAccept(t, "child's views", out, err)
	return meeting
}

// Three whole nodes form one panel. A decision is proposed by the chair on
// one node, voted on from every node (followers forward to the leader),
// concluded, and is then the same on every member; the lead authority's case
// records it through the workflow, once, also after the lead node restarts
// and catches up (DecisionsSince).
func TestPanelDecisionAcrossThreeNodes(t *testing.T) {
	pn := newPanelNet(t)
	ctx := netCtx(t, 2*time.Minute)
	pn.leader(ctx)
	isl, cmd := pn.node("ISL"), pn.node("CMD")
	c := rgPendingCase(t, isl)
	meeting := openAndMeet(t, pn, c)

	// An advocate carries the child's voice but has no vote.
	if _, err := isl.panels.CastPanelVote(ctx, isl.users["ictg-isl"], netPanel, c.ID, panel.CastVote{Proposal: v1.NewID(), Stage: v1.StageRG, Choice: v1.VotePositive}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("advocate's vote: got %v, want ErrForbidden", err)
	}

	out, err := cmd.panels.ProposePanelDecision(ctx, cmd.users["chair-cmd"], netPanel, c.ID, PanelProposal{Meeting: meeting, Stages: []v1.DecisionStage{v1.StageRG}})
	proposal := mustAccept(t, "propose", out, err).Subject
	for _, v := range netVoters {
		n := pn.node(v.authority)
		out, err := n.panels.CastPanelVote(ctx, n.users[v.user], netPanel, c.ID, panel.CastVote{Proposal: proposal, Stage: v1.StageRG, Choice: v1.VotePositive})
		mustAccept(t, "vote by "+v.user, out, err)
	}
	out, err = cmd.panels.ConcludePanelDecision(ctx, cmd.users["chair-cmd"], netPanel, c.ID, panel.ConcludeDecision{
		Proposal: proposal, Reasons: "Police and health evidence of criminal exploitation.",
		ChildViewsConsidered: "The child's wish to stay at school shaped the safeguarding plan."})
	mustAccept(t, "conclude", out, err)

	// The same decision on every member.
	var want *panel.Decision
	for _, n := range pn.nodes {
		reader := n.users[panelUsers[n.authority][0].id]
		pc, err := n.panels.PanelCase(ctx, reader, netPanel, c.ID)
		if err != nil {
			t.Fatalf("%s: read panel case: %v", n.authority, err)
		}
		d, ok := pc.Decision(proposal)
		if !ok {
			t.Fatalf("%s: decision %s missing", n.authority, proposal)
		}
		if pc.RG.Status != panel.StagePositive {
			t.Errorf("%s: RG stage %s, want positive", n.authority, pc.RG.Status)
		}
		if want == nil {
			want = &d
		} else if fmt.Sprint(d.Record) != fmt.Sprint(want.Record) || d.Index != want.Index {
			t.Errorf("%s: decision differs from the first member's:\n%+v\n%+v", n.authority, d, *want)
		}
	}

	// The lead authority's case records it through the workflow.
	waitDecisionOnCase(t, isl, c.ID, proposal, 1)
	rec, err := isl.node.Case(ctx, isl.users["sw-isl"], c.ID, Read{Purpose: "check the panel decision"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Case.State != v1.StateRGPositive {
		t.Errorf("case state %s, want %s", rec.Case.State, v1.StateRGPositive)
	}
	d := rec.Case.Decisions[len(rec.Case.Decisions)-1]
	if d.Outcome != v1.OutcomePositive || d.Stage != v1.StageRG || d.DecidedBy == "" || !d.DecidedAt.Equal(want.Record.DecidedAt) {
		t.Errorf("decision on case: %+v", d)
	}
	// The other authorities hold no such case: nothing is recorded there.
	for _, a := range []v1.AuthorityCode{"CMD", "HCK"} {
		if _, err := pn.node(a).store.Case(ctx, c.ID, storage.Access{Actor: "test", Role: "test", Purpose: "check", LegalBasis: DefaultBasis}); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s holds case %s: %v", a, c.ID, err)
		}
	}

	for _, n := range pn.nodes {
		checkNoCanaryOnDisk(t, n.dir)
	}

	// Restart the lead node: the catch-up (DecisionsSince) sees the decision
	// again and records nothing twice.
	pn.stopPanel(isl)
	pn.closeNode(isl)
	pn.openNode(isl)
	pn.startPanel(isl)
	if _, err := isl.panels.PanelCase(ctx, isl.users["sw-isl"], netPanel, c.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the catch-up run; it must change nothing
	waitDecisionOnCase(t, isl, c.ID, proposal, 1)
}

// waitDecisionOnCase waits until the case records the panel decision and
// checks it is recorded exactly want times.
func waitDecisionOnCase(t testing.TB, n *panelNode, ref v1.CaseID, decision v1.ID, want int) {
	t.Helper()
	ctx := netCtx(t, 30*time.Second)
	for {
		c, err := n.store.Case(ctx, ref, storage.Access{Actor: "test", Role: "test", Purpose: "check the panel decision", LegalBasis: DefaultBasis})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, d := range c.Decisions {
			if d.PanelDecisionID == decision {
				got++
			}
		}
		if got == want {
			return
		}
		if got > want {
			t.Fatalf("decision %s recorded %d times, want %d", decision, got, want)
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			t.Fatalf("decision %s recorded %d times, want %d", decision, got, want)
		}
	}
}

// A follower proposes while the leader is killed: each proposal resolves by
// its command ID, none is lost and none is applied twice.
func TestPanelProposalSurvivesLeaderKill(t *testing.T) {
	pn := newPanelNet(t)
	ctx := netCtx(t, 2*time.Minute)
	isl := pn.node("ISL")
	c := rgPendingCase(t, isl)
	openAndMeet(t, pn, c)

	// The proposer must be a follower, and ISL's users record views: make
	// sure ISL is not the leader.
	leader := pn.leader(ctx)
	if leader == isl {
		pn.stopPanel(isl)
		pn.startPanel(isl)
		leader = pn.leader(ctx)
		if leader == isl {
			t.Skip("ISL won the election again; the proposer must be a follower")
		}
	}

	const proposals = 6
	var wg sync.WaitGroup
	outs := make([]PanelOutcome, proposals)
	errs := make([]error, proposals)
	started := make(chan struct{})
	for i := range proposals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				close(started)
			}
			outs[i], errs[i] = isl.panels.RecordPanelChildViews(ctx, isl.users["ictg-isl"], netPanel, c.ID, fmt.Sprintf("views, session %d", i))
		}()
	}
	<-started
	pn.stopPanel(leader) // killed mid-way
	wg.Wait()

	seen := map[v1.ID]bool{}
	for i := range proposals {
		if errs[i] != nil || !outs[i].Accepted() {
			t.Fatalf("proposal %d: %v %s", i, errs[i], outs[i].Code)
		}
		if seen[outs[i].Command] {
			t.Fatalf("command %s reported twice", outs[i].Command)
		}
		seen[outs[i].Command] = true
	}
	pc, err := isl.panels.PanelCase(ctx, isl.users["sw-isl"], netPanel, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[v1.ID]int{}
	for _, v := range pc.ChildViews {
		got[v.Command]++
	}
	for id := range seen {
		if got[id] != 1 {
			t.Errorf("command %s applied %d times, want 1", id, got[id])
		}
	}
	if len(pc.ChildViews) != proposals+1 { // the views recorded before
		t.Errorf("%d child's views records, want %d", len(pc.ChildViews), proposals+1)
	}
}

// A member node that forwards a command in another authority's name is
// refused by the leader, and the command is applied nowhere.
func TestPanelForgedAuthorityRefused(t *testing.T) {
	pn := newPanelNet(t)
	ctx := netCtx(t, time.Minute)
	isl := pn.node("ISL")
	c := rgPendingCase(t, isl)
	openAndMeet(t, pn, c)
	leader := pn.leader(ctx)
	var forger *panelNode
	for _, n := range pn.nodes {
		if n != leader && n.authority != "ISL" {
			forger = n
			break
		}
	}
	if forger == nil {
		forger = pn.node("CMD")
		if forger == leader {
			forger = pn.node("HCK")
		}
	}
	cmd := panel.NewCommand(panel.Header{ID: v1.NewID(), Panel: netPanel, Case: c.ID, Authority: "ISL",
		Actor: panel.Actor{PersonID: "sw-isl", Role: panel.RoleSocialWorker}, At: time.Now().UTC()},
		&panel.CloseCase{Reason: panel.CloseWithdrawn})
	data, err := panel.Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	_, err = forger.host.Panel().Propose(ctx, data)
	if err == nil || errors.Is(err, consensus.ErrAmbiguous) {
		t.Fatalf("forged command from %s: %v, want refused", forger.authority, err)
	}
	for _, n := range pn.nodes {
		if err := n.host.Panel().Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := n.host.State().CommandResult(cmd.ID); !errors.Is(err, panel.ErrNotFound) {
			t.Fatalf("%s applied the forged command: %v", n.authority, err)
		}
	}
}

// checkNoCanaryOnDisk searches every file under dir for the canary.
func checkNoCanaryOnDisk(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		// Badger preallocates sparse value-log files of up to 2 GiB; what is
		// written sits at their start.
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(f, 64<<20))
		_ = f.Close()
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(panelCanary)) {
			t.Errorf("the child's views are in the clear in %s", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("only %d files under %s; is the search looking in the right place?", files, dir)
	}
}
