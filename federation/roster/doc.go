// Package roster is a region's signed membership list: which authorities'
// nodes belong to the regional federation, under which libp2p peer IDs, at
// which addresses, in which roles and panels, and which team to contact for
// an alert. The connection gater admits only peers on the current verified
// roster, and gossip validators look up an issuer's key in it.
//
// A roster is trusted only when enough of the region's trust anchors have
// signed it. The anchors' public keys and the threshold are configured on each
// node and are never read from the roster itself, so a roster cannot vouch for
// its own signers:
//
//	signed, _ := roster.Sign(r, anchorKey1)   // the first anchor signs
//	_ = signed.AddSignature(anchorKey2)        // a second anchor countersigns
//	b, _ := signed.Encode()                    // the bytes nodes exchange
//	r, err := roster.Verify(b, anchors, 2, time.Now())
//
// Every roster carries a serial number. A node replaces its roster only with a
// valid one of a higher serial; that is how a member is revoked. A valid
// roster with the serial a node already holds but different content is a
// conflict (an anchor signed two different rosters under one serial) and is
// refused; an older one is ignored. See Supersede.
//
// On the wire and on disk a roster is two nested envelopes in the canonical
// encoding of package schemas: the roster itself, sealed as KindRoster, is
// held as a byte string inside a KindSignedRoster envelope beside the
// signatures over exactly those bytes. Signatures are kept sorted by key, so a
// signed roster, too, has exactly one encoding.
//
// The design and its reasons are in ../DESIGN.md.
package roster
