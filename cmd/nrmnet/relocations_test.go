package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"nrmnet/federation/roster"
	"nrmnet/federation/rpc"
	"nrmnet/node"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// pairLayout is two London authorities with no panel: Islington and Camden.
var pairLayout = devnetLayout{
	{"London", []devnetMember{
		{Code: "ISL", Roles: []roster.Role{roster.RoleAuthority}},
		{Code: "CMD", Roles: []roster.Role{roster.RoleAuthority}},
	}},
}

// pair is the two running nodes of pairLayout and what restarts them.
type pair struct {
	dir   string
	m     *devnetManifest
	opts  startOptions
	nodes []*runningNode // ISL, CMD
	// tokens are each authority's social worker's bearer token.
	tokens map[authority.Code]string
}

// startPair creates the pair layout and starts both nodes through
// startNode on loopback, pages behind sign-in; it returns the nodes (ISL,
// CMD) and each authority's social worker's token.
func startPair(t *testing.T) ([]*runningNode, map[authority.Code]string) {
	p := startPairFull(t)
	return p.nodes, p.tokens
}

func startPairFull(t *testing.T) *pair {
	t.Helper()
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := createDevnet(ctx, dir, time.Now().UTC(), pairLayout, 3, log)
	if err != nil {
		t.Fatal(err)
	}
	opts := devnetStartOptions(log)
	opts.DemoPrincipal = nil
	nodes := startTestDevnet(t, ctx, dir, m, opts)
	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	workers := map[authority.Code]string{}
	for _, tok := range tokens {
		if tok.Role == node.RoleSocialWorker {
			workers[tok.Authority] = tok.Token
		}
	}
	for _, n := range nodes {
		waitReady(t, n)
	}
	return &pair{dir: dir, m: m, opts: opts, nodes: nodes, tokens: workers}
}

// restart starts node i again from its directory, as `nrmnet run` would
// after a stop; the earlier node must have been closed.
func (p *pair) restart(t *testing.T, i int) *runningNode {
	t.Helper()
	n := startNodeAgain(t, filepath.Join(p.dir, p.m.Nodes[i].Dir), p.opts)
	p.nodes[i] = n
	return n
}

// relocationJSON is the part of the API's relocation view the test reads.
type relocationJSON struct {
	ID          v1.ID            `json:"id"`
	Case        v1.CaseID        `json:"case"`
	Origin      v1.AuthorityCode `json:"origin"`
	Destination v1.AuthorityCode `json:"destination"`
	Side        string           `json:"side"`
	State       string           `json:"state"`
}

// call sends an API request with a bearer token and returns the status and
// body.
func call(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// relocationsOf lists a node's relocations through its API.
func relocationsOf(t *testing.T, n *runningNode, token string) (inbox, outbox []relocationJSON) {
	t.Helper()
	code, b := call(t, http.MethodGet, "http://"+n.HTTPAddr()+"/v1/relocations", token, nil)
	if code != http.StatusOK {
		t.Fatalf("%s: GET /v1/relocations: %d %s", n.Authority, code, b)
	}
	var l struct{ Inbox, Outbox []relocationJSON }
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l.Inbox, l.Outbox
}

func findJSON(l []relocationJSON, id v1.ID) (relocationJSON, bool) {
	for _, r := range l {
		if r.ID == id {
			return r, true
		}
	}
	return relocationJSON{}, false
}

// eventually polls cond, bounded.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readStoredCase(t *testing.T, n *runningNode, id v1.CaseID) *v1.Case {
	t.Helper()
	c, err := n.store.Case(context.Background(), id, storage.Access{Actor: "test", Role: "test", Purpose: "check the hand-over"})
	if err != nil {
		t.Fatalf("%s: read %s: %v", n.Authority, id, err)
	}
	return c
}

// Two nodes started as `nrmnet run` starts them, on loopback: a relocation
// requested through Islington's API reaches Camden's inbox (API and page),
// a Camden worker accepts it with the page's form, and the case goes live
// at Camden (responsible) and is transferred out at Islington. Neither the
// API list nor the page carries the child's name.
func TestRelocationThroughRunningNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	nodes, tokens := startPair(t)
	isl, cmd := nodes[0], nodes[1]
	ctx := context.Background()

	now := time.Now().UTC()
	child := synthetic.New(11, synthetic.WithAuthority("ISL"), synthetic.WithClock(now),
		synthetic.WithPeriod(now.Add(-48*time.Hour), now.Add(-time.Hour))).Case()
	caseID, err := devnetRefer(ctx, isl, child.Identity, child)
	if err != nil {
		t.Fatal(err)
	}
	given := child.Identity.Names[0].Given

	code, b := call(t, http.MethodPost, "http://"+isl.HTTPAddr()+"/v1/cases/"+string(caseID)+"/relocations", tokens["ISL"],
		map[string]string{"destination": "CMD", "reason": "child_moved", "urgency": "high"})
	if code != http.StatusCreated {
		t.Fatalf("POST relocation: %d %s", code, b)
	}
	var asked relocationJSON
	if err := json.Unmarshal(b, &asked); err != nil {
		t.Fatal(err)
	}
	if !asked.ID.Valid() || asked.Side != "origin" || asked.State != "requested" || asked.Case != caseID {
		t.Fatalf("requested: %+v", asked)
	}
	// Without a token the API refuses.
	if code, _ := call(t, http.MethodGet, "http://"+cmd.HTTPAddr()+"/v1/relocations", "", nil); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/relocations without a token: %d", code)
	}

	eventually(t, "the offer in Camden's inbox", func() bool {
		in, _ := relocationsOf(t, cmd, tokens["CMD"])
		r, ok := findJSON(in, asked.ID)
		return ok && r.State == "offered"
	})
	code, b = call(t, http.MethodGet, "http://"+cmd.HTTPAddr()+"/v1/relocations", tokens["CMD"], nil)
	if code != http.StatusOK || bytes.Contains(b, []byte(given)) {
		t.Errorf("Camden's API list: %d, holds the child's name: %v", code, bytes.Contains(b, []byte(given)))
	}
	code, b = call(t, http.MethodGet, "http://"+cmd.HTTPAddr()+"/relocations", tokens["CMD"], nil)
	page := string(b)
	if code != http.StatusOK {
		t.Fatalf("Camden's relocation page: %d", code)
	}
	for _, want := range []string{
		`data-relocation="` + string(asked.ID) + `" data-state="offered"`,
		`action="/relocations/` + string(asked.ID) + `/accept"`,
		`action="/relocations/` + string(asked.ID) + `/reject"`,
		"Islington to Camden",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("Camden's page lacks %q", want)
		}
	}
	if strings.Contains(page, given) {
		t.Error("Camden's page shows the child's name")
	}

	// The page's accept form, as a browser on the page sends it: signed in
	// through the sign-in form, with the session cookie that gives.
	cl := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodPost, "http://"+cmd.HTTPAddr()+"/signin", strings.NewReader(url.Values{"token": {tokens["CMD"]}, "next": {"/relocations"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "nrmnet_session" {
			session = c
		}
	}
	if res.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign-in: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	req, err = http.NewRequest(http.MethodPost, "http://"+cmd.HTTPAddr()+"/relocations/"+string(asked.ID)+"/accept", strings.NewReader(url.Values{}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(session)
	res, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/relocations?done=accepted") {
		t.Fatalf("accept form: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}

	eventually(t, "completion on both sides", func() bool {
		in, _ := relocationsOf(t, cmd, tokens["CMD"])
		_, out := relocationsOf(t, isl, tokens["ISL"])
		d, ok1 := findJSON(in, asked.ID)
		o, ok2 := findJSON(out, asked.ID)
		return ok1 && ok2 && d.State == "completed" && o.State == "completed"
	})
	if got := readStoredCase(t, cmd, caseID); got.Responsible != "CMD" || got.Identity.Names[0].Given != given {
		t.Fatalf("Camden's case: responsible %s", got.Responsible)
	}
	if got := readStoredCase(t, isl, caseID); got.State != v1.StateTransferredOut {
		t.Fatalf("Islington's case is %s, want transferred_out", got.State)
	}
	// Islington may no longer withdraw it.
	code, b = call(t, http.MethodPost, "http://"+isl.HTTPAddr()+"/v1/relocations/"+string(asked.ID)+"/revoke", tokens["ISL"], map[string]string{})
	if code != http.StatusConflict {
		t.Errorf("revoke after completion: %d %s, want 409", code, b)
	}
}

// The origin stops after asking and the destination accepts while it is
// away; when the origin starts again from its directory (the hand-over
// store reopened with the same derived key), the hand-over resumes and
// completes.
func TestRelocationResumesAfterOriginRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	p := startPairFull(t)
	isl, cmd := p.nodes[0], p.nodes[1]
	ctx := context.Background()
	now := time.Now().UTC()
	child := synthetic.New(12, synthetic.WithAuthority("ISL"), synthetic.WithClock(now),
		synthetic.WithPeriod(now.Add(-48*time.Hour), now.Add(-time.Hour))).Case()
	caseID, err := devnetRefer(ctx, isl, child.Identity, child)
	if err != nil {
		t.Fatal(err)
	}
	r, err := isl.relocs.Desk.Request(ctx, devnetWorker("ISL"), node.NewRelocation{Case: caseID, Destination: "CMD",
		Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh})
	if err != nil {
		t.Fatal(err)
	}
	id := r.Request.ID
	eventually(t, "the offer in Camden's inbox", func() bool {
		in, _ := relocationsOf(t, cmd, p.tokens["CMD"])
		_, ok := findJSON(in, id)
		return ok
	})
	if err := isl.Close(); err != nil {
		t.Fatal(err)
	}
	code, b := call(t, http.MethodPost, "http://"+cmd.HTTPAddr()+"/v1/relocations/"+string(id)+"/accept", p.tokens["CMD"], map[string]string{})
	if code != http.StatusOK {
		t.Fatalf("accept while Islington is down: %d %s", code, b)
	}
	isl = p.restart(t, 0)
	eventually(t, "completion after Islington's restart", func() bool {
		in, _ := relocationsOf(t, cmd, p.tokens["CMD"])
		_, out := relocationsOf(t, isl, p.tokens["ISL"])
		d, ok1 := findJSON(in, id)
		o, ok2 := findJSON(out, id)
		return ok1 && ok2 && d.State == "completed" && o.State == "completed"
	})
	if got := readStoredCase(t, cmd, caseID); got.Responsible != "CMD" {
		t.Fatalf("Camden's case held for %s", got.Responsible)
	}
	if got := readStoredCase(t, isl, caseID); got.State != v1.StateTransferredOut {
		t.Fatalf("Islington's case is %s", got.State)
	}
}

// A new devnet starts with one pending relocation request between two
// London authorities (Camden to Islington), offered in Islington's inbox.
func TestDevnetSeedsRelocation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two nodes")
	}
	nodes, tokens := startPair(t)
	isl := nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lines := seedDevnetRelocation(ctx, nodes, testLog(t))
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Requested a relocation from CMD to ISL") {
		t.Fatalf("seeded: %q", lines)
	}
	eventually(t, "the offer in Islington's inbox", func() bool {
		in, _ := relocationsOf(t, isl, tokens["ISL"])
		return len(in) == 1 && in[0].State == "offered" && in[0].Origin == "CMD" && strings.Contains(lines[0], string(in[0].ID))
	})
}

// The service's refusals reach the node's callers as the node's sentinels,
// with the service's error still in the chain.
func TestRelocationErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		in, want error
	}{
		{rpc.ErrUnknownHandover, node.ErrNotFound},
		{rpc.ErrNotDestination, node.ErrForbidden},
		{rpc.ErrNotOrigin, node.ErrForbidden},
		{rpc.ErrAlreadyAccepted, node.ErrNotAllowedNow},
		{rpc.ErrFinished, node.ErrNotAllowedNow},
		{rpc.ErrWrongState, node.ErrNotAllowedNow},
		{rpc.ErrRevoked, node.ErrNotAllowedNow},
		{rpc.ErrConflict, node.ErrConflict},
		{rpc.ErrInvalidRequest, node.ErrInvalid},
		{rpc.ErrClosed, node.ErrUnavailable},
		{rpc.ErrRefused, node.ErrUnavailable},
	} {
		err := fromRPCError(fmt.Errorf("accept 0123: %w", tc.in))
		if !errors.Is(err, tc.want) || !errors.Is(err, tc.in) {
			t.Errorf("%v: got %v, want it to match %v and keep the cause", tc.in, err, tc.want)
		}
	}
	if fromRPCError(nil) != nil {
		t.Error("nil error mapped to an error")
	}
}
