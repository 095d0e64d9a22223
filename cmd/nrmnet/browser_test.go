package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
)

var updateScreenshots = flag.Bool("update", false, "write the browser tests' screenshots to docs/screenshots")

// chromiumPath finds Debian's chromium (what .ci/run installs), or another
// Chrome.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts a headless chromium for the test, stopped at cleanup.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium is not installed, so the browser test cannot run; install it with `apt-get install -y chromium` (.ci/run does this)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first call starts the browser, which lives as long as the context
	// of that call: it must have no timeout of its own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium %s: %v", path, err)
	}
	return ctx
}

// rowStatuses reads the coordinator view's authority rows as the browser
// shows them: the status attribute and the badge's text.
func rowStatuses(ctx context.Context) (map[string]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries(
		[...document.querySelectorAll('tr[data-authority]')].map(r =>
			[r.dataset.authority, r.dataset.status + '|' + r.querySelector('.badge').textContent.trim()]))`))
}

// waitForRows polls the page (which reloads itself) until cond holds, at
// most for timeout. Evaluations that fail while the page reloads are
// retried.
func waitForRows(t *testing.T, ctx context.Context, what string, timeout time.Duration, cond func(map[string]string) bool) map[string]string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]string
	for {
		step, cancel := context.WithTimeout(ctx, 5*time.Second)
		rows, err := rowStatuses(step)
		cancel()
		if err == nil {
			last = rows
			if cond(rows) {
				return rows
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not seen within %s; last rows %v (err %v)", what, timeout, last, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestBrowserCoordinatorSeesNodeGoDown starts three whole nodes (real
// libp2p on loopback, real encrypted stores), opens Islington's coordinator
// view in chromium, checks all three authorities show up, stops Hackney's
// node, and waits until the page, reloading by itself, marks Hackney down
// while the others stay up.
func TestBrowserCoordinatorSeesNodeGoDown(t *testing.T) {
	_, _, nodes := startSmallFederation(t, time.Second)
	ctx := newBrowser(t) // after the nodes, so that it is closed before them
	for _, n := range nodes {
		waitReady(t, n)
	}
	isl, hck := nodes[0], nodes[2]
	if isl.Authority != "ISL" || hck.Authority != "HCK" {
		t.Fatalf("nodes in unexpected order: %s, %s", isl.Authority, hck.Authority)
	}
	base := "http://" + isl.HTTPAddr()

	nav, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := navigate(nav, base+"/federation"); err != nil {
		t.Fatal(err)
	}
	lang, err := chromedp.Run(nav, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := chromedp.Run(nav, chromedp.Evaluate[string](`document.querySelector('meta[http-equiv="refresh"]').content`))
	if err != nil {
		t.Fatal(err)
	}
	if lang != "en-GB" || refresh != "1" {
		t.Errorf("lang %q, refresh %q", lang, refresh)
	}

	allUp := func(rows map[string]string) bool {
		for _, code := range []string{"ISL", "CMD", "HCK"} {
			if rows[code] != "up|● Up" {
				return false
			}
		}
		return len(rows) == 3
	}
	rows := waitForRows(t, ctx, "all three authorities up", time.Minute, allUp)
	t.Logf("all up: %v", rows)

	if err := hck.Close(); err != nil {
		t.Fatalf("stop HCK: %v", err)
	}
	rows = waitForRows(t, ctx, "HCK marked down", time.Minute, func(rows map[string]string) bool {
		return rows["HCK"] == "down|✕ Down"
	})
	if rows["ISL"] != "up|● Up" || rows["CMD"] != "up|● Up" {
		t.Errorf("after HCK stopped: %v, want ISL and CMD still up", rows)
	}
	summary, err := chromedp.Run(nav, chromedp.Evaluate[string](`document.getElementById('summary').textContent`))
	if err == nil && !strings.Contains(summary, "2 of 3") {
		t.Errorf("summary %q, want 2 of 3 up", summary)
	}

	if *updateScreenshots {
		screenshot(t, ctx, base+"/federation", "coordinator-view.png")
		screenshot(t, ctx, base+"/cases", "case-list.png")
	}
}

// TestBrowserCaseListKeyboard opens a worker's case list, checks the filter
// form is labelled and reachable from the keyboard (the skip link first),
// and that the list shows clocks.
func TestBrowserCaseListKeyboard(t *testing.T) {
	_, _, nodes := startSmallFederation(t, time.Second)
	ctx := newBrowser(t)
	run, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := navigate(run, "http://"+nodes[1].HTTPAddr()+"/cases"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(run, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	firstFocus, err1 := chromedp.Run(run, chromedp.Evaluate[string](`document.activeElement.textContent.trim()`))
	labels, err2 := chromedp.Run(run, chromedp.Evaluate[int](`[...document.querySelectorAll('input, select')].filter(e => document.querySelector('label[for="' + e.id + '"]')).length`))
	rows, err3 := chromedp.Run(run, chromedp.Evaluate[int](`document.querySelectorAll('tr[data-case]').length`))
	clocks, err4 := chromedp.Run(run, chromedp.Evaluate[string](`[...document.querySelectorAll('tr[data-case] td:last-child')].map(td => td.textContent.trim()).join('; ')`))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		t.Fatal(err)
	}
	if firstFocus != "Skip to main content" {
		t.Errorf("first Tab focuses %q, want the skip link", firstFocus)
	}
	if labels != 2 {
		t.Errorf("%d of 2 form controls have a label", labels)
	}
	if rows == 0 || rows > testCasesPer {
		t.Errorf("%d case rows, want 1 to %d", rows, testCasesPer)
	}
	if !strings.Contains(clocks, "due in") && !strings.Contains(clocks, "overdue by") {
		t.Errorf("no clock in the list: %s", clocks)
	}
}

// navigate opens url and waits for its main landmark. Leaving a page that
// reloads itself can race its refresh (the navigation is aborted, or its
// load event missed), so each attempt is bounded and retried, three times.
func navigate(ctx context.Context, url string) error {
	var err error
	for range 3 {
		step, cancel := context.WithTimeout(ctx, 20*time.Second)
		err = chromedp.Do(step, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main")))
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// TestBrowserSignIn signs in on a node whose pages are not open: the case
// list asks for sign-in, a social worker's token (typed into the labelled
// field) opens it, and after signing out an auditor's token is refused the
// list by the node's role table.
func TestBrowserSignIn(t *testing.T) {
	dir, _, nodes := startSmallFederationWith(t, time.Second, false)
	ctx := newBrowser(t)
	tokens, err := readDevnetTokens(dir)
	if err != nil {
		t.Fatal(err)
	}
	token := func(role node.Role) string { return devnetUserOf(t, tokens, "CMD", role).Token }
	run, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	base := "http://" + nodes[1].HTTPAddr()
	text := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(run, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// signIn submits the form and waits for an element of the page it
	// should lead to (never one the sign-in page has too).
	signIn := func(tok, landing string) {
		t.Helper()
		if err := submitSignIn(run, tok, landing); err != nil {
			t.Fatal(err)
		}
	}

	if err := navigate(run, base+"/cases"); err != nil {
		t.Fatal(err)
	}
	if h1 := text(`document.querySelector('main h1').textContent`); h1 != "Sign in" {
		t.Fatalf("the case list shows %q to a visitor, want the sign-in form", h1)
	}
	if label := text(`document.querySelector('label[for="token"]').textContent`); label == "" {
		t.Error("the token field has no label")
	}
	signIn(token(node.RoleSocialWorker), "table.cases")
	if h1 := text(`document.querySelector('main h1').textContent`); h1 != "Cases" {
		t.Fatalf("after signing in: %q at %s", h1, text(`location.href + ' ' + (document.querySelector('main').textContent || '').trim().slice(0, 200)`))
	}
	if who := text(`document.querySelector('.account strong').textContent`); who != "cmd.social-worker" {
		t.Errorf("signed in as %q", who)
	}

	// Sign out, and wait for the home page it leads to (its list of links
	// is on no other page), so the next navigation cannot race it.
	if err := chromedp.Do(run, chromedp.Click(chromedp.CSS(`form.account button`)), chromedp.WaitVisible(chromedp.CSS("main ul.links"))); err != nil {
		t.Fatal(err)
	}
	if err := navigate(run, base+"/signin?next=/cases"); err != nil {
		t.Fatal(err)
	}
	signIn(token(node.RoleAuditor), `main a[href="/"]`)
	if h1 := text(`document.querySelector('main h1').textContent`); h1 != "Not available to your role" {
		t.Errorf("an auditor sees %q, want the refusal", h1)
	}
	// The refusal is in the node's audit log.
	cp, err := nodes[1].store.AuditCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := nodes[1].store.AuditEntries(max(cp.Size-5, 0), 5)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || (e.Actor == "cmd.auditor" && e.Action == v1.ActionAccessDenied && e.Outcome == v1.AuditDenied)
	}
	if !found {
		t.Errorf("no access.denied entry for cmd.auditor among the last audit entries: %+v", entries)
	}
}

// submitSignIn types tok into the sign-in form on the page and waits for
// an element of the page it should lead to (never one the sign-in page has
// too).
func submitSignIn(ctx context.Context, tok, landing string) error {
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), tok),
		chromedp.Click(chromedp.CSS(`form.signin button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(landing)),
	)
	if err != nil {
		return fmt.Errorf("sign in, waiting for %s: %w", landing, err)
	}
	return nil
}

// screenshot saves a full-page PNG of url under docs/screenshots.
func screenshot(t *testing.T, ctx context.Context, url, name string) {
	t.Helper()
	shot, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := navigate(shot, url); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(shot, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	writeScreenshot(t, name, png)
}

// writeScreenshot saves png as docs/screenshots/name.
func writeScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(png))
}
