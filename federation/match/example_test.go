package match_test

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/match"
	v1 "nrmnet/schemas/v1"
)

// An issuer and a receiver on loopback. In a node, the keys come from
// node/matchkeys, the key store is the node's encrypted store, the audit
// goes to its audit log, and the host is federation.Host's Libp2p().
func Example() {
	issuerHost, _ := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	defer issuerHost.Close()
	receiverHost, _ := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	defer receiverHost.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = receiverHost.Connect(ctx, peer.AddrInfo{ID: issuerHost.ID(), Addrs: issuerHost.Addrs()})

	// Issuing an alert: tokens from the child's identity keys.
	icfg := match.DefaultIssuerConfig()
	icfg.Host, icfg.Keys = issuerHost, match.NewMemoryKeyStore()
	icfg.Audit = func(q match.QueryRecord) error {
		fmt.Printf("audit: alert queried, %d elements, %s\n", q.Elements, q.Status)
		return nil
	}
	issuer, _ := match.NewIssuer(icfg)
	defer issuer.Close()
	alert := &v1.CrossBorderAlert{ID: v1.NewID(), ExpiresAt: time.Now().Add(72 * time.Hour)}
	alert.MatchTokens, _ = issuer.IssueTokens(alert.ID, alert.ExpiresAt, [][]byte{[]byte("key-1"), []byte("key-2")})
	fmt.Println("tokens:", len(alert.MatchTokens))

	// Receiving it: ask about the candidate cases.
	rcfg := match.DefaultReceiverConfig()
	rcfg.Host = receiverHost
	receiver, _ := match.NewReceiver(rcfg)
	defer receiver.Close()
	ours := v1.NewID()
	matches, err := receiver.Match(ctx, issuerHost.ID(), alert, []match.Candidate{
		{Case: ours, Keys: [][]byte{[]byte("key-9"), []byte("key-2")}},
		{Case: v1.NewID(), Keys: [][]byte{[]byte("key-7")}},
	})
	fmt.Println("err:", err, "matches:", len(matches), "ours:", matches[0].Case == ours, "on key", matches[0].Keys)
	// Output:
	// tokens: 32
	// audit: alert queried, 3 elements, ok
	// err: <nil> matches: 1 ours: true on key [1]
}
