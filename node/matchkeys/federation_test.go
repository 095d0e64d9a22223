package matchkeys_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/match"
	"nrmnet/federation/match/matchtest"
	"nrmnet/node/matchkeys"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// The whole path on three real libp2p hosts on loopback, as the node wires
// it: the issuer derives its child's keys and issues tokens; each receiver
// narrows its own cases to the alert's band and sex, derives their keys and
// asks. The receiver holding a variant of the child finds it; the one
// holding only unrelated children finds nothing; every OPRF answer agrees
// with comparing the keys directly (the equivalence the precision and recall
// figures rest on); and no canary or key crosses the wire.
func TestPrivateMatchingOverLoopback(t *testing.T) {
	const canary = "Canaryzq Wexford"
	d := mustDeriver(t, matchkeys.DefaultConfig())
	g := synthetic.New(11)
	now := g.Now()

	issuerHost, aHost, bHost := loopbackHost(t), loopbackHost(t), loopbackHost(t)
	for _, h := range []host.Host{aHost, bHost} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := h.Connect(ctx, peer.AddrInfo{ID: issuerHost.ID(), Addrs: issuerHost.Addrs()}); err != nil {
			t.Fatal(err)
		}
		cancel()
	}
	icfg := match.DefaultIssuerConfig()
	icfg.Host, icfg.Keys, icfg.Audit = issuerHost, match.NewMemoryKeyStore(), func(match.QueryRecord) error { return nil }
	is, err := match.NewIssuer(icfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = is.Close() })

	wire := &matchtest.Tap{}
	receiver := func(h host.Host) *match.Receiver {
		cfg := match.DefaultReceiverConfig()
		cfg.Host = wire.Opener(h)
		r, err := match.NewReceiver(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	a, b := receiver(aHost), receiver(bHost)

	// A's caseload: a variant of each alert's child among unrelated children.
	// B's: unrelated children only.
	const alerts, unrelated = 6, 40
	issued := []*v1.Case{synthetic.CanaryCase(g, canary)}
	issued = append(issued, g.Cases(alerts-1)...)
	type ownCase struct {
		id      v1.ID
		child   v1.ChildIdentity
		variant int // index into issued, or -1
	}
	var aCases, bCases []ownCase
	for i, c := range issued {
		aCases = append(aCases, ownCase{v1.NewID(), g.Variant(c), i})
	}
	for range unrelated {
		aCases = append(aCases, ownCase{v1.NewID(), g.Identity(), -1})
		bCases = append(bCases, ownCase{v1.NewID(), g.Identity(), -1})
	}

	var allKeys [][]byte
	bMatched := 0
	for i, c := range issued {
		own := d.Keys(c.Identity)
		band, sex := matchkeys.AlertFields(c.Identity, now)
		alert := &v1.CrossBorderAlert{ID: v1.NewID(), AgeBand: band, Sex: sex}
		alert.MatchTokens, err = is.IssueTokens(alert.ID, time.Now().Add(time.Hour), keyBytes(own))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range own {
			allKeys = append(allKeys, k.Bytes)
		}
		for _, side := range []struct {
			name  string
			r     *match.Receiver
			cases []ownCase
		}{{"A", a, aCases}, {"B", b, bCases}} {
			var cands []match.Candidate
			want := map[v1.ID]bool{}
			for _, oc := range side.cases {
				if !d.Candidate(oc.child, now, band, sex) {
					if oc.variant == i {
						t.Fatalf("alert %d: narrowing dropped the variant", i)
					}
					continue
				}
				ks := d.Keys(oc.child)
				if len(ks) == 0 {
					continue
				}
				for _, k := range ks {
					allKeys = append(allKeys, k.Bytes)
				}
				cands = append(cands, match.Candidate{Case: oc.id, Keys: keyBytes(ks)})
				if strongest(own, ks) > 0 {
					want[oc.id] = true
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			got, err := side.r.Match(ctx, issuerHost.ID(), alert, cands)
			cancel()
			if err != nil {
				t.Fatalf("alert %d, receiver %s: %v", i, side.name, err)
			}
			gotSet := map[v1.ID]bool{}
			for _, m := range got {
				gotSet[m.Case] = true
			}
			if len(gotSet) != len(want) {
				t.Errorf("alert %d, receiver %s: OPRF matched %d cases, direct key comparison %d", i, side.name, len(gotSet), len(want))
			}
			for id := range want {
				if !gotSet[id] {
					t.Errorf("alert %d, receiver %s: case %s shares a key but the OPRF did not match it", i, side.name, id)
				}
			}
			if side.name == "B" {
				bMatched += len(got)
			}
			if side.name == "A" && i == 0 && !gotSet[aCases[0].id] {
				t.Errorf("the variant of the canary child was not found")
			}
			t.Logf("alert %d (%s, %s): receiver %s asked about %d candidates, %d matched", i, band, sex, side.name, len(cands), len(got))
		}
	}

	if bMatched != 0 {
		t.Errorf("receiver B, holding only unrelated children, matched %d", bMatched)
	}

	captured := wire.Bytes()
	if len(captured) == 0 {
		t.Fatal("nothing captured")
	}
	for _, s := range []string{canary, strings.ToLower(canary), strings.ToUpper(canary), "Canaryzq", "Wexford"} {
		if bytes.Contains(captured, []byte(s)) {
			t.Errorf("the wire carries %q", s)
		}
	}
	for _, k := range allKeys {
		if bytes.Contains(captured, k) {
			t.Fatalf("the wire carries an identity key %q", k)
		}
	}
}

func keyBytes(ks []matchkeys.Key) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = k.Bytes
	}
	return out
}

func loopbackHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}
