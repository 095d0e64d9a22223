package rpc

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"nrmnet/federation"
	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

const (
	region = "London"
	// patience bounds every wait for the network to settle.
	patience = 30 * time.Second
)

func seedKey(seed byte) ed25519.PrivateKey {
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s[:])
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

var (
	anchor1, anchor2 = seedKey(1), seedKey(2)
	anchors          = []ed25519.PublicKey{pubOf(anchor1), pubOf(anchor2)}
)

// testLogger sends logs to t until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
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

func (w *testWriter) stop() { w.mu.Lock(); w.done = true; w.mu.Unlock() }

// node is one authority in a test: its host, its persisted hand-over store
// (Badger in its own directory), its case book and its relocation service.
// restart closes everything but the directory and the book and starts again
// on the same address, as a crashed node would.
type node struct {
	t      testing.TB
	code   authority.Code
	key    ed25519.PrivateKey
	dir    string
	addr   string
	signed []byte
	book   *book
	wrap   func(host.Host) host.Host // optional, e.g. a tap
	// crashAfter, when >= 0, makes the first start's store fail every write
	// after that many (see crashStore).
	crashAfter int
	seeds      int        // cases seeded so far, for distinct synthetic cases
	logs       *logBuffer // when set, the service logs here instead of to t
	// observe, when set, is the service's Observer.
	observe func(Handover)

	mu    sync.Mutex
	host  *federation.Host
	db    *BadgerStore
	store *crashStore
	rel   *Relocations
}

func newNodes(t testing.TB, n int, c *custody) []*node {
	london := authority.InRegion(region)
	out := make([]*node, n)
	for i := range out {
		out[i] = &node{t: t, code: london[i].Code, key: seedKey(byte(40 + i)), dir: t.TempDir(), crashAfter: -1}
		out[i].book = c.newBook(out[i].code)
	}
	return out
}

func rosterOf(t testing.TB, serial uint64, nodes []*node) []byte {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	r := &roster.Roster{Region: region, Serial: serial, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour)}
	for _, n := range nodes {
		id, _ := roster.PeerIDOf(pubOf(n.key))
		m := roster.Member{
			Authority: n.code, PeerID: id, Roles: []roster.Role{roster.RoleAuthority},
			Contacts: roster.Contacts{
				DutyDesk:       roster.Contact{Team: "Front Door", Phone: "020 7527 7400"},
				OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "020 7226 0992"},
				NRMCoordinator: roster.Contact{Team: "Exploitation Team", Email: "nrm@example.gov.uk"},
			},
		}
		if n.addr != "" {
			m.Addrs = []string{n.addr}
		}
		r.Members = append(r.Members, m)
	}
	s, err := roster.NewUnsigned(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []ed25519.PrivateKey{anchor1, anchor2} {
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

// startRegion starts every node's host (first on a roster without
// addresses, then on one with them), then every node's service.
func startRegion(t testing.TB, nodes []*node) {
	t.Helper()
	first := rosterOf(t, 1, nodes)
	for _, n := range nodes {
		n.signed = first
		n.startHost()
		n.addr = ""
		for _, a := range n.host.Addrs() {
			if strings.Contains(a.String(), "/tcp/") {
				n.addr = a.String()
			}
		}
	}
	second := rosterOf(t, 2, nodes)
	for _, n := range nodes {
		n.signed = second
		if err := n.host.UpdateRoster(second); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		n.startService(n.crashAfter)
		t.Cleanup(n.stop)
	}
}

func (n *node) startHost() {
	cfg := federation.DefaultConfig()
	cfg.Identity, cfg.Region, cfg.Anchors, cfg.Threshold, cfg.Roster = n.key, region, anchors, 2, n.signed
	cfg.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	if n.addr != "" {
		cfg.ListenAddrs = []string{n.addr}
	}
	cfg.ReconnectInterval = 200 * time.Millisecond
	cfg.DialBackoffMin, cfg.DialBackoffMax, cfg.DialTimeout = 50*time.Millisecond, 500*time.Millisecond, 5*time.Second
	cfg.Logger = testLogger(n.t).With("node", string(n.code))
	var h *federation.Host
	var err error
	for range 50 { // the port of a host just closed may take a moment to free
		if h, err = federation.New(context.Background(), cfg); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		n.t.Fatalf("%s: %v", n.code, err)
	}
	n.mu.Lock()
	n.host = h
	n.mu.Unlock()
}

// wrappedNet lets a test wrap the libp2p host (a tap) under the service.
type wrappedNet struct {
	*federation.Host
	h host.Host
}

func (w wrappedNet) Libp2p() host.Host { return w.h }

func testRelConfig(t testing.TB, code authority.Code, key ed25519.PrivateKey, store HandoverStore, b *book) Config {
	cfg := DefaultConfig()
	cfg.Authority, cfg.Identity, cfg.Store = code, key, store
	cfg.Cases, cfg.Intake, cfg.Audit = b, b, b
	cfg.RetryMin, cfg.RetryMax, cfg.StreamTimeout = 20*time.Millisecond, 300*time.Millisecond, 5*time.Second
	cfg.Logger = testLogger(t).With("node", string(code))
	return cfg
}

// startService opens the store and starts the service; crashAfter >= 0
// makes every store write after that many fail, as if the node died.
func (n *node) startService(crashAfter int) {
	db, err := OpenBadgerStore(BadgerConfig{Dir: n.dir, EncryptionKey: make([]byte, 32)})
	if err != nil {
		n.t.Fatal(err)
	}
	cs := newCrashStore(db, crashAfter)
	var net Network = n.host
	if n.wrap != nil {
		net = wrappedNet{n.host, n.wrap(n.host.Libp2p())}
	}
	cfg := testRelConfig(n.t, n.code, n.key, cs, n.book)
	cfg.Observer = n.observe
	if n.logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	rel, err := New(net, cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.mu.Lock()
	n.db, n.store, n.rel = db, cs, rel
	n.mu.Unlock()
}

func (n *node) service() *Relocations {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rel
}

// stop closes the service, the store and the host.
func (n *node) stop() {
	n.mu.Lock()
	rel, db, h := n.rel, n.db, n.host
	n.rel, n.db, n.host = nil, nil, nil
	n.mu.Unlock()
	if rel != nil {
		_ = rel.Close()
	}
	if db != nil {
		_ = db.Close()
	}
	if h != nil {
		_ = h.Close()
	}
}

// restart stops the node and starts it again from its store and book.
func (n *node) restart() {
	n.stop()
	n.startHost()
	n.startService(-1)
}

// call runs fn with the node's service, unless the node is down.
func (n *node) call(fn func(*Relocations)) {
	if rel := n.service(); rel != nil {
		fn(rel)
	}
}

func (n *node) record(t testing.TB, id v1.ID) (Handover, bool) {
	rel := n.service()
	if rel == nil {
		return Handover{}, false
	}
	h, err := rel.Get(context.Background(), id)
	if err != nil {
		return Handover{}, false
	}
	return h, true
}

// crashStore fails every write after the first limit, like a node that died
// at that write; limit < 0 never fails. It counts the writes that succeeded.
type crashStore struct {
	HandoverStore
	mu      sync.Mutex
	limit   int
	puts    int
	crashed chan struct{}
}

var errCrashed = errors.New("injected crash: node is down")

func newCrashStore(s HandoverStore, limit int) *crashStore {
	return &crashStore{HandoverStore: s, limit: limit, crashed: make(chan struct{})}
}

func (c *crashStore) Put(ctx context.Context, h Handover) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit >= 0 && c.puts >= c.limit {
		select {
		case <-c.crashed:
		default:
			close(c.crashed)
		}
		return errCrashed
	}
	c.puts++
	return c.HandoverStore.Put(ctx, h)
}

func (c *crashStore) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.puts }

// custody watches where one child's case is held across every book and
// records any moment it is held by no authority, or fully (responsibly) by
// two. It is checked after every change any book makes.
type custody struct {
	mu         sync.Mutex
	books      []*book
	caseIDs    map[v1.CaseID]bool
	violations []string
}

func (c *custody) newBook(code authority.Code) *book {
	b := &book{c: c, code: code, cases: map[v1.CaseID]*entry{}}
	c.mu.Lock()
	c.books = append(c.books, b)
	c.mu.Unlock()
	return b
}

// check runs with c.mu held.
func (c *custody) check(event string) {
	for id := range c.caseIDs {
		held, full := 0, 0
		for _, b := range c.books {
			if e, ok := b.cases[id]; ok && !e.transferredOut {
				held++
				if !e.provisional {
					full++
				}
			}
		}
		if held == 0 || full > 1 {
			c.violations = append(c.violations, fmt.Sprintf("after %s: case %s held by %d, fully by %d", event, id, held, full))
		}
	}
}

func (c *custody) assertClean(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.violations {
		t.Errorf("custody: %s", v)
	}
}

// book is one authority's node as the service sees it: its cases and audit
// log. It implements CaseSource, CaseSink and Auditor.
type book struct {
	c     *custody
	code  authority.Code
	cases map[v1.CaseID]*entry
	audit []v1.AuditEntry
	fail  error // when set, every callback fails
	hold  bool  // when set, ExportCase fails (the origin is held back)
}

func (b *book) setHold(v bool) { b.c.mu.Lock(); b.hold = v; b.c.mu.Unlock() }

type entry struct {
	c              *v1.Case
	provisional    bool
	transferredOut bool
}

func (b *book) put(c *v1.Case) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	b.cases[c.ID] = &entry{c: c}
	if b.c.caseIDs == nil {
		b.c.caseIDs = map[v1.CaseID]bool{}
	}
	b.c.caseIDs[c.ID] = true
	b.c.check("seeding")
}

func (b *book) ExportCase(_ context.Context, id v1.CaseID) (*v1.Case, error) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.fail != nil {
		return nil, b.fail
	}
	if b.hold {
		return nil, fmt.Errorf("export held back by the test")
	}
	e, ok := b.cases[id]
	if !ok {
		return nil, fmt.Errorf("no case %s", id)
	}
	return e.c, nil
}

func (b *book) MarkTransferredOut(_ context.Context, req v1.RelocationRequest) error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.cases[req.CaseRef].transferredOut = true
	b.c.check(string(b.code) + " marked transferred out")
	return nil
}

func (b *book) InstallCase(_ context.Context, req v1.RelocationRequest, c *v1.Case) error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	if e, ok := b.cases[c.ID]; ok && !e.provisional {
		return fmt.Errorf("case %s already active here", c.ID)
	}
	b.cases[c.ID] = &entry{c: c, provisional: true}
	b.c.check(string(b.code) + " installed")
	return nil
}

func (b *book) ActivateCase(_ context.Context, req v1.RelocationRequest) error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	e, ok := b.cases[req.CaseRef]
	if !ok {
		return fmt.Errorf("no case %s to activate", req.CaseRef)
	}
	e.provisional = false
	b.c.check(string(b.code) + " activated")
	return nil
}

func (b *book) Audit(_ context.Context, e v1.AuditEntry) error {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.audit = append(b.audit, e)
	return nil
}

func (b *book) audited(action v1.AuditAction, recipient authority.Code) (v1.AuditEntry, bool) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	for _, e := range b.audit {
		if e.Action == action && e.Recipient == string(recipient) {
			return e, true
		}
	}
	return v1.AuditEntry{}, false
}

func (b *book) entry(id v1.CaseID) (entry, bool) {
	b.c.mu.Lock()
	defer b.c.mu.Unlock()
	e, ok := b.cases[id]
	if !ok {
		return entry{}, false
	}
	return *e, true
}

// seedCase puts a synthetic case (with a canary in its names when canary is
// set) into the origin's book and returns it with a request to move it.
func seedCase(t testing.TB, origin, dest *node, canary string) (*v1.Case, v1.RelocationRequest) {
	t.Helper()
	origin.seeds++
	g := synthetic.New(7+int64(origin.seeds), synthetic.WithAuthority(origin.code))
	var c *v1.Case
	if canary != "" {
		c = synthetic.CanaryCase(g, canary)
	} else {
		c = g.Case()
	}
	c.Responsible = origin.code
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	origin.book.put(c)
	now := time.Now().UTC().Truncate(time.Second)
	req := v1.RelocationRequest{
		ID: v1.NewID(), CaseRef: c.ID, Origin: origin.code, Destination: dest.code,
		RequestedAt: now, Reason: v1.ReasonPlacement, MoveDate: v1.DateOf(now.AddDate(0, 0, 7)),
		Urgency: v1.UrgencyHigh, AgeBand: v1.AgeBandOf(15), Sex: v1.SexMale,
		NRMState: c.State, LegalBasis: v1.BasisSafeguardingChildren,
	}
	if err := req.Validate(); err != nil {
		t.Fatal(err)
	}
	return c, req
}

// eventually polls cond until it holds or patience runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", patience, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stateIs reports whether n's record of id is in state s, acknowledged if ack.
func stateIs(n *node, id v1.ID, s State, ack bool) bool {
	h, ok := n.record(n.t, id)
	return ok && h.State == s && (!ack || h.Acked)
}

// offer has o request req and waits until d holds the offer.
func offer(t testing.TB, o, d *node, req v1.RelocationRequest) {
	t.Helper()
	if _, err := o.service().Request(bg, "worker-1", req); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the offer arrives", func() bool { return stateIs(d, req.ID, StateOffered, false) })
}

// logBuffer collects log output for a leak check.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return string(l.buf) }
