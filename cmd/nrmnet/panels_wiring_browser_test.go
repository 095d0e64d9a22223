package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"nrmnet/node"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// A panel decision concluded from the page: three nodes through startNode on
// loopback (ISL and CMD the panel's members, HCK its witness), the seeded
// pending decision; Islington's panel member casts the last vote on
// Islington's page, Camden's chair concludes it on Camden's page with
// reasons, and the decision, its reasons and the child's views show on both
// members' pages. Islington's node records it on the child's case. With
// -update it writes docs/screenshots/panel-page.png.
func TestBrowserPanelDecisionConcludedFromPage(t *testing.T) {
	dir, _, nodes := startSmallFederationWith(t, time.Second, false)
	ctx := newBrowser(t) // after the nodes, so that it is closed before them
	for _, n := range nodes {
		waitReady(t, n)
	}
	isl, cmd := nodes[0], nodes[1]
	if isl.Authority != "ISL" || cmd.Authority != "CMD" {
		t.Fatalf("nodes in unexpected order: %s, %s", isl.Authority, cmd.Authority)
	}
	run, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	lines := seedDevnetPanel(run, nodes, testLog(t))
	if len(lines) != 1 || !strings.Contains(lines[0], "/cases/") {
		t.Fatalf("seed: %q", lines)
	}
	ref := v1.CaseID(lines[0][strings.LastIndex(lines[0], "/")+1:])
	if !ref.Valid() {
		t.Fatalf("seeded case %q", ref)
	}
	path := "/panels/" + string(devnetPanel) + "/cases/" + string(ref)

	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	token := func(a authority.Code, r node.Role) string { return devnetUserOf(t, tokens, a, r).Token }
	text := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(run, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	signIn := func(n *runningNode, tok, landing string) {
		t.Helper()
		if err := navigate(run, "http://"+n.HTTPAddr()+"/signin?next="+url.QueryEscape(path)); err != nil {
			t.Fatal(err)
		}
		if err := submitSignIn(run, tok, landing); err != nil {
			t.Fatal(err)
		}
	}
	unlabelled := `[...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')].filter(e => !document.querySelector('label[for="' + e.id + '"]')).map(e => e.name + '#' + e.id).join(',')`

	// Islington's panel member: the vote form, the last vote.
	signIn(isl, token("ISL", node.RolePanelMember), `section[data-proposal] form.decide button[type="submit"]`)
	if s := text(`document.querySelector('section[data-proposal] .awaiting').textContent`); !strings.Contains(s, "isl.panel-member") {
		t.Fatalf("still to vote: %q", s)
	}
	if u := text(unlabelled); u != "" {
		t.Errorf("form controls without a label: %s", u)
	}
	if err := chromedp.Do(run,
		chromedp.SetValue(chromedp.CSS(`section[data-proposal] select[name="choice"]`), "positive"),
		chromedp.Click(chromedp.CSS(`section[data-proposal] form.decide button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#panel-notice")),
	); err != nil {
		t.Fatalf("vote: %v", err)
	}
	if s := text(`document.querySelector('section[data-proposal] .awaiting').textContent`); !strings.Contains(s, "Every voting member present has voted") {
		t.Fatalf("after the last vote: %q", s)
	}
	if n := text(`String(document.querySelectorAll('section[data-proposal] form').length)`); n != "0" {
		t.Errorf("a panel member who has voted still gets %s forms", n)
	}

	// Camden's chair concludes it on Camden's node.
	const reasons = "Police intelligence and the health assessment both point to criminal exploitation (browser test)."
	const considered = "Her wish to stay at her school is reflected in the safeguarding plan (browser test)."
	signIn(cmd, token("CMD", node.RolePanelChair), `textarea[name="reasons"]`)
	if u := text(unlabelled); u != "" {
		t.Errorf("form controls without a label: %s", u)
	}
	if err := chromedp.Do(run,
		chromedp.SendKeys(chromedp.CSS(`textarea[name="reasons"]`), reasons),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="views_considered"]`), considered),
		chromedp.Click(chromedp.CSS(`form[action$="/conclude"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#panel-notice")),
	); err != nil {
		t.Fatalf("conclude: %v", err)
	}
	checkDecision := func(where string) {
		t.Helper()
		if s := text(`document.getElementById('stage-rg').dataset.status`); s != "positive" {
			t.Errorf("%s: RG stage %q, want positive", where, s)
		}
		if s := text(`(document.querySelector('[data-decision] .reasons') || {textContent: ''}).textContent`); s != reasons {
			t.Errorf("%s: decision reasons %q", where, s)
		}
		if s := text(`(document.querySelector('[data-decision] .child-views') || {textContent: ''}).textContent`); !strings.Contains(s, considered) || !strings.Contains(s, "Wants to stay at the same school") {
			t.Errorf("%s: decision's child's views %q", where, s)
		}
		if s := text(`(document.querySelector('[data-decision] .outcome[data-stage="reasonable_grounds"]') || {textContent: ''}).textContent`); !strings.HasPrefix(s, "positive") {
			t.Errorf("%s: RG outcome %q", where, s)
		}
	}
	checkDecision("Camden")
	if *updateScreenshots {
		png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		writeScreenshot(t, "panel-page.png", png)
	}

	// The same decision on Islington's page (its own replica of the panel).
	signIn(isl, token("ISL", node.RoleSocialWorker), "#stage-rg")
	checkDecision("Islington")

	// Islington's node records it on the child's case.
	eventually(t, "the RG decision on Islington's case", func() bool {
		return readStoredCase(t, isl, ref).State == v1.StateRGPositive
	})
}
