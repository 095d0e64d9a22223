// Package gossip carries a region's cross-border alerts and status
// heartbeats over GossipSub on the federation's libp2p host, and makes alert
// delivery reliable on top of it.
//
// Three topics per node, each with one validator that Rejects what is
// malformed or forged (bad pubsub or issuer signature, signer or issuer not
// on the roster, wrong region, wrong role) and Ignores what is stale
// (expired, duplicate, replayed):
//
//	/nrmnet/alerts/1/region/<region>  alerts whose targets all lie in the region
//	/nrmnet/alerts/1/national         alerts for cross-region cases (county lines)
//	/nrmnet/status/1/region/<region>  signed heartbeats for the regional view
//
// Gossip alone is not reliable, so an alert is also:
//
//   - kept in the issuer's outbox (Outbox, implemented by storage) and
//     re-published with backoff until every targeted authority has sent a
//     signed AlertAck over /nrmnet/alert-ack/1, or the alert expires;
//   - recorded by every receiver in a persistent seen-set (SeenStore,
//     implemented by storage) until it expires, so a replay is refused after
//     a restart, and a live alert can be served to peers;
//   - exchanged by digest over /nrmnet/alert-digest/1 ("here are the live
//     alert IDs I hold" / "send me these") with a random peer periodically and
//     with every peer that connects, so a node that was down or partitioned
//     receives every live alert when it returns.
//
// The node sees only targeted, validated alerts, through Config.Handler; it
// stores the alert and checks for matches, and this package then signs and
// sends the acknowledgement. Use:
//
//	cfg := gossip.DefaultConfig()
//	cfg.Host, cfg.Identity = host, nodeKey
//	cfg.Outbox, cfg.Seen = outboxAdapter{store}, store
//	cfg.Handler = gossip.AlertHandlerFunc(node.ReceiveAlert)
//	cfg.Status = node.FederationStatus
//	svc, err := gossip.New(ctx, cfg)
//	...
//	receipt, err := svc.Publish(ctx, alert)
//	view := svc.RegionView()
//
// Why it is built this way is in DESIGN.md.
package gossip
