// Package federation is a node's place in its regional network: a libp2p host
// that admits only the members on the region's signed roster, and keeps
// connected to all of them.
//
// There is no central server and no DHT. Each node is configured with its own
// ed25519 identity, the public keys of the region's trust anchors with a
// threshold, and the newest signed roster it holds (package roster). New
// verifies that roster, listens on TCP and QUIC v1 (Noise or TLS 1.3 for
// security on TCP), and dials every other member at the addresses the roster
// lists, backing off from those it cannot reach:
//
//	cfg := federation.DefaultConfig()
//	cfg.Identity, cfg.Region = nodeKey, "London"
//	cfg.Anchors, cfg.Threshold = anchorKeys, 2
//	cfg.Roster = signedRoster
//	h, err := federation.New(ctx, cfg)
//	...
//	defer h.Close()
//
// A connection gater checks the remote peer ID, proven by the security
// handshake, against the roster in force: a stranger completes no connection
// and opens no stream. UpdateRoster moves the host to a newer roster: the
// gater switches atomically and every connection of a peer no longer on the
// roster is closed at once. Observers registered with RosterUpdates are told
// of each change, in order, without loss; the gossip layer uses that to pass a
// new roster on.
//
// The gossip, rpc and Raft layers build on Libp2p(), the underlying host. The
// reasons for this design, and the resource limits chosen, are in DESIGN.md.
package federation
