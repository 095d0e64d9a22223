// Package rpc carries the relocation hand-over between two authorities'
// nodes over a direct libp2p stream protocol, /nrmnet/relocation/1.
//
// When a child moves, the origin authority asks the destination to accept
// the case with a minimal request (v1.RelocationRequest: a summary with no
// identity). Only the destination may accept or reject; only the origin may
// revoke, and never after the origin has recorded an acceptance; a rejection
// always reaches the origin. After acceptance the full case moves over the
// same encrypted libp2p connection, the destination installs it provisionally
// and confirms receipt, the origin marks it transferred out, and only then
// does the destination take responsibility. Both sides audit every step with
// its legal basis.
//
// Each side keeps a small Handover record per request in a HandoverStore
// (in memory for tests, Badger on disk for nodes), written before any message
// that depends on it is sent, so a crash or disconnect at any point leaves a
// state from which New resumes the hand-over. Every message is idempotent by
// request ID, signed with the sending authority's node key, checked against
// the roster and the stream's remote peer, and validated before it touches a
// record.
//
//	r, err := rpc.New(host, cfg) // host: *federation.Host
//	h, err := r.Request(ctx, "user-17", req)  // on the origin
//	h, err = r.Accept(ctx, "user-42", req.ID) // on the destination
//
// The states on each side, the custody rule ("never held by neither, never
// fully by both") and the reasons are in DESIGN.md.
package rpc
