package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/match"
	"nrmnet/federation/roster"
	"nrmnet/internal/wiring"
	"nrmnet/node"
	"nrmnet/node/api"
	"nrmnet/node/web"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// alertExpiryInterval is how often a node drops expired alerts (their
// match keys included); match tasks outlive their alerts.
const alertExpiryInterval = 10 * time.Minute

// startOptions are what a caller of startNode adds to the node's config.yaml.
type startOptions struct {
	// Logger receives every component's logs. Required.
	Logger *slog.Logger
	// DemoPrincipal, for devnet only, lets the case list be read without
	// sign-in, as this user.
	DemoPrincipal *web.Principal
	// RefreshInterval is how often the coordinator view reloads; 0 keeps
	// the default.
	RefreshInterval time.Duration
	// Federation, if set, adjusts the federation host's config before start
	// (devnet and tests shorten the redial backoff).
	Federation func(*federation.Config)
	// Gossip, if set, adjusts the gossip service's config before start
	// (devnet and tests shorten the heartbeat interval).
	Gossip func(*gossip.Config)
}

// statusReports is what the coordinator view reads of the members' signed
// heartbeats (the gossip service's RegionView).
type statusReports interface {
	RegionView() gossip.RegionView
}

// runningNode is one authority's node, composed from the store, the
// federation host and the web server. Close stops it in order.
type runningNode struct {
	Authority authority.Code
	Region    string

	log      *slog.Logger
	store    *storage.Store
	app      *node.Node
	host     *federation.Host
	gossip   *gossip.Service
	alerts   *node.CrossBorder
	issuer   *match.Issuer
	receiver *match.Receiver
	relocs   *relocationParts
	panels   *panelParts
	presence *presence
	status   *regionStatus
	metrics  *prometheus.Registry

	httpLn  net.Listener
	httpSrv *http.Server
	// failed receives the HTTP server's error if it stops by itself.
	failed chan error

	ready          atomic.Bool
	stopRoster     func()
	stopNeighbours func()
	ctx            context.Context // cancelled by Close
	cancel         context.CancelFunc
	wg             sync.WaitGroup
	shutdownFor    time.Duration
	closeOnce      sync.Once
	closeErr       error
}

// nodeSettings are the parts of the configuration that only a running node
// needs, checked together so that every problem is named at once.
type nodeSettings struct {
	region    string
	rosterAt  string
	signed    []byte
	anchors   []ed25519.PublicKey
	threshold int
	identity  ed25519.PrivateKey
	// others are the other regions' trust, and otherAt where each region's
	// roster is kept.
	others  []federation.RegionTrust
	otherAt map[string]string
}

func runSettings(dir string, cfg nodeConfig) (nodeSettings, error) {
	var (
		s    nodeSettings
		errs []error
	)
	s.region = cfg.Region
	if s.region == "" {
		if a, ok := authority.Lookup(cfg.Authority); ok {
			s.region = a.Region
		}
	}
	if len(cfg.Federation.Listen) == 0 {
		errs = append(errs, errors.New("federation.listen: at least one libp2p address is required, e.g. /ip4/0.0.0.0/tcp/4001"))
	}
	if cfg.HTTP.Listen == "" {
		errs = append(errs, errors.New("http.listen: is required, e.g. 127.0.0.1:8080"))
	} else if _, _, err := net.SplitHostPort(cfg.HTTP.Listen); err != nil {
		errs = append(errs, fmt.Errorf("http.listen: %q is not host:port", cfg.HTTP.Listen))
	}
	for i, a := range cfg.Federation.Anchors {
		k, err := roster.ParseAnchorKey(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("federation.anchors[%d]: %w", i, err))
			continue
		}
		s.anchors = append(s.anchors, k)
	}
	s.threshold = cfg.Federation.Threshold
	if len(cfg.Federation.Anchors) == 0 {
		errs = append(errs, errors.New("federation.anchors: the region's trust-anchor public keys are required (ask the region's anchor holders; see nrmnet roster --help)"))
	} else if len(s.anchors) == len(cfg.Federation.Anchors) {
		if err := roster.CheckTrust(s.anchors, s.threshold); err != nil {
			errs = append(errs, fmt.Errorf("federation.threshold: %w", err))
		}
	}
	if cfg.Federation.RosterFile == "" {
		errs = append(errs, errors.New("federation.roster_file: is required"))
	} else {
		s.rosterAt = resolve(dir, cfg.Federation.RosterFile)
		b, err := roster.ReadFile(s.rosterAt)
		if err != nil {
			errs = append(errs, fmt.Errorf("federation.roster_file: %w (install the region's signed roster there)", err))
		}
		s.signed = b
	}
	others, otherAt, otherErrs := otherRegionSettings(dir, s.region, cfg.Federation.OtherRegions)
	s.others, s.otherAt = others, otherAt
	errs = append(errs, otherErrs...)
	keyPath := filepath.Join(resolve(dir, cfg.KeysDir), storage.AuthorityKeyFile)
	id, err := storage.LoadAuthorityKey(keyPath)
	if err != nil {
		errs = append(errs, fmt.Errorf("authority key: %w", err))
	}
	s.identity = id
	return s, errors.Join(errs...)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// otherRegionSettings checks federation.other_regions and reads the rosters
// held for them. A roster file that does not exist yet is not an error: the
// node learns the roster from its bridge and writes the file.
func otherRegionSettings(dir, home string, cfgs []otherRegionConfig) ([]federation.RegionTrust, map[string]string, []error) {
	var (
		out  []federation.RegionTrust
		at   = map[string]string{}
		errs []error
	)
	for i, oc := range cfgs {
		field := fmt.Sprintf("federation.other_regions[%d]", i)
		t := federation.RegionTrust{Region: oc.Region, Threshold: oc.Threshold}
		switch {
		case !slices.Contains(authority.Regions(), oc.Region):
			errs = append(errs, fmt.Errorf("%s.region: %q is not a region (one of %s)", field, oc.Region, strings.Join(authority.Regions(), ", ")))
		case oc.Region == home:
			errs = append(errs, fmt.Errorf("%s.region: %s is this node's own region; list only the others", field, oc.Region))
		case at[oc.Region] != "":
			errs = append(errs, fmt.Errorf("%s.region: %s is listed twice", field, oc.Region))
		}
		bad := false
		for j, a := range oc.Anchors {
			k, err := roster.ParseAnchorKey(a)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.anchors[%d]: %w", field, j, err))
				bad = true
				continue
			}
			t.Anchors = append(t.Anchors, k)
		}
		if !bad {
			if err := roster.CheckTrust(t.Anchors, t.Threshold); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
		}
		if oc.RosterFile == "" {
			errs = append(errs, fmt.Errorf("%s.roster_file: is required (where the node keeps %s's roster)", field, oc.Region))
		} else {
			path := resolve(dir, oc.RosterFile)
			at[oc.Region] = path
			b, err := roster.ReadFile(path)
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				errs = append(errs, fmt.Errorf("%s.roster_file: %w", field, err))
			default:
				t.Roster = b
			}
		}
		out = append(out, t)
	}
	return out, at, errs
}

// startNode opens the node's store, starts its federation host and serves
// its HTTP endpoints: the JSON API under /v1, the web pages, /metrics,
// /healthz and /readyz. It
// returns once the HTTP listener is bound; readiness follows when the host
// has tried every member. On error, whatever was started is stopped again.
func startNode(ctx context.Context, dir string, cfg nodeConfig, opts startOptions) (_ *runningNode, err error) {
	if opts.Logger == nil {
		return nil, errors.New("start node: a logger is required")
	}
	set, err := runSettings(dir, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	log := opts.Logger.With("node", string(cfg.Authority))
	n := &runningNode{
		Authority:   cfg.Authority,
		Region:      set.region,
		log:         log,
		failed:      make(chan error, 1),
		shutdownFor: cfg.HTTP.ShutdownTimeout,
	}
	if n.shutdownFor <= 0 {
		n.shutdownFor = 10 * time.Second
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()

	sc := cfg.storeConfig(dir)
	sc.Logger = log.With("component", "store")
	if n.store, err = storage.Open(sc); err != nil {
		return nil, explainOpenError(err, sc)
	}

	n.metrics = prometheus.NewRegistry()
	fc := federation.DefaultConfig()
	fc.Identity = set.identity
	fc.Region = set.region
	fc.Anchors, fc.Threshold = set.anchors, set.threshold
	fc.Roster = set.signed
	fc.Neighbours = set.others
	fc.ListenAddrs = cfg.Federation.Listen
	fc.Logger = log
	fc.Metrics = n.metrics
	if opts.Federation != nil {
		opts.Federation(&fc)
	}
	if n.host, err = federation.New(ctx, fc); err != nil {
		return nil, err
	}
	n.presence = newPresence()
	n.host.Libp2p().Network().Notify(n.presence)
	n.stopRoster = n.host.RosterUpdates(func(u federation.RosterUpdate) {
		if u.PreviousSerial == 0 {
			return // the roster we started from is already on disk
		}
		if err := saveRoster(set.rosterAt, u.Signed); err != nil {
			log.Error("keeping the newer roster failed; the node will start from the older one next time", "serial", u.Roster.Serial, "err", err)
			return
		}
		log.Info("roster replaced", "serial", u.Roster.Serial, "previous_serial", u.PreviousSerial, "file", set.rosterAt)
	})
	n.stopNeighbours = n.host.NeighbourUpdates(func(u federation.RosterUpdate) {
		path := set.otherAt[u.Roster.Region]
		if u.PreviousSerial == 0 && fileExists(path) {
			return // the roster we started from is already on disk
		}
		if err := saveRoster(path, u.Signed); err != nil {
			log.Error("keeping another region's newer roster failed", "region", u.Roster.Region, "serial", u.Roster.Serial, "err", err)
			return
		}
		log.Info("roster of another region kept", "region", u.Roster.Region, "serial", u.Roster.Serial, "file", path)
	})
	n.status = &regionStatus{
		self: cfg.Authority, host: n.host, store: n.store, presence: n.presence,
		version: buildVersion(), ttl: time.Minute, now: time.Now,
	}
	// This node's own counts are refreshed in the background, so that a
	// heartbeat never waits on the store.
	if _, err := n.status.selfReport(ctx); err != nil {
		return nil, err
	}

	ncfg := node.DefaultConfig()
	ncfg.Store, ncfg.Authority = n.store, cfg.Authority
	ncfg.Logger = log.With("component", "node")
	if n.app, err = node.New(ncfg); err != nil {
		return nil, err
	}
	if n.panels, err = startPanels(panelDeps{DataDir: sc.DataDir, KeysDir: sc.KeysDir, Config: cfg.Panels,
		Host: n.host, Node: n.app, Logger: log}); err != nil {
		return nil, err
	}
	n.status.panels = n.panels

	// Cross-border alerts: the receiver asks other issuers about this
	// node's cases; CrossBorder raises, receives and matches; the issuer
	// answers other nodes' match queries about the alerts raised here. The
	// publisher and token issuer are bound once gossip and the issuer run.
	rc := match.DefaultReceiverConfig()
	rc.Host = n.host.Libp2p()
	rc.Logger = log.With("component", "match")
	if n.receiver, err = match.NewReceiver(rc); err != nil {
		return nil, err
	}
	pub, tok := &wiring.Publisher{}, &wiring.TokenIssuer{}
	cc := node.DefaultCrossBorderConfig()
	cc.Node, cc.Store, cc.Signer = n.app, n.store, set.identity
	cc.Publisher, cc.Issuer = pub, tok
	cc.Matcher = wiring.Matcher{Host: n.host, Receiver: n.receiver}
	cc.Logger = log.With("component", "crossborder")
	if n.alerts, err = node.NewCrossBorder(cc); err != nil {
		return nil, err
	}
	ic := match.DefaultIssuerConfig()
	ic.Window = time.Hour
	ic.PeerElementsPerWindow, ic.AlertElementsPerWindow = cfg.Matching.PeerElementsPerHour, cfg.Matching.AlertElementsPerHour
	ic.Host, ic.Keys = n.host.Libp2p(), wiring.MatchKeys{Store: n.store}
	ic.Authorize, ic.Audit = wiring.IssuerHooks(n.host, n.alerts)
	ic.Logger = log.With("component", "match")
	if n.issuer, err = match.NewIssuer(ic); err != nil {
		return nil, err
	}
	tok.Bind(n.issuer)

	gc := gossip.DefaultConfig()
	gc.Host, gc.Identity = n.host, set.identity
	gc.Outbox, gc.Seen = wiring.Outbox{Store: n.store}, n.store
	cb := n.alerts
	gc.Handler = gossip.AlertHandlerFunc(func(ctx context.Context, r gossip.Received) error {
		return cb.ReceiveAlert(ctx, r.Alert, r.Via)
	})
	gc.OnAck = func(a gossip.AckReceived) {
		if err := cb.RecordAck(n.ctx, a.Ack.AlertID, a.Ack.From); err != nil && n.ctx.Err() == nil {
			log.Error("recording an alert acknowledgement failed", "alert", string(a.Ack.AlertID), "from", string(a.Ack.From), "err", err)
		}
	}
	gc.Status = n.status.heartbeatStatus
	gc.OnCheckpointConflict = keepConflictEvidence(n.ctx, n.store, log)
	gc.Version = buildVersion()
	gc.Registry = n.metrics
	gc.Logger = log.With("component", "gossip")
	if opts.Gossip != nil {
		opts.Gossip(&gc)
	}
	if n.gossip, err = gossip.New(ctx, gc); err != nil {
		return nil, err
	}
	// Members prove their audit logs only grow: each node asks for and
	// checks consistency proofs, and keeps each member's last verified
	// checkpoint in its store.
	if err := n.gossip.EnableAuditProofs(gossip.ProofConfig{Prover: n.store, References: n.store}); err != nil {
		return nil, fmt.Errorf("gossip audit proofs: %w", err)
	}
	pub.Bind(n.gossip)
	n.status.reports = n.gossip

	if n.relocs, err = startRelocations(relocationDeps{Dir: dir, KeysDir: sc.KeysDir, Authority: cfg.Authority,
		Identity: set.identity, Host: n.host, Node: n.app, Store: n.store, Logger: log}); err != nil {
		return nil, err
	}

	acfg := api.DefaultConfig()
	acfg.Node = n.app
	acfg.Alerts = n.alerts
	acfg.Relocations = n.relocs.Desk
	acfg.Panels = n.panels.Panels
	acfg.Federation = memberHistory{n.gossip}
	acfg.Logger = log.With("component", "api")
	jsonAPI, err := api.New(acfg)
	if err != nil {
		return nil, err
	}

	wc := web.DefaultConfig()
	wc.Authority = cfg.Authority
	wc.SessionLifetime, wc.SessionIdleTimeout = cfg.HTTP.SessionLifetime, cfg.HTTP.SessionIdleTimeout
	wc.SecureCookies = cfg.HTTP.SecureCookies
	wc.Version = buildVersion()
	wc.Region = n.status
	wc.Cases = webCases{store: n.store}
	wc.CaseFiles = webCaseFiles{app: n.app}
	wc.Allocator = webCaseFiles{app: n.app}
	wc.Referrals = webCaseFiles{app: n.app}
	wc.Alerts = webAlerts{cb: n.alerts, self: cfg.Authority}
	wc.Relocations = webRelocations{desk: n.relocs.Desk, self: cfg.Authority}
	wc.Panels = webPanels{parts: n.panels, self: cfg.Authority}
	wc.Auth = webUsers{app: n.app}
	wc.DemoPrincipal = opts.DemoPrincipal
	if opts.RefreshInterval > 0 {
		wc.RefreshInterval = opts.RefreshInterval
	}
	wc.Logger = log
	pages, err := web.New(wc)
	if err != nil {
		return nil, err
	}
	httpm := n.registerMetrics(sc.DataDir)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.metrics, promhttp.HandlerOpts{Registry: n.metrics}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", n.readyz)
	mux.Handle("/v1/", jsonAPI)
	mux.Handle("/", pages)

	if n.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	n.httpSrv = &http.Server{
		Handler:           httpm.instrument(mux),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
	n.wg.Add(5)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(alertExpiryInterval)
		defer t.Stop()
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
				k, err := n.alerts.ExpireAlerts(n.ctx)
				if err != nil && n.ctx.Err() == nil {
					log.Warn("expiring alerts", "err", err)
				} else if k > 0 {
					log.Info("alerts expired", "count", k)
				}
			}
		}
	}()
	go func() {
		// Private matching that could not finish when an alert arrived
		// (its issuer unreachable, a large caseload, a restart) is
		// resumed here: at once after start, seconds after a failure,
		// and then every minute.
		defer n.wg.Done()
		n.alerts.KeepMatching(n.ctx)
	}()
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(n.status.ttl / 2)
		defer t.Stop()
		for {
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
				if _, err := n.status.selfReport(n.ctx); err != nil && n.ctx.Err() == nil {
					log.Warn("status report", "err", err)
				}
			}
		}
	}()
	go func() {
		defer n.wg.Done()
		if err := n.httpSrv.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", "err", err)
			n.failed <- err
		}
	}()
	go func() {
		defer n.wg.Done()
		select {
		case <-n.host.Ready():
			n.ready.Store(true)
			log.Info("node ready", "http", n.HTTPAddr(), "peer", n.host.ID())
		case <-n.ctx.Done():
		}
	}()
	log.Info("node started", "region", set.region, "http", n.HTTPAddr(), "peer", n.host.ID(), "cases", n.store.CaseCount())
	return n, nil
}

// HTTPAddr is the address the web server listens on.
func (n *runningNode) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// Failed delivers an error if the node's HTTP server stops by itself.
func (n *runningNode) Failed() <-chan error { return n.failed }

// readyz answers 200 once the store is open and the federation host has tried
// every member, and 503 before that and from the start of shutdown.
func (n *runningNode) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !n.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Close stops the node in order: it stops answering ready, lets HTTP
// requests in flight finish (bounded by http.shutdown_timeout), stops
// gossip, then the relocation service and its hand-over store, closes the
// federation host (peers see the node leave at once), then the store, which
// syncs and records its audit checkpoint. It may be called more than once.
func (n *runningNode) Close() error {
	n.closeOnce.Do(func() {
		n.ready.Store(false)
		var errs []error
		if n.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), n.shutdownFor)
			if err := n.httpSrv.Shutdown(ctx); err != nil {
				// Browsers keep pre-opened connections that never carry a
				// request; closing them, and anything slower than the
				// timeout, is the point of the timeout.
				n.log.Warn("http connections still open at the shutdown timeout; closing them", "timeout", n.shutdownFor, "err", err)
				_ = n.httpSrv.Close()
			}
			cancel()
		} else if n.httpLn != nil {
			_ = n.httpLn.Close()
		}
		n.cancel()
		n.wg.Wait()
		if n.stopRoster != nil {
			n.stopRoster()
		}
		if n.stopNeighbours != nil {
			n.stopNeighbours()
		}
		if err := n.panels.Close(); err != nil {
			errs = append(errs, fmt.Errorf("panels: %w", err))
		}
		if n.gossip != nil {
			if err := n.gossip.Close(); err != nil {
				errs = append(errs, fmt.Errorf("gossip: %w", err))
			}
		}
		if n.issuer != nil {
			if err := n.issuer.Close(); err != nil {
				errs = append(errs, fmt.Errorf("match issuer: %w", err))
			}
		}
		if n.receiver != nil {
			if err := n.receiver.Close(); err != nil {
				errs = append(errs, fmt.Errorf("match receiver: %w", err))
			}
		}
		if err := n.relocs.Close(); err != nil {
			errs = append(errs, err)
		}
		if n.host != nil {
			if err := n.host.Close(); err != nil {
				errs = append(errs, fmt.Errorf("federation host: %w", err))
			}
		}
		if n.store != nil {
			if err := n.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("store: %w", err))
			}
		}
		n.closeErr = errors.Join(errs...)
		if n.log != nil {
			n.log.Info("node stopped", "err", n.closeErr)
		}
	})
	return n.closeErr
}

func saveRoster(path string, signed []byte) error {
	s, err := roster.DecodeSignedRoster(signed)
	if err != nil {
		return err
	}
	return roster.SaveFile(path, s)
}

// presence remembers when each peer was last connected, for "last seen" on
// the coordinator view. libp2p calls it from its own goroutines; the map is
// the only state and the lock is held for a map access only.
type presence struct {
	mu   sync.Mutex
	seen map[peer.ID]time.Time
}

func newPresence() *presence { return &presence{seen: map[peer.ID]time.Time{}} }

func (p *presence) mark(id peer.ID) {
	p.mu.Lock()
	p.seen[id] = time.Now()
	p.mu.Unlock()
}

func (p *presence) lastSeen(id peer.ID) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[id]
}

func (p *presence) Listen(network.Network, ma.Multiaddr)      {}
func (p *presence) ListenClose(network.Network, ma.Multiaddr) {}
func (p *presence) Connected(_ network.Network, c network.Conn) {
	p.mark(c.RemotePeer())
}
func (p *presence) Disconnected(_ network.Network, c network.Conn) {
	p.mark(c.RemotePeer())
}

// regionStatus is the coordinator view's source: the roster in force, this
// node's own connections, its own report, and other members' reports when a
// statusReports is plugged in.
type regionStatus struct {
	self     authority.Code
	host     *federation.Host
	store    *storage.Store
	presence *presence
	reports  statusReports
	panels   *panelParts // nil-safe; set before gossip starts
	version  string
	ttl      time.Duration // how long this node's own report is reused
	now      func() time.Time

	mu         sync.Mutex
	cached     web.NodeReport
	cachedRoot []byte
	at         time.Time
}

// RegionView implements web.RegionStatus.
func (s *regionStatus) RegionView(ctx context.Context) (web.RegionView, error) {
	r := s.host.Roster()
	now := s.now()
	v := web.RegionView{
		Region: r.Region, Self: s.self, RosterSerial: r.Serial, RosterExpires: r.ExpiresAt,
		Source:       "this node's direct connections",
		OtherRegions: s.otherRegions(),
	}
	var beats gossip.RegionView
	if s.reports != nil {
		v.Source = "direct connections and signed heartbeats"
		beats = s.reports.RegionView()
	}
	leaders := map[string]authority.Code{}
	net := s.host.Libp2p().Network()
	self := s.host.ID()
	up := map[authority.Code]bool{}
	panels := map[string][]authority.Code{}
	var panelOrder []string
	for _, m := range r.Members {
		st := web.AuthorityStatus{Code: m.Authority, Name: string(m.Authority)}
		if a, ok := authority.Lookup(m.Authority); ok {
			st.Name = a.Name
		}
		for _, role := range m.Roles {
			st.Roles = append(st.Roles, string(role))
		}
		for _, p := range m.Panels {
			st.Panels = append(st.Panels, string(p))
			if _, ok := panels[string(p)]; !ok {
				panelOrder = append(panelOrder, string(p))
			}
			panels[string(p)] = append(panels[string(p)], m.Authority)
		}
		id, err := m.ID()
		switch {
		case err != nil:
		case id == self:
			st.Self, st.Up, st.LastSeen = true, true, now
			rep, err := s.selfReport(ctx)
			if err != nil {
				return web.RegionView{}, err
			}
			st.Report = &rep
		default:
			if net.Connectedness(id) == network.Connected {
				st.Up, st.LastSeen = true, now
			} else {
				st.LastSeen = s.presence.lastSeen(id)
			}
			if ms, ok := beats.Member(m.Authority); ok && ms.Heartbeat != nil {
				rep := reportOf(ms.Heartbeat)
				st.Report = &rep
				// A member whose heartbeats arrive (perhaps relayed by
				// others) is up even without a direct connection.
				st.Up = st.Up || ms.Up
				if ms.LastSeen.After(st.LastSeen) && !st.Up {
					st.LastSeen = ms.LastSeen
				}
				switch {
				case ms.CheckpointConflict:
					st.Report.AuditInconsistent, st.Report.AuditProblem = true, ms.AuditUnverified
				case ms.AuditVerified.Size > 0 && ms.AuditVerified.Size == ms.Heartbeat.Checkpoint.Size:
					st.Report.AuditVerified = true
				default:
					st.Report.AuditProblem = ms.AuditUnverified
				}
				for _, p := range ms.Heartbeat.Panels {
					if p.Leader != "" {
						leaders[string(p.Panel)] = p.Leader
					}
				}
			}
		}
		up[m.Authority] = st.Up
		v.Authorities = append(v.Authorities, st)
	}
	for _, ps := range s.panels.States() {
		if ps.Leader != "" {
			leaders[string(ps.Panel)] = ps.Leader // this node's own view is freshest
		}
	}
	for _, id := range panelOrder {
		p := web.PanelStatus{ID: id, Members: panels[id], Leader: leaders[id]}
		for _, ps := range s.panels.States() {
			if string(ps.Panel) == id && ps.Lag != nil {
				p.Lag = ps.Lag
			}
		}
		for _, c := range p.Members {
			if up[c] {
				p.MembersUp++
			}
		}
		v.Panels = append(v.Panels, p)
	}
	return v, nil
}

// otherRegions describes the other regions' rosters the host holds.
func (s *regionStatus) otherRegions() []web.OtherRegionStatus {
	var out []web.OtherRegionStatus
	net := s.host.Libp2p().Network()
	for _, r := range s.host.Rosters()[1:] {
		o := web.OtherRegionStatus{Region: r.Region, RosterSerial: r.Serial, RosterExpires: r.ExpiresAt}
		for _, m := range r.Members {
			if m.HasRole(roster.RoleAuthority) {
				o.Authorities++
			}
			if !m.HasRole(roster.RoleBridge) {
				continue
			}
			b := web.BridgeStatus{Code: m.Authority, Name: string(m.Authority)}
			if a, ok := authority.Lookup(m.Authority); ok {
				b.Name = a.Name
			}
			if id, err := m.ID(); err == nil {
				b.Connected = net.Connectedness(id) == network.Connected
			}
			o.Bridges = append(o.Bridges, b)
		}
		out = append(out, o)
	}
	return out
}

// selfReport is this node's own status report, rebuilt at most once per ttl.
// Its overdue count reads only the deadline index (storage.Store.CountDue)
// and is not audited.
func (s *regionStatus) selfReport(ctx context.Context) (web.NodeReport, error) {
	now := s.now()
	s.mu.Lock()
	if !s.at.IsZero() && now.Sub(s.at) < s.ttl {
		rep := s.cached
		s.mu.Unlock()
		rep.OutboxDepth = s.store.OutboxDepth()
		rep.Peers = s.connectedMembers()
		return rep, nil
	}
	s.mu.Unlock()
	// Counted without the lock held, so that a heartbeat reading the cache
	// never waits for the store. CountDue reads only the deadline index and
	// is not audited: a count names no case.
	overdue, err := s.store.CountDue(now)
	if err != nil {
		return web.NodeReport{}, fmt.Errorf("count overdue cases: %w", err)
	}
	cp, err := s.store.AuditCheckpoint()
	if err != nil {
		return web.NodeReport{}, fmt.Errorf("audit checkpoint: %w", err)
	}
	root := hex.EncodeToString(cp.Root[:])
	rep := web.NodeReport{
		At: now, Version: s.version, Peers: s.connectedMembers(), OutboxDepth: s.store.OutboxDepth(),
		Cases: s.store.CaseCount(), Overdue: overdue, AuditSize: cp.Size, AuditRoot: root[:16],
	}
	s.mu.Lock()
	s.cached, s.cachedRoot, s.at = rep, append([]byte(nil), cp.Root[:]...), now
	s.mu.Unlock()
	return rep, nil
}

// connectedMembers counts the other roster members this node is connected to.
func (s *regionStatus) connectedMembers() int {
	net := s.host.Libp2p().Network()
	n := 0
	for _, id := range s.host.Roster().PeerIDs() {
		if id != s.host.ID() && net.Connectedness(id) == network.Connected {
			n++
		}
	}
	return n
}

// httpMetrics counts requests by route and status, and times them.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func (m *httpMetrics) instrument(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := mux.Handler(r)
		if pattern == "" || pattern == "/" {
			pattern = "other"
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		mux.ServeHTTP(rec, r)
		m.duration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(pattern, strconv.Itoa(rec.status)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// registerMetrics registers the node's own metrics (counts and health only,
// never case content) beside Go's and the process's.
func (n *runningNode) registerMetrics(dataDir string) *httpMetrics {
	reg := n.metrics
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	constLabels := prometheus.Labels{"authority": string(n.Authority)}
	gauge := func(name, help string, f func() float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: constLabels}, f))
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "nrmnet_build_info", Help: "Always 1; labels say the version and region.",
		ConstLabels: prometheus.Labels{"authority": string(n.Authority), "region": n.Region, "version": buildVersion()},
	})
	info.Set(1)
	reg.MustRegister(info)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nrmnet_ready", Help: "1 when the node answers /readyz with 200.", ConstLabels: constLabels,
	}, func() float64 { return boolFloat(n.ready.Load()) }))
	reg.MustRegister(newPanelCollector(n.panels, constLabels))
	reg.MustRegister(newOtherRegionsCollector(n.status, constLabels))
	gauge("nrmnet_store_cases", "Cases held by the store.", func() float64 { return float64(n.store.CaseCount()) })
	gauge("nrmnet_outbox_depth", "Messages in the outbox waiting for acknowledgement.", func() float64 { return float64(n.store.OutboxDepth()) })
	gauge("nrmnet_audit_log_entries", "Entries in the audit log.", func() float64 {
		cp, err := n.store.AuditCheckpoint()
		if err != nil {
			return -1
		}
		return float64(cp.Size)
	})
	gauge("nrmnet_store_size_bytes", "Bytes on disk in the data directory.", func() float64 { return float64(dirSize(dataDir)) })
	gauge("nrmnet_federation_roster_serial", "Serial of the roster in force.", func() float64 { return float64(n.host.Roster().Serial) })
	gauge("nrmnet_federation_members", "Members on the roster in force, this node included.", func() float64 { return float64(len(n.host.Roster().Members)) })
	gauge("nrmnet_federation_members_connected", "Other members this node is connected to.", func() float64 { return float64(n.status.connectedMembers()) })
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nrmnet_federation_refused_connections_total", Help: "Connections refused by the roster gater.", ConstLabels: constLabels,
	}, func() float64 { return float64(n.host.RefusedConnections()) }))
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nrmnet_http_requests_total", Help: "HTTP requests by route and status code.", ConstLabels: constLabels,
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nrmnet_http_request_duration_seconds", Help: "HTTP request latency by route.", ConstLabels: constLabels,
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// webUsers signs the pages' users in with the node's users and tokens.
type webUsers struct{ app *node.Node }

func (u webUsers) Authenticate(token string) (web.Principal, error) {
	p, err := u.app.Authenticate(token)
	if err != nil {
		if errors.Is(err, node.ErrUnauthenticated) {
			return web.Principal{}, fmt.Errorf("%w: %w", web.ErrNotSignedIn, err)
		}
		return web.Principal{}, err
	}
	return web.Principal{UserID: p.ID, Role: string(p.Role)}, nil
}

// webCases is the case list's source: the store's summary index, behind the
// node's role table. A role that may not list cases is refused, and the
// refusal audited, before the index is read.
type webCases struct{ store *storage.Store }

func (c webCases) ListCases(ctx context.Context, q storage.CaseQuery, who storage.Access) ([]storage.CaseSummary, error) {
	if !node.Role(who.Role).Can(node.CanListCases) {
		err := c.store.Audit(ctx, &v1.AuditEntry{
			At: time.Now().UTC(), Actor: who.Actor, Role: who.Role, Action: v1.ActionAccessDenied,
			Subject: "case list", Purpose: who.Purpose, Outcome: v1.AuditDenied,
			Reason: fmt.Sprintf("role %s may not %s", who.Role, node.CanListCases),
		})
		return nil, errors.Join(fmt.Errorf("list cases: %w", web.ErrForbidden), err)
	}
	return c.store.ListCases(ctx, q, who)
}

// heartbeatStatus is this node's part of each heartbeat, from the report
// last refreshed: it never touches the store.
func (s *regionStatus) heartbeatStatus() gossip.StatusReport {
	s.mu.Lock()
	rep, root := s.cached, s.cachedRoot
	s.mu.Unlock()
	return gossip.StatusReport{
		Panels:     s.panels.Heartbeat(),
		Overdue:    []gossip.OverdueCount{{Clock: "next_deadline", Count: uint32(rep.Overdue)}},
		Checkpoint: gossip.Checkpoint{Size: rep.AuditSize, Root: root},
	}
}

// reportOf is the coordinator view's summary of a member's heartbeat.
func reportOf(h *gossip.Heartbeat) web.NodeReport {
	rep := web.NodeReport{
		At: h.SentAt, Version: h.Version, Peers: int(h.Peers), OutboxDepth: int(h.OutboxDepth),
		Cases: -1, AuditSize: h.Checkpoint.Size,
	}
	for _, o := range h.Overdue {
		rep.Overdue += int(o.Count)
	}
	root := hex.EncodeToString(h.Checkpoint.Root)
	if len(root) > 16 {
		root = root[:16]
	}
	rep.AuditRoot = root
	return rep
}
