package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"

	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// benchRegions is every region, or the comma-separated list in
// NRMNET_SIM_REGIONS (to run the largest alone when time is short).
func benchRegions() []string {
	if s := os.Getenv("NRMNET_SIM_REGIONS"); s != "" {
		return strings.Split(s, ",")
	}
	return authority.Regions()
}

// BenchmarkRegions runs every region of authority.All (207 nodes in 11
// mocknets, one after another, full mesh, 20 ms links), once per
// (protocol, loss) pair, in real time, and reports latency against the
// floor, duplicates, bytes and delivery. Real time puts the CPU cost of a
// whole region on one machine into the latencies; TestSweep gives the
// protocol's own latencies in virtual time. Run it with -benchtime=1x: one
// iteration is a whole sweep.
func BenchmarkRegions(b *testing.B) {
	for _, p := range []Protocol{GossipSub, FloodSub} {
		for _, loss := range []float64{0, 0.3} {
			b.Run(fmt.Sprintf("%s/loss=%.0f%%", p, loss*100), func(b *testing.B) {
				sweep(b, func(c *Config) { c.Protocol, c.Loss = p, loss })
			})
		}
	}
}

// sweep runs every benchRegions region one after another with DefaultConfig
// changed by set, and reports the merged result.
func sweep(b *testing.B, set func(*Config)) {
	var all []*Result
	for b.Loop() {
		for _, region := range benchRegions() {
			cfg := DefaultConfig()
			cfg.Region = region
			set(&cfg)
			cfg.Logger = slog.New(slog.NewTextHandler(b.Output(), nil))
			res, err := Run(context.Background(), cfg)
			if err != nil {
				b.Fatalf("%s: %v", region, err)
			}
			all = append(all, res)
		}
	}
	reportResult(b, Merge(all...))
}

func reportResult(b *testing.B, r *Result) {
	ms := func(d interface{ Seconds() float64 }) float64 { return d.Seconds() * 1000 }
	floor := r.Floor(0.99)
	b.ReportMetric(ms(r.Latency(0.5)), "p50-ms")
	b.ReportMetric(ms(r.Latency(0.99)), "p99-ms")
	b.ReportMetric(ms(floor), "floor-ms")
	if floor > 0 {
		b.ReportMetric(float64(r.Latency(0.99))/float64(floor), "p99/floor")
	}
	b.ReportMetric(r.DuplicatesPerDelivery(), "dups/delivery")
	b.ReportMetric(r.BytesPerNode(), "bytes/node")
	b.ReportMetric(r.DeliveredRatio()*100, "delivered-%")
	b.ReportMetric(r.GossipRatio()*100, "gossip-%")
	b.ReportMetric(float64(r.Nodes), "nodes")
	b.ReportMetric(float64(r.Messages), "alerts")
}

// BenchmarkAlertCPU measures the CPU one alert costs apart from the
// network: the issuer signing it, a receiver decoding and verifying it (the
// simulation's validator, once per hop), and pubsub's StrictSign signature
// over a message of the same size (made by the publisher, checked by every
// receiver).
func BenchmarkAlertCPU(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	env, _, err := signedAlert("CMD", priv, "London")
	if err != nil {
		b.Fatal(err)
	}
	r := &run{keys: map[v1.AuthorityCode]ed25519.PublicKey{"CMD": pub}}
	b.Run("issuer-sign", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := signedAlert("CMD", priv, "London"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(env)), "envelope-bytes")
	})
	b.Run("decode-verify", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.open(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	lk, err := crypto.UnmarshalEd25519PrivateKey(priv)
	if err != nil {
		b.Fatal(err)
	}
	msg := append([]byte("libp2p-pubsub:"), make([]byte, len(env)+80)...)
	sig, err := lk.Sign(msg)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pubsub-sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := lk.Sign(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pubsub-verify", func(b *testing.B) {
		for b.Loop() {
			if ok, err := lk.GetPublic().Verify(msg, sig); err != nil || !ok {
				b.Fatal("verify failed", err)
			}
		}
	})
}
