// Package match lets an authority find out whether a child in one of its own
// cases may be the child in another authority's cross-border alert, without
// any identifier crossing the wire: not a name, not a date of birth, not a
// hash of either that someone could test guesses against.
//
// It is an oblivious PRF (RFC 9497, ristretto255-SHA512, base mode, from
// cloudflare/circl) keyed per alert by the issuer:
//
//   - The Issuer draws a fresh OPRF key when an alert is issued, keeps it in
//     its KeyStore (never sent), and computes the alert's MatchTokens as the
//     OPRF outputs of its own child's identity keys (IssueTokens), padded
//     with random tokens to a fixed count and sorted.
//   - A Receiver narrows its cases to the alert's age band and sex, blinds
//     their identity keys, and asks the issuer over ProtocolID to evaluate
//     them. The issuer sees only uniformly random group elements; the
//     receiver unblinds, finalises and compares with the tokens. A match
//     returns the receiver's own case IDs, for a person to look at: nothing
//     is shared automatically.
//   - The issuer bounds elements per request, rate-limits per requesting
//     peer and per alert over a window, and audits every query (who, which
//     alert, how many elements, the outcome; never an element) before it
//     answers. Unknown and expired alerts are refused with a Status.
//
// The identity keys themselves come from package node/matchkeys; this
// package sees only their bytes, and only on the side that owns them.
// DESIGN.md says why it is built this way and what it does not protect.
package match
