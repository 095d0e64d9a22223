package main

import (
	"net/http"
	"testing"
	"time"

	"nrmnet/node"
	"nrmnet/node/web"
	v1 "nrmnet/schemas/v1"
)

var _ web.ReferralGate = webCaseFiles{}

// TestReferralPageRefusalIsAudited: on a whole node, an auditor opening the
// new-referral page is refused, and the refusal is in the node's audit log
// as the API's would be.
func TestReferralPageRefusalIsAudited(t *testing.T) {
	dir, _, nodes := startSmallFederationWith(t, time.Second, false)
	isl := nodes[0]
	waitReady(t, isl)
	toks, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	token, user := "", ""
	for _, tk := range toks {
		if tk.Authority == isl.Authority && tk.Role == node.RoleAuditor {
			token, user = tk.Token, tk.UserID
		}
	}
	if token == "" {
		t.Fatal("no auditor token for ISL")
	}
	denied := func() int {
		cp, err := isl.store.AuditCheckpoint()
		if err != nil {
			t.Fatal(err)
		}
		es, err := isl.store.AuditEntries(0, int(cp.Size))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.Action == v1.ActionCaseCreate && e.Outcome == v1.AuditDenied && e.Actor == user {
				n++
			}
		}
		return n
	}
	before := denied()
	req, err := http.NewRequest(http.MethodGet, "http://"+isl.HTTPAddr()+"/cases/new", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor GET /cases/new: %d, want 403", res.StatusCode)
	}
	if got := denied(); got != before+1 {
		t.Fatalf("denied case.create entries by %s: %d, want %d", user, got, before+1)
	}
}
