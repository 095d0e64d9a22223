// Package transport carries one combined panel's Raft traffic over libp2p
// streams. StreamLayer is a raft.StreamLayer: raft's own NetworkTransport
// (framing, msgpack, connection pool, pipelining) runs on top of it unchanged,
// and only the bytes move over libp2p instead of TCP.
//
// Each panel has its own protocol ID, /nrmnet/raft/<panel>/1, so several
// panels share one host and one connection per peer without seeing each
// other's RPCs. A Raft server address is the peer's libp2p ID in text form;
// the host finds the peer's network addresses in its peerstore (filled from
// the roster).
//
// Inbound streams are accepted only from peers the Admit function allows (the
// panel's members on the roster in force); others are reset before raft sees
// a byte. Admit is called for every stream, so a roster change takes effect
// at the next stream, and Sever cuts the streams a revoked member still holds.
//
// Raft pools its connections (streams here) per peer: MaxPool bounds the pool.
// Opening a stream per RPC costs a round trip of multistream negotiation; a
// pool of a few streams per peer keeps that off the commit path. DESIGN.md in
// the parent directory gives the measurements.
//
// Typical use:
//
//	cfg := transport.DefaultConfig()
//	cfg.Panel, cfg.Host = "islington-camden", h.Libp2p()
//	cfg.Admit = func(p peer.ID) bool { return isPanelMember(p) }
//	cfg.Logger = logger
//	trans, layer, err := transport.New(cfg)
//	...
//	r, err := raft.NewRaft(conf, fsm, logs, stable, snaps, trans)
package transport
