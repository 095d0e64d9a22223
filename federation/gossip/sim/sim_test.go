package sim

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"nrmnet/schemas/authority"
)

// smallConfig is a fast run over the first nodes of London.
func smallConfig(t *testing.T, p Protocol, loss float64) Config {
	cfg := DefaultConfig()
	cfg.Region = "London"
	cfg.Nodes = 8
	cfg.Protocol = p
	cfg.Loss = loss
	cfg.Messages = 5
	// Longer than an alert takes to cross the graph: mocknet holds writes
	// that pile up on a stream until the earlier ones are due, so an alert
	// published at the instant its publisher relays the previous one to the
	// same peer can arrive a link late (DESIGN.md), and checkAtFloor fail.
	cfg.PublishGap = 100 * time.Millisecond
	cfg.Warmup = 1200 * time.Millisecond
	cfg.Settle = 500 * time.Millisecond
	cfg.Timeout = time.Minute
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	return cfg
}

// checkHonest asserts what every run must satisfy, whatever the timing:
// complete delivery, each delivery once, no delivery faster than its floor,
// floors equal to hops x latency, and the counters filled in.
func checkHonest(t *testing.T, cfg Config, res *Result) {
	t.Helper()
	n := cfg.Nodes
	if res.Nodes != n || res.Messages != cfg.Messages || res.Expected != cfg.Messages*(n-1) {
		t.Fatalf("nodes %d messages %d expected %d, want %d %d %d", res.Nodes, res.Messages, res.Expected, n, cfg.Messages, cfg.Messages*(n-1))
	}
	if len(res.Deliveries) != res.Expected || res.DeliveredRatio() != 1 {
		t.Fatalf("delivered %d of %d", len(res.Deliveries), res.Expected)
	}
	repaired, gossiped := 0, 0
	for i, d := range res.Deliveries {
		if d.Hops < 1 || d.Floor != time.Duration(d.Hops)*cfg.Latency {
			t.Fatalf("delivery %d: hops %d floor %s, latency %s", i, d.Hops, d.Floor, cfg.Latency)
		}
		if d.Latency < d.Floor {
			t.Fatalf("delivery %d took %s, under its floor %s: the clock or the floor is wrong", i, d.Latency, d.Floor)
		}
		// The path the first copy took is never shorter than the shortest
		// one, and crossing it takes at least its links' latency.
		if d.PathHops < d.Hops || d.PathFloor != time.Duration(d.PathHops)*cfg.Latency || d.Latency < d.PathFloor {
			t.Fatalf("delivery %d: path %d hops (%s) against shortest %d, took %s", i, d.PathHops, d.PathFloor, d.Hops, d.Latency)
		}
		switch d.Via {
		case ViaGossip:
			gossiped++
		case ViaRepair:
			repaired++
		default:
			t.Fatalf("delivery %d via %q", i, d.Via)
		}
	}
	// Gossip copies still in flight when the repair starts may land during
	// it, so the count at the end of settle is a lower bound.
	if gossiped+repaired != res.Expected || res.GossipDelivered > gossiped {
		t.Fatalf("gossip %d (%d by the end of settle) + repair %d != expected %d", gossiped, res.GossipDelivered, repaired, res.Expected)
	}
	if p50, p99 := res.Latency(0.5), res.Latency(0.99); p50 < cfg.Latency || p99 < p50 {
		t.Fatalf("p50 %s p99 %s", p50, p99)
	}
	if len(res.PubsubBytes) != n || len(res.RepairBytes) != n || res.BytesPerNode() <= 0 {
		t.Fatalf("bytes per node %v %v", res.PubsubBytes, res.RepairBytes)
	}
	for i, b := range res.RepairBytes {
		if b == 0 {
			t.Fatalf("node %d wrote no repair bytes: the repair pass did not run", i)
		}
	}
	if cfg.Loss == 0 && res.DroppedRPCs != 0 {
		t.Fatalf("dropped %d RPCs without loss", res.DroppedRPCs)
	}
	if cfg.Loss > 0 && res.DroppedRPCs == 0 {
		t.Fatalf("loss %.2f dropped nothing", cfg.Loss)
	}
	if res.QueueDrops != 0 || res.Rejected != 0 || res.Undeliverable != 0 {
		t.Fatalf("pubsub dropped %d outgoing RPCs, refused %d messages, could not hand over %d", res.QueueDrops, res.Rejected, res.Undeliverable)
	}
	if res.RepairRounds < 1 {
		t.Fatalf("repair rounds %d", res.RepairRounds)
	}
	t.Logf("%s loss %.0f%%: p50 %s p99 %s floor %s dups/delivery %.2f bytes/node %.0f gossip %.1f%% repaired %d dropped %d rounds %d",
		cfg.Protocol, cfg.Loss*100, res.Latency(0.5), res.Latency(0.99), res.Floor(0.99),
		res.DuplicatesPerDelivery(), res.BytesPerNode(), res.GossipRatio()*100, repaired, res.DroppedRPCs, res.RepairRounds)
}

// virtual runs f in a testing/synctest bubble: time is virtual and moves
// only when every goroutine of the simulation waits, so a latency is the
// protocol's (links, heartbeats), never CPU scheduling, and exact.
//
// Under the race detector it runs with GOMAXPROCS 1: timers of one bubble
// firing on several threads at once break ThreadSanitizer's state (Go issue
// 78156; go-libp2p-pubsub's own synctest tests do the same).
func virtual(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	if raceEnabled {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
	}
	synctest.Test(t, f)
}

// checkAtFloor asserts that every delivery came by gossip exactly at its
// floor: what a lossless run in virtual time must give when every node is
// one mesh or flood hop from the publisher on a shortest path.
func checkAtFloor(t *testing.T, res *Result) {
	t.Helper()
	for i, d := range res.Deliveries {
		if d.Via != ViaGossip || d.Latency != d.Floor {
			t.Fatalf("delivery %d (%d hops) via %s took %s, want exactly its floor %s", i, d.Hops, d.Via, d.Latency, d.Floor)
		}
		// At its floor, the first copy came the shortest way, and the
		// path it took says so.
		if d.PathHops != d.Hops || d.PathFloor != d.Floor {
			t.Fatalf("delivery %d at its floor of %d hops: path %d hops (%s)", i, d.Hops, d.PathHops, d.PathFloor)
		}
	}
	if res.PathStretch(1) != 1 || res.LateShare(1) != 0 {
		t.Fatalf("path stretch max %.2f, late share %.3f; want 1 and 0", res.PathStretch(1), res.LateShare(1))
	}
}

func TestSmallRegionDeliversEverything(t *testing.T) {
	for _, p := range []Protocol{GossipSub, FloodSub} {
		for _, loss := range []float64{0, 0.3} {
			t.Run(string(p)+"/loss="+map[bool]string{true: "30", false: "0"}[loss > 0], func(t *testing.T) {
				virtual(t, func(t *testing.T) {
					cfg := smallConfig(t, p, loss)
					res, err := Run(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					checkHonest(t, cfg, res)
					if loss == 0 {
						// Flood publish (and FloodSub) on a full mesh: one hop.
						checkAtFloor(t, res)
					}
					if loss == 0 && res.DuplicatesPerDelivery() == 0 && p == FloodSub {
						t.Fatalf("floodsub on a full mesh of %d counted no duplicates: the tracer is not counting", cfg.Nodes)
					}
				})
			})
		}
	}
}

// The same run in real time: the mode BenchmarkRegions uses, where CPU
// cost and scheduling show in the latencies (so nothing here compares them
// with the floor beyond "not below it").
func TestRealTimeSmallRegion(t *testing.T) {
	cfg := smallConfig(t, GossipSub, 0.3)
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkHonest(t, cfg, res)
}

// Under heavy loss with no time to settle, gossip alone misses alerts and
// the digest repair must bring delivery to every node.
func TestRepairCompletesHeavyLoss(t *testing.T) {
	virtual(t, func(t *testing.T) {
		cfg := smallConfig(t, GossipSub, 0.9)
		cfg.Settle, cfg.PublishGap = 0, 20*time.Millisecond
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkHonest(t, cfg, res)
		// The repair starts one publish gap (20 ms, one link) after the last
		// publish: that alert cannot have reached 7 nodes through 90% loss
		// (0.1^7), so the repair must have fetched something.
		if repaired, _ := res.Counts(); repaired == 0 {
			t.Fatalf("no delivery came by repair: gossip delivered %d of %d", res.GossipDelivered, res.Expected)
		}
		t.Logf("delivered by the end of settle: %d of %d", res.GossipDelivered, res.Expected)
	})
}

// On a chain the floor of each delivery is its distance, and in virtual
// time without loss every delivery arrives exactly then.
func TestLineFloor(t *testing.T) {
	virtual(t, func(t *testing.T) {
		cfg := smallConfig(t, GossipSub, 0)
		cfg.Nodes = 4
		cfg.Links = Line(4)
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkHonest(t, cfg, res)
		checkAtFloor(t, res)
		if h := slices.MaxFunc(res.Deliveries, func(a, b Delivery) int { return a.Hops - b.Hops }).Hops; h > 3 {
			t.Fatalf("a delivery %d hops away on a line of 4", h)
		}
	})
}

// The national scenario, small: 3 nodes of each region, one bridge each.
// Every alert reaches every node of every region, none faster than its
// shortest path, and the farthest pairs are 3 hops apart.
func TestNationalBridged(t *testing.T) {
	virtual(t, func(t *testing.T) {
		cfg := smallConfig(t, GossipSub, 0)
		cfg.Region, cfg.Nodes, cfg.Bridges = National, 3, 1
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Nodes = 3 * len(authority.Regions())
		checkHonest(t, cfg, res)
		far := slices.MaxFunc(res.Deliveries, func(a, b Delivery) int { return a.Hops - b.Hops }).Hops
		if far != 3 {
			t.Fatalf("farthest delivery %d hops, want 3 (member, bridge, bridge, member)", far)
		}
	})
}

// With the bridges each other's direct peers, every bridge forwards every
// alert to every other bridge, and each region's few members are all in
// their bridge's mesh: without loss, every delivery is exactly at its floor.
func TestNationalDirectBridges(t *testing.T) {
	virtual(t, func(t *testing.T) {
		cfg := smallConfig(t, GossipSub, 0)
		cfg.Region, cfg.Nodes, cfg.Bridges, cfg.DirectBridges = National, 3, 1, true
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Nodes = 3 * len(authority.Regions())
		checkHonest(t, cfg, res)
		checkAtFloor(t, res)
	})
}

// With 9 members a region no longer fits in its bridge's mesh (D 4 to 6),
// so with the bridges peered only with each other some members get an
// alert from another region a hop late; with each bridge also peered with
// its own region's members, as the nodes' national router is, every
// delivery is exactly at its floor.
func TestNationalBridgeFanout(t *testing.T) {
	run := func(t *testing.T, fanout bool) *Result {
		cfg := smallConfig(t, GossipSub, 0)
		cfg.Region, cfg.Nodes, cfg.Bridges, cfg.DirectBridges, cfg.BridgeFanout = National, 9, 1, true, fanout
		cfg.Messages = 10
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Nodes = 9 * len(authority.Regions())
		checkHonest(t, cfg, res)
		return res
	}
	virtual(t, func(t *testing.T) {
		checkAtFloor(t, run(t, true))
	})
	virtual(t, func(t *testing.T) {
		if res := run(t, false); res.Stretch(1) <= 1 {
			t.Fatalf("without fan-out every delivery was at its floor (max stretch %.2f): the test no longer shows what fan-out changes", res.Stretch(1))
		}
	})
}

func TestBridged(t *testing.T) {
	groups := [][]int{{0, 1, 2}, {3, 4, 5}, {6, 7}}
	l := Bridged(groups, 1)
	// 3 + 3 + 1 links inside the groups, 3 between the bridges 0, 3, 6.
	if len(l) != 10 || !connected(8, l) {
		t.Fatalf("%d links %v", len(l), l)
	}
	if got := hops(8, l, 1); !slices.Equal(got, []int{1, 0, 1, 2, 3, 3, 2, 3}) {
		t.Fatalf("hops from 1: %v", got)
	}
	if got := hops(8, Bridged(groups, 2), 1); !slices.Equal(got, []int{1, 0, 1, 1, 1, 2, 1, 1}) {
		t.Fatalf("hops from bridge 1 with 2 bridges: %v", got)
	}
	d := directBridges(groups, 1, false)
	if len(d) != 3 || !slices.Equal(d[0], []int{3, 6}) || !slices.Equal(d[6], []int{0, 3}) {
		t.Fatalf("direct bridges %v", d)
	}
	// With fan-out a bridge also holds its own region's members, and
	// each member its bridge.
	d = directBridges(groups, 1, true)
	if !slices.Equal(d[0], []int{3, 6, 1, 2}) || !slices.Equal(d[1], []int{0}) || !slices.Equal(d[7], []int{6}) || len(d) != 8 {
		t.Fatalf("direct bridges with fan-out %v", d)
	}
}

func TestHops(t *testing.T) {
	if got := hops(4, Line(4), 0); !slices.Equal(got, []int{0, 1, 2, 3}) {
		t.Fatalf("line from 0: %v", got)
	}
	if got := hops(4, Line(4), 2); !slices.Equal(got, []int{2, 1, 0, 1}) {
		t.Fatalf("line from 2: %v", got)
	}
	if got := hops(5, FullMesh(5), 3); !slices.Equal(got, []int{1, 1, 1, 0, 1}) {
		t.Fatalf("full mesh from 3: %v", got)
	}
	if len(FullMesh(33)) != 33*32/2 {
		t.Fatalf("full mesh of 33 has %d links", len(FullMesh(33)))
	}
	g := RandomGraph(33, 6, 1)
	if !connected(33, g) {
		t.Fatal("random graph not connected")
	}
	if connected(4, [][2]int{{0, 1}, {2, 3}}) {
		t.Fatal("two islands reported connected")
	}
}

func TestQuantile(t *testing.T) {
	var ds []Delivery
	for i := 100; i >= 1; i-- {
		ds = append(ds, Delivery{Latency: time.Duration(i) * time.Millisecond, Floor: 20 * time.Millisecond})
	}
	r := &Result{Deliveries: ds, Expected: 100}
	if r.Latency(0.5) != 50*time.Millisecond || r.Latency(0.99) != 99*time.Millisecond || r.Latency(1) != 100*time.Millisecond {
		t.Fatalf("p50 %s p99 %s p100 %s", r.Latency(0.5), r.Latency(0.99), r.Latency(1))
	}
	if r.Floor(0.99) != 20*time.Millisecond || r.DeliveredRatio() != 1 {
		t.Fatalf("floor %s ratio %f", r.Floor(0.99), r.DeliveredRatio())
	}
	if (&Result{}).Latency(0.5) != 0 {
		t.Fatal("empty result has a latency")
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Region = authority.Regions()[0]
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	national := good
	national.Region, national.Nodes, national.Bridges = National, 3, 2
	if err := national.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(c *Config){
		"region":   func(c *Config) { c.Region = "Atlantis" },
		"nodes":    func(c *Config) { c.Nodes = 1000 },
		"protocol": func(c *Config) { c.Protocol = "randomsub" },
		"loss":     func(c *Config) { c.Loss = 1 },
		"messages": func(c *Config) { c.Messages = 0 },
		"rounds":   func(c *Config) { c.RepairRounds = 0 },
		"links":    func(c *Config) { c.Nodes = 4; c.Links = [][2]int{{0, 1}, {2, 3}} },
		"self":     func(c *Config) { c.Nodes = 4; c.Links = [][2]int{{1, 1}} },
		"bridges":  func(c *Config) { c.Region, c.Bridges = National, 0 },
		"direct":   func(c *Config) { c.DirectBridges = true },
		"national": func(c *Config) { c.Region, c.Nodes = National, 100 },
		"one node": func(c *Config) { c.Nodes = 1 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

func FuzzDecodeIDs(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef"))
	f.Add([]byte(""))
	f.Add([]byte("0123456789ABCDEF0123456789abcdef"))
	f.Add([]byte("0123456789abcdef0123456789abcde"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := decodeIDs(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for _, id := range ids {
			if !id.Valid() {
				t.Fatalf("accepted invalid ID %q", id)
			}
		}
		if got := encodeIDs(ids); string(got) != string(b) {
			t.Fatalf("round trip %q != %q", got, b)
		}
	})
}
