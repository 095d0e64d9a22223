// Package node is an authority's application: it takes referrals, moves
// cases through the NRM workflow, records the child's views, lists what is
// overdue, and manages the people who may do these things.
//
// Every operation is made by a Principal (an authenticated user with one
// Role) and is checked against the role table in roles.go before the store
// is touched. A refusal is itself audited, with the reason, so the audit log
// records every decision to share or not to share (DOMAIN.md, the golden
// rules). Reading a case needs a stated purpose; the purpose and the legal
// basis are recorded with who read it.
//
// Writes are optimistic: an event names the revision of the case it was
// made from, and a stale revision is refused with ErrConflict rather than
// silently overwriting a colleague's change (the store checks the revision
// again inside its transaction, so two concurrent writers cannot both win).
//
// The node declares the store it needs as the small interface Store; a
// *storage.Store satisfies it. Errors wrap one of the sentinel errors in
// errors.go, which the HTTP API maps to status codes.
package node
