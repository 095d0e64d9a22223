package childrecord

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func render(t *testing.T, c *v1.Case, opts Options) (htmlOut, textOut string) {
	t.Helper()
	var h, x bytes.Buffer
	if err := RenderHTML(&h, c, opts); err != nil {
		t.Fatalf("RenderHTML: %v", err)
	}
	if err := RenderText(&x, c, opts); err != nil {
		t.Fatalf("RenderText: %v", err)
	}
	return h.String(), x.String()
}

// TestGolden pins the page for one synthetic case; review a diff as you
// would review a letter to a child. Update with
// go test ./node/childrecord -run TestGolden -args -update
func TestGolden(t *testing.T) {
	h, x := render(t, fixture(), Options{Panels: fixturePanels()})
	for name, got := range map[string]string{"record.html": h, "record.txt": x} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the golden file; run with -update and review the diff", name)
		}
	}
}

// visible returns the text a reader sees in the HTML page: tags removed,
// entities decoded, white space collapsed.
func visible(t *testing.T, page string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	var b strings.Builder
	inStyle := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v", err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			inStyle = v.Name.Local == "style" || v.Name.Local == "title"
		case xml.EndElement:
			inStyle = false
			b.WriteString(" ")
		case xml.CharData:
			if !inStyle {
				b.Write(v)
			}
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestEveryDecisionShown: each decision appears with its result, its
// reasons, who decided, the test and how the child's views were taken into
// account, in both renderings.
func TestEveryDecisionShown(t *testing.T) {
	c := fixture()
	h, x := render(t, c, Options{Panels: fixturePanels()})
	seen, text := visible(t, h), squash(x)
	for i, d := range c.Decisions {
		want := []string{
			"Decision " + strconv.Itoa(i+1) + ": the " + stageName(d.Stage),
			resultText(d),
			d.DecidedBy + ".",
			squash(d.TestApplied),
		}
		for _, p := range paragraphs(d.Reasons) {
			want = append(want, p)
		}
		for _, p := range paragraphs(d.ChildViews) {
			want = append(want, p)
		}
		for _, w := range want {
			if !strings.Contains(seen, w) {
				t.Errorf("HTML: decision %d lacks %q", i+1, w)
			}
			if !strings.Contains(text, w) {
				t.Errorf("text: decision %d lacks %q", i+1, w)
			}
		}
	}
	for _, w := range []string{"The work records arrived.", "decided by the panel chair", "1 voted yes, 3 voted no",
		"Everyone who votes agreed.", "the chair) was from the police", "Wants to stay with his foster family.",
		"Placement kept; his address is not shared outside the panel.", "Please say how his views were heard at the first meeting.",
		"Sam Okafor", "30 calendar days"} {
		if !strings.Contains(seen, w) || !strings.Contains(text, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	// Without panel records, the decider still shows; without DecidedBy,
	// the panel's name from its record.
	c.Decisions[0].DecidedBy = ""
	h, _ = render(t, c, Options{Panels: fixturePanels()})
	if !strings.Contains(visible(t, h), "The islington-camden panel.") {
		t.Error("decider not taken from the panel record")
	}
}

// TestReconsiderationRight: a negative decision within its window shows
// the last day to ask, in the authority's calendar.
func TestReconsiderationRight(t *testing.T) {
	c := fixture()
	c.Decisions = c.Decisions[:1]
	c.Reconsiderations = nil
	c.Assurance = nil
	c.State = v1.StateRGNegative
	c.UpdatedAt = c.Decisions[0].DecidedAt
	_, x := render(t, c, Options{})
	// Decided Fri 6 Feb 2026: 30 calendar days to the end of Sun 8 Mar.
	if !strings.Contains(squash(x), "For your latest decision, you can ask until the end of 8 March 2026.") {
		t.Errorf("no deadline for the reconsideration:\n%s", x)
	}
}

// TestNoOtherChildsData: a panel record about another case is refused and
// nothing is written; the page for one child holds nothing of another's.
func TestNoOtherChildsData(t *testing.T) {
	g := synthetic.New(3, synthetic.WithAuthority("ISL"))
	other := synthetic.CanaryCase(g, "CanaryOtherChild")
	foreign := fixturePanels()[0]
	foreign.CaseRef = other.ID
	foreign.Reasons = "CanaryOtherChild reasons"
	var b bytes.Buffer
	for _, render := range []func(io.Writer, *v1.Case, Options) error{RenderHTML, RenderText} {
		err := render(&b, fixture(), Options{Panels: append(fixturePanels(), foreign)})
		if !errors.Is(err, ErrOtherCase) || b.Len() != 0 {
			t.Errorf("panel record of another case: err %v, %d bytes written", err, b.Len())
		}
	}
	// A generated child's page and another generated child's canaries.
	mine := synthetic.CanaryCase(g, "CanaryThisChild")
	h, x := render(t, mine, Options{})
	for _, out := range []string{h, x} {
		if !strings.Contains(out, "CanaryThisChild") {
			t.Error("the child's own name is missing")
		}
		for _, s := range []string{"CanaryOtherChild", string(other.ID), string(other.ChildID)} {
			if strings.Contains(out, s) {
				t.Errorf("page contains another child's %q", s)
			}
		}
		if strings.Contains(out, string(mine.ChildID)) {
			t.Error("page contains the internal child ID (a key selector, not for display)")
		}
	}
}

// TestHostileText: text a person typed cannot add markup, scripts or
// styles to the page, and reads back exactly.
func TestHostileText(t *testing.T) {
	hostile := []string{
		`<script>alert("x")</script>`,
		`"><img src=x onerror=alert(1)>`,
		`</style><style>body{display:none}</style>`,
		`{{.R.Name}} {{template "record"}}`,
		`javascript:alert(1) & &amp; &lt;b&gt;`,
		"\u202eevil right-to-left override",
		`' OR 1=1 -- ; <!-- comment --> ]]>`,
	}
	c := fixture()
	c.Identity.Names[0].Given = `<b>Dawit</b>`
	c.WishesAndFeelings[0].Views = strings.Join(hostile, "\n")
	c.Decisions[0].Reasons = hostile[1]
	c.Decisions[0].DecidedBy = hostile[0]
	c.Advocate.Name = hostile[2]
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	h, x := render(t, c, Options{Panels: fixturePanels()})
	lower := strings.ToLower(h)
	for _, bad := range []string{"<script", "<img", "<b>", "</style><style>", "<!-- comment"} {
		if strings.Contains(lower, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if strings.Count(lower, "<style>") != 1 {
		t.Error("more than one style sheet")
	}
	seen := visible(t, h) // also proves the page is well-formed
	for _, s := range hostile {
		if !strings.Contains(seen, squash(s)) {
			t.Errorf("hostile text not shown as text: %q", s)
		}
		if !strings.Contains(x, s) {
			t.Errorf("text rendering changed %q", s)
		}
	}
	if !strings.Contains(seen, "This page is about <b>Dawit</b> Haile") {
		t.Error("name not shown literally")
	}
	checkElements(t, h)
}

// allowed are the elements the page may contain.
var allowed = map[string]bool{
	"html": true, "head": true, "meta": true, "title": true, "style": true, "body": true, "a": true, "main": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "p": true, "strong": true, "time": true, "ol": true, "ul": true,
	"li": true, "span": true, "article": true, "q": true, "dl": true, "dt": true, "dd": true,
}

// checkElements: only allowed elements; no attribute that loads anything
// or runs anything.
func checkElements(t *testing.T, page string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if !allowed[se.Name.Local] {
			t.Errorf("element <%s> is not allowed", se.Name.Local)
		}
		for _, a := range se.Attr {
			name := strings.ToLower(a.Name.Local)
			switch {
			case strings.HasPrefix(name, "on"):
				t.Errorf("event handler attribute %s", name)
			case name == "src" || name == "srcset" || name == "action" || name == "style":
				t.Errorf("attribute %s", name)
			case name == "href" && !strings.HasPrefix(a.Value, "#"):
				t.Errorf("link to %q leaves the page", a.Value)
			}
		}
	}
}

// TestAccessiblePage: language, title, one h1, no skipped heading levels,
// a main landmark, a skip link, no external resources.
func TestAccessiblePage(t *testing.T) {
	h, _ := render(t, fixture(), Options{Panels: fixturePanels()})
	if !strings.HasPrefix(h, "<!DOCTYPE html>\n<html lang=\"en-GB\">") {
		t.Error("no doctype or lang")
	}
	for _, w := range []string{`<meta charset="utf-8"/>`, `<meta name="viewport"`, "<title>Your record: Dawit Haile</title>",
		`<main id="main">`, `<a class="skip" href="#main">`} {
		if !strings.Contains(h, w) {
			t.Errorf("page lacks %s", w)
		}
	}
	for _, bad := range []string{"http:", "https:", "url(", "@import", "<link", "<script", "<iframe", "<img"} {
		if strings.Contains(strings.ToLower(h), bad) {
			t.Errorf("page refers outside itself: %s", bad)
		}
	}
	checkElements(t, h)
	d := xml.NewDecoder(strings.NewReader(h))
	d.Strict = true
	level, h1s := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok && len(se.Name.Local) == 2 && se.Name.Local[0] == 'h' && se.Name.Local[1] >= '1' && se.Name.Local[1] <= '6' {
			n := int(se.Name.Local[1] - '0')
			if n == 1 {
				h1s++
			}
			if n > level+1 {
				t.Errorf("heading h%d follows h%d", n, level)
			}
			level = n
		}
	}
	if h1s != 1 {
		t.Errorf("%d h1 headings, want 1", h1s)
	}
}

// TestContrast: every text colour against its background meets WCAG AAA,
// 7:1.
func TestContrast(t *testing.T) {
	p := defaultPalette
	for _, pair := range [][2]string{
		{p.Text, p.Background}, {p.Text, p.Box}, {p.Secondary, p.Background}, {p.Link, p.Background},
		{p.Text, p.FocusBackground},
	} {
		if r := contrast(t, pair[0], pair[1]); r < 7 {
			t.Errorf("%s on %s: contrast %.2f, want at least 7", pair[0], pair[1], r)
		}
	}
	// The rule is a border, not text: 3:1 for non-text (WCAG 1.4.11).
	if r := contrast(t, p.Rule, p.Background); r < 3 {
		t.Errorf("rule contrast %.2f", r)
	}
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q", hex)
	}
	var c [3]float64
	for i := range c {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		s := float64(v) / 255
		if s <= 0.04045 {
			c[i] = s / 12.92
		} else {
			c[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2]
}

func TestRefusals(t *testing.T) {
	var b bytes.Buffer
	if err := RenderHTML(&b, nil, Options{}); !errors.Is(err, ErrInvalidCase) {
		t.Errorf("nil case: %v", err)
	}
	c := fixture()
	c.State = "limbo"
	if err := RenderText(&b, c, Options{}); !errors.Is(err, ErrInvalidCase) || b.Len() != 0 {
		t.Errorf("invalid case: %v, %d bytes", err, b.Len())
	}
}

func TestWrap(t *testing.T) {
	long := strings.Repeat("word ", 40) + strings.Repeat("x", 90) + " end"
	out := wrap(long, "    ")
	for _, line := range strings.Split(out, "\n") {
		if utf8.RuneCountInString(line) > lineWidth && !strings.Contains(line, strings.Repeat("x", 90)) {
			t.Errorf("line of %d characters: %q", utf8.RuneCountInString(line), line)
		}
		if !strings.HasPrefix(line, "    ") || strings.HasSuffix(line, " ") {
			t.Errorf("bad indent or trailing space: %q", line)
		}
	}
	if squash(out) != squash(long) {
		t.Error("wrap changed the words")
	}
	if got := wrap("ዳዊት ኃይለማርያም", ""); got != "ዳዊት ኃይለማርያም" {
		t.Errorf("wrap(Ge'ez) = %q", got)
	}
}
