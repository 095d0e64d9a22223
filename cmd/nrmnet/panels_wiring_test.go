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

	"nrmnet/node"
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

	// The panel's leader reaches the heartbeat, in authority codes.
	eventually(t, "a panel leader in the heartbeats", func() bool {
		isl.panels.refresh()
		hb := isl.panels.Heartbeat()
		return len(hb) == 1 && hb[0].Panel == devnetPanel && hb[0].Leader != "" && hb[0].Term > 0
	})
}
