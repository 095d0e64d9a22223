package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/node"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// testLog is a logger that writes to t until the test ends (libp2p may log
// from its goroutines while a node shuts down).
func testLog(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(w.stop) // registered first, so it runs last
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

func (w *tWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// smallLayout is a three-node London federation: the Islington and Camden
// panel with Hackney as its witness.
var smallLayout = devnetLayout{
	{"London", []devnetMember{
		{Code: "ISL", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "CMD", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "HCK", Roles: []roster.Role{roster.RoleAuthority, roster.RoleWitness}, Panels: []v1.PanelID{devnetPanel}},
	}},
}

// threeMemberLayout is the devnet's London region with Hackney a full third
// member of the panel (no witness), and Lambeth.
var threeMemberLayout = devnetLayout{
	{"London", []devnetMember{
		{Code: "ISL", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "CMD", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "HCK", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "LBH", Roles: []roster.Role{roster.RoleAuthority}},
	}},
}

const testCasesPer = devnetCasesPerAuthority

// startSmallFederation creates the small layout in a temporary directory
// and starts its nodes on loopback, with HTTP on free ports.
func startSmallFederation(t *testing.T, refresh time.Duration) (string, *devnetManifest, []*runningNode) {
	return startSmallFederationWith(t, refresh, true)
}

// startSmallFederationWith is startSmallFederation, with the pages open
// without sign-in (demo) or not.
func startSmallFederationWith(t *testing.T, refresh time.Duration, demo bool) (string, *devnetManifest, []*runningNode) {
	t.Helper()
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := createDevnet(ctx, dir, time.Now().UTC(), smallLayout, testCasesPer, log)
	if err != nil {
		t.Fatal(err)
	}
	opts := devnetStartOptions(log)
	opts.RefreshInterval = refresh
	if !demo {
		opts.DemoPrincipal = nil
	}
	nodes := startTestDevnet(t, ctx, dir, m, opts)
	return dir, m, nodes
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// waitReady polls /readyz until 200, bounded.
func waitReady(t *testing.T, n *runningNode) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, _ := httpGet(t, "http://"+n.HTTPAddr()+"/readyz")
		if code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after a minute (last status %d)", n.Authority, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDevnetCreatesThenResumes creates a small devnet, checks each node
// serves its pages, health, readiness and metrics, stops it, starts it again
// from the same directory, and checks the identities and cases are the same
// and nothing was seeded twice.
func TestDevnetCreatesThenResumes(t *testing.T) {
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	m, created, err := ensureDevnet(ctx, dir, &out, log)
	if err != nil || !created {
		t.Fatalf("ensureDevnet: created %v, %v", created, err)
	}
	if len(m.Nodes) != 7 || len(m.Regions) != 2 {
		t.Fatalf("full devnet has %d nodes in %d regions, want 7 in 2", len(m.Nodes), len(m.Regions))
	}
	regions := map[string]bool{}
	for _, ref := range m.Nodes {
		a, ok := authority.Lookup(ref.Authority)
		if !ok || a.Region != ref.Region {
			t.Errorf("%s is put in %s, its region is %s", ref.Authority, ref.Region, a.Region)
		}
		regions[ref.Region] = true
	}
	if !regions["London"] || !regions["South East"] {
		t.Errorf("regions %v", regions)
	}

	// Resume: the same call finds the manifest and creates nothing.
	m2, created, err := ensureDevnet(ctx, dir, &out, log)
	if err != nil || created {
		t.Fatalf("second ensureDevnet: created %v, %v", created, err)
	}
	if len(m2.Nodes) != len(m.Nodes) || m2.Seed != m.Seed {
		t.Errorf("manifest changed on resume")
	}

	// Start, stop and start again; identities and cases must not change.
	first := runDevnetOnce(t, ctx, dir, m2, log)
	second := runDevnetOnce(t, ctx, dir, m2, log)
	for code, a := range first {
		b := second[code]
		if a.peer != b.peer {
			t.Errorf("%s: peer ID changed on resume: %s then %s", code, a.peer, b.peer)
		}
		if a.cases != devnetCasesPerAuthority || b.cases != a.cases {
			t.Errorf("%s: %d cases, then %d after resume; want %d both times", code, a.cases, b.cases, devnetCasesPerAuthority)
		}
	}
}

type nodeFacts struct {
	peer  string
	cases int
}

// runDevnetOnce starts the devnet's nodes, checks their endpoints, and stops
// them again.
func runDevnetOnce(t *testing.T, ctx context.Context, dir string, m *devnetManifest, log *slog.Logger) map[authority.Code]nodeFacts {
	t.Helper()
	nodes, err := startDevnet(ctx, dir, m, "127.0.0.1", 0, devnetStartOptions(log))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	facts := map[authority.Code]nodeFacts{}
	for _, n := range nodes {
		// Every role's token works against the node's own API, and only there.
		roles := 0
		for _, tok := range tokens {
			if tok.Authority != n.Authority {
				continue
			}
			roles++
			req, _ := http.NewRequest(http.MethodGet, "http://"+n.HTTPAddr()+"/v1/whoami", nil)
			req.Header.Set("Authorization", "Bearer "+tok.Token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"role":"`+string(tok.Role)+`"`) {
				t.Errorf("%s %s: /v1/whoami %d %s", n.Authority, tok.Role, res.StatusCode, body)
			}
		}
		if roles != len(node.Roles) {
			t.Errorf("%s: tokens for %d roles, want %d", n.Authority, roles, len(node.Roles))
		}
		waitReady(t, n)
		base := "http://" + n.HTTPAddr()
		if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s /healthz: %d %q", n.Authority, code, body)
		}
		code, metrics := httpGet(t, base+"/metrics")
		if code != http.StatusOK {
			t.Fatalf("%s /metrics: %d", n.Authority, code)
		}
		for _, want := range []string{
			fmt.Sprintf(`nrmnet_store_cases{authority="%s"} %d`, n.Authority, devnetCasesPerAuthority),
			fmt.Sprintf(`nrmnet_ready{authority="%s"} 1`, n.Authority),
			`nrmnet_federation_roster_serial`, `nrmnet_outbox_depth`, `nrmnet_store_size_bytes`,
			`nrmnet_http_requests_total{authority="` + string(n.Authority) + `",code="200",route="GET /healthz"} 1`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("%s /metrics lacks %q", n.Authority, want)
			}
		}
		if code, body := httpGet(t, base+"/cases"); code != http.StatusOK || !strings.Contains(body, "data-case=") {
			t.Errorf("%s /cases: %d", n.Authority, code)
		}
		facts[n.Authority] = nodeFacts{peer: n.host.ID().String(), cases: n.store.CaseCount()}
	}
	if err := stopDevnet(nodes); err != nil {
		t.Fatal(err)
	}
	return facts
}

// TestDevnetRefusesAStrangeDirectory checks that devnet will not write into
// a directory that holds something else.
func TestDevnetRefusesAStrangeDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := ensureDevnet(context.Background(), dir, io.Discard, testLog(t))
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("err %v, want a refusal naming notes.txt", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Error("the file was changed")
	}
}

// TestDevnetRenewsRosterWhenPortTaken takes a member's libp2p port before a
// resume and checks the member is moved to a free port under a new roster
// serial, and that the federation then forms.
func TestDevnetRenewsRosterWhenPortTaken(t *testing.T) {
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := createDevnet(ctx, dir, time.Now().UTC(), smallLayout, 1, log)
	if err != nil {
		t.Fatal(err)
	}
	s, err := roster.LoadFile(filepath.Join(dir, "cmd", "region.roster"))
	if err != nil {
		t.Fatal(err)
	}
	before := s.Unverified()
	cmdMember, _ := before.Member("CMD")
	port := portOf(cmdMember.Addrs)
	hold, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()

	if err := renewDevnetRosters(dir, m, log); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"isl", "cmd", "hck"} {
		s, err := roster.LoadFile(filepath.Join(dir, d, "region.roster"))
		if err != nil {
			t.Fatal(err)
		}
		r := s.Unverified()
		if r.Serial != before.Serial+1 {
			t.Errorf("%s: serial %d, want %d", d, r.Serial, before.Serial+1)
		}
		mem, _ := r.Member("CMD")
		if portOf(mem.Addrs) == port {
			t.Errorf("%s: CMD still at the taken port %d", d, port)
		}
	}
	nodes, err := startDevnet(ctx, dir, m, "127.0.0.1", 0, devnetStartOptions(log))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stopDevnet(nodes); err != nil {
			t.Error(err)
		}
	}()
	for _, n := range nodes {
		waitReady(t, n)
	}
	deadline := time.Now().Add(time.Minute)
	for nodes[0].status.connectedMembers() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("ISL connected to %d of 2 members after a minute", nodes[0].status.connectedMembers())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHeartbeatsReachCoordinatorView checks that each node's signed
// heartbeats, carried by gossip, fill the other nodes' coordinator view:
// version, peers, overdue count and audit checkpoint for every member.
func TestHeartbeatsReachCoordinatorView(t *testing.T) {
	_, _, nodes := startSmallFederation(t, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	deadline := time.Now().Add(time.Minute)
	for _, n := range nodes {
		for {
			v, err := n.status.RegionView(ctx)
			if err != nil {
				t.Fatal(err)
			}
			missing := []string{}
			for _, a := range v.Authorities {
				if !a.Up || a.Report == nil || a.Report.Version == "" || a.Report.AuditSize == 0 || a.Report.Peers != 2 {
					missing = append(missing, string(a.Code))
				}
			}
			if len(missing) == 0 {
				if v.Source != "direct connections and signed heartbeats" {
					t.Errorf("source %q", v.Source)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no full heartbeat report from %v within a minute", n.Authority, missing)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// TestDevnetAlertsAreDeliveredAndAcknowledged raises the devnet's alerts in
// the small federation and checks that each target records the receipt in
// its audit log and that the issuer's outbox empties as the
// acknowledgements arrive. ISL's alert is about a child HCK also holds, as
// recorded differently, so private matching raises one task on HCK, on
// that case; ISL, which holds no variant of CMD's child, gets none.
func TestDevnetAlertsAreDeliveredAndAcknowledged(t *testing.T) {
	_, _, nodes := startSmallFederation(t, time.Second)
	for _, n := range nodes {
		waitReady(t, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lines := raiseDevnetAlerts(ctx, nodes, testLog(t))
	// In the small layout ISL's alert targets HCK (LBH is not on its roster)
	// and CMD's targets ISL; KEN is not running.
	if len(lines) != 2 || !strings.Contains(lines[0], "from ISL to HCK") || !strings.Contains(lines[1], "from CMD to ISL") {
		t.Fatalf("raised: %q", lines)
	}
	received := func(n *runningNode) int {
		cp, err := n.store.AuditCheckpoint()
		if err != nil {
			t.Fatal(err)
		}
		es, err := n.store.AuditEntries(0, int(cp.Size))
		if err != nil {
			t.Fatal(err)
		}
		c := 0
		for _, e := range es {
			if e.Action == v1.ActionAlertReceive {
				c++
			}
		}
		return c
	}
	tasks := func(n *runningNode) []storage.MatchTask {
		ts, err := n.alerts.Tasks(ctx, devnetWorker(n.Authority), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	deadline := time.Now().Add(time.Minute)
	for {
		isl, cmd, hck := nodes[0], nodes[1], nodes[2]
		done := received(hck) >= 1 && received(isl) >= 1 && isl.store.OutboxDepth() == 0 && cmd.store.OutboxDepth() == 0 &&
			len(tasks(hck)) >= 1
		if done {
			if received(cmd) != 0 {
				t.Errorf("CMD recorded %d alert receipts; no alert targets it", received(cmd))
			}
			ts := tasks(hck)
			if len(ts) != 1 || ts[0].Issuer != "ISL" || !ts[0].Open() || !strings.Contains(lines[0], "HCK holds a variant") {
				t.Errorf("HCK's tasks = %+v; want one open task on ISL's alert", ts)
			}
			if ts := tasks(isl); len(ts) != 0 {
				t.Errorf("ISL has %d match tasks; it holds no variant of CMD's child", len(ts))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: HCK received %d, ISL received %d, outbox ISL %d CMD %d",
				received(hck), received(isl), isl.store.OutboxDepth(), cmd.store.OutboxDepth())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// twoRegionLayout is London and the South East with one bridge each, and no
// panel.
var twoRegionLayout = devnetLayout{
	{"London", []devnetMember{
		{Code: "ISL", Roles: []roster.Role{roster.RoleAuthority}},
		{Code: "HCK", Roles: []roster.Role{roster.RoleAuthority, roster.RoleBridge}},
	}},
	{"South East", []devnetMember{
		{Code: "KEN", Roles: []roster.Role{roster.RoleAuthority, roster.RoleBridge}},
		{Code: "MDW", Roles: []roster.Role{roster.RoleAuthority}},
	}},
}

// TestDevnetCountyLinesAlertCrossesRegions: whole nodes of two regions, as
// the devnet configures them (each holding the other region's anchors and
// roster, Hackney and Kent the bridges). Islington's county-lines alert
// names Kent and Hackney: Kent, in another region and not connected to
// Islington, receives it through the bridges, finds the variant of the child
// it holds by private matching with Islington (a query across regions), and
// acknowledges; Islington's outbox empties. Then the child moves to Kent:
// Islington hands the case over across regions, Kent accepts, and the case
// ends with Kent alone.
func TestDevnetCountyLinesAlertCrossesRegions(t *testing.T) {
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := createDevnet(ctx, dir, time.Now().UTC(), twoRegionLayout, 5, log)
	if err != nil {
		t.Fatal(err)
	}
	nodes := startTestDevnet(t, ctx, dir, m, devnetStartOptions(log))
	byCode := map[authority.Code]*runningNode{}
	for _, n := range nodes {
		waitReady(t, n)
		byCode[n.Authority] = n
	}
	isl, ken, hck := byCode["ISL"], byCode["KEN"], byCode["HCK"]
	if rs := ken.host.Rosters(); len(rs) != 2 || rs[1].Region != "London" {
		t.Fatalf("Kent holds %d rosters", len(rs))
	}
	// Hackney's coordinator view and metrics show the South East held and
	// Kent's bridge connected; Islington, no bridge, holds it too.
	deadline := time.Now().Add(time.Minute)
	for {
		_, page := httpGet(t, "http://"+hck.HTTPAddr()+"/federation")
		_, metrics := httpGet(t, "http://"+hck.HTTPAddr()+"/metrics")
		if strings.Contains(page, `data-region="South East"`) && strings.Contains(page, `data-bridge="KEN" data-connected="true"`) &&
			strings.Contains(metrics, `nrmnet_federation_other_region_bridges_connected{authority="HCK",region="South East"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Hackney's view does not show Kent's bridge connected:\n%s", page)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, page := httpGet(t, "http://"+isl.HTTPAddr()+"/federation"); !strings.Contains(page, `data-region="South East"`) {
		t.Errorf("Islington's view does not list the South East")
	}
	// Islington checks Hackney's audit log by consistency proofs: its view
	// shows Hackney's checkpoint verified.
	deadline = time.Now().Add(time.Minute)
	for {
		_, page := httpGet(t, "http://"+isl.HTTPAddr()+"/federation")
		i := strings.Index(page, `data-authority="HCK"`)
		if i >= 0 && strings.Contains(page[i:i+min(len(page)-i, 3000)], `data-audit="verified"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Islington's view never shows Hackney's audit log verified:\n%s", page)
		}
		time.Sleep(200 * time.Millisecond)
	}
	lines := raiseDevnetAlerts(ctx, nodes, log)
	if len(lines) != 2 || !strings.Contains(lines[0], "from ISL to KEN, HCK") || !strings.Contains(lines[0], "KEN holds a variant") {
		t.Fatalf("raised: %q", lines)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		ts, err := ken.alerts.Tasks(ctx, devnetWorker("KEN"), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		fromISL := 0
		for _, task := range ts {
			if task.Issuer == "ISL" && task.Open() {
				fromISL++
			}
		}
		if fromISL >= 1 && isl.store.OutboxDepth() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: Kent has %d open tasks on Islington's alert; Islington's outbox holds %d",
				fromISL, isl.store.OutboxDepth())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The hand-over across regions.
	g := synthetic.New(11, synthetic.WithAuthority("ISL"), synthetic.WithClock(time.Now().UTC()))
	c := g.Case()
	caseID, err := devnetRefer(ctx, isl, c.Identity, c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := isl.relocs.Desk.Request(ctx, devnetWorker("ISL"), node.NewRelocation{
		Case: caseID, Destination: "KEN", Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh,
		LegalBasis: v1.BasisSafeguardingChildren,
	})
	if err != nil {
		t.Fatal(err)
	}
	kenCoordinator := node.Principal{ID: "ken.nrm-coordinator", Role: node.RoleNRMCoordinator, Authority: "KEN"}
	stateOf := func(n *runningNode, who node.Principal) node.RelocationState {
		l, err := n.relocs.Desk.List(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range append(l.Inbox, l.Outbox...) {
			if x.Request.ID == r.Request.ID {
				return x.State
			}
		}
		return ""
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("after a minute: %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("Kent holds the offer", func() bool { return stateOf(ken, kenCoordinator) == node.RelocationStateOffered })
	if _, err := ken.relocs.Desk.Accept(ctx, kenCoordinator, r.Request.ID); err != nil {
		t.Fatal(err)
	}
	islCoordinator := node.Principal{ID: "isl.nrm-coordinator", Role: node.RoleNRMCoordinator, Authority: "ISL"}
	waitFor("the hand-over completes on both sides", func() bool {
		return stateOf(ken, kenCoordinator) == node.RelocationStateCompleted && stateOf(isl, islCoordinator) == node.RelocationStateCompleted
	})
}

// startTestDevnet starts a devnet's nodes on loopback with opts and stops
// them when the test ends.
// devnetUserOf returns the devnet user of role r at authority a, from the
// tokens a devnet wrote (readDevnetTokens).
func devnetUserOf(t *testing.T, tokens []devnetToken, a authority.Code, r node.Role) devnetToken {
	t.Helper()
	for _, tok := range tokens {
		if tok.Authority == a && tok.Role == r {
			return tok
		}
	}
	t.Fatalf("no %s %s among the devnet's users", a, r)
	return devnetToken{}
}

func startTestDevnet(t *testing.T, ctx context.Context, dir string, m *devnetManifest, opts startOptions) []*runningNode {
	t.Helper()
	nodes, err := startDevnet(ctx, dir, m, "127.0.0.1", 0, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stopDevnet(nodes); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return nodes
}
