// Package web serves a node's pages for people: the regional coordinator's
// federation view, a worker's case list, a case page with its clocks and
// timeline and a form to raise a cross-border alert, the alerts received
// and raised, and the match tasks private matching raised, each with a form
// to resolve it, and the relocation inbox and outbox with forms to accept,
// reject or withdraw a hand-over. Pages are rendered on the server
// from templates embedded in the binary, with one embedded stylesheet and no
// JavaScript or external resources, so they work on locked-down council
// desktops and in text browsers, and nothing a page shows leaves the node to a
// third party.
//
// The package reads through small interfaces it declares itself (RegionStatus,
// CaseLister, CaseReader, AlertDesk, RelocationDesk, Authenticator), so the composition root can plug in what exists:
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
// storage.CaseSummary fields, which hold no identifying data. The case page
// reads a case only for a purpose the user states (the node audits it), and
// shows its state, clocks and a timeline of dates, kinds and user IDs: no
// identity field and no free text, so that a page left open shows nothing a
// passer-by could recognise a child by. Forms that change something are
// POSTs, refused when a browser says they come from another site (as
// sign-in is), under a SameSite=Strict session cookie.
//
// Signing in with a token starts a session held in the server's memory; the
// browser's cookie carries only a random session ID, never the token. A
// session ends at sign-out, after Config.SessionIdleTimeout unused, at
// Config.SessionLifetime however busy, when its user is revoked (the token
// is checked again on every request), when the store is full and it is
// the least recently used, and when the node restarts. API-style clients
// may instead send the token as an Authorization: Bearer header.
package web
