// Package nodetest is an in-process harness for tests: N whole authority
// nodes on loopback, each with its own encrypted Badger store on disk, its
// node.Node and node.CrossBorder, a federation.Host admitted by a roster the
// harness signs as the region's trust anchors, gossip, and the private-match
// issuer and receiver, wired as the composition root wires them.
//
//	c := nodetest.New(t, nodetest.Config{Nodes: 3})
//	a, b := c.Nodes[0], c.Nodes[1]
//	raised, err := a.CrossBorder.RaiseAlert(ctx, a.Worker, node.NewAlert{...})
//	c.Eventually("B has a task", func() bool { ... })
//
// Every part is exposed on Node so a test can reach under the application
// (the store, the host, the gossip service), and what crosses the wire to a
// node (alert envelopes handed to it, match streams it opens) is recorded for
// leak tests. Everything is closed by t.Cleanup in the reverse order of
// starting. It is for tests only.
package nodetest
