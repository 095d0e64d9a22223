// Package sim simulates alert gossip on an in-memory libp2p network
// (mocknet) with a fixed latency on every link, one region at a time or the
// whole country over bridges, and measures what the alert path costs:
// publish-to-delivered latency per receiver against the floor (shortest
// path in hops x link latency), duplicate receipts, bytes sent per node, and
// delivery under message loss with a digest repair pass modelled on
// federation/gossip/digest.go.
//
// It runs GossipSub with the production settings (gossip.RouterOptions, the
// options every node runs with) and FloodSub as the baseline. Run inside a
// testing/synctest bubble, latencies are virtual time: protocol hops and
// heartbeats, not CPU scheduling. It is a measuring tool for benchmarks and
// tests, not part of a running node; DESIGN.md says how time, loss, repair
// and the metrics are modelled.
package sim
