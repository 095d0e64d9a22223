package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"nrmnet/deploy/region"
)

// Bounds of the panel phase's waits. A panel elects a leader within a few
// of its Raft election timeouts (consensus.DefaultTimeouts: 3 s each), but
// the new leader's GET .../status asks every member for its progress, bounded
// only by consensus.Timeouts.Forward (30 s), and a killed member's address
// does not refuse the dial: the leader's status answers late (observed: two
// 10 s client timeouts, then a 2 s answer) until the dial fails fast.
const (
	electWithin    = 90 * time.Second
	panelCatchUp   = 90 * time.Second
	panelStatusURL = "/v1/panels/" + string(region.TriBorough) + "/status"
	panelCasesURL  = "/v1/panels/" + string(region.TriBorough) + "/cases"
)

// panelStatus is the part of GET /v1/panels/{panel}/status the test reads.
type panelStatus struct {
	Self         string `json:"self"`
	State        string `json:"state"`
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
}

// panelOutcome is a panel command's verdict as the API returns it.
type panelOutcome struct {
	Command string `json:"command"`
	Subject string `json:"subject"`
	Index   uint64 `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// panelSurvivesLeaderKill finds the tri-borough panel's Raft leader, kills
// its container, takes a case on a surviving member through a whole
// reasonable grounds decision (open, meeting, child's views, proposal, every
// vote, conclusion) with the two members left, then starts the killed node
// again and waits until it has applied the leader's log and shows the
// decision. canary goes into the child's views: it must never reach a log.
func (c *composeRegion) panelSurvivesLeaderKill(ctx context.Context, workers map[string]string, canary string) {
	c.t.Helper()
	var members []region.Node
	for _, n := range c.prep.Nodes {
		if n.Code == "HMF" || n.Code == "KEC" || n.Code == "WSM" {
			members = append(members, n)
		}
	}
	admin := func(n region.Node) string { return n.AdminToken }
	// A panel without a witness seals its commands all the same: its
	// members hold one shared data key.
	var shared []byte
	for _, n := range members {
		key, err := os.ReadFile(filepath.Join(n.KeysDir, "panel-"+string(region.TriBorough)+".data.key"))
		if err != nil || len(key) != 32 || (shared != nil && !bytes.Equal(key, shared)) {
			c.t.Fatalf("%s: want the panel's shared 32-byte data key, got %d bytes, %v", n.Code, len(key), err)
		}
		shared = key
	}

	leader := c.waitPanelLeader(ctx, members, admin)
	var survivors []region.Node
	for _, n := range members {
		if n.Host != leader.Host {
			survivors = append(survivors, n)
		}
	}
	before := c.panelStatus(ctx, leader.Host, leader.AdminToken)
	c.t.Logf("tri-borough panel: leader %s (%s), term %d, applied index %d", leader.Code, leader.PeerID, before.Term, before.AppliedIndex)

	leaderID := c.container(leader.Host)
	c.d.must("kill", leaderID)
	newLeader := c.waitPanelLeader(ctx, survivors, admin)
	if newLeader.Host == leader.Host {
		c.t.Fatalf("the survivors still name the killed %s as leader", leader.Code)
	}
	c.t.Logf("with %s killed, %s leads the panel", leader.Code, newLeader.Code)

	// The lead authority holds the child's case; the chair and the police
	// and health representatives sit for the other survivor.
	lead, chair := survivors[0], survivors[1]
	lh, ch := lead.Host, chair.Host
	user := func(n region.Node, kind, role string) (string, string) {
		id := kind + "." + n.Host
		return id, c.createUser(ctx, n.Host, n.AdminToken, id, "Synthetic "+strings.ReplaceAll(kind, "-", " "), role)
	}
	leadMember, leadMemberTok := user(lead, "panel-member", "panel_member")
	advocate, advocateTok := user(lead, "advocate", "advocate")
	chairID, chairTok := user(chair, "chair", "panel_chair")
	chairMember, chairMemberTok := user(chair, "panel-member", "panel_member")
	police, policeTok := user(chair, "police", "panel_member")
	health, healthTok := user(chair, "health", "panel_member")

	ref, rev := c.createCaseRev(ctx, lh, workers[lh], canary)
	rev = c.caseEvent(ctx, lh, workers[lh], ref, rev, "start_scope_check", nil)
	c.caseEvent(ctx, lh, workers[lh], ref, rev, "record_scope", map[string]any{"in_scope": true, "reason": "aged under 18 (synthetic)"})

	caseURL := panelCasesURL + "/" + ref
	c.panelCommand(ctx, lh, workers[lh], "POST", panelCasesURL, map[string]any{
		"case": ref, "touches": []string{string(chair.Code)},
	}, http.StatusCreated, "open the case")
	meeting := c.panelCommand(ctx, ch, chairTok, "POST", caseURL+"/meetings", map[string]any{
		"held_at": time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339),
		"attendance": []map[string]any{
			{"member": chairID, "capacity": "adviser", "chair": true},
			{"member": leadMember, "capacity": "local_authority", "authority": string(lead.Code)},
			{"member": chairMember, "capacity": "local_authority", "authority": string(chair.Code)},
			{"member": police, "capacity": "police"},
			{"member": health, "capacity": "health"},
			{"member": advocate, "capacity": "advocate"},
		},
	}, http.StatusOK, "record the meeting").Subject
	c.panelCommand(ctx, lh, advocateTok, "POST", caseURL+"/views", map[string]any{
		"views": "Wants to stay near her school, " + canary + ". (Synthetic text.)",
	}, http.StatusOK, "record the child's views")
	proposal := c.panelCommand(ctx, ch, chairTok, "POST", caseURL+"/proposals", map[string]any{
		"meeting": meeting, "stages": []string{"reasonable_grounds"},
	}, http.StatusOK, "propose RG").Subject
	vote := map[string]any{"proposal": proposal, "stage": "reasonable_grounds", "choice": "positive"}
	c.panelCommand(ctx, lh, leadMemberTok, "POST", caseURL+"/votes", vote, http.StatusOK, "vote of "+leadMember)
	for _, v := range []struct{ who, tok string }{{chairMember, chairMemberTok}, {police, policeTok}, {health, healthTok}} {
		c.panelCommand(ctx, ch, v.tok, "POST", caseURL+"/votes", vote, http.StatusOK, "vote of "+v.who)
	}
	concluded := c.panelCommand(ctx, ch, chairTok, "POST", caseURL+"/conclusions", map[string]any{
		"proposal": proposal, "reasons": "Indicators of labour exploitation (synthetic).",
		"child_views_considered": "Placement near her school is kept (synthetic).",
	}, http.StatusOK, "conclude")
	c.assertDecided(ctx, lh, workers[lh], ref, proposal)
	c.t.Logf("with %s down, %s and %s decided RG on %s (decision %s at index %d)", leader.Code, lead.Code, chair.Code, ref, proposal, concluded.Index)

	// The killed leader restarts from its volume and catches up.
	c.d.must("start", leaderID)
	c.waitHealthy(ctx, leader.Host)
	c.waitFor(ctx, panelCatchUp, string(leader.Code)+" applied the panel's log", func() (bool, string) {
		want := c.panelStatusOr(ctx, newLeader.Host, newLeader.AdminToken)
		got := c.panelStatusOr(ctx, leader.Host, leader.AdminToken)
		if want == nil || got == nil {
			return false, "status unavailable"
		}
		ok := want.AppliedIndex >= concluded.Index && got.AppliedIndex >= want.AppliedIndex && got.Leader == newLeader.PeerID
		return ok, fmt.Sprintf("%s applied %d, leader says leader %s applied %d (%s)", leader.Code, got.AppliedIndex, got.Leader, want.AppliedIndex, newLeader.Code)
	})
	c.assertDecided(ctx, leader.Host, workers[leader.Host], ref, proposal)
	c.t.Logf("%s restarted, caught up and shows decision %s", leader.Code, proposal)
}

// waitPanelLeader waits until every one of nodes names the same leader, one
// of nodes, and that leader says it leads; it returns that node.
func (c *composeRegion) waitPanelLeader(ctx context.Context, nodes []region.Node, token func(region.Node) string) region.Node {
	c.t.Helper()
	var leader region.Node
	var slowest time.Duration
	var slowHost string
	c.waitFor(ctx, electWithin, "a tri-borough leader among "+strings.Join(hostsOf(nodes), ","), func() (bool, string) {
		var seen []string
		named := ""
		agree := true
		for _, n := range nodes {
			t0 := time.Now()
			st := c.panelStatusOr(ctx, n.Host, token(n))
			if d := time.Since(t0); d > slowest {
				slowest, slowHost = d, n.Host
			}
			if st == nil {
				return false, n.Host + ": no panel status"
			}
			seen = append(seen, fmt.Sprintf("%s: %s, leader %q", n.Host, st.State, st.Leader))
			if named == "" {
				named = st.Leader
			}
			agree = agree && st.Leader != "" && st.Leader == named
		}
		i := slices.IndexFunc(nodes, func(n region.Node) bool { return n.PeerID == named })
		if !agree || i < 0 {
			return false, strings.Join(seen, "; ")
		}
		st := c.panelStatusOr(ctx, nodes[i].Host, token(nodes[i]))
		if st == nil || st.State != "Leader" {
			return false, strings.Join(seen, "; ")
		}
		leader = nodes[i]
		return true, ""
	})
	c.t.Logf("slowest panel status answer while waiting: %s from %s (the client gives up after 10s)", slowest.Round(10*time.Millisecond), slowHost)
	return leader
}

func (c *composeRegion) panelStatusOr(ctx context.Context, service, token string) *panelStatus {
	body, status, err := c.do(ctx, service, token, "GET", panelStatusURL, nil)
	if err != nil || status != http.StatusOK {
		return nil
	}
	var st panelStatus
	if json.Unmarshal(body, &st) != nil {
		return nil
	}
	return &st
}

func (c *composeRegion) panelStatus(ctx context.Context, service, token string) panelStatus {
	c.t.Helper()
	var st panelStatus
	c.call(ctx, service, token, "GET", panelStatusURL, nil, http.StatusOK, &st)
	return st
}

// panelCommand sends one panel command and fails unless the panel accepted
// it: an accepted command is committed by a majority of the members.
func (c *composeRegion) panelCommand(ctx context.Context, service, token, method, path string, in any, want int, what string) panelOutcome {
	c.t.Helper()
	var out panelOutcome
	c.call(ctx, service, token, method, path, in, want, &out)
	if out.Code != "accepted" || out.Index == 0 {
		c.t.Fatalf("%s at %s: panel answered %s (index %d): %s", what, service, out.Code, out.Index, out.Message)
	}
	return out
}

// caseEvent applies a workflow event to a case and returns its new revision.
func (c *composeRegion) caseEvent(ctx context.Context, service, token, ref string, rev uint64, kind string, data map[string]any) uint64 {
	c.t.Helper()
	body := map[string]any{"revision": rev, "type": kind}
	if data != nil {
		body["data"] = data
	}
	var out struct {
		Case struct {
			Revision uint64 `json:"revision"`
		} `json:"case"`
	}
	c.call(ctx, service, token, "POST", "/v1/cases/"+ref+"/events", body, http.StatusOK, &out)
	return out.Case.Revision
}

// assertDecided fails unless service shows the panel case with decision
// proposal concluded positive at reasonable grounds.
func (c *composeRegion) assertDecided(ctx context.Context, service, token, ref, proposal string) {
	c.t.Helper()
	var pc struct {
		RG struct {
			Status   string `json:"status"`
			Decision string `json:"decision"`
		} `json:"rg"`
		Decisions []panelDecision `json:"decisions"`
	}
	c.call(ctx, service, token, "GET", panelCasesURL+"/"+ref, nil, http.StatusOK, &pc)
	i := slices.IndexFunc(pc.Decisions, func(d panelDecision) bool { return d.ID == proposal })
	if i < 0 || pc.RG.Decision != proposal || len(pc.Decisions[i].Outcomes) != 1 ||
		pc.Decisions[i].Outcomes[0].Stage != "reasonable_grounds" || pc.Decisions[i].Outcomes[0].Outcome != "positive" {
		c.t.Fatalf("%s's panel case %s does not show decision %s as a positive RG: %+v", service, ref, proposal, pc)
	}
}

// panelDecision is the part of a panel case's decision the test reads.
type panelDecision struct {
	ID       string `json:"id"`
	Outcomes []struct {
		Stage   string `json:"stage"`
		Outcome string `json:"outcome"`
	} `json:"outcomes"`
}
