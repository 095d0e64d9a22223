package sim

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"nrmnet/federation/gossip"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrConfig: a Config field is missing or out of range.
	ErrConfig = errors.New("invalid simulation config")
	// ErrSetup: the simulated network could not be built.
	ErrSetup = errors.New("simulation setup failed")
	// ErrMalformed: a repair frame or alert does not decode or verify.
	ErrMalformed = errors.New("malformed repair message")
	// errDropped: an RPC the loss model dropped (never leaves the package).
	errDropped = errors.New("rpc dropped by simulated loss")
)

// Protocol names the pubsub router under test.
type Protocol string

// The routers a run can use.
const (
	GossipSub Protocol = "gossipsub"
	FloodSub  Protocol = "floodsub"
)

// National is the Region of the national scenario: every authority of
// every region on one topic, NationalTopic.
const National = "national"

// NationalTopic is the topic of the national scenario. The gossip package
// has no national alert topic yet; this name stands for one.
const NationalTopic = "/nrmnet/alerts/1/national"

// Config configures one run over one region, or over every region (National).
// Start from DefaultConfig.
type Config struct {
	// Region is the region's name as authority.Regions gives it; one node
	// per authority in it, each publishing as that authority. National puts
	// every authority of every region on NationalTopic.
	Region string
	// Nodes, if positive, keeps only the region's first Nodes authorities
	// (for small test runs); for National, the first Nodes of each region.
	Nodes int
	// Bridges is, for National with nil Links, how many members of each
	// region (its first ones) are linked to the bridges of every other
	// region (see Bridged).
	Bridges int
	// DirectBridges, for National with nil Links and GossipSub, makes the
	// bridges of all regions each other's direct peers
	// (pubsub.WithDirectPeers): a router forwards every message to its
	// direct peers, mesh or not.
	DirectBridges bool
	// BridgeFanout, with DirectBridges, also makes each bridge and every
	// member of its own region each other's direct peers, so a bridge
	// forwards an alert from another region to its whole region at once
	// rather than to its mesh (a router of its own for national topics:
	// on the regional topic this would add a copy per member).
	BridgeFanout bool
	// Protocol is the router: GossipSub (production settings) or FloodSub.
	Protocol Protocol
	// Latency is added to every write on every link (mocknet LinkOptions).
	Latency time.Duration
	// Links lists the node pairs (indexes) that are linked and connected;
	// nil links every pair of a region, as the federation host connects to
	// every roster member, and for National gives Bridged(groups, Bridges).
	Links [][2]int
	// Loss is the fraction of incoming pubsub RPCs each node drops, at
	// random, once publishing starts (0 to 0.9).
	Loss float64
	// Messages is how many alerts are published, each from a random node;
	// PublishGap separates two publishes.
	Messages   int
	PublishGap time.Duration
	// Warmup is how long the routers run before the first publish (mesh
	// formation takes a heartbeat or two).
	Warmup time.Duration
	// Settle is how long to wait after the last publish before the repair
	// pass (the gossip round, including GossipSub's own IHAVE/IWANT).
	Settle time.Duration
	// RepairRounds bounds the digest rounds; each round every node pulls
	// once from a random neighbour. At least one round always runs.
	RepairRounds int
	// GossipSubParams, if set, replaces the router's parameters (D, D_lo,
	// D_hi, heartbeat...) for experiments; nil keeps the library defaults,
	// as production does.
	GossipSubParams *pubsub.GossipSubParams
	// RouterOptions, for GossipSub, are added after the production options
	// and so override them (an experiment such as pubsub.WithFloodPublish(false)).
	RouterOptions []pubsub.Option
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Logger receives progress lines; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the settings the benchmarks use, for the whole of
// a region, over GossipSub, without loss.
func DefaultConfig() Config {
	return Config{
		Protocol:     GossipSub,
		Latency:      20 * time.Millisecond,
		Bridges:      1,
		Messages:     20,
		PublishGap:   100 * time.Millisecond,
		Warmup:       2 * time.Second,
		Settle:       2 * time.Second,
		RepairRounds: 10,
		Timeout:      5 * time.Minute,
	}
}

// Validate checks the configuration and names every problem.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("%w: %s %s", ErrConfig, field, why)) }
	most := len(authority.InRegion(c.Region)) // nodes a region may keep
	if c.Region == National {
		most = len(authority.All())
		for _, r := range authority.Regions() {
			most = min(most, len(authority.InRegion(r)))
		}
	}
	if most == 0 {
		bad("Region", fmt.Sprintf("%q is not a region nor %q", c.Region, National))
	}
	if c.Nodes < 0 || c.Nodes > most {
		bad("Nodes", fmt.Sprintf("must be 0 to %d", most))
	}
	if c.Nodes == 1 || (c.Region != "" && most == 1) {
		bad("Nodes", "must leave at least 2 nodes")
	}
	if perRegion := cmp.Or(c.Nodes, most); c.Region == National && c.Links == nil && (c.Bridges < 1 || c.Bridges > perRegion) {
		bad("Bridges", fmt.Sprintf("must be 1 to %d (the nodes kept in the smallest region)", perRegion))
	}
	if c.Protocol != GossipSub && c.Protocol != FloodSub {
		bad("Protocol", fmt.Sprintf("must be %q or %q", GossipSub, FloodSub))
	}
	if c.Latency < 0 {
		bad("Latency", "must not be negative")
	}
	if c.Loss < 0 || c.Loss > 0.9 {
		bad("Loss", "must be 0 to 0.9")
	}
	if c.Messages < 1 {
		bad("Messages", "must be at least 1")
	}
	if c.PublishGap < 0 || c.Warmup < 0 || c.Settle < 0 {
		bad("PublishGap, Warmup, Settle", "must not be negative")
	}
	if c.RepairRounds < 1 {
		bad("RepairRounds", "must be at least 1")
	}
	if c.Timeout <= 0 {
		bad("Timeout", "must be positive")
	}
	if c.DirectBridges && (c.Region != National || c.Links != nil || c.Protocol != GossipSub) {
		bad("DirectBridges", "needs Region National, nil Links and GossipSub")
	}
	if c.BridgeFanout && !c.DirectBridges {
		bad("BridgeFanout", "needs DirectBridges")
	}
	n, _ := c.members()
	for _, l := range c.Links {
		if l[0] < 0 || l[1] < 0 || l[0] >= len(n) || l[1] >= len(n) || l[0] == l[1] {
			bad("Links", fmt.Sprintf("pair %v is not two distinct nodes of %d", l, len(n)))
			break
		}
	}
	if len(errs) == 0 && c.Links != nil && !connected(len(n), c.Links) {
		bad("Links", "do not connect every node")
	}
	return errors.Join(errs...)
}

// members returns the authorities a run simulates, in node order, and the
// nodes of each region (one group unless National).
func (c *Config) members() ([]authority.Authority, [][]int) {
	regions := []string{c.Region}
	if c.Region == National {
		regions = authority.Regions()
	}
	var (
		auths  []authority.Authority
		groups [][]int
	)
	for _, r := range regions {
		in := authority.InRegion(r)
		if c.Nodes > 0 && c.Nodes < len(in) {
			in = in[:c.Nodes]
		}
		var g []int
		for _, a := range in {
			g = append(g, len(auths))
			auths = append(auths, a)
		}
		groups = append(groups, g)
	}
	return auths, groups
}

// topic is the pubsub topic the run's alerts go on.
func (c *Config) topic() string {
	if c.Region == National {
		return NationalTopic
	}
	return gossip.RegionTopic(c.Region)
}

// node is one simulated authority.
type node struct {
	idx    int
	code   v1.AuthorityCode
	region string
	key    ed25519.PrivateKey
	host   host.Host
	ps     *pubsub.PubSub
	topic  *pubsub.Topic
	sub    *pubsub.Subscription
	trace  *counter

	mu   sync.Mutex
	held map[v1.ID][]byte // envelope of every alert this node holds
	// pathHops is, per alert held, the links its first copy crossed from
	// the publisher (0 at the publisher): the length of the path the
	// router actually used.
	pathHops map[v1.ID]int
}

func (n *node) holds(id v1.ID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.held[id]
	return ok
}

// run is the state of one simulation.
type run struct {
	cfg   Config
	log   *slog.Logger
	nodes []*node
	keys  map[v1.AuthorityCode]ed25519.PublicKey
	byID  map[peer.ID]*node
	hops  [][]int // hops[i][j]: shortest path from node i to node j
	// direct is each node's direct peers (DirectBridges), by node index.
	direct map[int][]int
	lossy  atomic.Bool

	mu        sync.Mutex
	published map[v1.ID]publication
	received  []Delivery
}

type publication struct {
	from int
	at   time.Time
}

// Run builds the region's network, publishes the alerts, repairs, and
// returns what it measured. It closes everything it started before
// returning.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	auths, groups := cfg.members()
	links := cfg.Links
	switch {
	case links != nil:
	case cfg.Region == National:
		links = Bridged(groups, cfg.Bridges)
	default:
		links = FullMesh(len(auths))
	}
	r := &run{
		cfg:       cfg,
		log:       log,
		keys:      map[v1.AuthorityCode]ed25519.PublicKey{},
		byID:      map[peer.ID]*node{},
		published: map[v1.ID]publication{},
	}
	if cfg.DirectBridges {
		r.direct = directBridges(groups, cfg.Bridges, cfg.BridgeFanout)
	}
	r.hops = make([][]int, len(auths))
	for i := range auths {
		r.hops[i] = hops(len(auths), links, i)
	}

	mn := mocknet.New()
	defer mn.Close()
	mn.SetLinkDefaults(mocknet.LinkOptions{Latency: cfg.Latency})
	for i, a := range auths {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("%w: key: %w", ErrSetup, err)
		}
		lk, err := crypto.UnmarshalEd25519PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("%w: key: %w", ErrSetup, err)
		}
		addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/10.0.%d.%d/tcp/4001", (i+1)/250, (i+1)%250+1))
		if err != nil {
			return nil, fmt.Errorf("%w: address: %w", ErrSetup, err)
		}
		h, err := mn.AddPeer(lk, addr)
		if err != nil {
			return nil, fmt.Errorf("%w: peer %s: %w", ErrSetup, a.Code, err)
		}
		n := &node{idx: i, code: v1.AuthorityCode(a.Code), region: a.Region, key: priv, host: h, held: map[v1.ID][]byte{}, pathHops: map[v1.ID]int{}, trace: &counter{measuring: &r.lossy}}
		r.nodes = append(r.nodes, n)
		r.keys[n.code] = pub
		r.byID[h.ID()] = n
	}

	psCtx, psCancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		psCancel()
		for _, n := range r.nodes {
			if n.sub != nil {
				n.sub.Cancel()
			}
		}
		wg.Wait()
	}()
	topicName := cfg.topic()
	for _, n := range r.nodes {
		if err := r.startRouter(psCtx, n, topicName); err != nil {
			return nil, err
		}
		n.host.SetStreamHandler(repairProtocol, r.serveRepair(n))
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.readLoop(psCtx, n)
		}()
	}
	// Connect only once every router runs: a router that meets a peer
	// before the peer speaks pubsub may never open a stream to it.
	for _, l := range links {
		a, b := r.nodes[l[0]].host.ID(), r.nodes[l[1]].host.ID()
		if _, err := mn.LinkPeers(a, b); err != nil {
			return nil, fmt.Errorf("%w: link: %w", ErrSetup, err)
		}
		if _, err := mn.ConnectPeers(a, b); err != nil {
			return nil, fmt.Errorf("%w: connect: %w", ErrSetup, err)
		}
	}
	if err := r.waitSubscribed(ctx, links); err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	// Measured phase: loss and byte counting start together.
	r.lossy.Store(true)
	start := time.Now()
	for i := 0; i < cfg.Messages; i++ {
		if err := r.publish(ctx, r.nodes[mrand.IntN(len(r.nodes))]); err != nil {
			return nil, err
		}
		if err := sleep(ctx, cfg.PublishGap); err != nil {
			return nil, err
		}
	}
	if err := sleep(ctx, cfg.Settle); err != nil {
		return nil, err
	}
	r.lossy.Store(false)
	gossipWindow := time.Since(start)
	gossipDelivered := r.deliveredCount()

	rounds, err := r.repair(ctx)
	if err != nil {
		return nil, err
	}
	res := r.result(links, gossipDelivered, rounds, gossipWindow)
	log.Info("simulation done", "region", cfg.Region, "protocol", cfg.Protocol, "loss", cfg.Loss,
		"nodes", len(r.nodes), "messages", cfg.Messages, "repair_rounds", rounds)
	return res, nil
}

func (r *run) startRouter(ctx context.Context, n *node, topicName string) error {
	lossy := func(peer.ID, *pubsub.RPC) error {
		if r.lossy.Load() && mrand.Float64() < r.cfg.Loss {
			n.trace.dropped.Add(1)
			return errDropped
		}
		return nil
	}
	opts := []pubsub.Option{pubsub.WithRawTracer(n.trace), pubsub.WithAppSpecificRpcInspector(lossy)}
	var (
		ps  *pubsub.PubSub
		err error
	)
	if r.cfg.Protocol == GossipSub {
		member := func(p peer.ID) bool { _, ok := r.byID[p]; return ok }
		var direct []peer.AddrInfo
		for _, j := range r.direct[n.idx] {
			m := r.nodes[j].host
			direct = append(direct, peer.AddrInfo{ID: m.ID(), Addrs: m.Addrs()})
		}
		if len(direct) > 0 {
			opts = append(opts, pubsub.WithDirectPeers(direct))
		}
		if r.cfg.GossipSubParams != nil {
			opts = append(opts, pubsub.WithGossipSubParams(*r.cfg.GossipSubParams))
		}
		opts = append(opts, r.cfg.RouterOptions...)
		ps, err = pubsub.NewGossipSub(ctx, n.host, append(gossipSubOptions(topicName, member), opts...)...)
	} else {
		ps, err = pubsub.NewFloodSub(ctx, n.host, append(floodSubOptions(), opts...)...)
	}
	if err != nil {
		return fmt.Errorf("%w: router for %s: %w", ErrSetup, n.code, err)
	}
	if err := ps.RegisterTopicValidator(topicName, r.validate); err != nil {
		return fmt.Errorf("%w: validator: %w", ErrSetup, err)
	}
	t, err := ps.Join(topicName)
	if err != nil {
		return fmt.Errorf("%w: join: %w", ErrSetup, err)
	}
	sub, err := t.Subscribe(pubsub.WithBufferSize(1024))
	if err != nil {
		return fmt.Errorf("%w: subscribe: %w", ErrSetup, err)
	}
	n.ps, n.topic, n.sub = ps, t, sub
	return nil
}

// validate is the per-hop check every node makes, as the production
// validator does for the costly part: decode the envelope, check the
// alert's fields, verify the issuer's signature under its key.
func (r *run) validate(_ context.Context, _ peer.ID, m *pubsub.Message) pubsub.ValidationResult {
	a, err := r.open(m.Data)
	if err != nil {
		return pubsub.ValidationReject
	}
	m.ValidatorData = a
	return pubsub.ValidationAccept
}

// open decodes and verifies an alert envelope.
func (r *run) open(env []byte) (*v1.CrossBorderAlert, error) {
	a, err := v1.UnmarshalAlert(env)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	key, ok := r.keys[a.Issuer]
	if !ok {
		return nil, fmt.Errorf("%w: unknown issuer %s", ErrMalformed, a.Issuer)
	}
	sb, err := a.SigningBytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !ed25519.Verify(key, sb, a.Signature) {
		return nil, fmt.Errorf("%w: bad signature from %s", ErrMalformed, a.Issuer)
	}
	return a, nil
}

func (r *run) readLoop(ctx context.Context, n *node) {
	for {
		m, err := n.sub.Next(ctx)
		if err != nil {
			return
		}
		at := time.Now()
		if m.ReceivedFrom == n.host.ID() {
			continue // the publisher's own copy
		}
		a, ok := m.ValidatorData.(*v1.CrossBorderAlert)
		if !ok {
			continue
		}
		from := -1
		if f, ok := r.byID[m.ReceivedFrom]; ok {
			from = f.idx
		}
		r.record(n, a.ID, m.Data, at, ViaGossip, from)
	}
}

// record notes that n holds an alert, which came from node from (an
// index); the first arrival is a delivery.
func (r *run) record(n *node, id v1.ID, env []byte, at time.Time, via string, from int) {
	path := 0
	if from >= 0 {
		// The sender recorded its own copy before it forwarded it.
		f := r.nodes[from]
		f.mu.Lock()
		path = f.pathHops[id] + 1
		f.mu.Unlock()
	}
	n.mu.Lock()
	_, had := n.held[id]
	if !had {
		n.held[id] = env
		n.pathHops[id] = path
	}
	n.mu.Unlock()
	if had {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.published[id]
	r.received = append(r.received, Delivery{
		Latency:   at.Sub(p.at),
		Floor:     time.Duration(r.hops[p.from][n.idx]) * r.cfg.Latency,
		Hops:      r.hops[p.from][n.idx],
		PathHops:  path,
		PathFloor: time.Duration(path) * r.cfg.Latency,
		Via:       via,
	})
}

func (r *run) publish(ctx context.Context, n *node) error {
	env, id, err := signedAlert(n.code, n.key, n.region)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.held[id] = env
	n.pathHops[id] = 0
	n.mu.Unlock()
	r.mu.Lock()
	r.published[id] = publication{from: n.idx, at: time.Now()}
	r.mu.Unlock()
	if err := n.topic.Publish(ctx, env); err != nil {
		return fmt.Errorf("publish from %s: %w", n.code, err)
	}
	return nil
}

// waitSubscribed waits until every node sees each neighbour on the topic.
func (r *run) waitSubscribed(ctx context.Context, links [][2]int) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := make([]int, len(r.nodes))
	for _, l := range links {
		want[l[0]]++
		want[l[1]]++
	}
	for {
		ready := true
		for i, n := range r.nodes {
			if len(n.topic.ListPeers()) < want[i] {
				ready = false
				break
			}
		}
		if ready {
			return nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("%w: subscriptions did not propagate: %w", ErrSetup, err)
		}
	}
}

func (r *run) deliveredCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// signedAlert returns a realistic alert envelope for the region, signed by
// the issuer: a missing-child alert with two match tokens, as a node
// publishes one.
func signedAlert(issuer v1.AuthorityCode, key ed25519.PrivateKey, region string) ([]byte, v1.ID, error) {
	now := time.Now().UTC().Truncate(time.Second)
	tok := func() []byte { b := make([]byte, v1.MatchTokenSize); _, _ = rand.Read(b); return b }
	a := &v1.CrossBorderAlert{
		ID:            v1.NewID(),
		Type:          v1.AlertMissing,
		Issuer:        issuer,
		TargetRegions: []string{region},
		Urgency:       v1.UrgencyHigh,
		IssuedAt:      now,
		ExpiresAt:     now.Add(24 * time.Hour),
		Contact:       v1.ContactDutyDesk,
		LegalBasis:    v1.BasisSafeguardingChildren,
		AgeBand:       v1.Age13To15,
		Sex:           v1.SexMale,
		Exploitation:  []v1.ExploitationType{v1.ExploitationCriminal},
		MatchTokens:   [][]byte{tok(), tok()},
	}
	sb, err := a.SigningBytes()
	if err != nil {
		return nil, "", fmt.Errorf("alert signing bytes: %w", err)
	}
	a.Signature = ed25519.Sign(key, sb)
	env, err := v1.Marshal(a)
	if err != nil {
		return nil, "", fmt.Errorf("alert envelope: %w", err)
	}
	return env, a.ID, nil
}
