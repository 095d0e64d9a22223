package sim

import (
	"slices"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"google.golang.org/protobuf/proto"
)

// How an alert reached a node.
const (
	ViaGossip = "gossip"
	ViaRepair = "repair"
)

// Delivery is one alert reaching one node other than its publisher, the
// first time.
type Delivery struct {
	// Latency runs from just before Publish at the publisher to the
	// receiver's subscription handing the message over (or the repair
	// frame being read).
	Latency time.Duration
	// Floor is Hops x the link latency: no delivery can be faster.
	Floor time.Duration
	Hops  int
	// PathHops is the links the first copy actually crossed: its
	// sender's own PathHops plus one (the publisher's is 0). PathHops x
	// the link latency is the floor of the path the router chose; the
	// time over it is time spent waiting (a heartbeat, an IHAVE/IWANT
	// round trip, a repair), not on links.
	PathHops  int
	PathFloor time.Duration
	Via       string
}

// Result is what one or more runs measured.
type Result struct {
	Nodes    int
	Messages int
	// Expected is Messages x (nodes - 1) summed over runs: the deliveries
	// that complete delivery needs.
	Expected   int
	Deliveries []Delivery
	// GossipDelivered counts deliveries made by the end of settle, before
	// the repair pass (gossip copies still in flight may land during it:
	// count Deliveries by Via for the final split).
	GossipDelivered int
	// Duplicates counts messages pubsub received again after the first
	// copy (its DuplicateMessage trace) during the measured phase.
	Duplicates int64
	// DroppedRPCs counts incoming RPCs the loss model dropped.
	DroppedRPCs int64
	// QueueDrops counts outgoing RPCs pubsub itself dropped (its DropRPC
	// trace: a peer's send queue full), Rejected the messages a validator
	// or pubsub refused or ignored (RejectMessage), Undeliverable those a
	// subscription's buffer had no room for: each 0 in a healthy run.
	QueueDrops, Rejected, Undeliverable int64
	// PubsubBytes is, per node, the protobuf size of every RPC its router
	// sent during the measured phase (messages and control, without
	// stream framing); RepairBytes the bytes it wrote on repair streams.
	PubsubBytes []int64
	RepairBytes []int64
	// RepairRounds is the digest rounds run, summed over runs.
	RepairRounds int
	// Window is the measured gossip phase, summed over runs.
	Window time.Duration
}

func (r *run) result(links [][2]int, gossipDelivered, rounds int, window time.Duration) *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := &Result{
		Nodes:           len(r.nodes),
		Messages:        len(r.published),
		Expected:        len(r.published) * (len(r.nodes) - 1),
		Deliveries:      slices.Clone(r.received),
		GossipDelivered: gossipDelivered,
		RepairRounds:    rounds,
		Window:          window,
	}
	for _, n := range r.nodes {
		res.Duplicates += n.trace.duplicates.Load()
		res.DroppedRPCs += n.trace.dropped.Load()
		res.QueueDrops += n.trace.queueDrops.Load()
		res.Rejected += n.trace.rejected.Load()
		res.Undeliverable += n.trace.undeliverable.Load()
		res.PubsubBytes = append(res.PubsubBytes, n.trace.sent.Load())
		res.RepairBytes = append(res.RepairBytes, n.trace.repairBytes.Load())
	}
	return res
}

// Merge adds the results of several runs (the regions of one sweep).
func Merge(rs ...*Result) *Result {
	m := &Result{}
	for _, r := range rs {
		m.Nodes += r.Nodes
		m.Messages += r.Messages
		m.Expected += r.Expected
		m.Deliveries = append(m.Deliveries, r.Deliveries...)
		m.GossipDelivered += r.GossipDelivered
		m.Duplicates += r.Duplicates
		m.DroppedRPCs += r.DroppedRPCs
		m.QueueDrops += r.QueueDrops
		m.Rejected += r.Rejected
		m.Undeliverable += r.Undeliverable
		m.PubsubBytes = append(m.PubsubBytes, r.PubsubBytes...)
		m.RepairBytes = append(m.RepairBytes, r.RepairBytes...)
		m.RepairRounds += r.RepairRounds
		m.Window += r.Window
	}
	return m
}

// Latency returns the q-quantile (0 to 1, nearest rank) of the delivery
// latencies; floor of the per-delivery floors.
func (r *Result) Latency(q float64) time.Duration {
	return quantile(r.Deliveries, q, func(d Delivery) time.Duration { return d.Latency })
}

// Floor returns the q-quantile of the per-delivery floors (hops x link
// latency). On a full mesh every floor is one link.
func (r *Result) Floor(q float64) time.Duration {
	return quantile(r.Deliveries, q, func(d Delivery) time.Duration { return d.Floor })
}

// Stretch returns the q-quantile of each delivery's latency over its own
// floor: 1 is a delivery at its floor. Where floors differ (a sparse graph,
// the national scenario) this is the figure to compare with the aim, not
// Latency over Floor.
func (r *Result) Stretch(q float64) float64 {
	return r.stretch(q, func(d Delivery) time.Duration { return d.Floor })
}

// PathStretch returns the q-quantile of each delivery's latency over the
// floor of the path its first copy took (PathHops x latency): 1 is a
// delivery that crossed its links without waiting anywhere. Stretch is
// against the shortest path of the graph, which is never longer.
func (r *Result) PathStretch(q float64) float64 {
	return r.stretch(q, func(d Delivery) time.Duration { return d.PathFloor })
}

// stretch is the q-quantile of latency over the floor f gives (0 where the
// floor is not positive).
func (r *Result) stretch(q float64, f func(Delivery) time.Duration) float64 {
	return float64(quantile(r.Deliveries, q, func(d Delivery) time.Duration {
		floor := f(d)
		if floor <= 0 {
			return 0
		}
		// Scaled to keep the ratio's precision in an integer.
		return d.Latency * 1000 / floor
	})) / 1000
}

// LateShare returns the share of deliveries whose latency is more than
// over times the floor of their own path (0 to 1): the deliveries that
// waited somewhere. A p99 within over x the path floor needs it under 1%.
func (r *Result) LateShare(over float64) float64 {
	if len(r.Deliveries) == 0 {
		return 0
	}
	late := 0
	for _, d := range r.Deliveries {
		if d.PathFloor > 0 && float64(d.Latency) > over*float64(d.PathFloor) {
			late++
		}
	}
	return float64(late) / float64(len(r.Deliveries))
}

// Counts returns how many deliveries came by repair, and how many were
// faster than their floor (which only a broken clock or floor allows).
func (r *Result) Counts() (repaired, belowFloor int) {
	for _, d := range r.Deliveries {
		if d.Via == ViaRepair {
			repaired++
		}
		if d.Latency < d.Floor {
			belowFloor++
		}
	}
	return repaired, belowFloor
}

func quantile(ds []Delivery, q float64, f func(Delivery) time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	v := make([]time.Duration, len(ds))
	for i, d := range ds {
		v[i] = f(d)
	}
	slices.Sort(v)
	k := int(q*float64(len(v))+0.999999) - 1
	return v[min(max(k, 0), len(v)-1)]
}

// DeliveredRatio is distinct deliveries over expected ones (1 is complete).
func (r *Result) DeliveredRatio() float64 {
	if r.Expected == 0 {
		return 0
	}
	return float64(len(r.Deliveries)) / float64(r.Expected)
}

// GossipRatio is the share of expected deliveries made before repair.
func (r *Result) GossipRatio() float64 {
	if r.Expected == 0 {
		return 0
	}
	return float64(r.GossipDelivered) / float64(r.Expected)
}

// DuplicatesPerDelivery is pubsub's duplicate receipts over deliveries.
func (r *Result) DuplicatesPerDelivery() float64 {
	if len(r.Deliveries) == 0 {
		return 0
	}
	return float64(r.Duplicates) / float64(len(r.Deliveries))
}

// BytesPerNode is the mean bytes a node sent (pubsub plus repair).
func (r *Result) BytesPerNode() float64 {
	if len(r.PubsubBytes) == 0 {
		return 0
	}
	var s int64
	for i := range r.PubsubBytes {
		s += r.PubsubBytes[i] + r.RepairBytes[i]
	}
	return float64(s) / float64(len(r.PubsubBytes))
}

// counter is a node's pubsub tracer: it counts, and only while the
// measured phase runs.
type counter struct {
	measuring   *atomic.Bool
	sent        atomic.Int64
	duplicates  atomic.Int64
	dropped     atomic.Int64
	repairBytes atomic.Int64

	queueDrops, rejected, undeliverable atomic.Int64
}

var _ pubsub.RawTracer = (*counter)(nil)

func (c *counter) SendRPC(rpc *pubsub.RPC, _ peer.ID) {
	if c.measuring.Load() {
		c.sent.Add(int64(proto.Size(&rpc.RPC)))
	}
}

func (c *counter) DuplicateMessage(*pubsub.Message) {
	if c.measuring.Load() {
		c.duplicates.Add(1)
	}
}

func (*counter) OnNewOutboundStream(peer.ID, protocol.ID)             {}
func (*counter) OnClosedOutboundStream(peer.ID)                       {}
func (*counter) AddPeer(peer.ID, protocol.ID)                         {}
func (*counter) RemovePeer(peer.ID)                                   {}
func (*counter) Join(string)                                          {}
func (*counter) Leave(string)                                         {}
func (*counter) Graft(peer.ID, string)                                {}
func (*counter) Prune(peer.ID, string)                                {}
func (*counter) ValidateMessage(*pubsub.Message)                      {}
func (*counter) DeliverMessage(*pubsub.Message)                       {}
func (c *counter) RejectMessage(*pubsub.Message, string)              { c.rejected.Add(1) }
func (c *counter) DropRPC(*pubsub.RPC, peer.ID)                       { c.queueDrops.Add(1) }
func (c *counter) UndeliverableMessage(*pubsub.Message)               { c.undeliverable.Add(1) }
func (*counter) ThrottlePeer(peer.ID)                                 {}
func (*counter) RecvRPC(*pubsub.RPC)                                  {}
func (*counter) SendRPCCompleted(*pubsub.RPC, peer.ID, time.Duration) {}
