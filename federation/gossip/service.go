package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/prometheus/client_golang/prometheus"

	"nrmnet/federation"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Stream protocols.
const (
	AckProtocol    = protocol.ID("/nrmnet/alert-ack/1")
	DigestProtocol = protocol.ID("/nrmnet/alert-digest/1")
	// NationalRouterProtocol is the GossipSub (v1.2) protocol of the
	// national router: a second router on the same host, for the national
	// topics only, so that bridges can send every national message straight
	// to every member of their region without doing the same for the
	// region's own topics (DESIGN.md, "Two routers").
	NationalRouterProtocol = protocol.ID("/meshsub/nrmnet-national/1.2.0")
)

// NationalTopic is the topic of alerts for cross-region cases.
const NationalTopic = "/nrmnet/alerts/1/national"

// RegionTopic returns the topic of a region's alerts, e.g.
// "/nrmnet/alerts/1/region/north-east".
func RegionTopic(region string) string { return "/nrmnet/alerts/1/region/" + slug(region) }

// StatusTopic returns the topic of a region's heartbeats.
func StatusTopic(region string) string { return "/nrmnet/status/1/region/" + slug(region) }

func slug(region string) string {
	return strings.ReplaceAll(strings.ToLower(region), " ", "-")
}

// topic labels for metrics.
const (
	labelRegion   = "region_alerts"
	labelNational = "national_alerts"
	labelStatus   = "status"
	labelDigest   = "digest"
)

// Service is a node's gossip: its topics, validators, outbox loop, digest
// repair, acknowledgements and heartbeats. Close it before the host.
type Service struct {
	cfg     Config
	log     *slog.Logger
	host    *federation.Host
	self    peer.ID
	me      v1.AuthorityCode
	region  string
	started time.Time
	now     func() time.Time
	metrics *metrics

	ps     *pubsub.PubSub           // the region's topics
	nps    *pubsub.PubSub           // the national topics
	topics map[string]*pubsub.Topic // by topic name
	labels map[string]string        // topic name -> metric label
	subs   []*pubsub.Subscription

	inbox    chan incoming
	acks     chan ackJob
	pulls    chan pullRequest
	proofs   atomic.Pointer[proofChecker] // nil until EnableAuditProofs
	beats    chan *Heartbeat
	views    chan chan RegionView
	conflict chan CheckpointConflict
	accepted chan v1.AuthorityCode // AcceptAuditHistory to statusLoop
	acked    chan AckReceived
	notifee  *network.NotifyBundle
	scores   atomic.Pointer[map[peer.ID]float64] // the regional router's
	nscores  atomic.Pointer[map[peer.ID]float64] // the national router's
	// direct is the national router's direct peers, written by
	// rosterLoop once the service runs.
	dmu    sync.Mutex
	direct map[peer.ID]bool

	// tap, set only by tests, sees every message this service sends or
	// receives on the wire, before validation.
	tap func(what string, b []byte)

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup // every goroutine, stream handlers included
	life      sync.Mutex     // guards closing against wg.Add
	closing   bool
	closeOnce sync.Once
}

// New validates cfg, joins the region's topics on the host, registers the
// validators and stream handlers, and starts the loops. The context bounds
// only the start.
func New(ctx context.Context, cfg Config) (*Service, error) {
	return newService(ctx, cfg, nil)
}

// newService is New with a wire tap (tests only).
func newService(ctx context.Context, cfg Config, tap func(what string, b []byte)) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := cfg.Host
	r := h.Roster()
	self, ok := r.MemberByPeer(h.ID())
	if !ok {
		return nil, fmt.Errorf("%w: this node is not on the roster in force", ErrConfig)
	}
	m, err := newMetrics(cfg.Registry, cfg.Outbox)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics: %v", ErrConfig, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Service{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "gossip"),
		host:     h,
		self:     h.ID(),
		me:       v1.AuthorityCode(self.Authority),
		region:   r.Region,
		started:  cfg.Now().UTC(),
		now:      cfg.Now,
		metrics:  m,
		topics:   map[string]*pubsub.Topic{},
		labels:   map[string]string{},
		inbox:    make(chan incoming, 256),
		acks:     make(chan ackJob, 256),
		pulls:    make(chan pullRequest, 64),
		beats:    make(chan *Heartbeat, 64),
		views:    make(chan chan RegionView),
		conflict: make(chan CheckpointConflict, 64),
		accepted: make(chan v1.AuthorityCode),
		acked:    make(chan AckReceived, 256),
		tap:      tap,
		ctx:      runCtx,
		cancel:   cancel,
	}
	if cfg.Registry != nil {
		direct := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "nrmnet", Subsystem: "gossip",
			Name: "national_direct_peers",
			Help: "Peers the national router sends every national message to: on a bridge the other regions' bridges and its region's members, elsewhere its region's bridges."},
			func() float64 { return float64(s.nationalDirectCount()) })
		if err := cfg.Registry.Register(direct); err != nil {
			cancel()
			return nil, fmt.Errorf("%w: metrics: %v", ErrConfig, err)
		}
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Service) start() error {
	member := func(p peer.ID) bool { _, ok := s.host.LookupPeer(p); return ok }
	inspect := func(into *atomic.Pointer[map[peer.ID]float64]) pubsub.Option {
		return pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(func(m map[peer.ID]float64) { into.Store(&m) }), time.Second)
	}
	regional := []string{RegionTopic(s.region), StatusTopic(s.region), RosterTopic(s.region)}
	ps, err := pubsub.NewGossipSub(s.ctx, s.host.Libp2p(),
		append(RouterOptions(regional, member), inspect(&s.scores), pubsub.WithLogger(s.log))...)
	if err != nil {
		return fmt.Errorf("start gossipsub: %w", err)
	}
	s.ps = ps
	// The national router: a bridge sends every national message to the
	// other regions' bridges and to every member of its own region, and
	// every member to its region's bridges, mesh or not (direct peers), so
	// a national alert crosses regions and enters each one in one hop.
	direct := s.nationalDirect()
	s.dmu.Lock()
	s.direct = map[peer.ID]bool{}
	for _, d := range direct {
		s.direct[d.ID] = true
	}
	s.dmu.Unlock()
	national := []string{NationalTopic, NationalRosterTopic}
	nopts := append(RouterOptions(national, member), inspect(&s.nscores), pubsub.WithLogger(s.log.With("router", "national")),
		pubsub.WithGossipSubProtocols([]protocol.ID{NationalRouterProtocol}, nationalFeatures))
	if len(direct) > 0 {
		nopts = append(nopts, pubsub.WithDirectPeers(direct))
	}
	nps, err := pubsub.NewGossipSub(s.ctx, s.host.Libp2p(), nopts...)
	if err != nil {
		return fmt.Errorf("start the national gossipsub: %w", err)
	}
	s.nps = nps
	for _, t := range []struct {
		name, label string
		router      *pubsub.PubSub
		val         pubsub.ValidatorEx
	}{
		{RegionTopic(s.region), labelRegion, ps, s.validateAlertOn(RegionTopic(s.region), labelRegion)},
		{NationalTopic, labelNational, nps, s.validateAlertOn(NationalTopic, labelNational)},
		{StatusTopic(s.region), labelStatus, ps, s.validateHeartbeat},
		{RosterTopic(s.region), labelRoster, ps, s.validateRosterOn(RosterTopic(s.region))},
		{NationalRosterTopic, labelRoster, nps, s.validateRosterOn(NationalRosterTopic)},
	} {
		if err := t.router.RegisterTopicValidator(t.name, t.val, pubsub.WithValidatorTimeout(s.cfg.StreamTimeout)); err != nil {
			return fmt.Errorf("register validator for %s: %w", t.name, err)
		}
		topic, err := t.router.Join(t.name)
		if err != nil {
			return fmt.Errorf("join %s: %w", t.name, err)
		}
		s.topics[t.name], s.labels[t.name] = topic, t.label
		sub, err := topic.Subscribe(pubsub.WithBufferSize(256))
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", t.name, err)
		}
		s.subs = append(s.subs, sub)
		s.wg.Add(1)
		go s.readLoop(sub, t.label)
	}
	lh := s.host.Libp2p()
	lh.SetStreamHandler(AckProtocol, s.tracked(s.serveAck))
	lh.SetStreamHandler(DigestProtocol, s.tracked(s.serveDigest))
	s.notifee = &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		s.requestPull(c.RemotePeer())
	}}
	lh.Network().Notify(s.notifee)

	s.wg.Add(8)
	go s.rosterLoop()
	go s.inboxLoop()
	go s.ackLoop()
	go s.outboxLoop()
	go s.digestLoop()
	go s.heartbeatLoop()
	go s.statusLoop()
	go s.observerLoop()
	// Peers already connected get a digest exchange now.
	for _, p := range lh.Network().Peers() {
		s.requestPull(p)
	}
	return nil
}

// Close stops the service: stream handlers first, so no new exchange
// starts, then the subscriptions and loops. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		lh := s.host.Libp2p()
		lh.RemoveStreamHandler(AckProtocol)
		lh.RemoveStreamHandler(DigestProtocol)
		lh.RemoveStreamHandler(AuditProofProtocol)
		if s.notifee != nil {
			lh.Network().StopNotify(s.notifee)
		}
		s.life.Lock()
		s.closing = true
		s.life.Unlock()
		for _, sub := range s.subs {
			sub.Cancel()
		}
		s.cancel()
		s.wg.Wait()
		for _, t := range s.topics {
			_ = t.Close()
		}
	})
	return nil
}

// tracked wraps a stream handler so that Close waits for it, and so that a
// stream arriving while the service closes is reset.
func (s *Service) tracked(h network.StreamHandler) network.StreamHandler {
	return func(st network.Stream) {
		s.life.Lock()
		if s.closing {
			s.life.Unlock()
			st.Reset()
			return
		}
		s.wg.Add(1)
		s.life.Unlock()
		defer s.wg.Done()
		h(st)
	}
}

// PeerScore returns a peer's GossipSub score as of the last second (the
// lower of the two routers' scores where both score it), and whether a
// router scores it (it is connected).
func (s *Service) PeerScore(p peer.ID) (float64, bool) {
	var (
		score float64
		found bool
	)
	for _, m := range []*map[peer.ID]float64{s.scores.Load(), s.nscores.Load()} {
		if m == nil {
			continue
		}
		if v, ok := (*m)[p]; ok && (!found || v < score) {
			score, found = v, true
		}
	}
	return score, found
}

// nationalDirectCount is how many direct peers the national router has.
func (s *Service) nationalDirectCount() int {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return len(s.direct)
}

// nationalFeatures is the national router's feature test: GossipSub v1.2
// (mesh and IDONTWANT) on its one protocol; no peer exchange.
func nationalFeatures(f pubsub.GossipSubFeature, p protocol.ID) bool {
	switch f {
	case pubsub.GossipSubFeatureMesh, pubsub.GossipSubFeatureIdontwant:
		return p == NationalRouterProtocol
	default:
		return false
	}
}

// Region returns the region this service federates in.
func (s *Service) Region() string { return s.region }

// readLoop hands every accepted message of one subscription to its consumer.
func (s *Service) readLoop(sub *pubsub.Subscription, label string) {
	defer s.wg.Done()
	for {
		msg, err := sub.Next(s.ctx)
		if err != nil {
			return // cancelled or closed
		}
		if msg.ReceivedFrom == s.self {
			continue // our own message, delivered back to us
		}
		switch label {
		case labelRoster:
			continue // the validator moved the host to it; nothing more to do
		case labelStatus:
			hb, ok := msg.ValidatorData.(*Heartbeat)
			if !ok {
				continue
			}
			select {
			case s.beats <- hb:
			case <-s.ctx.Done():
				return
			}
		default:
			a, ok := msg.ValidatorData.(*v1.CrossBorderAlert)
			if !ok {
				continue
			}
			select {
			case s.inbox <- incoming{alert: a, envelope: msg.Data, from: msg.ReceivedFrom, via: "gossip"}:
			case <-s.ctx.Done():
				return
			}
		}
	}
}

// isTargeted reports whether an alert targets an authority in a region.
func isTargeted(a *v1.CrossBorderAlert, code v1.AuthorityCode, region string) bool {
	if a.National {
		return true
	}
	for _, t := range a.TargetAuthorities {
		if t == code {
			return true
		}
	}
	for _, r := range a.TargetRegions {
		if r == region {
			return true
		}
	}
	return false
}

// regionOf returns an authority's region, "" if unknown.
func regionOf(code v1.AuthorityCode) string {
	a, ok := authority.Lookup(authority.Code(code))
	if !ok {
		return ""
	}
	return a.Region
}

// topicFor returns the topic an alert belongs on: the issuer's region's when
// every target lies in that region, the national topic otherwise.
func topicFor(a *v1.CrossBorderAlert, region string) string {
	if isRegional(a, region) {
		return RegionTopic(region)
	}
	return NationalTopic
}

func isRegional(a *v1.CrossBorderAlert, region string) bool {
	if a.National {
		return false
	}
	for _, r := range a.TargetRegions {
		if r != region {
			return false
		}
	}
	for _, t := range a.TargetAuthorities {
		if regionOf(t) != region {
			return false
		}
	}
	return true
}

// targetsOf returns the authority-role members of the rosters held (this
// region's and any other region's), other than the issuer, that an alert
// targets, and the target authorities named that are on none of them.
func targetsOf(a *v1.CrossBorderAlert, rosters ...*roster.Roster) (targets, unreachable []v1.AuthorityCode) {
	onRoster := map[v1.AuthorityCode]bool{}
	for _, r := range rosters {
		for _, m := range r.Members {
			code := v1.AuthorityCode(m.Authority)
			if !m.HasRole(roster.RoleAuthority) || onRoster[code] {
				continue
			}
			onRoster[code] = true
			if code != a.Issuer && isTargeted(a, code, regionOf(code)) {
				targets = append(targets, code)
			}
		}
	}
	for _, t := range a.TargetAuthorities {
		if !onRoster[t] {
			unreachable = append(unreachable, t)
		}
	}
	return targets, unreachable
}

// connectedMembers counts the roster members this node is connected to.
func (s *Service) connectedMembers() int {
	n := 0
	net := s.host.Libp2p().Network()
	for _, id := range s.host.Roster().PeerIDs() {
		if id != s.self && net.Connectedness(id) == network.Connected {
			n++
		}
	}
	return n
}

var errNoTopic = errors.New("no such topic")

func (s *Service) publishOn(ctx context.Context, topic string, b []byte) error {
	t, ok := s.topics[topic]
	if !ok {
		return fmt.Errorf("%w: %s", errNoTopic, topic)
	}
	if s.tap != nil {
		s.tap("publish "+topic, b)
	}
	return t.Publish(ctx, b)
}
