package main

import (
	"strings"
	"testing"
	"time"

	"nrmnet/federation/gossip"
	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

// TestFederationAcceptHistoryCLI: on whole nodes, Islington's administrator
// runs 'nrmnet federation accept-history HCK': Islington forgets the audit
// checkpoint it verified for Hackney and takes Hackney's next one on trust,
// and the decision is in Islington's audit log with its reason. Another
// role, a missing reason, this node itself and an authority of another
// region are refused with a message that names the problem.
func TestFederationAcceptHistoryCLI(t *testing.T) {
	dir, _, nodes := startSmallFederationWith(t, time.Second, false)
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
}
