package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nrmnet/federation/gossip"
	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// TestFederationAcceptHistoryCLI: on whole nodes, Islington's administrator
// runs 'nrmnet federation accept-history HCK': Islington forgets the audit
// checkpoint it verified for Hackney and takes Hackney's next one on trust,
// and the decision is in Islington's audit log with its reason. Another
// role, a missing reason, this node itself and an authority of another
// region are refused with a message that names the problem.
func TestFederationAcceptHistoryCLI(t *testing.T) {
	dir, m, nodes := startSmallFederationWith(t, time.Second, false)
	for _, n := range nodes {
		waitReady(t, n)
	}
	isl := nodes[0]
	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	token := func(r node.Role) string { return devnetUserOf(t, tokens, "ISL", r).Token }
	hckVerified := func() gossip.MemberStatus {
		ms, _ := isl.gossip.RegionView().Member("HCK")
		return ms
	}
	eventually(t, "Islington takes Hackney's first audit checkpoint", func() bool { return hckVerified().AuditVerified.Size > 0 })
	t.Setenv(envServer, "http://"+isl.HTTPAddr())

	admin := token(node.RoleAdministrator)
	reason := "HCK restored from its backup of 1 December; confirmed by phone with HCK's IT"
	for _, tc := range []struct {
		token string
		args  []string
		want  string
	}{
		{token(node.RoleSocialWorker), []string{"HCK", "--reason", reason}, "may not"},
		{admin, []string{"HCK"}, "--reason is required"},
		{admin, []string{"ISL", "--reason", reason}, "own authority"},
		{admin, []string{"KEN", "--reason", reason}, "not a member of this region's roster"},
		{admin, []string{"ZZZ", "--reason", reason}, "not an authority code"},
	} {
		out, err := as(t, tc.token, append([]string{"federation", "accept-history"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("accept-history %v: %v\n%s; want an error saying %q", tc.args, err, out, tc.want)
		}
	}
	from, err := isl.store.AuditSize()
	if err != nil {
		t.Fatal(err)
	}
	out := mustCLI(t, admin, "federation", "accept-history", "HCK", "--reason", reason)
	if !strings.Contains(out, "Accepted the new audit history of HCK") {
		t.Fatalf("accept-history:\n%s", out)
	}
	// Hackney's next heartbeat is taken on trust again.
	eventually(t, "Islington takes Hackney's next checkpoint on trust", func() bool {
		ms := hckVerified()
		return ms.AuditVerified.Size > 0 && ms.AuditUnverified == "" && !ms.CheckpointConflict
	})
	es, err := isl.store.AuditEntries(from, 10000)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range es {
		if e.Action == v1.ActionFederationAcceptHistory && e.Outcome == v1.AuditAllowed && e.Recipient == "HCK" && strings.Contains(e.Purpose, reason) {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d audit entries record the accepted history; want 1", found)
	}

	// 'nrmnet federation conflicts' lists the evidence the node keeps and,
	// with the roster, checks each heartbeat's signature: Hackney's real
	// heartbeat verifies, a forged one does not.
	ms := hckVerified()
	real, err := gossip.MarshalHeartbeat(ms.Heartbeat)
	if err != nil {
		t.Fatal(err)
	}
	forged := *ms.Heartbeat
	forged.Checkpoint = gossip.Checkpoint{Size: 1, Root: make([]byte, 32)}
	fake, err := gossip.MarshalHeartbeat(&forged)
	if err != nil {
		t.Fatal(err)
	}
	if err := isl.store.PutConflictEvidence(context.Background(), storage.ConflictEvidence{Authority: "HCK", At: time.Now().UTC(),
		Reason: gossip.ConflictShrunk, PreviousSize: ms.Heartbeat.Checkpoint.Size, GotSize: 1, Reference: real, Heartbeat: fake}); err != nil {
		t.Fatal(err)
	}
	if out, err := as(t, token(node.RoleSocialWorker), "federation", "conflicts"); err == nil || !strings.Contains(err.Error(), "may not") {
		t.Errorf("a social worker reading the evidence: %v\n%s", err, out)
	}
	rosterFile := filepath.Join(dir, m.Nodes[0].Dir, "region.roster")
	evidence := t.TempDir()
	out = mustCLI(t, token(node.RoleAuditor), "federation", "conflicts", "--roster", rosterFile, "--out", evidence)
	if !strings.Contains(out, "HCK") || !strings.Contains(out, "reference signed by HCK") || !strings.Contains(out, "contradicting NOT VALID") {
		t.Fatalf("conflicts:\n%s", out)
	}
	files, err := filepath.Glob(filepath.Join(evidence, "HCK-*.hb"))
	if err != nil || len(files) != 2 {
		t.Fatalf("evidence files %v, %v; want the reference and the contradicting heartbeat", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, "-reference.hb") && !bytes.Equal(b, real) || strings.HasSuffix(f, "-contradicting.hb") && !bytes.Equal(b, fake) {
			t.Errorf("%s does not hold the heartbeat kept", f)
		}
	}
}

// TestKeepConflictEvidence: the node's conflict observer stores what the
// gossip layer hands it, heartbeats included, and a long detail clipped.
func TestKeepConflictEvidence(t *testing.T) {
	_, sc := initNode(t)
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	keep := keepConflictEvidence(context.Background(), s, testLog(t))
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	keep(gossip.CheckpointConflict{Authority: "CMD", Previous: gossip.Checkpoint{Size: 9}, Got: gossip.Checkpoint{Size: 12},
		Reason: gossip.ConflictInconsistent, Detail: strings.Repeat("d", 5000), At: at, Reference: []byte("ref"), Heartbeat: []byte("hb")})
	got, err := s.ConflictEvidenceList()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Authority != "CMD" || got[0].PreviousSize != 9 || got[0].GotSize != 12 || !got[0].At.Equal(at) ||
		string(got[0].Reference) != "ref" || string(got[0].Heartbeat) != "hb" || len(got[0].Detail) != 1000 {
		t.Fatalf("kept %+v", got)
	}
}
