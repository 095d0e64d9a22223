package federation_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/federation"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
)

const (
	region    = "London"
	echoProto = protocol.ID("/nrmnet/test/echo/1")
	// patience bounds every wait for the network to settle.
	patience = 20 * time.Second
)

// seedKey returns a deterministic ed25519 key.
func seedKey(seed byte) ed25519.PrivateKey {
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s[:])
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

var (
	anchor1, anchor2, anchor3 = seedKey(1), seedKey(2), seedKey(3)
	notAnchor                 = seedKey(4)
	anchors                   = []ed25519.PublicKey{pubOf(anchor1), pubOf(anchor2), pubOf(anchor3)}
)

// node is one member in a test: its authority and key, and its host once
// started.
type node struct {
	code authority.Code
	key  ed25519.PrivateKey
	host *federation.Host
}

func (n *node) peerID(t testing.TB) peer.ID {
	t.Helper()
	s, err := roster.PeerIDOf(pubOf(n.key))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newNodes(n int) []*node {
	london := authority.InRegion(region)
	out := make([]*node, n)
	for i := range out {
		out[i] = &node{code: london[i].Code, key: seedKey(byte(20 + i))}
	}
	return out
}

// rosterOf returns a roster of the nodes; with addrs, each member lists the
// addresses its host listens on.
func rosterOf(t testing.TB, serial uint64, nodes []*node, addrs bool) *roster.Roster {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	r := &roster.Roster{Region: region, Serial: serial, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour)}
	for _, n := range nodes {
		id, _ := roster.PeerIDOf(pubOf(n.key))
		m := roster.Member{
			Authority: n.code,
			PeerID:    id,
			Roles:     []roster.Role{roster.RoleAuthority},
			Contacts: roster.Contacts{
				DutyDesk:       roster.Contact{Team: "Front Door", Phone: "020 7527 7400"},
				OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "020 7226 0992"},
				NRMCoordinator: roster.Contact{Team: "Exploitation Team", Email: "nrm@example.gov.uk"},
			},
		}
		if addrs && n.host != nil {
			for _, a := range n.host.Addrs() {
				m.Addrs = append(m.Addrs, a.String())
			}
		}
		r.Members = append(r.Members, m)
	}
	return r
}

func sign(t testing.TB, r *roster.Roster, keys ...ed25519.PrivateKey) []byte {
	t.Helper()
	s, err := roster.NewUnsigned(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := s.AddSignature(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testLogger sends logs to t until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

func testConfig(t testing.TB, n *node, signed []byte) federation.Config {
	cfg := federation.DefaultConfig()
	cfg.Identity = n.key
	cfg.Region = region
	cfg.Anchors = anchors
	cfg.Threshold = 2
	cfg.Roster = signed
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	cfg.ReconnectInterval = 200 * time.Millisecond
	cfg.DialBackoffMin = 100 * time.Millisecond
	cfg.DialBackoffMax = time.Second
	cfg.DialTimeout = 5 * time.Second
	cfg.Logger = testLogger(t).With("node", string(n.code))
	return cfg
}

// startRegion starts a host for each node: first on a roster (serial 1)
// without addresses, since ports are known only once the hosts listen, then
// moves all of them to serial 2 with everyone's addresses. It returns serial
// 2's roster. Hosts are closed when the test ends.
func startRegion(t *testing.T, nodes []*node) *roster.Roster {
	t.Helper()
	first := sign(t, rosterOf(t, 1, nodes, false), anchor1, anchor2)
	for _, n := range nodes {
		h, err := federation.New(context.Background(), testConfig(t, n, first))
		if err != nil {
			t.Fatal(err)
		}
		n.host = h
		t.Cleanup(func() {
			if err := h.Close(); err != nil {
				t.Errorf("close %s: %v", n.code, err)
			}
		})
		h.Libp2p().SetStreamHandler(echoProto, echo)
	}
	r := rosterOf(t, 2, nodes, true)
	second := sign(t, r, anchor2, anchor3)
	for _, n := range nodes {
		if err := n.host.UpdateRoster(second); err != nil {
			t.Fatalf("%s: %v", n.code, err)
		}
	}
	return r
}

// echo answers one line with the same line.
func echo(s network.Stream) {
	defer s.Close()
	line, err := bufio.NewReader(io.LimitReader(s, 1024)).ReadString('\n')
	if err != nil {
		s.Reset()
		return
	}
	_, _ = s.Write([]byte(line))
}

// ping opens an echo stream from h to p and checks the answer.
func ping(ctx context.Context, from interface {
	NewStream(context.Context, peer.ID, ...protocol.ID) (network.Stream, error)
}, p peer.ID) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := from.NewStream(ctx, p, echoProto)
	if err != nil {
		return err
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	if _, err := s.Write([]byte("hello\n")); err != nil {
		return err
	}
	got, err := bufio.NewReader(s).ReadString('\n')
	if err != nil {
		return err
	}
	if got != "hello\n" {
		return fmt.Errorf("echo answered %q", got)
	}
	return nil
}

// eventually polls cond until it holds or patience runs out.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", patience, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func connected(a *node, b peer.ID) bool {
	return a.host.Libp2p().Network().Connectedness(b) == network.Connected
}

func hasConns(a *node, b peer.ID) bool {
	return len(a.host.Libp2p().Network().ConnsToPeer(b)) > 0
}
