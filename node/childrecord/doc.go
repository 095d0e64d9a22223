// Package childrecord writes one child's NRM case as a page the child can
// read: what happened and when, who decided and why, what each decision
// means, their rights (to ask for a decision to be looked at again, to an
// advocate or Independent Child Trafficking Guardian, to see their records)
// and their own recorded views. DOMAIN.md: "A child requesting their
// records should be able to understand the process and the reasons for
// decisions."
//
// RenderHTML writes a self-contained, accessible HTML page (no scripts,
// styles inline, no external resources); RenderText writes the same in
// plain text. Both read only the case given and the panel records of that
// case: a panel record of another case is refused, so no other child's data
// can reach the page.
//
//	err := childrecord.RenderHTML(w, c, childrecord.Options{Panels: panels})
package childrecord
