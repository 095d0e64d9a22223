package gossip_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const (
	testRegion = "London"
	// patience bounds every wait for the network.
	patience = 30 * time.Second
)

// keyFrom returns a deterministic ed25519 key for a label.
func keyFrom(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("gossip test key " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

var anchorKeys = []ed25519.PrivateKey{keyFrom("anchor 1"), keyFrom("anchor 2")}

// member is one authority's node in a test region: its key, and once
// started its store, host and gossip service.
type member struct {
	t          testing.TB
	code       v1.AuthorityCode
	key        ed25519.PrivateKey
	dir        string // on-disk store when set; in memory otherwise
	store      *storage.Store
	host       *federation.Host
	svc        *gossip.Service
	reg        *prometheus.Registry
	inbox      *handler
	acks       chan gossip.AckReceived
	status     func() gossip.StatusReport
	onConflict func(gossip.CheckpointConflict)
	tap        *wireTap
	roles      []roster.Role // nil: the authority role
	listen     []string      // addresses of the first start, reused on restart
	// region, anchors and neighbours: where the member federates; zero
	// values mean London under anchorKeys, with no other region held.
	region     string
	anchors    []ed25519.PrivateKey
	neighbours []federation.RegionTrust
	// digestInterval, when set, replaces the tests' one-second
	// DigestInterval (a long one leaves only event-driven repair).
	digestInterval time.Duration
}

func (m *member) regionName() string {
	if m.region == "" {
		return testRegion
	}
	return m.region
}

func (m *member) peerID() peer.ID {
	s, err := roster.PeerIDOf(pub(m.key))
	if err != nil {
		panic(err)
	}
	id, err := peer.Decode(s)
	if err != nil {
		panic(err)
	}
	return id
}

// region is a test region: its members and the signed roster they share.
type region struct {
	t       testing.TB
	members []*member
	signed  []byte
	// name and anchors: zero values mean London under anchorKeys.
	name    string
	anchors []ed25519.PrivateKey
}

func (r *region) regionName() string {
	if r.name == "" {
		return testRegion
	}
	return r.name
}

func (r *region) anchorKeys() []ed25519.PrivateKey {
	if r.anchors == nil {
		return anchorKeys
	}
	return r.anchors
}

// newRegion makes n members of London (the first n authorities) and a
// signed roster listing them; nothing is started.
func newRegion(t testing.TB, n int) *region {
	t.Helper()
	london := authority.InRegion(testRegion)
	r := &region{t: t}
	for i := 0; i < n; i++ {
		code := london[i].Code
		r.members = append(r.members, &member{t: t, code: code, key: keyFrom(string(code)), inbox: newHandler()})
	}
	r.signed = r.sign(1, nil)
	return r
}

// sign returns a signed roster of the region's members with addresses for
// those whose hosts run.
func (r *region) sign(serial uint64, addrs map[v1.AuthorityCode][]string) []byte {
	t := r.t
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	ro := &roster.Roster{Region: r.regionName(), Serial: serial, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour)}
	for _, m := range r.members {
		id, err := roster.PeerIDOf(pub(m.key))
		if err != nil {
			t.Fatal(err)
		}
		ro.Members = append(ro.Members, roster.Member{
			Authority: m.code,
			PeerID:    id,
			Addrs:     addrs[m.code],
			Roles:     roles(m),
			Contacts: roster.Contacts{
				DutyDesk:       roster.Contact{Team: "Front Door", Phone: "020 7527 7400"},
				OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "020 7226 0992"},
				NRMCoordinator: roster.Contact{Team: "Exploitation Team", Email: "nrm@example.gov.uk"},
			},
		})
	}
	keys := r.anchorKeys()
	signed, err := roster.Sign(ro, keys[0])
	if err == nil {
		err = signed.AddSignature(keys[1])
	}
	var b []byte
	if err == nil {
		b, err = signed.Encode()
	}
	if err != nil {
		t.Fatalf("sign roster %d: %v", serial, err)
	}
	return b
}

func roles(m *member) []roster.Role {
	if m.roles == nil {
		return []roster.Role{roster.RoleAuthority}
	}
	return m.roles
}

// startHosts starts the hosts of the members given (all when none), then
// moves every running host to a roster listing their addresses.
func (r *region) startHosts(ms ...*member) {
	t := r.t
	t.Helper()
	if len(ms) == 0 {
		ms = r.members
	}
	for _, m := range ms {
		m.startHost(r.signed)
	}
	addrs := map[v1.AuthorityCode][]string{}
	for _, m := range r.members {
		if m.host != nil {
			for _, a := range m.host.Addrs() {
				addrs[m.code] = append(addrs[m.code], a.String())
			}
		}
	}
	r.signed = r.sign(2, addrs)
	for _, m := range r.members {
		if m.host != nil {
			if err := m.host.UpdateRoster(r.signed); err != nil {
				t.Fatalf("%s: update roster: %v", m.code, err)
			}
		}
	}
}

func (m *member) startHost(signed []byte) {
	t := m.t
	t.Helper()
	cfg := federation.DefaultConfig()
	cfg.Identity = m.key
	cfg.Region = m.regionName()
	keys := anchorKeys
	if m.anchors != nil {
		keys = m.anchors
	}
	cfg.Anchors = []ed25519.PublicKey{pub(keys[0]), pub(keys[1])}
	cfg.Neighbours = m.neighbours
	cfg.Threshold = 2
	cfg.Roster = signed
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	if m.listen != nil {
		cfg.ListenAddrs = m.listen // a restart comes back where the roster says
	}
	cfg.ReconnectInterval = 200 * time.Millisecond
	cfg.DialBackoffMin = 100 * time.Millisecond
	cfg.DialBackoffMax = time.Second
	cfg.DialTimeout = 5 * time.Second
	cfg.Logger = testLogger(t, slog.LevelError).With("node", string(m.code))
	h, err := federation.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s: start host: %v", m.code, err)
	}
	m.host = h
	if m.listen == nil {
		for _, a := range h.Addrs() {
			m.listen = append(m.listen, a.String())
		}
	}
	t.Cleanup(func() { _ = h.Close() })
}

// openStore opens the member's store: on disk under m.dir if set.
func (m *member) openStore() {
	t := m.t
	t.Helper()
	if m.dir == "" {
		m.dir = t.TempDir()
		if err := storage.CreateKeys(filepath.Join(m.dir, "keys")); err != nil {
			t.Fatal(err)
		}
		m.dir = m.dir + "#mem"
	}
	dir := strings.TrimSuffix(m.dir, "#mem")
	cfg := storage.DefaultConfig()
	cfg.DataDir, cfg.KeysDir = filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	cfg.InMemory = strings.HasSuffix(m.dir, "#mem")
	cfg.Authority = m.code
	cfg.MemTableSize, cfg.BlockCacheSize, cfg.IndexCacheSize = 8<<20, 1<<20, 1<<20
	cfg.Logger = testLogger(t, slog.LevelWarn).With("node", string(m.code))
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatalf("%s: open store: %v", m.code, err)
	}
	m.store = s
	t.Cleanup(func() { _ = s.Close() })
}

// onDisk makes the member's store persistent (call before start).
func (m *member) onDisk() {
	m.dir = m.t.TempDir()
	if err := storage.CreateKeys(filepath.Join(m.dir, "keys")); err != nil {
		m.t.Fatal(err)
	}
}

func testConfig(m *member) gossip.Config {
	cfg := gossip.DefaultConfig()
	cfg.Host, cfg.Identity = m.host, m.key
	cfg.Outbox, cfg.Seen = outbox{m.store}, m.store
	cfg.Handler = m.inbox
	cfg.Status = m.status
	cfg.Version = "test-1"
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.DownAfter = time.Second
	cfg.OutboxInterval = 100 * time.Millisecond
	cfg.RetryMin = 500 * time.Millisecond
	cfg.RetryMax = 2 * time.Second
	cfg.DigestInterval = time.Second
	if m.digestInterval > 0 {
		cfg.DigestInterval = m.digestInterval
	}
	cfg.StreamTimeout = 5 * time.Second
	cfg.OnCheckpointConflict = m.onConflict
	m.acks = make(chan gossip.AckReceived, 64)
	acks := m.acks
	cfg.OnAck = func(a gossip.AckReceived) {
		select {
		case acks <- a:
		default:
		}
	}
	m.reg = prometheus.NewRegistry()
	cfg.Registry = m.reg
	cfg.Logger = testLogger(m.t, slog.LevelInfo).With("node", string(m.code))
	return cfg
}

// startService opens the store if needed and starts the gossip service.
func (m *member) startService() {
	t := m.t
	t.Helper()
	if m.store == nil {
		m.openStore()
	}
	var tap func(string, []byte)
	if m.tap != nil {
		tap = m.tap.record
	}
	svc, err := gossip.NewTapped(context.Background(), testConfig(m), tap)
	if err != nil {
		t.Fatalf("%s: start gossip: %v", m.code, err)
	}
	m.svc = svc
	t.Cleanup(func() { _ = svc.Close() })
}

// stop closes the member's service, host and store, in that order.
func (m *member) stop() {
	if m.svc != nil {
		_ = m.svc.Close()
		m.svc = nil
	}
	if m.host != nil {
		_ = m.host.Close()
		m.host = nil
	}
	if m.store != nil {
		_ = m.store.Close()
		m.store = nil
	}
}

// start starts the region: every host, then every service, and waits until
// each service sees every other on its region's alert topic.
func (r *region) start(ms ...*member) {
	r.t.Helper()
	if len(ms) == 0 {
		ms = r.members
	}
	r.startHosts(ms...)
	for _, m := range ms {
		m.startService()
	}
	r.waitMesh(ms...)
}

func (r *region) waitMesh(ms ...*member) {
	r.t.Helper()
	topic := gossip.RegionTopic(r.regionName())
	eventually(r.t, "every service sees the others on the alert topic", func() bool {
		for _, m := range ms {
			if len(m.svc.TopicPeers(topic)) < len(ms)-1 {
				return false
			}
		}
		return true
	})
}

// outbox adapts *storage.Store to gossip.Outbox, as the composition root does.
type outbox struct{ s *storage.Store }

func (o outbox) EnqueueOutbox(ctx context.Context, m gossip.OutboxEntry) error {
	return o.s.EnqueueOutbox(ctx, storage.OutboxMessage(m))
}

func (o outbox) DueOutbox(now time.Time, limit int) ([]gossip.OutboxEntry, error) {
	ms, err := o.s.DueOutbox(now, limit)
	out := make([]gossip.OutboxEntry, len(ms))
	for i, m := range ms {
		out[i] = gossip.OutboxEntry(m)
	}
	return out, err
}

func (o outbox) AckOutbox(ctx context.Context, id v1.ID, from v1.AuthorityCode) (bool, error) {
	return o.s.AckOutbox(ctx, id, from)
}

func (o outbox) MarkAttempt(ctx context.Context, id v1.ID, next time.Time) error {
	return o.s.MarkAttempt(ctx, id, next)
}

func (o outbox) ExpireOutbox(ctx context.Context, now time.Time) (int, error) {
	return o.s.ExpireOutbox(ctx, now)
}

func (o outbox) OutboxDepth() int { return o.s.OutboxDepth() }

// handler records the alerts a node is handed.
type handler struct {
	mu    sync.Mutex
	got   []gossip.Received
	fail  int // refuse this many alerts first, as a node whose store is failing
	calls int
}

func newHandler() *handler { return &handler{} }

func (h *handler) HandleAlert(_ context.Context, r gossip.Received) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.fail > 0 {
		h.fail--
		return errors.New("store unavailable")
	}
	h.got = append(h.got, r)
	return nil
}

// received returns the alerts handed over with an ID.
func (h *handler) received(id v1.ID) []gossip.Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []gossip.Received
	for _, r := range h.got {
		if r.Alert.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func (h *handler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// wireTap keeps every byte a service sent or received.
type wireTap struct {
	mu   sync.Mutex
	seen []capture
}

type capture struct {
	what string
	data []byte
}

func (w *wireTap) record(what string, b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, capture{what, bytes.Clone(b)})
}

func (w *wireTap) all() []capture {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]capture(nil), w.seen...)
}

// newAlert returns an unsigned alert of the issuer's.
func newAlert(issuer v1.AuthorityCode, mutate func(a *v1.CrossBorderAlert)) *v1.CrossBorderAlert {
	now := time.Now().UTC().Truncate(time.Second)
	a := &v1.CrossBorderAlert{
		ID:            v1.NewID(),
		Type:          v1.AlertMissing,
		Issuer:        issuer,
		TargetRegions: []string{testRegion},
		Urgency:       v1.UrgencyHigh,
		IssuedAt:      now,
		ExpiresAt:     now.Add(24 * time.Hour),
		Contact:       v1.ContactDutyDesk,
		LegalBasis:    v1.BasisSafeguardingChildren,
		AgeBand:       v1.Age13To15,
		Sex:           v1.SexMale,
	}
	if mutate != nil {
		mutate(a)
	}
	return a
}

// rogue is a roster member's host running stock GossipSub without any of
// our validators: a compromised or buggy member. Like a node it runs two
// routers, one for the region's topics and one on the national protocol.
type rogue struct {
	ps, nps *pubsub.PubSub
	topics  map[string]*pubsub.Topic
}

func startRogue(t testing.TB, m *member) *rogue {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	opts := []pubsub.Option{pubsub.WithMessageSignaturePolicy(pubsub.StrictSign), pubsub.WithFloodPublish(true)}
	ps, err := pubsub.NewGossipSub(ctx, m.host.Libp2p(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	national := func(f pubsub.GossipSubFeature, p protocol.ID) bool {
		return f == pubsub.GossipSubFeatureMesh && p == gossip.NationalRouterProtocol
	}
	nps, err := pubsub.NewGossipSub(ctx, m.host.Libp2p(),
		append(opts, pubsub.WithGossipSubProtocols([]protocol.ID{gossip.NationalRouterProtocol}, national))...)
	if err != nil {
		t.Fatal(err)
	}
	r := &rogue{ps: ps, nps: nps, topics: map[string]*pubsub.Topic{}}
	for _, name := range []string{gossip.RegionTopic(testRegion), gossip.NationalTopic, gossip.StatusTopic(testRegion)} {
		router := ps
		if name == gossip.NationalTopic {
			router = nps
		}
		tp, err := router.Join(name)
		if err != nil {
			t.Fatal(err)
		}
		r.topics[name] = tp
	}
	return r
}

// reconnect closes the rogue host's connections and dials its peers again,
// as a restarted node would. Needed when the member's own service ran on
// this host before: its peers keep their pubsub streams to the closed
// routers (whose read loops keep consuming them) and open no new ones on a
// connection they already have.
func (r *rogue) reconnect(t testing.TB, m *member) {
	t.Helper()
	h := m.host.Libp2p()
	for _, p := range h.Network().Peers() {
		ai := peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)}
		_ = h.Network().ClosePeer(p)
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		if err := h.Connect(ctx, ai); err != nil {
			t.Logf("rogue: reconnect to %s: %v", p, err)
		}
		cancel()
	}
}

func (r *rogue) publish(t testing.TB, topic string, b []byte, peers int) {
	t.Helper()
	tp := r.topics[topic]
	eventually(t, "the rogue sees every honest member on "+topic, func() bool { return len(tp.ListPeers()) >= peers })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := tp.Publish(ctx, b); err != nil {
		t.Fatalf("rogue publish: %v", err)
	}
}

// counter reads one series of a counter vector from a member's registry.
func counter(t *testing.T, m *member, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range mt.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	return 0
}

// gauge reads a gauge without labels from a member's registry (0 if absent).
func gauge(t *testing.T, m *member, name string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// eventually polls cond until it holds or patience runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", patience, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// testLogger sends logs at level and above to t until the test ends.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	var mu sync.Mutex
	open := true
	t.Cleanup(func() {
		mu.Lock()
		open = false
		mu.Unlock()
	})
	sink := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if open {
			t.Log(strings.TrimRight(string(p), "\n"))
		}
		return len(p), nil
	})
	return slog.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: level}))
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
