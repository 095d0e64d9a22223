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
)

// TestBrowserAlertReachesTargetAndRaisesMatchTask runs the cross-border
// path through the pages, on three whole nodes (real libp2p on loopback,
// real encrypted stores) with sign-in required. Islington holds a new case;
// Hackney holds the same child as recorded differently (a synthetic
// variant). In chromium, Islington's social worker signs in, opens the case
// (stating a purpose), reads its clocks and timeline, and raises an alert to
// Hackney from the case page's form. Hackney's social worker, signed in on
// Hackney's node, sees the alert arrive on the alerts page, matched, and a
// match task on the variant's case, which they resolve with the form.
func TestBrowserAlertReachesTargetAndRaisesMatchTask(t *testing.T) {
	dir, _, nodes := startSmallFederationWith(t, time.Second, false)
	ctx := newBrowser(t) // after the nodes, so that it is closed before them
	for _, n := range nodes {
		waitReady(t, n)
	}
	isl, hck := nodes[0], nodes[2]
	if isl.Authority != "ISL" || hck.Authority != "HCK" {
		t.Fatalf("nodes in unexpected order: %s, %s", isl.Authority, hck.Authority)
	}
	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	token := func(a authority.Code) string {
		for _, tok := range tokens {
			if tok.Authority == a && tok.Role == node.RoleSocialWorker {
				return tok.Token
			}
		}
		t.Fatalf("no %s social worker token", a)
		return ""
	}

	// The cases, through the node's API: Islington's child, and Hackney's
	// record of the same child.
	run, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	base, variant, err := devnetAlertChild(7, "ISL", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	islCase, err := devnetRefer(run, isl, base.Identity, base)
	if err != nil {
		t.Fatal(err)
	}
	hckCase, err := devnetRefer(run, hck, variant, base)
	if err != nil {
		t.Fatal(err)
	}

	text := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(run, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	signIn := func(baseURL, tok, next, landing string) {
		t.Helper()
		if err := navigate(run, baseURL+"/signin?next="+url.QueryEscape(next)); err != nil {
			t.Fatal(err)
		}
		if err := submitSignIn(run, tok, landing); err != nil {
			t.Fatal(err)
		}
	}

	// Islington: open the case, which asks why first.
	islURL := "http://" + isl.HTTPAddr()
	signIn(islURL, token("ISL"), "/cases/"+string(islCase), "#purpose")
	if err := chromedp.Do(run,
		chromedp.SendKeys(chromedp.CSS("#purpose"), "browser test: raise a cross-border alert"),
		chromedp.Submit(chromedp.CSS("#purpose")),
		chromedp.WaitVisible(chromedp.CSS("#clocks")),
	); err != nil {
		t.Fatalf("open the case: %v", err)
	}
	if s := text(`document.getElementById('case-summary').textContent`); !strings.Contains(s, "browser test: raise a cross-border alert") {
		t.Errorf("case summary %q does not say the purpose", s)
	}
	if n := text(`String(document.querySelectorAll('#clocks tbody tr[data-clock]').length)`); n == "0" {
		t.Error("the case page shows no clocks")
	}
	if tl := text(`document.getElementById('timeline').textContent`); !strings.Contains(tl, "Referred") || !strings.Contains(tl, "Risk rated AMBER") {
		t.Errorf("timeline: %q", tl)
	}
	// Every form control is labelled, and the child's names are not shown.
	if unlabelled := text(`[...document.querySelectorAll('main input:not([type=hidden]), main select')].filter(e => !document.querySelector('label[for="' + e.id + '"]')).map(e => e.name + '#' + e.id).join(',')`); unlabelled != "" {
		t.Errorf("form controls without a label: %s", unlabelled)
	}
	page := text(`document.body.innerText`)
	for _, n := range base.Identity.Names {
		if n.Given != "" && strings.Contains(page, n.Given) || n.Family != "" && strings.Contains(page, n.Family) {
			t.Errorf("the case page shows the child's name %q %q", n.Given, n.Family)
		}
	}
	// The form, from the keyboard where it matters: the target is a
	// checkbox toggled with Space.
	if err := chromedp.Do(run,
		chromedp.SetValue(chromedp.CSS("#alert-type"), "missing"),
		chromedp.SetValue(chromedp.CSS("#alert-urgency"), "immediate"),
		chromedp.Focus(chromedp.CSS("#target-HCK")),
		chromedp.KeyEvent(" "),
	); err != nil {
		t.Fatal(err)
	}
	if checked := text(`String(document.getElementById('target-HCK').checked)`); checked != "true" {
		t.Fatalf("Space did not tick Hackney (checked=%s)", checked)
	}
	if *updateScreenshots {
		// Before submitting, so the screenshot shows the filled form.
		png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		writeScreenshot(t, "case-page.png", png)
	}
	if err := chromedp.Do(run,
		chromedp.Click(chromedp.CSS(`form.alert-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#raised-notice")),
	); err != nil {
		t.Fatalf("raise the alert: %v", err)
	}
	loc := text(`location.href`)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	alertID := u.Query().Get("raised")
	if alertID == "" || !strings.Contains(text(`document.getElementById('raised').textContent`), string(islCase)) {
		t.Fatalf("after raising: %s; raised table %q", loc, text(`document.getElementById('raised').textContent`))
	}

	// Hackney: the alert arrives, is matched, and raises a task.
	hckURL := "http://" + hck.HTTPAddr()
	signIn(hckURL, token("HCK"), "/alerts", "#received")
	deadline := time.Now().Add(time.Minute)
	for {
		row := text(`(document.querySelector('#received tr[data-alert="` + alertID + `"]') || {textContent: ''}).textContent`)
		if strings.Contains(row, "1 possible match") {
			if !strings.Contains(row, "Islington") || !strings.Contains(row, "missing") {
				t.Errorf("received row: %q", row)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert %s not shown matched on Hackney's alerts page within a minute; last row %q", alertID, row)
		}
		time.Sleep(500 * time.Millisecond)
		if err := navigate(run, hckURL+"/alerts"); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(run, chromedp.Click(chromedp.CSS(`#received a[href="/tasks"]`)), chromedp.WaitVisible(chromedp.CSS("section.task"))); err != nil {
		t.Fatalf("open the tasks: %v", err)
	}
	task := text(`document.querySelector('section.task').textContent`)
	if !strings.Contains(task, string(hckCase)) || !strings.Contains(task, alertID) {
		t.Fatalf("task %q; want Hackney's case %s and alert %s", task, hckCase, alertID)
	}
	if *updateScreenshots {
		png, err := chromedp.Run(run, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		writeScreenshot(t, "match-tasks.png", png)
	}
	taskID := text(`document.querySelector('section.task').dataset.task`)
	if err := chromedp.Do(run,
		chromedp.SetValue(chromedp.CSS("#resolution-"+taskID), "same_child"),
		chromedp.SendKeys(chromedp.CSS("#reason-"+taskID), "same school and date of birth; calling Islington's duty desk"),
		chromedp.Click(chromedp.CSS(`form.resolve button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#resolved-notice")),
	); err != nil {
		t.Fatalf("resolve the task: %v", err)
	}
	if s := text(`document.querySelector('section.task .badge').textContent`); !strings.Contains(s, "same child") {
		t.Errorf("after resolving: %q", s)
	}
	ts, err := hck.alerts.Tasks(run, devnetWorker("HCK"), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Open() || ts[0].ResolvedBy != "hck.social-worker" {
		t.Errorf("Hackney's tasks after resolving: %+v", ts)
	}
}
