package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nrmnet/consensus/panel"
	"nrmnet/federation/roster"
	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// The devnet's panel runs inside the running nodes: the members share a
// data key the witness does not hold; the witness runs Raft without state;
// the seeded decision is pending on the member's panel page; the panel's
// leader reaches the heartbeat.
func TestPanelDevnetWitnessAndSeed(t *testing.T) {
	// smallLayout is the devnet's panel: ISL and CMD members, HCK witness.
	dir, _, nodes := startSmallFederation(t, time.Second)
	for _, n := range nodes {
		waitReady(t, n)
	}
	isl, cmd, hck := nodes[0], nodes[1], nodes[2]
	keyOf := func(n *runningNode) []byte {
		b, err := os.ReadFile(filepath.Join(dir, strings.ToLower(string(n.Authority)), "keys", "panel-"+string(devnetPanel)+".data.key"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return b
	}
	if k1, k2 := keyOf(isl), keyOf(cmd); len(k1) != 32 || !bytes.Equal(k1, k2) {
		t.Fatalf("Islington and Camden do not share a 32-byte panel data key (%d, %d bytes)", len(k1), len(k2))
	}
	if k := keyOf(hck); k != nil {
		t.Fatal("the witness holds the panel data key")
	}
	if len(hck.panels.hosts) != 1 || !hck.panels.hosts[0].Witness() || len(hck.panels.Panels.PanelIDs()) != 0 {
		t.Fatal("Hackney's node is not the panel's witness only")
	}
	for _, n := range []*runningNode{isl, cmd} {
		if len(n.panels.hosts) != 1 || n.panels.hosts[0].Witness() {
			t.Fatalf("%s is not a member of the panel", n.Authority)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lines := seedDevnetPanel(ctx, nodes, testLog(t))
	if len(lines) != 1 || !strings.Contains(lines[0], "/panels/"+string(devnetPanel)+"/cases/") {
		t.Fatalf("seed: %q", lines)
	}
	url := lines[0][strings.Index(lines[0], "http://"):]
	code, body := httpGet(t, url)
	if code != 200 {
		t.Fatalf("panel page: %d\n%s", code, body)
	}
	for _, want := range []string{"Still to vote: isl.panel-member", "cmd.panel-chair (chair)", "Wants to stay at the same school", "No decision concluded yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("panel page lacks %q", want)
		}
	}
	// A panel member sees the panel, its case and its Raft status.
	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		if tok.Authority != "ISL" || tok.Role != node.RolePanelMember {
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, "http://"+isl.HTTPAddr()+"/panels", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		page := string(b)
		if res.StatusCode != 200 || !strings.Contains(page, url[strings.Index(url, "/panels/"):]) || !strings.Contains(page, ", term ") {
			t.Errorf("panels page for a panel member: %d\n%s", res.StatusCode, page)
		}
	}
	// The witness's pages offer nothing to read.
	if code, body := httpGet(t, "http://"+hck.HTTPAddr()+"/panels"); code != 200 || !strings.Contains(body, "no combined panel as a member") {
		t.Errorf("witness panels page: %d", code)
	}

	// The child's words travel the panel sealed and rest encrypted: a canary
	// in them is on no node's disk in the clear, the witness's included.
	const canary = "CANARY-panel-views-cmd-5d2e81"
	ref := v1.CaseID(url[strings.LastIndex(url, "/")+1:])
	advocate := node.Principal{ID: devnetPanelUser("ISL", node.RoleAdvocate), Role: node.RoleAdvocate, Authority: "ISL"}
	out, err := isl.panels.Panels.RecordPanelChildViews(ctx, advocate, devnetPanel, ref, canary+" wants to see her sister.")
	if err != nil || !out.Accepted() {
		t.Fatalf("child's views: %v %s %s", err, out.Code, out.Message)
	}
	for _, n := range []*runningNode{cmd, hck} {
		eventually(t, string(n.Authority)+" applying the child's views", func() bool {
			n.panels.refresh()
			hb := n.panels.Heartbeat()
			return len(hb) == 1 && hb[0].AppliedIndex >= out.Index
		})
	}
	searchFiles(t, dir, canary)

	// The panel's leader reaches the heartbeat, in authority codes.
	eventually(t, "a panel leader in the heartbeats", func() bool {
		isl.panels.refresh()
		hb := isl.panels.Heartbeat()
		return len(hb) == 1 && hb[0].Panel == devnetPanel && hb[0].Leader != "" && hb[0].Term > 0
	})
	// And /metrics: one state of four set, the term, a known leader.
	_, metrics := httpGet(t, "http://"+isl.HTTPAddr()+"/metrics")
	set := 0
	for _, st := range raftStates {
		if strings.Contains(metrics, `nrmnet_panel_raft_state{authority="ISL",panel="islington-camden",state="`+st+`"} 1`) {
			set++
		}
	}
	if set != 1 || !strings.Contains(metrics, `nrmnet_panel_raft_term{authority="ISL",panel="islington-camden"}`) ||
		!strings.Contains(metrics, `nrmnet_panel_has_leader{authority="ISL",leader=`) {
		t.Errorf("/metrics lacks the panel's Raft state (%d states set):\n%s", set, grepLines(metrics, "nrmnet_panel_"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Every bad panels key is named at once; the environment reaches the Raft
// timings.
func TestPanelConfigNamesEveryProblem(t *testing.T) {
	cfg := defaultNodeConfig("ISL")
	if err := cfg.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg.Panels.Join = []string{"Not a panel!"}
	cfg.Panels.RetryInterval = 0
	cfg.Panels.Raft.Heartbeat = time.Second
	cfg.Panels.Raft.LeaderLease = 2 * time.Second
	cfg.Panels.Raft.RPC = -time.Second
	err := cfg.validate()
	if err == nil {
		t.Fatal("bad panels keys accepted")
	}
	for _, want := range []string{"panels.join[0]:", "panels.retry_interval:", "panels.raft.leader_lease:", "panels.raft.rpc:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s:\n%v", want, err)
		}
	}
	cfg = defaultNodeConfig("ISL")
	env := map[string]string{"NRMNET_PANELS_RAFT_HEARTBEAT": "7s", "NRMNET_PANELS_JOIN": "islington-camden"}
	if err := applyEnv(&cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if cfg.Panels.Raft.Heartbeat != 7*time.Second || len(cfg.Panels.Join) != 1 || cfg.Panels.Join[0] != "islington-camden" {
		t.Errorf("environment overrides: %+v", cfg.Panels)
	}
}

// A witness that holds the panel's data key, and a member that lacks it
// (of a panel with a witness or without one), are refused at start with the
// file named; nothing is started.
func TestPanelKeysRefusedAtStart(t *testing.T) {
	log := testLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keyFile := "panel-" + string(devnetPanel) + ".data.key"
	for _, tc := range []struct {
		name   string
		layout devnetLayout
		spoil  func(dir string) error
		want   string
	}{
		{"witness holds the key", smallLayout, func(dir string) error {
			b, err := os.ReadFile(filepath.Join(dir, "isl", "keys", keyFile))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "hck", "keys", keyFile), b, 0o600)
		}, "witness but holds its data key"},
		{"member lacks the key", smallLayout, func(dir string) error {
			return os.Remove(filepath.Join(dir, "cmd", "keys", keyFile))
		}, "holds no shared data key"},
		{"member of a panel without a witness lacks the key", threeMemberLayout, func(dir string) error {
			return os.Remove(filepath.Join(dir, "hck", "keys", keyFile))
		}, "nrmnet panel data-key " + string(devnetPanel)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m, err := createDevnet(ctx, dir, time.Now().UTC(), tc.layout, 1, log)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.spoil(dir); err != nil {
				t.Fatal(err)
			}
			nodes, err := startDevnet(ctx, dir, m, "127.0.0.1", 0, devnetStartOptions(log))
			if err == nil {
				_ = stopDevnet(nodes)
				t.Fatal("the devnet started")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), keyFile) {
				t.Errorf("error %v does not say %q and name %s", err, tc.want, keyFile)
			}
		})
	}
}

// restartNode stops n and starts its node again from its directory, as
// nrmnet run would; the new node is stopped at cleanup.
func restartNode(t *testing.T, dir string, n *runningNode) *runningNode {
	t.Helper()
	if err := n.Close(); err != nil {
		t.Fatalf("stop %s: %v", n.Authority, err)
	}
	return startNodeAgain(t, filepath.Join(dir, strings.ToLower(string(n.Authority))), devnetStartOptions(testLog(t)))
}

// The member and the witness restart from their directories: the panel
// comes back with what it held (the pending decision), and the restarted
// member's vote is applied with the witness's help.
func TestPanelSurvivesNodeRestart(t *testing.T) {
	dir, _, nodes := startSmallFederation(t, time.Second)
	for _, n := range nodes {
		waitReady(t, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lines := seedDevnetPanel(ctx, nodes, testLog(t))
	if len(lines) != 1 {
		t.Fatalf("seed: %q", lines)
	}
	ref := v1.CaseID(lines[0][strings.LastIndex(lines[0], "/")+1:])
	hck := restartNode(t, dir, nodes[2])
	if len(hck.panels.hosts) != 1 || !hck.panels.hosts[0].Witness() {
		t.Fatal("Hackney's node did not come back as the witness")
	}
	isl := restartNode(t, dir, nodes[0])
	member := node.Principal{ID: devnetPanelUser("ISL", node.RolePanelMember), Role: node.RolePanelMember, Authority: "ISL"}
	pc, err := isl.panels.Panels.PanelCase(ctx, member, devnetPanel, ref)
	if err != nil {
		t.Fatalf("read the panel case after restart: %v", err)
	}
	if len(pc.Meetings) != 1 || len(pc.Proposals) != 1 || len(pc.Proposals[0].Votes) != 3 || len(pc.ChildViews) != 1 {
		t.Fatalf("after restart the panel case holds %d meetings, %d proposals, %d child's views", len(pc.Meetings), len(pc.Proposals), len(pc.ChildViews))
	}
	out, err := isl.panels.Panels.CastPanelVote(ctx, member, devnetPanel, ref, panel.CastVote{Proposal: pc.Proposals[0].ID, Stage: v1.StageRG, Choice: v1.VotePositive})
	if err != nil || !out.Accepted() {
		t.Fatalf("vote after restart: %v %s %s", err, out.Code, out.Message)
	}
}

// A newer roster drops Camden from the panel: the panel's streams with
// Camden are cut and refused, so a conclusion from Camden's chair is not
// applied, while Islington and the witness, still a majority, go on
// deciding.
func TestPanelRosterDropsMember(t *testing.T) {
	dir, m, nodes := startSmallFederation(t, time.Second)
	for _, n := range nodes {
		waitReady(t, n)
	}
	isl, cmd := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lines := seedDevnetPanel(ctx, nodes, testLog(t))
	if len(lines) != 1 {
		t.Fatalf("seed: %q", lines)
	}
	ref := v1.CaseID(lines[0][strings.LastIndex(lines[0], "/")+1:])

	ro := isl.host.Roster().Clone()
	ro.Serial++
	ro.IssuedAt = time.Now().UTC().Add(-time.Second).Truncate(time.Second)
	for i := range ro.Members {
		if ro.Members[i].Authority == "CMD" {
			ro.Members[i].Panels = nil
		}
	}
	keys, err := devnetAnchors(dir, m, ro.Region)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := roster.Sign(ro, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := signed.AddSignature(keys[1]); err != nil {
		t.Fatal(err)
	}
	b, err := signed.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// As the regional coordinator's distribution would: every node gets it
	// (one may already have it from a peer).
	for _, n := range nodes {
		if err := n.host.UpdateRoster(b); err != nil && n.host.Roster().Serial != ro.Serial {
			t.Fatalf("%s: %v", n.Authority, err)
		}
	}

	member := node.Principal{ID: devnetPanelUser("ISL", node.RolePanelMember), Role: node.RolePanelMember, Authority: "ISL"}
	pc, err := isl.panels.Panels.PanelCase(ctx, member, devnetPanel, ref)
	if err != nil {
		t.Fatal(err)
	}
	proposal := pc.Proposals[0].ID
	out, err := isl.panels.Panels.CastPanelVote(ctx, member, devnetPanel, ref, panel.CastVote{Proposal: proposal, Stage: v1.StageRG, Choice: v1.VotePositive})
	if err != nil || !out.Accepted() {
		t.Fatalf("Islington's vote with Camden dropped: %v %s %s", err, out.Code, out.Message)
	}
	// Every vote is in: a conclusion would now be valid, if it came from a
	// member.
	chair := node.Principal{ID: devnetPanelUser("CMD", node.RolePanelChair), Role: node.RolePanelChair, Authority: "CMD"}
	short, cancelShort := context.WithTimeout(ctx, 10*time.Second)
	out, err = cmd.panels.Panels.ConcludePanelDecision(short, chair, devnetPanel, ref, panel.ConcludeDecision{
		Proposal: proposal, Reasons: "from a node no longer on the panel", ChildViewsConsidered: "n/a"})
	cancelShort()
	if err == nil && out.Accepted() {
		t.Fatal("Camden's node, dropped from the panel, concluded a decision")
	}
	pc, err = isl.panels.Panels.PanelCase(ctx, member, devnetPanel, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.Decisions) != 0 || pc.Proposals[0].Status != panel.ProposalOpen {
		t.Fatalf("a decision was applied from the dropped member: %d decisions, proposal %s", len(pc.Decisions), pc.Proposals[0].Status)
	}
}

// searchFiles fails the test if any file under dir holds needle.
func searchFiles(t *testing.T, dir, needle string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		// Badger preallocates sparse value-log files; what is written sits
		// at their start.
		b, err := io.ReadAll(io.LimitReader(f, 64<<20))
		_ = f.Close()
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds %q in the clear", path, needle)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d files under %s", files, dir)
	}
}
