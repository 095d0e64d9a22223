package node

import (
	"path/filepath"
	"testing"
	"time"

	"nrmnet/consensus"
	"nrmnet/consensus/transport/transporttest"
	v1 "nrmnet/schemas/v1"
)

// newWitnessNet is the devnet's shape: ISL and CMD are the panel's members
// and share its data key; HCK's node is the witness, holds no data key and
// keeps no decision state.
func newWitnessNet(t *testing.T) (pn *panelNet, witness *PanelHost, witnessDir string) {
	t.Helper()
	pn = &panelNet{t: t, net: transporttest.NewNetwork(t), key: []byte("panel-test-key-0123456789abcdef!")}
	dataKey := []byte("panel-data-key-isl-cmd-only-0123")
	for _, a := range []string{"ISL", "CMD", "HCK"} {
		n := &panelNode{authority: v1.AuthorityCode(a), id: pn.net.NewIdentity(), dir: t.TempDir(), users: map[string]Principal{}}
		pn.nodes = append(pn.nodes, n)
		pn.members = append(pn.members, consensus.Member{ID: n.id})
	}
	cc := consensus.DefaultConfig()
	cc.Timeouts, cc.SnapshotInterval = netTimeouts(), 200*time.Millisecond
	for _, n := range pn.nodes[:2] {
		pn.openNode(n)
		pn.net.Start(n.id)
		h, err := StartPanel(n.panels, PanelHostConfig{Panel: netPanel, Host: pn.net.Host(n.id), Members: pn.members,
			Admit: pn.admit, AuthorityOf: pn.authorityOf, Dir: filepath.Join(n.dir, "panels", string(netPanel)),
			EncryptionKey: pn.key, DataKey: dataKey, Consensus: &cc, Logger: testLogger(t).With("panel", string(n.authority))})
		if err != nil {
			t.Fatalf("start panel on %s: %v", n.authority, err)
		}
		n.host = h
	}
	hck := pn.nodes[2]
	pn.net.Start(hck.id)
	witnessDir = filepath.Join(hck.dir, "panels", string(netPanel))
	cfg := PanelHostConfig{Panel: netPanel, Host: pn.net.Host(hck.id), Members: pn.members, Admit: pn.admit,
		Dir: witnessDir, EncryptionKey: pn.key, Consensus: &cc, Logger: testLogger(t).With("panel", "HCK-witness")}
	bad := cfg
	bad.DataKey = dataKey
	if _, err := StartPanelWitness(bad); err == nil {
		t.Fatal("a witness holding the panel data key was started")
	}
	w, err := StartPanelWitness(cfg)
	if err != nil {
		t.Fatalf("start witness: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("close witness: %v", err)
		}
		if err := w.Close(); err != nil { // idempotent
			t.Errorf("close witness twice: %v", err)
		}
		for _, n := range pn.nodes[:2] {
			pn.stopPanel(n)
			pn.closeNode(n)
		}
		if pn.net.Host(hck.id) != nil {
			pn.net.Stop(hck.id)
		}
	})
	return pn, w, witnessDir
}

// A panel of two authorities with a witness: the witness votes and keeps the
// log but has no state to read; with one member down, the other member and
// the witness still make a quorum and the panel keeps deciding; the child's
// views never land in the clear on the witness's disk.
func TestPanelWitnessKeepsTwoMemberPanelDeciding(t *testing.T) {
	pn, w, wdir := newWitnessNet(t)
	ctx := netCtx(t, 2*time.Minute)
	if !w.Witness() || w.State() != nil {
		t.Fatal("the witness has decision state")
	}
	isl := pn.node("ISL")
	c := rgPendingCase(t, isl)
	openAndMeet(t, pn, c)

	// The witness keeps up with the log it cannot read.
	lead := pn.leader(ctx)
	ls, err := lead.host.Panel().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ws, err := w.Panel().Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ws.Witness {
			t.Fatal("status does not say witness")
		}
		if ws.AppliedIndex >= ls.CommitIndex {
			break
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			t.Fatalf("witness applied %d, the leader committed %d", ws.AppliedIndex, ls.CommitIndex)
		}
	}

	// CMD goes down: ISL and the witness are still a majority of three.
	pn.stopPanel(pn.node("CMD"))
	out, err := isl.panels.RecordPanelChildViews(ctx, isl.users["ictg-isl"], netPanel, c.ID, panelCanary+": and to see my brother.")
	mustAccept(t, "child's views with one member down", out, err)
	pc, err := isl.panels.PanelCase(ctx, isl.users["sw-isl"], netPanel, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.ChildViews) == 0 {
		t.Fatalf("ISL's panel case has no child's views after the write: %+v", pc)
	}
	checkNoCanaryOnDisk(t, wdir)
}
