// Package web serves a node's pages for people: the regional coordinator's
// federation view and a worker's case list. Pages are rendered on the server
// from templates embedded in the binary, with one embedded stylesheet and no
// JavaScript or external resources, so they work on locked-down council
// desktops and in text browsers, and nothing a page shows leaves the node to a
// third party.
//
// The package reads through small interfaces it declares itself (RegionStatus,
// CaseLister, Principals), so the composition root can plug in what exists:
// federation connectivity and the roster today, signed heartbeats from the
// gossip layer later, and the node's users for sign-in.
//
// Accessibility follows WCAG 2.2 AA basics: the document language is set,
// every page has header, nav, main and footer landmarks and a skip link,
// tables have captions and header scopes, status is said in words (never by
// colour alone), colours meet 4.5:1 contrast, and focus is always visible.
//
// What the pages may show is limited by the domain's rules: the coordinator
// view shows counts and health, never a child; the case list shows only the
// storage.CaseSummary fields, which hold no identifying data.
package web
