package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"nrmnet/federation"
	"nrmnet/federation/roster"
	"nrmnet/federation/rpc"
	"nrmnet/node/workflow"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// This file runs whole nodes (Badger store on disk, node, custody, the
// federation's relocation service on a real libp2p host on loopback) and
// holds the adapter from *rpc.Relocations to RelocationService that the
// composition root uses too.

// rpcRelocations adapts *rpc.Relocations to RelocationService.
type rpcRelocations struct{ r *rpc.Relocations }

func (a rpcRelocations) Request(ctx context.Context, actor string, req v1.RelocationRequest) (Relocation, error) {
	h, err := a.r.Request(ctx, actor, req)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Accept(ctx context.Context, actor string, id v1.ID) (Relocation, error) {
	h, err := a.r.Accept(ctx, actor, id)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Reject(ctx context.Context, actor string, id v1.ID, reason string) (Relocation, error) {
	h, err := a.r.Reject(ctx, actor, id, reason)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Revoke(ctx context.Context, actor string, id v1.ID, reason string) (Relocation, error) {
	h, err := a.r.Revoke(ctx, actor, id, reason)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) Get(ctx context.Context, id v1.ID) (Relocation, error) {
	h, err := a.r.Get(ctx, id)
	return fromHandover(h), fromRPCError(err)
}

func (a rpcRelocations) List(ctx context.Context) ([]Relocation, error) {
	hs, err := a.r.List(ctx)
	if err != nil {
		return nil, fromRPCError(err)
	}
	out := make([]Relocation, len(hs))
	for i, h := range hs {
		out[i] = fromHandover(h)
	}
	return out, nil
}

func fromHandover(h rpc.Handover) Relocation {
	return Relocation{Request: h.Request, Side: RelocationSide(h.Side), State: RelocationState(h.State),
		Acked: h.Acked, Decision: h.Decision, Failure: h.Failure, Updated: h.Updated}
}

// fromRPCError maps the service's sentinels to the node's.
func fromRPCError(err error) error {
	var s error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rpc.ErrUnknownHandover):
		s = ErrNotFound
	case errors.Is(err, rpc.ErrNotDestination), errors.Is(err, rpc.ErrNotOrigin):
		s = ErrForbidden
	case errors.Is(err, rpc.ErrAlreadyAccepted), errors.Is(err, rpc.ErrFinished),
		errors.Is(err, rpc.ErrWrongState), errors.Is(err, rpc.ErrRevoked):
		s = ErrNotAllowedNow
	case errors.Is(err, rpc.ErrConflict):
		s = ErrConflict
	case errors.Is(err, rpc.ErrInvalidRequest):
		s = ErrInvalid
	default:
		s = ErrUnavailable
	}
	return &classified{sentinel: s, err: err}
}

// logSink keeps every log line of the test's nodes (and sends it to t),
// so the test can search them for case content.
type logSink struct {
	mu  sync.Mutex
	t   testing.TB
	buf bytes.Buffer
}

func (w *logSink) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func (w *logSink) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Contains(w.buf.Bytes(), []byte(s))
}

// authorityNode is one whole authority node in a test.
type authorityNode struct {
	dirs    []string // every directory the node writes
	caseDir string
	handDir string
	addr    string // the host's listen address, on the roster
	roster  []byte
	logger  func() *slog.Logger
	code    v1.AuthorityCode
	key     ed25519.PrivateKey
	store   *storage.Store
	node    *Node
	custody *CaseCustody
	host    *federation.Host
	hand    *rpc.BadgerStore
	svc     *rpc.Relocations
	rel     *Relocations
	worker  Principal
}

func relKey(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s)
}

var relAnchor1, relAnchor2 = relKey(201), relKey(202)

func relRoster(t *testing.T, serial uint64, nodes []*authorityNode, addrs map[v1.AuthorityCode]string) []byte {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	r := &roster.Roster{Region: "London", Serial: serial, IssuedAt: now.Add(-time.Minute), ExpiresAt: now.Add(24 * time.Hour)}
	for _, n := range nodes {
		id, err := roster.PeerIDOf(n.key.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		m := roster.Member{Authority: n.code, PeerID: id, Roles: []roster.Role{roster.RoleAuthority},
			Contacts: roster.Contacts{
				DutyDesk:       roster.Contact{Team: "Front Door", Phone: "020 7000 0000"},
				OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: "020 7000 0001"},
				NRMCoordinator: roster.Contact{Team: "Exploitation Team", Email: "nrm@example.gov.uk"},
			}}
		if a := addrs[n.code]; a != "" {
			m.Addrs = []string{a}
		}
		r.Members = append(r.Members, m)
	}
	s, err := roster.NewUnsigned(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []ed25519.PrivateKey{relAnchor1, relAnchor2} {
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

// startAuthorities starts whole nodes for codes, in the order the
// composition root uses: case store, node, custody, host, hand-over store,
// relocation service, relocations. stop closes them in reverse.
func startAuthorities(t *testing.T, sink *logSink, codes ...v1.AuthorityCode) []*authorityNode {
	t.Helper()
	nodes := make([]*authorityNode, len(codes))
	for i, code := range codes {
		an := &authorityNode{code: code, key: relKey(byte(150 + i)), caseDir: t.TempDir(), handDir: t.TempDir(),
			logger: func() *slog.Logger { return slog.New(slog.NewTextHandler(sink, nil)).With("authority", string(code)) }}
		an.dirs = []string{an.caseDir, an.handDir}
		if err := storage.CreateKeys(filepath.Join(an.caseDir, "keys")); err != nil {
			t.Fatal(err)
		}
		an.openCases(t)
		u, _, err := an.store.CreateUser(context.Background(), storage.User{ID: "sw-" + strings.ToLower(string(code)), Name: "Worker",
			Role: string(RoleSocialWorker), Authority: code}, storage.Access{Actor: "node", Role: "node"})
		if err != nil {
			t.Fatal(err)
		}
		an.worker = Principal{ID: u.ID, Name: u.Name, Role: RoleSocialWorker, Authority: code}
		t.Cleanup(an.stop)
		nodes[i] = an
	}
	// Hosts: first on a roster without addresses, then on one with them.
	first := relRoster(t, 1, nodes, nil)
	addrs := map[v1.AuthorityCode]string{}
	for _, an := range nodes {
		an.startHost(t, first, "/ip4/127.0.0.1/tcp/0")
		for _, a := range an.host.Addrs() {
			if strings.Contains(a.String(), "/tcp/") {
				an.addr = a.String()
				addrs[an.code] = an.addr
			}
		}
	}
	second := relRoster(t, 2, nodes, addrs)
	for _, an := range nodes {
		an.roster = second
		if err := an.host.UpdateRoster(second); err != nil {
			t.Fatal(err)
		}
		an.startService(t)
	}
	return nodes
}

// openCases opens the case store, the node and its custody.
func (an *authorityNode) openCases(t *testing.T) {
	t.Helper()
	sc := storage.DefaultConfig()
	sc.DataDir, sc.KeysDir = filepath.Join(an.caseDir, "data"), filepath.Join(an.caseDir, "keys")
	sc.Authority, sc.Logger = an.code, an.logger()
	st, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Store, cfg.Authority, cfg.Logger = st, an.code, an.logger()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cust, err := NewCaseCustody(CaseCustodyConfig{Node: n, Store: st, Logger: an.logger()})
	if err != nil {
		t.Fatal(err)
	}
	an.store, an.node, an.custody = st, n, cust
}

// startHost starts the federation host on listen with the signed roster.
func (an *authorityNode) startHost(t *testing.T, signed []byte, listen string) {
	t.Helper()
	hc := federation.DefaultConfig()
	hc.Identity, hc.Region, hc.Threshold, hc.Roster = an.key, "London", 2, signed
	hc.Anchors = []ed25519.PublicKey{relAnchor1.Public().(ed25519.PublicKey), relAnchor2.Public().(ed25519.PublicKey)}
	hc.ListenAddrs = []string{listen}
	hc.ReconnectInterval = 200 * time.Millisecond
	hc.DialBackoffMin, hc.DialBackoffMax, hc.DialTimeout = 50*time.Millisecond, 500*time.Millisecond, 5*time.Second
	hc.Logger = an.logger()
	var err error
	for range 50 { // the port of a host just closed may take a moment to free
		if an.host, err = federation.New(context.Background(), hc); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
}

// startService opens the hand-over store and starts the relocation
// service (which resumes every unfinished hand-over) and Relocations.
func (an *authorityNode) startService(t *testing.T) {
	t.Helper()
	hs, err := rpc.OpenBadgerStore(rpc.BadgerConfig{Dir: an.handDir, EncryptionKey: make([]byte, 32), Logger: an.logger()})
	if err != nil {
		t.Fatal(err)
	}
	an.hand = hs
	rc := rpc.DefaultConfig()
	rc.Authority, rc.Identity, rc.Store = an.code, an.key, hs
	rc.Cases, rc.Intake, rc.Audit = an.custody, an.custody, an.custody
	rc.RetryMin, rc.RetryMax, rc.StreamTimeout = 20*time.Millisecond, 300*time.Millisecond, 5*time.Second
	rc.Logger = an.logger()
	cust := an.custody
	rc.Observer = func(h rpc.Handover) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cust.Observe(ctx, fromHandover(h))
	}
	if an.svc, err = rpc.New(an.host, rc); err != nil {
		t.Fatal(err)
	}
	rlc := DefaultRelocationsConfig()
	rlc.Node, rlc.Store, rlc.Service, rlc.Logger = an.node, an.store, rpcRelocations{an.svc}, an.logger()
	if an.rel, err = NewRelocations(rlc); err != nil {
		t.Fatal(err)
	}
}

// stop closes the node in the composition root's shutdown order: the
// relocation service (it calls the node and both stores), its store, the
// host, then the case store. It may be called more than once.
func (an *authorityNode) stop() {
	if an.svc != nil {
		_ = an.svc.Close()
	}
	if an.hand != nil {
		_ = an.hand.Close()
	}
	if an.host != nil {
		_ = an.host.Close()
	}
	if an.store != nil {
		_ = an.store.Close()
	}
	an.svc, an.hand, an.host, an.store, an.rel = nil, nil, nil, nil, nil
}

// restart stops the node and starts it again from its directories on its
// address, as after a crash or an upgrade.
func (an *authorityNode) restart(t *testing.T) {
	t.Helper()
	an.stop()
	an.openCases(t)
	an.startHost(t, an.roster, an.addr)
	an.startService(t)
}

// waitFor polls cond until it holds or the patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (an *authorityNode) referral(t *testing.T, protectionPlan bool) *v1.Case {
	t.Helper()
	r, err := an.node.CreateReferral(context.Background(), an.worker, NewReferral{
		Identity: v1.ChildIdentity{
			Names:       []v1.PersonName{{Kind: v1.NameUsed, Given: "Canaryname", Family: "Zzqxvyt"}},
			DateOfBirth: &v1.DateOfBirth{Date: "2011-02-19"},
			Sex:         v1.SexFemale,
		},
		Referral: v1.Referral{
			ReferredAt: time.Now().UTC().Add(-time.Hour), FirstResponderOrg: "Synthetic Borough Police",
			FirstResponderType: v1.ResponderPolice, ExploitationTypes: []v1.ExploitationType{v1.ExploitationCriminal},
			CountyLines: true, ExploitationLocation: v1.LocationUK, Source: "police", PresentingIssue: "missing episodes",
		},
		Safeguarding: v1.Safeguarding{ProtectionPlan: protectionPlan},
		Risk:         v1.RAGRed,
	})
	if err != nil {
		t.Fatalf("CreateReferral: %v", err)
	}
	return r.Case
}

func (an *authorityNode) list(t *testing.T) *RelocationList {
	t.Helper()
	l, err := an.rel.List(context.Background(), an.worker)
	if err != nil {
		t.Fatalf("%s: List: %v", an.code, err)
	}
	return l
}

func findRelocation(list []Relocation, id v1.ID) (Relocation, bool) {
	for _, r := range list {
		if r.Request.ID == id {
			return r, true
		}
	}
	return Relocation{}, false
}

func (an *authorityNode) readCase(t *testing.T, id v1.CaseID) *v1.Case {
	t.Helper()
	c, err := an.store.Case(context.Background(), id, storage.Access{Actor: "test", Role: "test", Purpose: "check the hand-over"})
	if err != nil {
		t.Fatalf("%s: read %s: %v", an.code, id, err)
	}
	return c
}

// shared returns the audit entries of action on subject.
func (an *authorityNode) audited(t *testing.T, action v1.AuditAction, subject string) []v1.AuditEntry {
	t.Helper()
	es, err := an.store.AuditEntries(0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.AuditEntry
	for _, e := range es {
		if e.Action == action && e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}

// Two whole nodes on loopback: the origin asks, the destination sees the
// offer in its inbox and accepts; the case goes live at the destination
// (responsible, transfer-in clock running), is transferred out at the
// origin, and both audit logs hold the share with its legal basis. The
// origin then cannot revoke. A second request is rejected and the origin
// sees the rejection with its reason; a third is revoked before the
// destination decides, and can no longer be accepted.
func TestRelocationBetweenTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two libp2p hosts")
	}
	ctx := context.Background()
	sink := &logSink{t: t}
	nodes := startAuthorities(t, sink, "ISL", "CMD")
	origin, dest := nodes[0], nodes[1]

	c := origin.referral(t, true)
	h, err := origin.rel.Request(ctx, origin.worker, NewRelocation{Case: c.ID, Destination: dest.code,
		Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh})
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	id := h.Request.ID
	if h.Side != SideOrigin || h.State != RelocationStateRequested {
		t.Fatalf("requested: side %s state %s", h.Side, h.State)
	}
	if h.Request.AgeBand == "" || !h.Request.ProtectionPlan || h.Request.NRMState != v1.StateReceived {
		t.Fatalf("request not built from the case: %+v", h.Request)
	}
	// A second request for the same case while this one is open is refused.
	if _, err := origin.rel.Request(ctx, origin.worker, NewRelocation{Case: c.ID, Destination: dest.code,
		Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh}); !errors.Is(err, ErrNotAllowedNow) {
		t.Fatalf("second request for an open relocation: %v, want ErrNotAllowedNow", err)
	}

	var offer Relocation
	waitFor(t, "the offer in the destination's inbox", func() bool {
		var ok bool
		offer, ok = findRelocation(dest.list(t).Inbox, id)
		return ok
	})
	if offer.State != RelocationStateOffered || offer.Request.CaseRef != c.ID {
		t.Fatalf("inbox: %+v", offer)
	}
	// The origin may not accept its own request; the destination may not revoke.
	if _, err := origin.rel.Accept(ctx, origin.worker, id); !errors.Is(err, ErrForbidden) {
		t.Fatalf("origin accepts: %v, want ErrForbidden", err)
	}
	if _, err := dest.rel.Revoke(ctx, dest.worker, id, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("destination revokes: %v, want ErrForbidden", err)
	}
	if _, err := dest.rel.Accept(ctx, dest.worker, id); err != nil {
		t.Fatalf("Accept: %v", err)
	}

	waitFor(t, "completion on both sides", func() bool {
		o, ok1 := findRelocation(origin.list(t).Outbox, id)
		d, ok2 := findRelocation(dest.list(t).Inbox, id)
		return ok1 && ok2 && o.State == RelocationStateCompleted && d.State == RelocationStateCompleted
	})

	// Live at the destination, this authority responsible, clock running.
	got := dest.readCase(t, c.ID)
	if got.Responsible != dest.code || got.State != v1.StateReceived || got.LeadWorker != "" {
		t.Fatalf("destination's case: responsible %s state %s lead %q", got.Responsible, got.State, got.LeadWorker)
	}
	if got.Identity.Names[0].Given != "Canaryname" {
		t.Fatal("destination's case lost its content")
	}
	ds, err := workflow.Deadlines(got, dest.node.policy, dest.node.cal, dest.node.div)
	if err != nil {
		t.Fatal(err)
	}
	clock := false
	for _, d := range ds {
		clock = clock || (d.Kind == workflow.DeadlineTransferInConference && !d.Met)
	}
	if !clock {
		t.Fatalf("no open transfer-in conference deadline at the destination: %+v", ds)
	}
	// Transferred out at the origin, with the relocation accepted.
	old := origin.readCase(t, c.ID)
	if old.State != v1.StateTransferredOut {
		t.Fatalf("origin's case is %s, want transferred_out", old.State)
	}
	if r, ok := relocationOf(old, id); !ok || r.Status != v1.RelocationAccepted || r.To != dest.code {
		t.Fatalf("origin's relocation record: %+v", old.Relocations)
	}
	// A worker at the destination may work the case now.
	if _, err := dest.node.Apply(ctx, dest.worker, Change{Case: c.ID, Revision: got.Revision,
		Event: workflow.RecordTransferInConference{}}); err != nil {
		t.Fatalf("destination records the transfer-in conference: %v", err)
	}
	// Both audit logs show the share with its legal basis.
	for _, s := range []struct {
		an     *authorityNode
		action v1.AuditAction
		peer   v1.AuthorityCode
	}{{origin, v1.ActionShareSend, dest.code}, {dest, v1.ActionShareReceive, origin.code}} {
		es := s.an.audited(t, s.action, string(c.ID))
		if len(es) == 0 {
			t.Fatalf("%s: no %s entry for %s", s.an.code, s.action, c.ID)
		}
		for _, e := range es {
			if e.LegalBasis != v1.BasisSafeguardingChildren || e.Recipient != string(s.peer) {
				t.Fatalf("%s: %s entry: basis %q recipient %q", s.an.code, s.action, e.LegalBasis, e.Recipient)
			}
		}
	}
	// Revoking after acceptance is refused, and changes nothing.
	if _, err := origin.rel.Revoke(ctx, origin.worker, id, "changed our mind"); !errors.Is(err, ErrNotAllowedNow) {
		t.Fatalf("revoke after accept: %v, want ErrNotAllowedNow", err)
	}
	if got := dest.readCase(t, c.ID); got.Responsible != dest.code {
		t.Fatal("a refused revoke moved the case")
	}

	// A rejected relocation reaches the origin with its reason.
	c2 := origin.referral(t, false)
	h2, err := origin.rel.Request(ctx, origin.worker, NewRelocation{Case: c2.ID, Destination: dest.code,
		Reason: v1.ReasonPlacement, Urgency: v1.UrgencyStandard})
	if err != nil {
		t.Fatalf("Request 2: %v", err)
	}
	waitFor(t, "the second offer", func() bool { _, ok := findRelocation(dest.list(t).Inbox, h2.Request.ID); return ok })
	if _, err := dest.rel.Reject(ctx, dest.worker, h2.Request.ID, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reject without a reason: %v, want ErrInvalid", err)
	}
	if _, err := dest.rel.Reject(ctx, dest.worker, h2.Request.ID, "placement is outside our area"); err != nil {
		t.Fatalf("Reject: %v", err)
	}
	var seen Relocation
	waitFor(t, "the rejection at the origin", func() bool {
		var ok bool
		seen, ok = findRelocation(origin.list(t).Outbox, h2.Request.ID)
		return ok && seen.State == RelocationStateRejected
	})
	if seen.Decision == nil || seen.Decision.Reason != "placement is outside our area" || seen.Decision.By != dest.code {
		t.Fatalf("origin's view of the rejection: %+v", seen.Decision)
	}
	waitFor(t, "the rejection on the origin's case", func() bool {
		r, ok := relocationOf(origin.readCase(t, c2.ID), h2.Request.ID)
		return ok && r.Status == v1.RelocationRejected
	})
	if c := origin.readCase(t, c2.ID); c.State != v1.StateReceived || c.Responsible != origin.code {
		t.Fatalf("rejected case at the origin: %s, responsible %s", c.State, c.Responsible)
	}
	if _, err := dest.store.Case(ctx, c2.ID, storage.Access{Actor: "test", Purpose: "check"}); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("rejected case at the destination: %v, want not found", err)
	}

	// Revoked before the destination decided: both sides end revoked, and
	// the destination can no longer accept.
	c3 := origin.referral(t, false)
	h3, err := origin.rel.Request(ctx, origin.worker, NewRelocation{Case: c3.ID, Destination: dest.code,
		Reason: v1.ReasonFamily, Urgency: v1.UrgencyStandard})
	if err != nil {
		t.Fatalf("Request 3: %v", err)
	}
	waitFor(t, "the third offer", func() bool { _, ok := findRelocation(dest.list(t).Inbox, h3.Request.ID); return ok })
	if _, err := origin.rel.Revoke(ctx, origin.worker, h3.Request.ID, "the family stayed"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	waitFor(t, "the revocation at the destination", func() bool {
		r, ok := findRelocation(dest.list(t).Inbox, h3.Request.ID)
		return ok && r.State == RelocationStateRevoked
	})
	if _, err := dest.rel.Accept(ctx, dest.worker, h3.Request.ID); !errors.Is(err, ErrNotAllowedNow) {
		t.Fatalf("accept after revoke: %v, want ErrNotAllowedNow", err)
	}
	waitFor(t, "the revocation on the origin's case", func() bool {
		r, ok := relocationOf(origin.readCase(t, c3.ID), h3.Request.ID)
		return ok && r.Status == v1.RelocationRevoked
	})

	// No log line of either node holds the child's name or date of birth,
	// and no file either node wrote holds them in the clear (the case
	// stores and the hand-over stores are encrypted at rest).
	probe := t.TempDir() // the search finds a canary where there is one
	if err := os.WriteFile(filepath.Join(probe, "plain"), []byte("x Zzqxvyt x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fileHolding(t, probe, "Zzqxvyt") == "" {
		t.Fatal("the file search misses a canary in the clear")
	}
	for _, canary := range []string{"Canaryname", "Zzqxvyt", "2011-02-19"} {
		if sink.contains(canary) {
			t.Errorf("a log line holds %q", canary)
		}
		for _, an := range nodes {
			for _, dir := range an.dirs {
				if f := fileHolding(t, dir, canary); f != "" {
					t.Errorf("%s: %s holds %q in the clear", an.code, f, canary)
				}
			}
		}
	}
}

// fileHolding returns a file under dir whose bytes contain s, or "".
func fileHolding(t *testing.T, dir, s string) string {
	t.Helper()
	found := ""
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return err
		}
		hit, err := holds(path, []byte(s))
		if hit {
			found = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// holds reports whether the file at path contains s. Badger preallocates
// its value logs sparsely (up to a GiB each), so only the extents that hold
// data are read (SEEK_DATA and SEEK_HOLE; a file system without them reads
// the file whole). A match across two extents is not looked for: Badger
// writes a value in one piece.
func holds(path string, s []byte) (bool, error) {
	const seekData, seekHole = 3, 4
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var off int64
	for {
		start, err := f.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return false, nil // no data after off
		}
		if err != nil { // no SEEK_DATA here: read it whole
			b, err := os.ReadFile(path)
			return bytes.Contains(b, s), err
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return false, err
		}
		b := make([]byte, end-start)
		if _, err := f.ReadAt(b, start); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if bytes.Contains(b, s) {
			return true, nil
		}
		off = end
	}
}

// The origin goes down after asking; the destination accepts while it is
// away. When the origin comes back from its directories, the hand-over
// resumes and completes: the case is live at the destination and
// transferred out at the origin.
func TestRelocationResumesAfterOriginRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two libp2p hosts")
	}
	ctx := context.Background()
	nodes := startAuthorities(t, &logSink{t: t}, "ISL", "CMD")
	origin, dest := nodes[0], nodes[1]
	c := origin.referral(t, true)
	h, err := origin.rel.Request(ctx, origin.worker, NewRelocation{Case: c.ID, Destination: dest.code,
		Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh})
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	id := h.Request.ID
	waitFor(t, "the offer", func() bool { _, ok := findRelocation(dest.list(t).Inbox, id); return ok })
	origin.stop()
	acc, err := dest.rel.Accept(ctx, dest.worker, id)
	if err != nil {
		t.Fatalf("Accept while the origin is down: %v", err)
	}
	if acc.Acked {
		t.Fatal("acceptance acknowledged by an origin that is down")
	}
	origin.restart(t)
	waitFor(t, "completion after the restart", func() bool {
		o, ok1 := findRelocation(origin.list(t).Outbox, id)
		d, ok2 := findRelocation(dest.list(t).Inbox, id)
		return ok1 && ok2 && o.State == RelocationStateCompleted && d.State == RelocationStateCompleted
	})
	if got := dest.readCase(t, c.ID); got.Responsible != dest.code {
		t.Fatalf("destination's case held for %s", got.Responsible)
	}
	if got := origin.readCase(t, c.ID); got.State != v1.StateTransferredOut {
		t.Fatalf("origin's case is %s", got.State)
	}
}
