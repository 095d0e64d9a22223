package childrecord

import (
	_ "embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"unicode/utf8"

	v1 "nrmnet/schemas/v1"
)

var (
	//go:embed record.html.tmpl
	htmlSource string
	//go:embed record.txt.tmpl
	textSource string

	htmlPage = htmltemplate.Must(htmltemplate.New("record").Parse(htmlSource))
	textPage = texttemplate.Must(texttemplate.New("record").Funcs(texttemplate.FuncMap{"wrap": wrap}).Parse(textSource))
)

// palette is the page's colours. Every text colour meets WCAG 2.2 AAA
// contrast (7:1) on the backgrounds it is used on; TestContrast checks.
type palette struct {
	Text, Secondary, Link            string
	Background, Box, FocusBackground string
	Rule, Focus                      string
}

// defaultPalette is the page's palette: near-black on white, in the manner
// of GOV.UK pages.
var defaultPalette = palette{
	Text:            "#0b0c0c",
	Secondary:       "#383f43",
	Link:            "#1d4f7a",
	Background:      "#ffffff",
	Box:             "#f3f2f1",
	FocusBackground: "#ffdd00",
	Rule:            "#1d70b8",
	Focus:           "#0b0c0c",
}

// page is what the HTML template sees: the content and the colours, as
// CSS values the template may place in the style sheet.
type page struct {
	R *record
	C map[string]htmltemplate.CSS
}

func (p palette) css() map[string]htmltemplate.CSS {
	return map[string]htmltemplate.CSS{
		"Text": htmltemplate.CSS(p.Text), "Secondary": htmltemplate.CSS(p.Secondary), "Link": htmltemplate.CSS(p.Link),
		"Background": htmltemplate.CSS(p.Background), "Box": htmltemplate.CSS(p.Box),
		"FocusBackground": htmltemplate.CSS(p.FocusBackground), "Rule": htmltemplate.CSS(p.Rule), "Focus": htmltemplate.CSS(p.Focus),
	}
}

// RenderHTML writes case c as a self-contained HTML page a young person can
// read. Nothing is written if the case or the options are refused.
func RenderHTML(w io.Writer, c *v1.Case, opts Options) error {
	r, err := build(c, opts)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := htmlPage.Execute(&b, page{R: r, C: defaultPalette.css()}); err != nil {
		return fmt.Errorf("childrecord: render HTML: %w", err)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// RenderText writes case c as plain text, wrapped at 76 characters, with
// the same content as RenderHTML.
func RenderText(w io.Writer, c *v1.Case, opts Options) error {
	r, err := build(c, opts)
	if err != nil {
		return err
	}
	var b strings.Builder
	if err := textPage.Execute(&b, r); err != nil {
		return fmt.Errorf("childrecord: render text: %w", err)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// lineWidth is where plain text wraps.
const lineWidth = 76

// wrap breaks s into lines of at most lineWidth characters (a longer word
// stands alone), each starting with indent.
func wrap(s, indent string) string {
	var b strings.Builder
	for pi, para := range strings.Split(s, "\n") {
		if pi > 0 {
			b.WriteString("\n")
		}
		line := indent
		n := utf8.RuneCountInString(indent)
		empty := true
		for _, word := range strings.Fields(para) {
			wl := utf8.RuneCountInString(word)
			if !empty && n+1+wl > lineWidth {
				b.WriteString(strings.TrimRight(line, " ") + "\n")
				line, n, empty = indent, utf8.RuneCountInString(indent), true
			}
			if !empty {
				line += " "
				n++
			}
			line += word
			n += wl
			empty = false
		}
		b.WriteString(strings.TrimRight(line, " "))
	}
	return b.String()
}
