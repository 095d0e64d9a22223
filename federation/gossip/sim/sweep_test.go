package sim

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"

	"nrmnet/schemas/authority"
)

// setting is one row of the virtual-time sweep: a router and what it
// changes from the production options.
type setting struct {
	name string
	// national says whether the setting also runs in the national
	// scenarios (region-only settings would only add rows), regions
	// whether it runs in the regions one.
	regions, national bool
	set               func(*Config)
}

// meshDegree returns GossipSub parameters with the mesh degree changed and
// the rest at the library's defaults.
func meshDegree(d, lo, hi, score, out int) *pubsub.GossipSubParams {
	p := pubsub.DefaultGossipSubParams()
	p.D, p.Dlo, p.Dhi, p.Dscore, p.Dout = d, lo, hi, score, out
	return &p
}

func withParams(p *pubsub.GossipSubParams, f func(*pubsub.GossipSubParams)) *pubsub.GossipSubParams {
	c := *p
	f(&c)
	return &c
}

// sweepSettings are the rows of TestSweep. "production" is
// gossip.RouterOptions as committed, whatever its parameters are, and
// nationally the national router's direct peers as the nodes set them
// (bridges with each other and with their region's members: DirectBridges
// and BridgeFanout, on by default in the national scenarios).
func sweepSettings() []setting {
	def := pubsub.DefaultGossipSubParams()
	d3 := meshDegree(3, 2, 4, 1, 0)
	hb := func(p *pubsub.GossipSubParams, every time.Duration) *pubsub.GossipSubParams {
		return withParams(p, func(p *pubsub.GossipSubParams) {
			p.HeartbeatInterval = every
			// The same 5 s of history and 3 s of gossip as at 1 s.
			p.HistoryLength, p.HistoryGossip = int(5*time.Second/every), int(3*time.Second/every)
		})
	}
	return []setting{
		{"floodsub", true, true, func(c *Config) { c.Protocol, c.DirectBridges, c.BridgeFanout = FloodSub, false, false }},
		{"production", true, true, func(c *Config) {}},
		// The library's defaults, production's mesh before this sweep.
		{"D6 library-defaults", true, true, func(c *Config) { c.GossipSubParams = &def }},
		{"D6 IDONTWANT-every-message", true, false, func(c *Config) {
			c.GossipSubParams = withParams(&def, func(p *pubsub.GossipSubParams) { p.IDontWantMessageThreshold = 1 })
		}},
		{"D6 flood-publish-off", true, false, func(c *Config) {
			c.GossipSubParams = &def
			c.RouterOptions = []pubsub.Option{pubsub.WithFloodPublish(false)}
		}},
		{"D5 lo4 hi8", true, false, func(c *Config) { c.GossipSubParams = meshDegree(5, 4, 8, 3, 1) }},
		{"D5 lo4 hi6", true, false, func(c *Config) { c.GossipSubParams = meshDegree(5, 4, 6, 3, 1) }},
		{"D4 lo4 hi6", true, false, func(c *Config) { c.GossipSubParams = meshDegree(4, 4, 6, 2, 1) }},
		{"D4 lo3 hi4", true, false, func(c *Config) { c.GossipSubParams = meshDegree(4, 3, 4, 2, 1) }},
		{"D3 lo3 hi5", true, false, func(c *Config) { c.GossipSubParams = meshDegree(3, 3, 5, 1, 0) }},
		{"D3 lo3 hi4", true, false, func(c *Config) { c.GossipSubParams = meshDegree(3, 3, 4, 1, 0) }},
		{"D3 lo2 hi4", true, true, func(c *Config) { c.GossipSubParams = d3 }},
		{"D3 heartbeat-250ms", true, false, func(c *Config) { c.GossipSubParams = hb(d3, 250*time.Millisecond) }},
		{"D3 heartbeat-100ms", true, false, func(c *Config) { c.GossipSubParams = hb(d3, 100*time.Millisecond) }},
		{"D3 Dlazy12-factor0.5", true, false, func(c *Config) {
			c.GossipSubParams = withParams(d3, func(p *pubsub.GossipSubParams) { p.Dlazy, p.GossipFactor = 12, 0.5 })
		}},
		{"D2 lo1 hi3", true, true, func(c *Config) { c.GossipSubParams = meshDegree(2, 1, 3, 1, 0) }},
		// National only: a region has no bridges.
		{"production bridges-only", false, true, func(c *Config) { c.BridgeFanout = false }},
		{"production no-direct", false, true, func(c *Config) { c.DirectBridges, c.BridgeFanout = false, false }},
	}
}

// TestSweep is the virtual-time sweep behind docs/benchmarks.md: every
// setting of sweepSettings at 0% and 30% loss, over every region (207
// nodes, one region after another) and, for the settings marked national,
// over the national scenario with 1 and 2 bridges per region (207 nodes on
// one topic), each row in its own testing/synctest bubble so that latency is
// protocol time (links, heartbeats) and not CPU scheduling. It checks that
// no delivery beats its floor and that every row delivers 100% after
// repair, and prints a Markdown table. It runs only with NRMNET_SIM_SWEEP
// set: to "1" for every setting, or to a comma-separated list of setting
// names. NRMNET_SIM_MESSAGES changes the alerts per run (60: per region, or
// in all for a national run), NRMNET_SIM_SCENARIOS the scenarios
// ("regions,national-1,national-2"). A row costs its CPU work only: 3 to 60
// s of wall time on the shared 2-core machine, depending on its load; the
// whole sweep 6 minutes on a quiet machine, up to an hour under load:
//
//	NRMNET_SIM_SWEEP=1 go test -run TestSweep -v -timeout 90m ./federation/gossip/sim/
func TestSweep(t *testing.T) {
	which := os.Getenv("NRMNET_SIM_SWEEP")
	if which == "" {
		t.Skip("set NRMNET_SIM_SWEEP=1 (or a list of setting names) to run the sweep")
	}
	messages := 60
	if s := os.Getenv("NRMNET_SIM_MESSAGES"); s != "" {
		var err error
		if messages, err = strconv.Atoi(s); err != nil || messages < 1 {
			t.Fatalf("NRMNET_SIM_MESSAGES=%q is not a positive number", s)
		}
	}
	scenarios := strings.Split(cmp.Or(os.Getenv("NRMNET_SIM_SCENARIOS"), "regions,national-1,national-2"), ",")
	var rows []string
	for _, s := range sweepSettings() {
		if which != "1" && !slices.Contains(strings.Split(which, ","), s.name) {
			continue
		}
		for _, scenario := range scenarios {
			if national := strings.HasPrefix(scenario, "national"); national && !s.national || !national && !s.regions {
				continue
			}
			for _, loss := range []float64{0, 0.3} {
				var res *Result
				virtual(t, func(t *testing.T) {
					res = sweepRow(t, scenario, loss, messages, s.set)
				})
				rows = append(rows, tableRow(fmt.Sprintf("%s | %s | %.0f%%", s.name, scenario, loss*100), res))
				t.Log(rows[len(rows)-1])
				if _, below := res.Counts(); below > 0 || res.DeliveredRatio() != 1 {
					t.Errorf("%d deliveries beat their floor; delivered %.2f%% after %d repair rounds", below, res.DeliveredRatio()*100, res.RepairRounds)
				}
			}
		}
	}
	t.Logf("virtual time, %d alerts per region (national: %d in all)\n%s\n%s", messages, messages, tableHeader, strings.Join(rows, "\n"))
}

const tableHeader = "| setting | scenario | loss | p50 / floor | p99 / floor | max / floor | p99 / path | late-% | p99-ms | dups/delivery | bytes/node | gossip-% | delivered-% | repaired | rounds |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

func tableRow(name string, r *Result) string {
	repaired, _ := r.Counts()
	return fmt.Sprintf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.2f | %.0f | %.2f | %.2f | %d | %d |",
		name, r.Stretch(0.5), r.Stretch(0.99), r.Stretch(1), r.PathStretch(0.99), r.LateShare(1.3)*100, r.Latency(0.99).Seconds()*1000,
		r.DuplicatesPerDelivery(), r.BytesPerNode(), r.GossipRatio()*100, r.DeliveredRatio()*100, repaired, r.RepairRounds)
}

// sweepRow runs one scenario ("regions": every region one after another;
// "national-N": the national topic with N bridges per region) and checks
// what every run must satisfy.
func sweepRow(t *testing.T, scenario string, loss float64, messages int, set func(*Config)) *Result {
	t.Helper()
	var cfgs []Config
	base := DefaultConfig()
	base.Loss, base.Messages = loss, messages
	base.Logger = slog.New(slog.DiscardHandler)
	switch {
	case scenario == "regions":
		for _, region := range authority.Regions() {
			c := base
			c.Region = region
			cfgs = append(cfgs, c)
		}
	case strings.HasPrefix(scenario, "national-"):
		b, err := strconv.Atoi(strings.TrimPrefix(scenario, "national-"))
		if err != nil {
			t.Fatalf("scenario %q", scenario)
		}
		c := base
		c.Region, c.Bridges = National, b
		c.DirectBridges, c.BridgeFanout = true, true // as the nodes peer
		// An ordinary member pulls only from its own region, so an alert a
		// whole region missed must first reach its bridge, which picks
		// another region's bridge for a third of its pulls: give the
		// repair more rounds than a region needs.
		c.RepairRounds = 50
		cfgs = append(cfgs, c)
	default:
		t.Fatalf("unknown scenario %q", scenario)
	}
	var all []*Result
	for _, c := range cfgs {
		set(&c)
		res, err := Run(context.Background(), c)
		if err != nil {
			t.Fatalf("%s: %v", c.Region, err)
		}
		all = append(all, res)
	}
	return Merge(all...)
}
