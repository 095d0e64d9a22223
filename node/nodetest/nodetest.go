package nodetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/match"
	"nrmnet/federation/match/matchtest"
	"nrmnet/federation/roster"
	"nrmnet/internal/wiring"
	"nrmnet/node"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Config says what cluster to build.
type Config struct {
	// Region is the region every node federates in; default "London".
	Region string
	// Authorities are the nodes' authorities, all in Region; default the
	// region's first Nodes authorities.
	Authorities []v1.AuthorityCode
	// Nodes is how many nodes to start when Authorities is empty; default 3.
	Nodes int
	// LogLevel is the lowest level logged to the test; nil means
	// slog.LevelWarn.
	LogLevel slog.Leveler
	// Patience bounds every wait for the network; default 30s.
	Patience time.Duration
	// Matching, when set, adjusts every node's match issuer and receiver
	// (their limits, say) before they start.
	Matching func(*match.IssuerConfig, *match.ReceiverConfig)
}

func (c *Config) defaults(t testing.TB) {
	if c.Region == "" {
		c.Region = "London"
	}
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.LogLevel == nil {
		c.LogLevel = slog.LevelWarn
	}
	if c.Patience == 0 {
		c.Patience = 30 * time.Second
	}
	if len(c.Authorities) == 0 {
		in := authority.InRegion(c.Region)
		if len(in) < c.Nodes {
			t.Fatalf("nodetest: region %q has %d authorities, %d asked for", c.Region, len(in), c.Nodes)
		}
		for _, a := range in[:c.Nodes] {
			c.Authorities = append(c.Authorities, a.Code)
		}
	}
}

// Cluster is a region of whole nodes on loopback.
type Cluster struct {
	T      testing.TB
	Config Config
	Nodes  []*Node
	// Anchors are the region's trust-anchor keys (two, threshold two) that
	// sign its rosters.
	Anchors []ed25519.PrivateKey
	serial  uint64
}

// Node is one authority's whole node, with its parts exposed.
type Node struct {
	Authority v1.AuthorityCode
	// Key is the authority's ed25519 key: its libp2p identity, the key the
	// roster lists, and the signer of its alerts.
	Key ed25519.PrivateKey
	// Dir holds data/ and keys/.
	Dir string

	Store       *storage.Store
	App         *node.Node
	CrossBorder *node.CrossBorder
	Host        *federation.Host
	Gossip      *gossip.Service
	Issuer      *match.Issuer
	Receiver    *match.Receiver

	// Worker is a social worker and Coordinator an NRM coordinator of the
	// authority; Tokens holds their bearer tokens.
	Worker, Coordinator node.Principal
	Tokens              map[string]string

	// MatchSent records the match streams this node opened as a receiver
	// (what it sent and got back); MatchServed those its issuer accepted.
	MatchSent, MatchServed *matchtest.Tap

	t         testing.TB
	mu        sync.Mutex
	delivered []gossip.Received
	acks      []gossip.AckReceived
	closeOnce sync.Once
	stopLoops context.CancelFunc
	loops     sync.WaitGroup
}

// Delivered returns every alert gossip handed to this node, as it arrived.
func (n *Node) Delivered() []gossip.Received {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.delivered)
}

// Acks returns every acknowledgement of this node's alerts it received.
func (n *Node) Acks() []gossip.AckReceived {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.acks)
}

// New builds and starts a cluster: stores, nodes, hosts on a signed roster,
// then each node's match receiver, CrossBorder, match issuer and gossip, and
// waits until every node sees every other's heartbeat.
func New(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	cfg.defaults(t)
	c := &Cluster{T: t, Config: cfg}
	for range 2 {
		_, k, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Anchors = append(c.Anchors, k)
	}
	for _, code := range cfg.Authorities {
		c.Nodes = append(c.Nodes, c.openNode(code))
	}
	first := c.signRoster()
	for _, n := range c.Nodes {
		c.startHost(n, first)
	}
	second := c.signRoster()
	for _, n := range c.Nodes {
		if err := n.Host.UpdateRoster(second); err != nil {
			t.Fatalf("%s: roster with addresses: %v", n.Authority, err)
		}
	}
	for _, n := range c.Nodes {
		c.startFederation(n)
	}
	c.Eventually("every node sees every other's heartbeat", func() bool {
		for _, n := range c.Nodes {
			if n.Gossip.RegionView().Up() < len(c.Nodes) {
				return false
			}
		}
		return true
	})
	return c
}

// Node returns the node of an authority, or fails the test.
func (c *Cluster) Node(code v1.AuthorityCode) *Node {
	for _, n := range c.Nodes {
		if n.Authority == code {
			return n
		}
	}
	c.T.Fatalf("nodetest: no node of %s", code)
	return nil
}

// Eventually polls cond until it holds, or fails the test after Patience.
func (c *Cluster) Eventually(what string, cond func() bool) {
	c.T.Helper()
	deadline := time.Now().Add(c.Config.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			c.T.Fatalf("nodetest: gave up after %v waiting until %s", c.Config.Patience, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *Cluster) logger(code v1.AuthorityCode) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t: c.T}, &slog.HandlerOptions{Level: c.Config.LogLevel})).With("node", string(code))
}

// openNode creates the authority's keys and store on disk, its node and users.
func (c *Cluster) openNode(code v1.AuthorityCode) *Node {
	t := c.T
	t.Helper()
	n := &Node{t: t, Authority: code, Dir: t.TempDir(), Tokens: map[string]string{},
		MatchSent: &matchtest.Tap{}, MatchServed: &matchtest.Tap{}}
	keys := filepath.Join(n.Dir, "keys")
	if err := storage.CreateKeys(keys); err != nil {
		t.Fatalf("%s: keys: %v", code, err)
	}
	key, err := storage.LoadAuthorityKey(filepath.Join(keys, storage.AuthorityKeyFile))
	if err != nil {
		t.Fatalf("%s: authority key: %v", code, err)
	}
	n.Key = key
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir, sc.Authority = filepath.Join(n.Dir, "data"), keys, code
	sc.MemTableSize, sc.BlockCacheSize, sc.IndexCacheSize = 8<<20, 1<<20, 1<<20
	sc.Logger = c.logger(code)
	n.Store, err = storage.Open(sc)
	if err != nil {
		t.Fatalf("%s: open store: %v", code, err)
	}
	t.Cleanup(func() { n.Close() })
	nc := node.DefaultConfig()
	nc.Store, nc.Authority, nc.Logger = n.Store, code, c.logger(code)
	n.App, err = node.New(nc)
	if err != nil {
		t.Fatalf("%s: node: %v", code, err)
	}
	for _, u := range []struct {
		id   string
		role node.Role
		into *node.Principal
	}{{"sw", node.RoleSocialWorker, &n.Worker}, {"coord", node.RoleNRMCoordinator, &n.Coordinator}} {
		su, token, err := n.Store.CreateUser(context.Background(),
			storage.User{ID: u.id, Name: "Test " + u.id, Role: string(u.role), Authority: code},
			storage.Access{Actor: "node", Role: "node"})
		if err != nil {
			t.Fatalf("%s: user %s: %v", code, u.id, err)
		}
		*u.into = node.Principal{ID: su.ID, Name: su.Name, Role: u.role, Authority: code}
		n.Tokens[u.id] = token
	}
	return n
}

// signRoster returns the next roster of the cluster, listing the addresses
// of the hosts that run, signed by both anchors.
func (c *Cluster) signRoster() []byte {
	t := c.T
	t.Helper()
	c.serial++
	now := time.Now().UTC().Truncate(time.Second)
	r := &roster.Roster{Region: c.Config.Region, Serial: c.serial, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour)}
	for _, n := range c.Nodes {
		id, err := roster.PeerIDOf(n.Key.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		m := roster.Member{Authority: n.Authority, PeerID: id, Roles: []roster.Role{roster.RoleAuthority},
			Contacts: roster.Contacts{
				DutyDesk:       roster.Contact{Team: "Front Door", Phone: "020 7000 0000"},
				OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "020 7000 0001"},
				NRMCoordinator: roster.Contact{Team: "Exploitation Team", Email: "nrm@example.gov.uk"},
			}}
		if n.Host != nil {
			for _, a := range n.Host.Addrs() {
				m.Addrs = append(m.Addrs, a.String())
			}
		}
		r.Members = append(r.Members, m)
	}
	signed, err := roster.Sign(r, c.Anchors[0])
	if err == nil {
		err = signed.AddSignature(c.Anchors[1])
	}
	var b []byte
	if err == nil {
		b, err = signed.Encode()
	}
	if err != nil {
		t.Fatalf("nodetest: sign roster %d: %v", c.serial, err)
	}
	return b
}

func (c *Cluster) startHost(n *Node, signed []byte) {
	t := c.T
	t.Helper()
	fc := federation.DefaultConfig()
	fc.Identity, fc.Region = n.Key, c.Config.Region
	fc.Anchors = []ed25519.PublicKey{c.Anchors[0].Public().(ed25519.PublicKey), c.Anchors[1].Public().(ed25519.PublicKey)}
	fc.Threshold = 2
	fc.Roster = signed
	fc.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	fc.ReconnectInterval = 200 * time.Millisecond
	fc.DialBackoffMin, fc.DialBackoffMax, fc.DialTimeout = 100*time.Millisecond, time.Second, 5*time.Second
	fc.Logger = c.logger(n.Authority)
	h, err := federation.New(context.Background(), fc)
	if err != nil {
		t.Fatalf("%s: start host: %v", n.Authority, err)
	}
	n.Host = h
}

// startFederation starts, in order, the match receiver, CrossBorder, the
// match issuer and gossip, and binds the late adapters.
func (c *Cluster) startFederation(n *Node) {
	t := c.T
	t.Helper()
	log := c.logger(n.Authority)
	rc := match.DefaultReceiverConfig()
	rc.Host, rc.Logger = n.MatchSent.Opener(n.Host.Libp2p()), log
	ic := match.DefaultIssuerConfig()
	if c.Config.Matching != nil {
		c.Config.Matching(&ic, &rc)
	}
	var err error
	n.Receiver, err = match.NewReceiver(rc)
	if err != nil {
		t.Fatalf("%s: match receiver: %v", n.Authority, err)
	}
	pub, tokens := &wiring.Publisher{}, &wiring.TokenIssuer{}
	cc := node.DefaultCrossBorderConfig()
	cc.Node, cc.Store, cc.Signer = n.App, n.Store, n.Key
	cc.Publisher, cc.Issuer = pub, tokens
	cc.Matcher = wiring.Matcher{Host: n.Host, Receiver: n.Receiver}
	cc.MatchRetry, cc.MatchEvery = 200*time.Millisecond, 2*time.Second
	cc.Logger = log
	n.CrossBorder, err = node.NewCrossBorder(cc)
	if err != nil {
		t.Fatalf("%s: crossborder: %v", n.Authority, err)
	}
	// As a running node does, matching that failed on arrival is resumed.
	ctx, stop := context.WithCancel(context.Background())
	n.stopLoops = stop
	n.loops.Go(func() { n.CrossBorder.KeepMatching(ctx) })
	ic.Host, ic.Keys, ic.Logger = n.MatchServed.Handlers(n.Host.Libp2p()), wiring.MatchKeys{Store: n.Store}, log
	ic.Authorize, ic.Audit = wiring.IssuerHooks(n.Host, n.CrossBorder)
	n.Issuer, err = match.NewIssuer(ic)
	if err != nil {
		t.Fatalf("%s: match issuer: %v", n.Authority, err)
	}
	tokens.Bind(n.Issuer)

	gc := gossip.DefaultConfig()
	gc.Host, gc.Identity = n.Host, n.Key
	gc.Outbox, gc.Seen = wiring.Outbox{Store: n.Store}, n.Store
	gc.Handler = gossip.AlertHandlerFunc(func(ctx context.Context, r gossip.Received) error {
		n.mu.Lock()
		n.delivered = append(n.delivered, gossip.Received{Alert: r.Alert, Envelope: bytes.Clone(r.Envelope), From: r.From, Via: r.Via})
		n.mu.Unlock()
		return n.CrossBorder.ReceiveAlert(ctx, r.Alert, r.Via)
	})
	gc.OnAck = func(a gossip.AckReceived) {
		n.mu.Lock()
		n.acks = append(n.acks, a)
		n.mu.Unlock()
		if err := n.CrossBorder.RecordAck(context.Background(), a.Ack.AlertID, a.Ack.From); err != nil {
			log.Error("record ack", "alert", string(a.Ack.AlertID), "err", err)
		}
	}
	gc.Version = "nodetest"
	gc.HeartbeatInterval, gc.DownAfter = 200*time.Millisecond, 2*time.Second
	gc.OutboxInterval, gc.RetryMin, gc.RetryMax = 100*time.Millisecond, 500*time.Millisecond, 2*time.Second
	gc.DigestInterval, gc.StreamTimeout = time.Second, 10*time.Second
	gc.Logger = log
	n.Gossip, err = gossip.New(context.Background(), gc)
	if err != nil {
		t.Fatalf("%s: gossip: %v", n.Authority, err)
	}
	pub.Bind(n.Gossip)
}

// Close stops the node in the reverse order of starting: its matching
// loop, gossip (no new alert reaches the node), the match issuer and
// receiver, the host, then the store. It is idempotent; the harness calls
// it at cleanup.
func (n *Node) Close() {
	n.closeOnce.Do(func() {
		if n.stopLoops != nil {
			n.stopLoops()
			n.loops.Wait()
		}
		var errs []error
		if n.Gossip != nil {
			errs = append(errs, n.Gossip.Close())
		}
		if n.Issuer != nil {
			errs = append(errs, n.Issuer.Close())
		}
		if n.Receiver != nil {
			errs = append(errs, n.Receiver.Close())
		}
		if n.Host != nil {
			errs = append(errs, n.Host.Close())
		}
		if n.Store != nil {
			errs = append(errs, n.Store.Close())
		}
		for _, err := range errs {
			if err != nil {
				n.t.Errorf("nodetest: closing %s: %v", n.Authority, err)
			}
		}
	})
}

// tWriter sends log lines to the test's log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
