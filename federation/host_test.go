package federation_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"nrmnet/federation"
	"nrmnet/federation/roster"
	"nrmnet/schemas"
)

func TestFiveMembersConnect(t *testing.T) {
	nodes := newNodes(5)
	start := time.Now()
	startRegion(t, nodes)
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				id := b.peerID(t)
				eventually(t, string(a.code)+" connected to "+string(b.code), func() bool { return connected(a, id) })
			}
		}
	}
	t.Logf("full mesh of %d in %v", len(nodes), time.Since(start).Round(time.Millisecond))
	for _, n := range nodes {
		select {
		case <-n.host.Ready():
		case <-time.After(patience):
			t.Fatalf("%s never ready", n.code)
		}
	}
	ctx := context.Background()
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				if err := ping(ctx, a.host.Libp2p(), b.peerID(t)); err != nil {
					t.Errorf("%s to %s: %v", a.code, b.code, err)
				}
			}
		}
	}
	// Every host listens on both transports.
	for _, a := range nodes[0].host.Addrs() {
		t.Log("listening on", a)
	}
	var tcp, quic bool
	for _, a := range nodes[0].host.Addrs() {
		_, errTCP := a.ValueForProtocol(ma.P_TCP)
		_, errQUIC := a.ValueForProtocol(ma.P_QUIC_V1)
		tcp, quic = tcp || errTCP == nil, quic || errQUIC == nil
	}
	if !tcp || !quic {
		t.Errorf("not listening on both TCP and QUIC: %v", nodes[0].host.Addrs())
	}
	m, ok := nodes[0].host.Member(nodes[3].peerID(t))
	if !ok || m.Authority != nodes[3].code {
		t.Errorf("Member = %v, %v", m, ok)
	}
}

// A stock libp2p host with a fresh key completes the handshake (the transport
// cannot refuse before it knows who is calling) but is then refused: it can
// open no stream on any transport, and members will not dial it.
func TestStrangerCannotOpenStream(t *testing.T) {
	nodes := newNodes(2)
	startRegion(t, nodes)
	member := nodes[0]
	memberID := member.peerID(t)

	stranger, err := libp2p.New(libp2p.NoListenAddrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stranger.Close() })
	stranger.SetStreamHandler(echoProto, echo)

	for _, addr := range member.host.Addrs() {
		t.Run(addr.String(), func(t *testing.T) {
			refusedBefore := member.host.RefusedConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stranger.Peerstore().ClearAddrs(memberID)
			stranger.Peerstore().AddAddrs(memberID, []ma.Multiaddr{addr}, peerstore.TempAddrTTL)
			if err := ping(ctx, stranger, memberID); err == nil {
				t.Fatal("a stranger opened a stream to a member")
			} else {
				t.Logf("refused as expected: %v", err)
			}
			if hasConns(member, stranger.ID()) {
				t.Fatal("the member kept a connection from the stranger")
			}
			// Refused by the gater once the handshake named the stranger.
			if member.host.RefusedConnections() == refusedBefore {
				t.Fatal("the stranger failed, but not at the gater")
			}
		})
	}
	// Members do not dial strangers either.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = member.host.Libp2p().Connect(ctx, peer.AddrInfo{ID: stranger.ID(), Addrs: member.host.Addrs()})
	if err == nil {
		t.Fatal("a member dialled a stranger")
	}
	// The members still talk to each other.
	if err := ping(context.Background(), nodes[1].host.Libp2p(), memberID); err != nil {
		t.Fatal(err)
	}
}

func TestRevokedMemberIsDisconnectedAndStaysOut(t *testing.T) {
	nodes := newNodes(4)
	startRegion(t, nodes)
	revoked := nodes[3]
	revokedID := revoked.peerID(t)
	stay := nodes[:3]
	for _, n := range stay {
		eventually(t, string(n.code)+" connected to the member to be revoked", func() bool { return connected(n, revokedID) })
	}

	var mu sync.Mutex
	var updates []federation.RosterUpdate
	stop := stay[0].host.RosterUpdates(func(u federation.RosterUpdate) {
		mu.Lock()
		updates = append(updates, u)
		mu.Unlock()
	})
	defer stop()

	third := sign(t, rosterOf(t, 3, stay, true), anchor1, anchor3)
	start := time.Now()
	for _, n := range stay {
		if err := n.host.UpdateRoster(third); err != nil {
			t.Fatal(err)
		}
		// Disconnection is immediate: no connection survives UpdateRoster.
		if hasConns(n, revokedID) {
			t.Errorf("%s still has a connection to the revoked member right after UpdateRoster", n.code)
		}
	}
	t.Logf("revoked in %v", time.Since(start).Round(time.Microsecond))

	// The revoked node keeps serial 2 and keeps trying to reconnect (every
	// 100 ms to 1 s); for two seconds no member lets it in.
	refusedBefore := stay[0].host.RefusedConnections()
	until := time.Now().Add(2 * time.Second)
	for time.Now().Before(until) {
		for _, n := range stay {
			if hasConns(n, revokedID) {
				t.Fatalf("%s has a connection to the revoked member again", n.code)
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	// It tried, and backed off rather than hammering: with a 100 ms to 1 s
	// backoff, about 5 attempts per transport in two seconds.
	refused := stay[0].host.RefusedConnections() - refusedBefore
	t.Logf("%s refused the revoked member %d times in 2s", stay[0].code, refused)
	if refused == 0 || refused > 30 {
		t.Errorf("%s refused the revoked member %d times in 2s; want between 1 and 30", stay[0].code, refused)
	}
	if err := ping(context.Background(), revoked.host.Libp2p(), stay[0].peerID(t)); err == nil {
		t.Fatal("the revoked member opened a stream")
	}
	for _, n := range stay {
		if _, ok := n.host.Member(revokedID); ok {
			t.Errorf("%s still lists the revoked member", n.code)
		}
		if addrs := n.host.Libp2p().Peerstore().Addrs(revokedID); len(addrs) > 0 {
			t.Errorf("%s still has addresses for the revoked member: %v", n.code, addrs)
		}
	}
	// The others still talk.
	if err := ping(context.Background(), stay[1].host.Libp2p(), stay[2].peerID(t)); err != nil {
		t.Fatal(err)
	}

	eventually(t, "the observer saw serial 2 then 3", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(updates) == 2
	})
	mu.Lock()
	defer mu.Unlock()
	if updates[0].Roster.Serial != 2 || updates[0].PreviousSerial != 0 {
		t.Errorf("first update: serial %d, previous %d", updates[0].Roster.Serial, updates[0].PreviousSerial)
	}
	u := updates[1]
	if u.Roster.Serial != 3 || u.PreviousSerial != 2 || len(u.Revoked) != 1 || u.Revoked[0] != revokedID || len(u.Admitted) != 0 {
		t.Errorf("second update: serial %d, previous %d, revoked %v, admitted %v", u.Roster.Serial, u.PreviousSerial, u.Revoked, u.Admitted)
	}
	if string(u.Signed) != string(third) {
		t.Error("the update does not carry the signed roster to pass on")
	}
}

func TestRosterSuccession(t *testing.T) {
	nodes := newNodes(3)
	second := startRegion(t, nodes)
	h := nodes[0].host
	secondSigned := h.SignedRoster()
	third := rosterOf(t, 3, nodes[:2], true)
	thirdSigned := sign(t, third, anchor1, anchor2)
	if err := h.UpdateRoster(thirdSigned); err != nil {
		t.Fatal(err)
	}
	gone := nodes[2].peerID(t)

	conflicting := third.Clone()
	conflicting.Members = conflicting.Members[:1]
	wales := rosterOf(t, 9, nodes[:1], true)
	wales.Region = "Wales"
	wales.Members[0].Authority = "CRF" // Cardiff
	expired := rosterOf(t, 4, nodes, true)
	expired.IssuedAt = time.Now().Add(-48 * time.Hour)
	expired.ExpiresAt = time.Now().Add(-time.Hour)
	tampered := sign(t, rosterOf(t, 5, nodes, true), anchor1, anchor2)
	tampered[len(tampered)/2] ^= 0x20

	tests := []struct {
		name   string
		signed []byte
		want   error // nil: accepted without change
	}{
		{"older serial", secondSigned, roster.ErrStale},
		{"older serial, signed again", sign(t, second, anchor3, anchor1), roster.ErrStale},
		{"same roster", thirdSigned, nil},
		{"same roster, other signatures", sign(t, third, anchor2, anchor3), nil},
		{"same serial, other content", sign(t, conflicting, anchor1, anchor2), roster.ErrConflict},
		{"newer, one anchor of two", sign(t, rosterOf(t, 4, nodes, true), anchor1), roster.ErrThreshold},
		{"newer, one anchor and an outsider", sign(t, rosterOf(t, 4, nodes, true), anchor1, notAnchor), roster.ErrThreshold},
		{"newer, outsiders only", sign(t, rosterOf(t, 4, nodes, true), notAnchor, seedKey(5)), roster.ErrThreshold},
		{"newer, unsigned", sign(t, rosterOf(t, 4, nodes, true)), roster.ErrThreshold},
		{"newer, expired", sign(t, expired, anchor1, anchor2), roster.ErrExpired},
		{"newer, tampered", tampered, nil},
		{"another region", sign(t, wales, anchor1, anchor2), roster.ErrWrongRegion},
		{"not a roster", []byte("hello"), schemas.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := h.UpdateRoster(tt.signed)
			switch {
			case tt.name == "newer, tampered":
				if err == nil {
					t.Fatal("accepted tampered bytes")
				}
			case tt.want == nil && err != nil:
				t.Fatal(err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got := h.Roster(); got.Serial != 3 || !roster.Equal(got, third) {
				t.Fatalf("roster in force changed to serial %d", got.Serial)
			}
			if _, ok := h.Member(gone); ok {
				t.Fatal("the member removed by serial 3 is back")
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	nodes := newNodes(2)
	good := sign(t, rosterOf(t, 1, nodes, false), anchor1, anchor2)
	stranger := &node{code: "HCK", key: seedKey(77)}
	tests := []struct {
		name   string
		change func(c *federation.Config)
		want   error
		says   string
	}{
		{"not on the roster", func(c *federation.Config) { c.Identity = stranger.key }, federation.ErrNotOnRoster, "not on roster serial 1"},
		{"roster below threshold", func(c *federation.Config) {
			c.Roster = sign(t, rosterOf(t, 1, nodes, false), anchor1)
		}, roster.ErrThreshold, ""},
		{"roster for another region", func(c *federation.Config) { c.Region = "Wales" }, roster.ErrWrongRegion, ""},
		{"no roster", func(c *federation.Config) { c.Roster = nil }, federation.ErrConfig, "Roster: is required"},
		{"bad config", func(c *federation.Config) {
			c.Identity = nil
			c.Threshold = 4
			c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0/ws"}
			c.DialBackoffMax = 0
		}, federation.ErrConfig, "Identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, nodes[0], good)
			tt.change(&cfg)
			h, err := federation.New(context.Background(), cfg)
			if err == nil {
				h.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	nodes := newNodes(2)
	signed := sign(t, rosterOf(t, 1, nodes, false), anchor1, anchor2)
	h, err := federation.New(context.Background(), testConfig(t, nodes[0], signed))
	if err != nil {
		t.Fatal(err)
	}
	// An observer in the middle of a call: Close waits for it to return.
	inCall, release := make(chan struct{}), make(chan struct{})
	h.RosterUpdates(func(federation.RosterUpdate) {
		close(inCall)
		<-release
	})
	<-inCall
	done := make(chan error, 2)
	go func() { done <- h.Close() }()
	go func() { done <- h.Close() }()
	select {
	case <-done:
		t.Fatal("Close returned while an observer call was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not return")
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.UpdateRoster(sign(t, rosterOf(t, 2, nodes, false), anchor1, anchor2)); !errors.Is(err, federation.ErrClosed) {
		t.Fatalf("UpdateRoster after Close: %v", err)
	}
	h.RosterUpdates(func(federation.RosterUpdate) { t.Error("observer called after Close") })()
}

// A stuck observer must not hold up roster changes or other observers.
func TestSlowObserverHoldsUpNobody(t *testing.T) {
	nodes := newNodes(2)
	signed := sign(t, rosterOf(t, 1, nodes, false), anchor1, anchor2)
	h, err := federation.New(context.Background(), testConfig(t, nodes[0], signed))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })

	block := make(chan struct{})
	defer close(block)
	h.RosterUpdates(func(federation.RosterUpdate) { <-block })
	got := make(chan uint64, 10)
	stop := h.RosterUpdates(func(u federation.RosterUpdate) { got <- u.Roster.Serial })
	defer stop()
	for serial := uint64(2); serial <= 4; serial++ {
		if err := h.UpdateRoster(sign(t, rosterOf(t, serial, nodes, false), anchor1, anchor2)); err != nil {
			t.Fatal(err)
		}
	}
	for want := uint64(1); want <= 4; want++ {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("observer got serial %d, want %d", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("observer never got serial %d", want)
		}
	}
}
