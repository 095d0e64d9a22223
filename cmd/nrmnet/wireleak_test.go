package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/consensus/transport"
	"nrmnet/federation/gossip"
	"nrmnet/federation/match"
	"nrmnet/federation/rpc"
	"nrmnet/node"
	"nrmnet/node/matchkeys"
	"nrmnet/node/workflow"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// leakConfig is one shape of the combined panel the scenario runs on.
type leakConfig struct {
	name   string
	layout devnetLayout
}

// leakConfigs are the two shapes of panel: the devnet's London region,
// Islington and Camden on the panel with Hackney's node as its witness, and
// Lambeth; and the same region with Hackney a full third member. Every
// member of either holds the panel's data key (startPanels requires it).
var leakConfigs = []leakConfig{
	{name: "devnet panel with a witness", layout: devnetLayout{devnetRegions[0]}},
	{name: "three-member panel", layout: threeMemberLayout},
}

// The canary children's names: letters only, so that identity matching
// folds them like any name, and none a part of another. Every canary case
// also gets a date of birth no other canary child shares.
const (
	leakAlertChild    = "Vexmorilda"  // ISL's child of the alert; HCK holds a variant
	leakRejectedChild = "Quobranthe"  // ISL asks CMD to take the case; CMD rejects
	leakAcceptedChild = "Zelquistor"  // ISL asks CMD to take the case; CMD accepts
	leakPanelChild    = "Drumvelkia"  // ISL's case before the combined panel
	leakCamdenChild   = "Plinthoroz"  // stays at CMD
	leakLambethChild  = "Yarrowmiskt" // stays at LBH
)

// TestWireLeakFullScenario is issue 4's leak test. It runs the devnet's
// London federation (four nodes composed by startNode, panels included) with
// every node's stream multiplexer wrapped, so that the plaintext of every
// libp2p stream, above Noise/TLS, is recorded at both ends. It then plays a
// whole scenario through the node layer:
//
//   - canary cases (names and dates of birth) referred at all four nodes;
//   - heartbeats throughout;
//   - LBH offline while ISL raises an alert about a canary child to HCK and
//     LBH; HCK holds a variant of the child, matches it privately (OPRF
//     queries to ISL) and acknowledges; LBH, back, repairs by digest and
//     acknowledges;
//   - ISL asks CMD to take two canary cases: CMD rejects one and accepts the
//     other, which moves;
//   - a decision on a canary case reached on the combined panel (Raft), with
//     the child's views, quoting the child's name, recorded there.
//
// Then every recorded byte, stream by stream, is searched for every canary
// name (in any letter case), every canary date of birth (as the text
// schemas encodes, and in other common forms), child IDs, case IDs and the
// children's identity keys. What may cross, and why:
//
//   - the accepted case (names, date of birth, child ID, everything): only on
//     the relocation protocol between ISL and CMD, on streams of that request
//     opened after CMD accepted (DOMAIN.md: full case details move only
//     after acceptance, over a direct encrypted channel);
//   - a relocation's case ID (the offer's opaque case reference): only on the
//     relocation protocol between its origin and destination, on streams of
//     that request (the origin needs it to match the answer to its case);
//   - nothing of the panel's commands (the case reference, attendance, the
//     child's views, votes, reasons): they are sealed under the panel data
//     key, with or without a witness, so on no stream in plaintext, though
//     CMD reads them (checked);
//   - nothing else, anywhere: no canary child's name, date of birth, child
//     ID, case ID or identity key on gossip, acknowledgements, digests,
//     match queries, heartbeats or identify.
//
// So that the test cannot pass by capturing nothing, it requires every
// protocol of the scenario on the tap, the accepted case on its own stream,
// the rejected offer's case reference on its stream, the alert's ID on
// pubsub and digest streams, and heartbeats received.
func TestWireLeakFullScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four nodes through a whole scenario, twice")
	}
	for _, cfg := range leakConfigs {
		t.Run(cfg.name, func(t *testing.T) { wireLeakScenario(t, cfg) })
	}
}

func wireLeakScenario(t *testing.T, lc leakConfig) {
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	m, err := createDevnet(ctx, dir, time.Now().UTC(), lc.layout, 3, log)
	if err != nil {
		t.Fatal(err)
	}
	tap := &wiretap{}
	opts := leakStartOptions(log, tap)
	nodes := startTestDevnet(t, ctx, dir, m, opts)
	byCode := map[authority.Code]int{}
	for i, n := range nodes {
		byCode[n.Authority] = i
		waitReady(t, n)
		for _, a := range n.host.Libp2p().Addrs() {
			if !strings.Contains(a.String(), "/tcp/") {
				t.Fatalf("%s listens on %s: the tap sees TCP connections only", n.Authority, a)
			}
		}
	}
	isl, cmd, hck, lbhIndex := nodes[byCode["ISL"]], nodes[byCode["CMD"]], nodes[byCode["HCK"]], byCode["LBH"]
	peerOf := map[authority.Code]peer.ID{}
	codeOf := map[peer.ID]authority.Code{}
	for _, n := range nodes {
		peerOf[n.Authority], codeOf[n.host.ID()] = n.host.ID(), n.Authority
	}
	eventually(t, "every node connected to the three others, and a panel leader", func() bool {
		for _, n := range nodes {
			if n.status.connectedMembers() != 3 {
				return false
			}
		}
		isl.panels.refresh()
		hb := isl.panels.Heartbeat()
		return len(hb) == 1 && hb[0].Leader != ""
	})

	// The canary cases, referred through each node.
	now := time.Now().UTC()
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	draw := newCanaryDraw(now)
	alertBase, variant := draw.alertChild(t, d, "ISL", leakAlertChild)
	rejectedBase := draw.child(t, "ISL", leakRejectedChild, nil)
	acceptedBase := draw.child(t, "ISL", leakAcceptedChild, nil)
	panelBase := draw.child(t, "ISL", leakPanelChild, func(c *v1.Case) bool {
		return workflow.CheckScope(c.Identity, c.Referral.ReferredAt, workflow.DefaultPolicy()).InScope
	})
	camdenBase := draw.child(t, "CMD", leakCamdenChild, nil)
	lambethBase := draw.child(t, "LBH", leakLambethChild, nil)

	canaries := &canaryList{t: t, ctx: ctx}
	refer := canaries.refer
	alertCase := refer("the alert's child", isl, leakAlertChild, alertBase.Identity, alertBase)
	variantCase := refer("HCK's variant of the alert's child", hck, leakAlertChild, variant, alertBase)
	rejected := refer("the rejected relocation's child", isl, leakRejectedChild, rejectedBase.Identity, rejectedBase)
	accepted := refer("the accepted relocation's child", isl, leakAcceptedChild, acceptedBase.Identity, acceptedBase)
	panelChild := refer("the panel's child", isl, leakPanelChild, panelBase.Identity, panelBase)
	refer("CMD's own child", cmd, leakCamdenChild, camdenBase.Identity, camdenBase)
	refer("LBH's own child", nodes[lbhIndex], leakLambethChild, lambethBase.Identity, lambethBase)

	// LBH goes offline; ISL raises the alert to HCK and LBH.
	if err := nodes[lbhIndex].Close(); err != nil {
		t.Fatalf("stop LBH: %v", err)
	}
	alertID, raisedAt := raiseMatchedAlert(t, ctx, isl, hck, alertCase, variantCase, v1.AlertMissing, "HCK", "LBH")
	eventually(t, "HCK's acknowledgement recorded at ISL", func() bool { return acked(isl, alertID, "HCK") })

	// While LBH is away: ISL asks CMD to take two cases; CMD rejects one
	// and accepts the other.
	worker := devnetWorker("ISL")
	ask := func(c *leakCanary) v1.ID {
		t.Helper()
		r, err := isl.relocs.Desk.Request(ctx, worker, node.NewRelocation{Case: c.stored.ID, Destination: "CMD",
			Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh, LegalBasis: v1.BasisSafeguardingChildren})
		if err != nil {
			t.Fatalf("request the relocation of %s: %v", c.label, err)
		}
		id := r.Request.ID
		eventually(t, "CMD offered the relocation of "+c.label, func() bool { return handoverState(cmd, id) == rpc.StateOffered })
		return id
	}
	rejectedReq := ask(rejected)
	if _, err := cmd.relocs.Desk.Reject(ctx, devnetWorker("CMD"), rejectedReq, "No placement capacity in the borough this month."); err != nil {
		t.Fatalf("reject: %v", err)
	}
	eventually(t, "ISL told of the rejection", func() bool { return handoverState(isl, rejectedReq) == rpc.StateRejected })
	acceptedReq := ask(accepted)
	acceptedAt := acceptLeakRelocation(t, ctx, isl, cmd, devnetWorker("CMD"), acceptedReq, accepted)

	// LBH returns, after GossipSub's message cache has dropped the alert,
	// and repairs by digest.
	returnByDigest(t, dir, m, nodes, lbhIndex, opts, isl, alertID, raisedAt)

	// A decision on the panel, with the canary in the child's words.
	panelViews := "They said: call me " + leakPanelChild + ", and let me stay near my sister."
	decidePanelCase(t, ctx, isl, cmd, panelChild.stored.ID, panelViews)
	eventually(t, "the panel's decision recorded on ISL's case", func() bool {
		return len(readStoredCase(t, isl, panelChild.stored.ID).Decisions) > 0
	})
	pc, err := cmd.panels.Panels.PanelCase(ctx, node.Principal{ID: devnetPanelUser("CMD", node.RolePanelMember),
		Role: node.RolePanelMember, Authority: "CMD"}, devnetPanel, panelChild.stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pc.ChildViews, func(v panel.ChildViews) bool { return strings.Contains(v.Views, leakPanelChild) }) {
		t.Fatal("CMD does not read the child's views recorded at ISL: the panel did not carry them")
	}

	// Heartbeats from every member reached every node.
	eventually(t, "every node holding every other's heartbeat", func() bool {
		for _, n := range nodes {
			view := n.gossip.RegionView()
			for _, o := range nodes {
				if o == n {
					continue
				}
				ms, ok := view.Member(o.Authority)
				if !ok || ms.Heartbeat == nil || !ms.Up {
					return false
				}
			}
		}
		return true
	})
	raftProto, forwardProto := transport.ProtocolID(devnetPanel), consensus.ForwardProtocolID(devnetPanel)
	streams := stopAndCapture(t, nodes, tap, codeOf, raftProto, forwardProto)
	some := func(what string, ok func(s capturedStream) bool) {
		t.Helper()
		if !slices.ContainsFunc(streams, ok) {
			t.Errorf("the tap holds no %s", what)
		}
	}
	some("pubsub stream carrying the alert's ID", func(s capturedStream) bool {
		return strings.HasPrefix(string(s.Proto()), "/meshsub/") && bytes.Contains(s.Bytes(), []byte(alertID))
	})
	some("pubsub stream carrying heartbeats", func(s capturedStream) bool {
		return strings.HasPrefix(string(s.Proto()), "/meshsub/") && bytes.Contains(s.Bytes(), []byte(gossip.StatusTopic("London")))
	})
	some("digest stream giving LBH the alert", func(s capturedStream) bool {
		return s.Proto() == gossip.DigestProtocol && (s.Local == peerOf["LBH"] || s.Remote == peerOf["LBH"]) &&
			bytes.Contains(s.Bytes(), []byte(alertID))
	})
	some("match stream between HCK and ISL", func(s capturedStream) bool {
		return s.Proto() == match.ProtocolID && s.Between(peerOf["HCK"], peerOf["ISL"]) && len(s.Out)+len(s.In) > 0
	})
	for _, member := range []authority.Code{"ISL", "CMD"} {
		some("Raft stream to or from "+string(member), func(s capturedStream) bool {
			return s.Protocol == raftProto && (s.Local == peerOf[member] || s.Remote == peerOf[member]) && len(s.Out)+len(s.In) > 0
		})
	}

	// What may carry what.
	relocationOf := func(req v1.ID, afterAccept bool) func(capturedStream) bool {
		return func(s capturedStream) bool {
			return s.Proto() == rpc.ProtocolID && s.Between(peerOf["ISL"], peerOf["CMD"]) &&
				bytes.Contains(s.Bytes(), []byte(req)) && (!afterAccept || !s.At.Before(acceptedAt))
		}
	}
	// The panel's content (its commands: case reference, attendance, the
	// child's views, votes, reasons) crosses only sealed: on no stream.
	var panelContent func(capturedStream) bool
	var needles []leakNeedle
	for _, c := range canaries.all {
		var personal, ref func(capturedStream) bool // nil: on no stream
		name := personal
		switch c {
		case accepted:
			personal, ref = relocationOf(acceptedReq, true), relocationOf(acceptedReq, false)
			name = personal
		case rejected:
			ref = relocationOf(rejectedReq, false)
		case panelChild:
			// The case reference is in every panel command, and the name
			// only because the child's views quote it.
			ref, name = panelContent, panelContent
		}
		needles = append(needles, c.needles(d, name, personal, ref)...)
	}
	needles = append(needles,
		leakNeedle{what: "the panel's record of the child's views", b: []byte(panelViews), allowed: panelContent},
		leakNeedle{what: "an identity key (its domain string)", b: []byte("nrmnet/matchkey/v1")},
	)
	found := searchCapture(t, streams, needles, codeOf)

	// The positive controls: the accepted case did cross, on its own stream,
	// so the tap saw relocation plaintext; and the rejected offer crossed
	// with its case reference only.
	for _, want := range []string{
		accepted.label + ": name", accepted.label + ": date of birth as YYYY-MM-DD",
		accepted.label + ": child ID", accepted.label + ": case ID", rejected.label + ": case ID",
	} {
		if found[want] == 0 {
			t.Errorf("%s is on no stream: the accepted move (or the offer) was not captured, so the search proves nothing", want)
		}
	}
	t.Logf("allowed crossings: the accepted case (ISL to CMD, request %s) on %d stream ends of its own, all opened after acceptance; "+
		"the rejected offer's case reference on %d stream ends of its request",
		acceptedReq, found[accepted.label+": name"], found[rejected.label+": case ID"])
	t.Log("the panel's commands (case reference, the child's views) reached CMD sealed: on no stream in plaintext")
}

// leakCanary is one canary case as stored at its node.
type leakCanary struct {
	label  string
	at     authority.Code
	name   string
	stored *v1.Case
}

// referCanary refers a canary case at node n, as a social worker would, and
// canaryList refers canary children through the nodes (referCanary) and
// keeps them, in order, for the search of the capture.
type canaryList struct {
	t   *testing.T
	ctx context.Context
	all []*leakCanary
}

func (l *canaryList) refer(label string, n *runningNode, name string, id v1.ChildIdentity, from *v1.Case) *leakCanary {
	l.t.Helper()
	c := referCanary(l.t, l.ctx, label, n, name, id, from)
	l.all = append(l.all, c)
	return c
}

// returns it as stored there.
func referCanary(t *testing.T, ctx context.Context, label string, n *runningNode, name string, id v1.ChildIdentity, from *v1.Case) *leakCanary {
	t.Helper()
	ref, err := devnetRefer(ctx, n, id, from)
	if err != nil {
		t.Fatalf("%s: refer %s: %v", n.Authority, label, err)
	}
	return &leakCanary{label: label, at: n.Authority, name: name, stored: readStoredCase(t, n, ref)}
}

// leakNeedle is a byte string searched for on every stream. Fold searches
// regardless of ASCII letter case. Allowed says which streams may carry it;
// nil means none.
type leakNeedle struct {
	what    string
	b       []byte
	fold    bool
	allowed func(capturedStream) bool
}

// needles are the canary's name, its date of birth in every form looked
// for, its child ID, its case ID and its identity keys. name says where the
// name may cross, personal where the rest of the child's data may, ref where
// the case ID may.
func (c *leakCanary) needles(d *matchkeys.Deriver, name, personal, ref func(capturedStream) bool) []leakNeedle {
	out := []leakNeedle{
		{what: c.label + ": name", b: []byte(c.name), fold: true, allowed: name},
		{what: c.label + ": child ID", b: []byte(c.stored.ChildID), allowed: personal},
		{what: c.label + ": case ID", b: []byte(c.stored.ID), allowed: ref},
	}
	if dob := c.stored.Identity.DateOfBirth; dob != nil {
		for form, b := range dateForms(dob.Date) {
			out = append(out, leakNeedle{what: c.label + ": date of birth as " + form, b: b, allowed: personal})
		}
	}
	for i, k := range d.Keys(c.stored.Identity) {
		out = append(out, leakNeedle{what: fmt.Sprintf("%s: identity key %d", c.label, i), b: k.Bytes})
	}
	return out
}

// dateForms are the ways a date of birth could be written on the wire.
// schemas encodes a v1.Date as CBOR text "YYYY-MM-DD" and a time as RFC
// 3339 text (which contains the same), so the first form is the one that
// matters; the others guard against a record that formats a date itself,
// or an encoder that writes times as CBOR epoch seconds.
func dateForms(d v1.Date) map[string][]byte {
	t, err := d.Time()
	if err != nil {
		return map[string][]byte{"YYYY-MM-DD": []byte(d)}
	}
	return map[string][]byte{
		"YYYY-MM-DD":                 []byte(d),
		"YYYYMMDD":                   []byte(t.Format("20060102")),
		"DD/MM/YYYY":                 []byte(t.Format("02/01/2006")),
		"DD-MM-YYYY":                 []byte(t.Format("02-01-2006")),
		"CBOR epoch seconds":         append([]byte{0x1a}, binary.BigEndian.AppendUint32(nil, uint32(t.Unix()))...),
		"CBOR tagged epoch seconds":  append([]byte{0xc1, 0x1a}, binary.BigEndian.AppendUint32(nil, uint32(t.Unix()))...),
		"big-endian int64 seconds":   binary.BigEndian.AppendUint64(nil, uint64(t.Unix())),
		"little-endian int64 second": binary.LittleEndian.AppendUint64(nil, uint64(t.Unix())),
	}
}

// searchCapture searches every stream end for every needle, reports each
// needle found where it is not allowed (once per protocol and pair of
// authorities), and returns how many stream ends hold each needle where it
// is allowed.
func searchCapture(t *testing.T, streams []capturedStream, needles []leakNeedle, codeOf map[peer.ID]authority.Code) map[string]int {
	t.Helper()
	found := map[string]int{}
	reported := map[string]bool{}
	for _, s := range streams {
		hay := s.Bytes()
		folded := asciiLower(hay)
		for _, n := range needles {
			in := hay
			nb := n.b
			if n.fold {
				in, nb = folded, asciiLower(n.b)
			}
			if !bytes.Contains(in, nb) {
				continue
			}
			if n.allowed != nil && n.allowed(s) {
				found[n.what]++
				continue
			}
			a, b := codeOf[s.Local], codeOf[s.Remote]
			if a > b {
				a, b = b, a
			}
			key := fmt.Sprintf("%s|%s|%s-%s", n.what, s.Proto(), a, b)
			if reported[key] {
				continue
			}
			reported[key] = true
			t.Errorf("LEAK: %s is on a %q stream between %s and %s (opened %s)", n.what, s.Proto(), a, b, s.At.Format(time.TimeOnly))
		}
	}
	return found
}

func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// summarizeCapture logs what the tap recorded, per protocol: streams (each
// stopAndCapture checks that every connection went through the tap (TCP
// with yamux), stops the nodes, summarises the capture and checks it holds
// a stream of every protocol of the scenario (identify, pubsub, acks,
// digests, match queries, hand-overs, and more), then returns the streams.
func stopAndCapture(t *testing.T, nodes []*runningNode, tap *wiretap, codeOf map[peer.ID]authority.Code, more ...protocol.ID) []capturedStream {
	t.Helper()
	for _, n := range nodes {
		for _, c := range n.host.Libp2p().Network().Conns() {
			st := c.ConnState()
			if st.Transport != "tcp" || st.StreamMultiplexer != "/yamux/1.0.0" {
				t.Errorf("%s: a connection over %s with %s escapes the tap", n.Authority, st.Transport, st.StreamMultiplexer)
			}
		}
	}
	if err := stopDevnet(nodes); err != nil {
		t.Fatalf("stop: %v", err)
	}

	streams := tap.Streams()
	summarizeCapture(t, tap.Conns(), streams, codeOf)
	required := append([]protocol.ID{"/ipfs/id/1.0.0", "/meshsub/", gossip.AckProtocol, gossip.DigestProtocol, match.ProtocolID, rpc.ProtocolID}, more...)
	for _, p := range required {
		if !slices.ContainsFunc(streams, func(s capturedStream) bool { return strings.HasPrefix(string(s.Protocol), string(p)) }) {
			t.Errorf("the tap holds no %s stream, so it did not see that part of the scenario", p)
		}
	}
	return streams
}

// counted once, at the end that opened it) and bytes both ways.
func summarizeCapture(t *testing.T, conns int, streams []capturedStream, codeOf map[peer.ID]authority.Code) {
	t.Helper()
	type tally struct{ streams, bytes int }
	per := map[string]*tally{}
	total := 0
	for _, s := range streams {
		if !s.Opened {
			continue
		}
		if _, ok := codeOf[s.Remote]; !ok {
			t.Errorf("a stream to %s, not one of the nodes", s.Remote)
		}
		p := s.Label()
		if per[p] == nil {
			per[p] = &tally{}
		}
		per[p].streams++
		per[p].bytes += len(s.Out) + len(s.In)
		total += len(s.Out) + len(s.In)
	}
	names := make([]string, 0, len(per))
	for p := range per {
		names = append(names, p)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "tap: %d connections, %d stream ends, %d bytes of stream plaintext\n", conns, len(streams), total)
	for _, p := range names {
		fmt.Fprintf(&b, "  %-45s %5d streams %9d bytes\n", p, per[p].streams, per[p].bytes)
	}
	t.Log(b.String())
}

// canaryDraw draws canary cases whose dates of birth differ from each other
// and from the last two years (so that no date a record carries for other
// reasons can be mistaken for one).
type canaryDraw struct {
	now  time.Time
	seed int64
	dobs map[v1.Date]bool
}

func newCanaryDraw(now time.Time) *canaryDraw {
	return &canaryDraw{now: now, seed: 400, dobs: map[v1.Date]bool{}}
}

func (cd *canaryDraw) gen(code authority.Code) *synthetic.Generator {
	cd.seed++
	return synthetic.New(cd.seed, synthetic.WithAuthority(code), synthetic.WithClock(cd.now),
		synthetic.WithPeriod(cd.now.Add(-48*time.Hour), cd.now.Add(-time.Hour)))
}

func (cd *canaryDraw) usable(id v1.ChildIdentity) bool {
	dob := id.DateOfBirth
	if dob == nil || cd.dobs[dob.Date] {
		return false
	}
	t, err := dob.Date.Time()
	return err == nil && t.Year() <= cd.now.Year()-2
}

// child draws a canary case of code's named name that keep admits.
func (cd *canaryDraw) child(t *testing.T, code authority.Code, name string, keep func(*v1.Case) bool) *v1.Case {
	t.Helper()
	g := cd.gen(code)
	for range 200 {
		c := synthetic.CanaryCase(g, name)
		if cd.usable(c.Identity) && (keep == nil || keep(c)) {
			cd.dobs[c.Identity.DateOfBirth.Date] = true
			return c
		}
	}
	t.Fatalf("no usable canary case for %s in 200 draws", name)
	return nil
}

// alertChild draws issuer's canary child of the given name and a variant of
// it (as a target might hold it) that shares an identity key with it and
// passes the alert's age and sex narrowing, so that the target's private
// matching finds it.
func (cd *canaryDraw) alertChild(t *testing.T, d *matchkeys.Deriver, issuer authority.Code, name string) (*v1.Case, v1.ChildIdentity) {
	t.Helper()
	g := cd.gen(issuer)
	for range 500 {
		c := synthetic.CanaryCase(g, name)
		v := g.Variant(c)
		band, sex := matchkeys.AlertFields(c.Identity, cd.now)
		if !cd.usable(c.Identity) || v.DateOfBirth == nil || (v.DateOfBirth.Date != c.Identity.DateOfBirth.Date && cd.dobs[v.DateOfBirth.Date]) {
			continue
		}
		if sharesMatchKey(d, c.Identity, v) && d.Candidate(v, cd.now, band, sex) {
			cd.dobs[c.Identity.DateOfBirth.Date], cd.dobs[v.DateOfBirth.Date] = true, true
			return c, v
		}
	}
	t.Fatal("no canary child with a matching variant in 500 draws")
	return nil, v1.ChildIdentity{}
}

// acked reports whether n recorded from's acknowledgement of its alert id.
func acked(n *runningNode, id v1.ID, from authority.Code) bool {
	a, err := n.store.IssuedAlert(id)
	return err == nil && slices.Contains(a.Acked, from)
}

// handoverState is n's record of relocation id, or "" if it has none.
func handoverState(n *runningNode, id v1.ID) rpc.State {
	h, err := n.relocs.service.Get(context.Background(), id)
	if err != nil {
		return ""
	}
	return h.State
}

// acceptLeakRelocation has who, at the destination, accept request req for
// the canary case c, waits until the hand-over completed on both sides and
// checks the destination holds the case; it returns when acceptance began
// (streams opened after it may carry the case).
func acceptLeakRelocation(t *testing.T, ctx context.Context, origin, dest *runningNode, who node.Principal, req v1.ID, c *leakCanary) time.Time {
	t.Helper()
	at := time.Now()
	if _, err := dest.relocs.Desk.Accept(ctx, who, req); err != nil {
		t.Fatalf("accept: %v", err)
	}
	eventually(t, "the relocation to "+string(dest.Authority)+" completed on both sides", func() bool {
		return handoverState(origin, req) == rpc.StateCompleted && handoverState(dest, req) == rpc.StateCompleted
	})
	if got := readStoredCase(t, dest, c.stored.ID); got.Responsible != dest.Authority || got.ChildID != c.stored.ChildID {
		t.Fatalf("%s's copy of the accepted case: responsible %s, child %s", dest.Authority, got.Responsible, got.ChildID)
	}
	return at
}

// returnByDigest restarts the stopped node at index i once GossipSub's
// message cache (five heartbeats of a second) has dropped alert id, raised
// at raisedAt, and checks it repairs the alert by digest and acknowledges it
// to the issuer.
func returnByDigest(t *testing.T, dir string, m *devnetManifest, nodes []*runningNode, i int, opts startOptions, issuer *runningNode, id v1.ID, raisedAt time.Time) *runningNode {
	t.Helper()
	if wait := 7*time.Second - time.Since(raisedAt); wait > 0 {
		time.Sleep(wait)
	}
	n := startNodeAgain(t, filepath.Join(dir, m.Nodes[i].Dir), opts)
	nodes[i] = n
	eventually(t, string(n.Authority)+" holding the alert", func() bool {
		_, err := n.store.ReceivedAlert(id)
		return err == nil
	})
	if r, _ := n.store.ReceivedAlert(id); r.Via != "digest" {
		t.Errorf("%s got the alert by %q, want by digest repair", n.Authority, r.Via)
	}
	eventually(t, string(n.Authority)+"'s acknowledgement recorded at "+string(issuer.Authority), func() bool { return acked(issuer, id, n.Authority) })
	return n
}

// raiseMatchedAlert has ISL raise an alert of type typ on its canary's case
// to targets, and waits until matcher holds a match task on its variant of
// the child; it returns the alert's ID and when it was raised.
func raiseMatchedAlert(t *testing.T, ctx context.Context, isl, matcher *runningNode, from, variant *leakCanary, typ v1.AlertType, targets ...authority.Code) (v1.ID, time.Time) {
	t.Helper()
	raised, err := isl.alerts.RaiseAlert(ctx, devnetWorker("ISL"), node.NewAlert{
		Case: from.stored.ID, Type: typ, Urgency: v1.UrgencyHigh,
		TargetAuthorities: targets, Contact: v1.ContactDutyDesk,
		LegalBasis: v1.BasisSafeguardingChildren,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(raised.Alert.MatchTokens) == 0 {
		t.Fatal("the alert carries no match tokens, so no private matching would run")
	}
	id, at := raised.Alert.ID, time.Now()
	eventually(t, string(matcher.Authority)+"'s match task on its variant of the child", func() bool {
		ts, err := matcher.store.MatchTasks(true, 0)
		return err == nil && slices.ContainsFunc(ts, func(tk storage.MatchTask) bool {
			return tk.Alert == id && tk.Case == variant.stored.ID
		})
	})
	return id, at
}

// startNodeAgain starts a stopped node again from its directory, as
// `nrmnet run` would, with opts (a tap, say), waits until it is ready, and
// stops it at cleanup.
func startNodeAgain(t *testing.T, nodeDir string, opts startOptions) *runningNode {
	t.Helper()
	cfg, err := loadNodeConfig(nodeDir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.HTTP.ShutdownTimeout = 2 * time.Second
	var n *runningNode
	for range 50 { // the libp2p port of the node just closed may take a moment to free
		if n, err = startNode(context.Background(), nodeDir, cfg, opts); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("restart %s: %v", nodeDir, err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("stop %s: %v", n.Authority, err)
		}
	})
	waitReady(t, n)
	return n
}

// decidePanelCase takes ISL's case ref through the combined panel to a
// concluded positive reasonable grounds decision, as the people would:
// ISL opens it (touching CMD), CMD's chair records a quorate meeting, ISL's
// advocate records the child's views, the chair proposes, the four voting
// members vote, and the chair concludes. The commands come from both
// members, so whichever node leads, some are forwarded to it.
func decidePanelCase(t *testing.T, ctx context.Context, isl, cmd *runningNode, ref v1.CaseID, views string) {
	t.Helper()
	sw := devnetWorker("ISL")
	rec, err := isl.app.Case(ctx, sw, ref, node.Read{Purpose: "take the case to the panel"})
	if err != nil {
		t.Fatal(err)
	}
	cur := rec.Case
	for _, ev := range []workflow.Event{workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "aged under 18, in scope"}} {
		r, err := isl.app.Apply(ctx, sw, node.Change{Case: cur.ID, Revision: cur.Revision, Event: ev})
		if err != nil {
			t.Fatalf("%s: %v", ev.Kind(), err)
		}
		cur = r.Case
	}
	who := func(n *runningNode, role node.Role) node.Principal {
		return node.Principal{ID: devnetPanelUser(n.Authority, role), Role: role, Authority: n.Authority}
	}
	police := node.Principal{ID: "cmd.police-representative", Role: node.RolePanelMember, Authority: "CMD"}
	health := node.Principal{ID: "cmd.health-representative", Role: node.RolePanelMember, Authority: "CMD"}
	for _, p := range []node.Principal{police, health} {
		if _, _, err := cmd.app.AddUser(ctx, who(cmd, node.RoleAdministrator), node.NewUser{ID: p.ID, Name: "Panel member " + p.ID, Role: p.Role}); err != nil {
			t.Fatal(err)
		}
	}
	step := func(what string, out node.PanelOutcome, err error) node.PanelOutcome {
		t.Helper()
		if err == nil && !out.Accepted() {
			err = errors.New(string(out.Code) + " " + out.Message)
		}
		if err != nil {
			t.Fatalf("panel, %s: %v", what, err)
		}
		return out
	}
	lp, cp := isl.panels.Panels, cmd.panels.Panels
	out, err := lp.OpenPanelCase(ctx, sw, devnetPanel, node.PanelCaseOpening{Case: ref, Touches: []v1.AuthorityCode{"CMD"}})
	step("open", out, err)
	chair := who(cmd, node.RolePanelChair)
	out, err = cp.RecordPanelMeeting(ctx, chair, devnetPanel, ref, node.PanelMeeting{HeldAt: time.Now().Add(-10 * time.Minute), Attendance: []v1.Attendee{
		{MemberID: chair.ID, Capacity: v1.CapacityAdviser, Chair: true},
		{MemberID: devnetPanelUser("ISL", node.RolePanelMember), Capacity: v1.CapacityLocalAuthority, Authority: "ISL"},
		{MemberID: devnetPanelUser("CMD", node.RolePanelMember), Capacity: v1.CapacityLocalAuthority, Authority: "CMD"},
		{MemberID: police.ID, Capacity: v1.CapacityPolice},
		{MemberID: health.ID, Capacity: v1.CapacityHealth},
		{MemberID: devnetPanelUser("ISL", node.RoleAdvocate), Capacity: v1.CapacityAdvocate},
	}})
	meeting := step("meeting", out, err).Subject
	out, err = lp.RecordPanelChildViews(ctx, who(isl, node.RoleAdvocate), devnetPanel, ref, views)
	step("child's views", out, err)
	out, err = cp.ProposePanelDecision(ctx, chair, devnetPanel, ref, node.PanelProposal{Meeting: meeting, Stages: []v1.DecisionStage{v1.StageRG}})
	proposal := step("propose", out, err).Subject
	for _, v := range []struct {
		p     *node.Panels
		voter node.Principal
	}{{lp, who(isl, node.RolePanelMember)}, {cp, who(cmd, node.RolePanelMember)}, {cp, police}, {cp, health}} {
		out, err = v.p.CastPanelVote(ctx, v.voter, devnetPanel, ref, panel.CastVote{Proposal: proposal, Stage: v1.StageRG, Choice: v1.VotePositive})
		step("vote by "+v.voter.ID, out, err)
	}
	out, err = cp.ConcludePanelDecision(ctx, chair, devnetPanel, ref, panel.ConcludeDecision{Proposal: proposal,
		Reasons:              "Consistent accounts from school and police of the child being moved between addresses.",
		ChildViewsConsidered: views})
	step("conclude", out, err)
}
