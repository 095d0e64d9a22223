package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	pubsub_pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/match"
	"nrmnet/federation/roster"
	"nrmnet/federation/rpc"
	"nrmnet/node"
	"nrmnet/node/matchkeys"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// The cross-region scenario's canary children: letters only, none a part
// of another (nor of the London scenario's), each with a date of birth no
// other canary child shares.
const (
	xrAlertChild    = "Kestrivoly"  // ISL's child of the county-lines alert; KEN holds a variant
	xrAcceptedChild = "Brindlequox" // ISL asks KEN to take the case; KEN accepts
	xrRejectedChild = "Ommaflenty"  // ISL asks MDW to take the case; MDW rejects
	xrLondonChild   = "Gauntrivel"  // CMD's child of the alert for London only
	xrKentChild     = "Wispercaddo" // stays at KEN
	xrMedwayChild   = "Huxtomberl"  // stays at MDW
)

// crossRegionLeakLayout is the devnet's two regions without Brighton and
// Hove: London's four (their panel included, Hackney the bridge), Kent (the
// South East's bridge) and Medway.
func crossRegionLeakLayout() devnetLayout {
	var out devnetLayout
	for _, r := range devnetRegions {
		r.Members = slices.DeleteFunc(slices.Clone(r.Members), func(m devnetMember) bool { return m.Code == "BNH" })
		out = append(out, r)
	}
	return out
}

// TestWireLeakCrossRegion is the wire leak test across regions. It runs six
// nodes of the devnet's two regions (London: ISL, CMD, HCK the bridge, LBH;
// South East: KEN the bridge, MDW), each holding the other region's roster,
// with every stream's plaintext above Noise/TLS recorded at both ends (the
// same tap as TestWireLeakFullScenario), and plays:
//
//   - canary cases at ISL, CMD, KEN and MDW;
//   - heartbeats throughout;
//   - CMD's alert for London only (to ISL and LBH), about a canary child;
//   - MDW offline while ISL (no bridge) raises a county-lines alert naming
//     KEN, HCK and MDW: it crosses on the national topic through the
//     bridges; KEN holds a variant of the child, matches it privately with
//     a query to ISL across regions, raises a task and acknowledges;
//   - ISL asks KEN to take a canary case, and KEN's NRM coordinator
//     accepts: the case moves across regions;
//   - MDW, back, repairs by digest from its own region and acknowledges;
//   - ISL asks MDW to take another canary case; MDW rejects it.
//
// Then every recorded byte is searched for the canaries as the London
// scenario does: names in any letter case, dates of birth in many forms,
// child IDs, case IDs and identity keys. The accepted case may cross only on
// the relocation protocol between ISL and KEN, on streams of that request
// opened after KEN accepted; a relocation's case reference only on the
// streams of its request between ISL and its destination; nothing else,
// anywhere. And the alert for London only must be on no stream with a South
// East node at either end (its ID searched in every such stream, digest
// exchanges included), nor any message of London's alert topic.
//
// So that it cannot pass by capturing nothing, it requires every protocol
// of the scenario on the tap, the national alert's ID in a message on the
// national topic between the bridges, a national roster message between
// them, a match stream between KEN and ISL, the digest stream that gave MDW
// the alert from KEN, a digest exchange between the bridges, and the London
// alert's ID on London's own streams.
func TestWireLeakCrossRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs six nodes of two regions through a whole scenario")
	}
	log := testLog(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	layout := crossRegionLeakLayout()
	for code, bridge := range map[authority.Code]bool{"ISL": false, "HCK": true, "KEN": true, "MDW": false} {
		if layoutHasRole(layout, code, roster.RoleBridge) != bridge {
			t.Fatalf("the devnet's layout changed: %s is a bridge: %v, want %v", code, !bridge, bridge)
		}
	}
	m, err := createDevnet(ctx, dir, time.Now().UTC(), layout, 3, log)
	if err != nil {
		t.Fatal(err)
	}
	tap := &wiretap{}
	opts := leakStartOptions(log, tap)
	nodes := startTestDevnet(t, ctx, dir, m, opts)
	byCode := map[authority.Code]int{}
	regionSize := map[string]int{}
	for i, n := range nodes {
		byCode[n.Authority] = i
		regionSize[n.Region]++
		waitReady(t, n)
		for _, a := range n.host.Libp2p().Addrs() {
			if !strings.Contains(a.String(), "/tcp/") {
				t.Fatalf("%s listens on %s: the tap sees TCP connections only", n.Authority, a)
			}
		}
	}
	isl, cmd, hck, ken := nodes[byCode["ISL"]], nodes[byCode["CMD"]], nodes[byCode["HCK"]], nodes[byCode["KEN"]]
	mdwIndex := byCode["MDW"]
	peerOf := map[authority.Code]peer.ID{}
	codeOf := map[peer.ID]authority.Code{}
	southEast := map[peer.ID]bool{}
	for _, n := range nodes {
		peerOf[n.Authority], codeOf[n.host.ID()] = n.host.ID(), n.Authority
		if n.Region == "South East" {
			southEast[n.host.ID()] = true
		}
	}
	if len(southEast) != 2 || regionSize["London"] != 4 {
		t.Fatalf("nodes by region: %v", regionSize)
	}
	eventually(t, "every node connected to the rest of its region, and the bridges to each other", func() bool {
		for _, n := range nodes {
			if n.status.connectedMembers() != regionSize[n.Region]-1 {
				return false
			}
		}
		return hck.host.Libp2p().Network().Connectedness(peerOf["KEN"]) == network.Connected
	})

	// The canary cases.
	now := time.Now().UTC()
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	draw := newCanaryDraw(now)
	alertBase, variant := draw.alertChild(t, d, "ISL", xrAlertChild)
	acceptedBase := draw.child(t, "ISL", xrAcceptedChild, nil)
	rejectedBase := draw.child(t, "ISL", xrRejectedChild, nil)
	londonBase := draw.child(t, "CMD", xrLondonChild, nil)
	kentBase := draw.child(t, "KEN", xrKentChild, nil)
	medwayBase := draw.child(t, "MDW", xrMedwayChild, nil)

	canaries := &canaryList{t: t, ctx: ctx}
	refer := canaries.refer
	alertCase := refer("the county-lines alert's child", isl, xrAlertChild, alertBase.Identity, alertBase)
	variantCase := refer("KEN's variant of the county-lines child", ken, xrAlertChild, variant, alertBase)
	accepted := refer("the child moving to KEN", isl, xrAcceptedChild, acceptedBase.Identity, acceptedBase)
	rejected := refer("the child MDW refuses", isl, xrRejectedChild, rejectedBase.Identity, rejectedBase)
	londonCase := refer("the London-only alert's child", cmd, xrLondonChild, londonBase.Identity, londonBase)
	refer("KEN's own child", ken, xrKentChild, kentBase.Identity, kentBase)
	refer("MDW's own child", nodes[mdwIndex], xrMedwayChild, medwayBase.Identity, medwayBase)

	// CMD's alert for London only. It goes on London's alert topic; every
	// London node holds it as seen (HCK, the bridge, and ISL, which talks
	// to the South East directly, included) while the rest runs.
	lr, err := cmd.alerts.RaiseAlert(ctx, devnetWorker("CMD"), node.NewAlert{
		Case: londonCase.stored.ID, Type: v1.AlertMissing, Urgency: v1.UrgencyHigh,
		TargetAuthorities: []authority.Code{"ISL", "LBH"}, Contact: v1.ContactDutyDesk,
		LegalBasis: v1.BasisSafeguardingChildren,
	})
	if err != nil {
		t.Fatal(err)
	}
	londonAlert := lr.Alert.ID
	if lr.Alert.National || len(lr.Alert.TargetRegions) > 0 {
		t.Fatalf("the London alert is national %v, to regions %v", lr.Alert.National, lr.Alert.TargetRegions)
	}
	eventually(t, "the London alert acknowledged by ISL and LBH, and held by HCK", func() bool {
		_, _, held, err := hck.store.GetSeen(londonAlert)
		return acked(cmd, londonAlert, "ISL") && acked(cmd, londonAlert, "LBH") && err == nil && held
	})

	// MDW goes offline; ISL raises the county-lines alert to KEN, HCK and
	// MDW, which crosses regions on the national topic.
	if err := nodes[mdwIndex].Close(); err != nil {
		t.Fatalf("stop MDW: %v", err)
	}
	alertID, raisedAt := raiseMatchedAlert(t, ctx, isl, ken, alertCase, variantCase, v1.AlertCountyLines, "KEN", "HCK", "MDW")
	eventually(t, "KEN's and HCK's acknowledgements recorded at ISL", func() bool {
		return acked(isl, alertID, "KEN") && acked(isl, alertID, "HCK")
	})

	// While MDW is away: ISL asks KEN to take a case; KEN's NRM coordinator
	// accepts it.
	request := func(c *leakCanary, dest *runningNode) v1.ID {
		t.Helper()
		r, err := isl.relocs.Desk.Request(ctx, devnetWorker("ISL"), node.NewRelocation{Case: c.stored.ID, Destination: dest.Authority,
			Reason: v1.ReasonChildMoved, Urgency: v1.UrgencyHigh, LegalBasis: v1.BasisSafeguardingChildren})
		if err != nil {
			t.Fatalf("request the relocation of %s: %v", c.label, err)
		}
		id := r.Request.ID
		eventually(t, string(dest.Authority)+" offered the relocation of "+c.label, func() bool {
			return handoverState(dest, id) == rpc.StateOffered
		})
		return id
	}
	coordinator := func(code authority.Code) node.Principal {
		return node.Principal{ID: strings.ToLower(string(code)) + ".nrm-coordinator", Role: node.RoleNRMCoordinator, Authority: code}
	}
	acceptedReq := request(accepted, ken)
	acceptedAt := acceptLeakRelocation(t, ctx, isl, ken, coordinator("KEN"), acceptedReq, accepted)

	// MDW returns after GossipSub's message cache has dropped the alert,
	// and repairs by digest from Kent, the only other South East node.
	mdw := returnByDigest(t, dir, m, nodes, mdwIndex, opts, isl, alertID, raisedAt)

	// ISL asks MDW to take another case; MDW's NRM coordinator rejects it.
	rejectedReq := request(rejected, mdw)
	if _, err := mdw.relocs.Desk.Reject(ctx, coordinator("MDW"), rejectedReq, "The child has no link to Medway; ask Kent."); err != nil {
		t.Fatalf("reject: %v", err)
	}
	eventually(t, "ISL told of MDW's rejection", func() bool { return handoverState(isl, rejectedReq) == rpc.StateRejected })

	// Heartbeats from every member reached every node of its region.
	eventually(t, "every node holding the heartbeat of every other of its region", func() bool {
		for _, n := range nodes {
			view := n.gossip.RegionView()
			for _, o := range nodes {
				if o == n || o.Region != n.Region {
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
	// A bridge re-publishes the rosters it holds on the national roster
	// topic every ten digest intervals (20 s here); wait for one between the
	// bridges if the scenario was quicker.
	betweenBridges := func(s capturedStream) bool { return s.Between(peerOf["HCK"], peerOf["KEN"]) }
	nationalRoster := func(s capturedStream) bool {
		return isPubsub(s) && betweenBridges(s) && slices.ContainsFunc(pubsubMessages(s), func(msg *pubsub_pb.Message) bool {
			return msg.GetTopic() == gossip.NationalRosterTopic
		})
	}
	deadline := time.Now().Add(45 * time.Second)
	for !slices.ContainsFunc(tap.Streams(), nationalRoster) && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	for _, n := range nodes {
		if n.Region == "London" {
			continue
		}
		if _, _, held, err := n.store.GetSeen(londonAlert); err != nil || held {
			t.Errorf("%s holds CMD's alert for London only as seen (%v)", n.Authority, err)
		}
	}
	streams := stopAndCapture(t, nodes, tap, codeOf)
	some := func(what string, ok func(s capturedStream) bool) {
		t.Helper()
		if !slices.ContainsFunc(streams, ok) {
			t.Errorf("the tap holds no %s", what)
		}
	}
	carries := func(s capturedStream, id v1.ID) bool { return bytes.Contains(s.Bytes(), []byte(id)) }
	some("message on the national topic between the bridges HCK and KEN carrying the county-lines alert", func(s capturedStream) bool {
		return isPubsub(s) && betweenBridges(s) && slices.ContainsFunc(pubsubMessages(s), func(msg *pubsub_pb.Message) bool {
			return msg.GetTopic() == gossip.NationalTopic && bytes.Contains(msg.GetData(), []byte(alertID))
		})
	})
	some("message on the national roster topic between the bridges HCK and KEN", nationalRoster)
	some("match stream between KEN and ISL (KEN's query across regions)", func(s capturedStream) bool {
		return s.Proto() == match.ProtocolID && s.Between(peerOf["KEN"], peerOf["ISL"]) && len(s.Out)+len(s.In) > 0
	})
	some("acknowledgement stream between KEN and ISL carrying the alert's ID", func(s capturedStream) bool {
		return s.Proto() == gossip.AckProtocol && s.Between(peerOf["KEN"], peerOf["ISL"]) && carries(s, alertID)
	})
	some("digest stream giving MDW the alert from KEN, in its own region", func(s capturedStream) bool {
		return s.Proto() == gossip.DigestProtocol && s.Between(peerOf["MDW"], peerOf["KEN"]) && carries(s, alertID)
	})
	some("digest exchange between the bridges HCK and KEN", func(s capturedStream) bool {
		return s.Proto() == gossip.DigestProtocol && betweenBridges(s) && len(s.Out)+len(s.In) > 0
	})
	some("pubsub stream within London carrying the London alert's ID", func(s capturedStream) bool {
		return isPubsub(s) && !southEast[s.Local] && !southEast[s.Remote] && carries(s, londonAlert)
	})
	for _, region := range []string{"London", "South East"} {
		some("pubsub stream carrying "+region+"'s heartbeats", func(s capturedStream) bool {
			return isPubsub(s) && bytes.Contains(s.Bytes(), []byte(gossip.StatusTopic(region)))
		})
	}

	// The alert for London only, by ID, on every stream with a South East
	// node at either end; and no message of London's alert topic there.
	reported := map[string]bool{}
	crossing := 0
	for _, s := range streams {
		if !southEast[s.Local] && !southEast[s.Remote] {
			continue
		}
		crossing++
		a, b := codeOf[s.Local], codeOf[s.Remote]
		if a > b {
			a, b = b, a
		}
		if carries(s, londonAlert) {
			writer := codeOf[s.Remote]
			if bytes.Contains(s.Out, []byte(londonAlert)) {
				writer = codeOf[s.Local]
			}
			opener := codeOf[s.Remote]
			if s.Opened {
				opener = codeOf[s.Local]
			}
			if key := fmt.Sprintf("id|%s|%s-%s|%s", s.Proto(), a, b, writer); !reported[key] {
				reported[key] = true
				t.Errorf("LEAK: the ID of CMD's alert for London only (%s) is on a %q stream between %s and %s, written by %s (the stream opened by %s at %s)",
					londonAlert, s.Proto(), a, b, writer, opener, s.At.Format(time.TimeOnly))
			}
		}
		if !isPubsub(s) {
			continue
		}
		for _, msg := range pubsubMessages(s) {
			if msg.GetTopic() != gossip.RegionTopic("London") {
				continue
			}
			if key := fmt.Sprintf("topic|%s-%s", a, b); !reported[key] {
				reported[key] = true
				t.Errorf("LEAK: a message of London's alert topic crossed between %s and %s", a, b)
			}
		}
	}
	t.Logf("%d stream ends with a South East node at one end searched for the London alert %s", crossing, londonAlert)

	// What may carry what, as in the London scenario.
	relocationOf := func(req v1.ID, dest authority.Code, afterAccept bool) func(capturedStream) bool {
		return func(s capturedStream) bool {
			return s.Proto() == rpc.ProtocolID && s.Between(peerOf["ISL"], peerOf[dest]) && carries(s, req) &&
				(!afterAccept || !s.At.Before(acceptedAt))
		}
	}
	var needles []leakNeedle
	for _, c := range canaries.all {
		var personal, ref func(capturedStream) bool // nil: on no stream
		switch c {
		case accepted:
			personal, ref = relocationOf(acceptedReq, "KEN", true), relocationOf(acceptedReq, "KEN", false)
		case rejected:
			ref = relocationOf(rejectedReq, "MDW", false)
		}
		needles = append(needles, c.needles(d, personal, personal, ref)...)
	}
	needles = append(needles, leakNeedle{what: "an identity key (its domain string)", b: []byte("nrmnet/matchkey/v1")})
	found := searchCapture(t, streams, needles, codeOf)
	for _, want := range []string{
		accepted.label + ": name", accepted.label + ": date of birth as YYYY-MM-DD",
		accepted.label + ": child ID", accepted.label + ": case ID", rejected.label + ": case ID",
	} {
		if found[want] == 0 {
			t.Errorf("%s is on no stream: the move to KEN (or the offer to MDW) was not captured, so the search proves nothing", want)
		}
	}
	t.Logf("allowed crossings: the accepted case (ISL to KEN, request %s) on %d stream ends of its own, all opened after acceptance; "+
		"the rejected offer's case reference (ISL to MDW) on %d stream ends of its request",
		acceptedReq, found[accepted.label+": name"], found[rejected.label+": case ID"])
}

// leakStartOptions are the devnet's start options with every connection's
// multiplexer wrapped by tap, no demo principal, and gossip timings that
// make a node that was offline repair by digest within the test.
func leakStartOptions(log *slog.Logger, tap *wiretap) startOptions {
	opts := devnetStartOptions(log)
	opts.DemoPrincipal = nil
	devnetFederation := opts.Federation
	opts.Federation = func(c *federation.Config) {
		devnetFederation(c)
		c.WrapMuxer = tap.wrap
	}
	opts.Gossip = func(c *gossip.Config) {
		c.HeartbeatInterval = time.Second
		c.DownAfter = 5 * time.Second
		c.DigestInterval = 2 * time.Second
		// Re-publishing waits longer than the test runs, so a target that
		// was offline when the alert went out can only get it by digest.
		c.RetryMin, c.RetryMax = 30*time.Minute, time.Hour
	}
	return opts
}

// layoutHasRole reports whether code is on layout with role.
func layoutHasRole(layout devnetLayout, code authority.Code, role roster.Role) bool {
	for _, r := range layout {
		for _, m := range r.Members {
			if m.Code == code && slices.Contains(m.Roles, role) {
				return true
			}
		}
	}
	return false
}

// isPubsub reports whether a stream is GossipSub's.
func isPubsub(s capturedStream) bool { return strings.HasPrefix(string(s.Proto()), "/meshsub/") }

// pubsubMessages decodes the messages published on a GossipSub stream end:
// what crossed each way after the multistream negotiation, as RPC frames
// each prefixed with its length (a uvarint). It stops at the first frame it
// cannot decode (the tail of a stream cut short).
func pubsubMessages(s capturedStream) []*pubsub_pb.Message {
	var out []*pubsub_pb.Message
	for _, b := range [][]byte{s.Out, s.In} {
		b = skipMultistream(b)
		for len(b) > 0 {
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				break
			}
			var msg pubsub_pb.RPC
			if err := proto.Unmarshal(b[k:k+int(n)], &msg); err != nil {
				break
			}
			out = append(out, msg.GetPublish()...)
			b = b[k+int(n):]
		}
	}
	return out
}

// skipMultistream returns b after the multistream-select messages at its
// start: the header, protocol names (which begin with a slash) and "na".
func skipMultistream(b []byte) []byte {
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n == 0 || n > 1024 || uint64(len(b)-k) < n {
			return b
		}
		msg := b[k : k+int(n)]
		if msg[len(msg)-1] != '\n' || (msg[0] != '/' && string(msg) != "na\n") {
			return b
		}
		b = b[k+int(n):]
	}
	return b
}
