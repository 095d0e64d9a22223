package nodetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/federation/match"
	"nrmnet/node"
	"nrmnet/node/matchkeys"
	"nrmnet/node/nodetest"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const canary = "Canaryzq Wexford"

func sharesKey(d *matchkeys.Deriver, a, b v1.ChildIdentity) bool {
	for _, x := range d.Keys(a) {
		for _, y := range d.Keys(b) {
			if bytes.Equal(x.Bytes, y.Bytes) {
				return true
			}
		}
	}
	return false
}

// meetingChild draws, from a generator of issuer's children seeded with
// seed, a case whose variant meets the original (as about four in five do):
// a shared key, and a candidate for its alert. It returns the deriver and
// the generator too.
func meetingChild(t *testing.T, seed int64, issuer v1.AuthorityCode, now time.Time) (*matchkeys.Deriver, *synthetic.Generator, *v1.Case, v1.ChildIdentity) {
	t.Helper()
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	g := synthetic.New(seed, synthetic.WithAuthority(issuer), synthetic.WithClock(now))
	for range 50 {
		cs := g.Case()
		v := g.Variant(cs)
		band, sex := matchkeys.AlertFields(cs.Identity, now)
		if sharesKey(d, cs.Identity, v) && d.Candidate(v, now, band, sex) {
			return d, g, cs, v
		}
	}
	t.Fatal("no synthetic child with a meeting variant in 50 draws")
	return nil, nil, nil, v1.ChildIdentity{}
}

func mustRefer(t *testing.T, n *nodetest.Node, id v1.ChildIdentity, from *v1.Case) v1.CaseID {
	t.Helper()
	r, err := n.App.CreateReferral(context.Background(), n.Worker, node.NewReferral{
		Identity: id, Referral: from.Referral, Safeguarding: from.Safeguarding, Risk: v1.RAGAmber})
	if err != nil {
		t.Fatalf("%s: referral: %v", n.Authority, err)
	}
	return r.Case.ID
}

// Three whole nodes of London on loopback. A raises an alert about a child
// whose record carries a canary alias; B holds the same child as recorded
// differently, among unrelated children; C holds unrelated children only.
// B gets exactly one match task, on the right case; C stores the alert and
// gets none; A's outbox empties on both acknowledgements, which A records;
// A audits B's match query; and the canary, and A's identity keys, appear in
// nothing B or C received or stored.
func TestAlertMatchesTheVariantOnlyAndLeaksNothing(t *testing.T) {
	c := nodetest.New(t, nodetest.Config{Nodes: 3})
	a, b, cn := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	ctx := context.Background()
	now := time.Now()
	d, g, base, variant := meetingChild(t, 41, a.Authority, now)
	aIdentity := base.Identity
	aIdentity.Names = append(slices.Clone(aIdentity.Names), v1.PersonName{Kind: v1.NameAlias, Given: "Canaryzq", Family: "Wexford"})
	aCase := mustRefer(t, a, aIdentity, base)

	bVariant := mustRefer(t, b, variant, base)
	for range 6 {
		for _, n := range []*nodetest.Node{b, cn} {
			other := g.Identity()
			if sharesKey(d, aIdentity, other) {
				continue // an unrelated child that happens to meet would be a true OPRF match
			}
			mustRefer(t, n, other, base)
		}
	}

	raised, err := a.CrossBorder.RaiseAlert(ctx, a.Worker, node.NewAlert{
		Case: aCase, Type: v1.AlertMissing, Urgency: v1.UrgencyImmediate,
		TargetAuthorities: []v1.AuthorityCode{b.Authority, cn.Authority}, Contact: v1.ContactDutyDesk})
	if err != nil {
		t.Fatal(err)
	}
	id := raised.Alert.ID
	if len(raised.Alert.MatchTokens) == 0 {
		t.Fatal("the alert carries no match tokens")
	}

	c.Eventually("B has a match task", func() bool {
		ts, err := b.Store.MatchTasks(true, 0)
		return err == nil && len(ts) > 0
	})
	c.Eventually("C has matched the alert", func() bool {
		r, err := cn.Store.ReceivedAlert(id)
		return err == nil && !r.MatchedAt.IsZero()
	})
	c.Eventually("A's outbox is empty and both acks are recorded", func() bool {
		held, err := a.Store.IssuedAlert(id)
		return err == nil && len(held.Acked) == 2 && a.Store.OutboxDepth() == 0
	})

	tasks, err := b.CrossBorder.Tasks(ctx, b.Worker, true, 0)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("B's tasks = %+v, %v; want one", tasks, err)
	}
	if tk := tasks[0]; tk.Case != bVariant || tk.Alert != id || tk.Issuer != a.Authority || tk.Strength == "" {
		t.Errorf("B's task = %+v; want case %s, alert %s from %s", tk, bVariant, id, a.Authority)
	}
	t.Logf("B's task: strength %s", tasks[0].Strength)
	if ts, err := cn.CrossBorder.Tasks(ctx, cn.Worker, false, 0); err != nil || len(ts) != 0 {
		t.Errorf("C's tasks = %+v, %v; want none", ts, err)
	}
	var acked []v1.AuthorityCode
	for _, ack := range a.Acks() {
		if ack.Ack.AlertID == id {
			acked = append(acked, ack.Ack.From)
		}
	}
	slices.Sort(acked)
	if want := []v1.AuthorityCode{b.Authority, cn.Authority}; !slices.Equal(slices.Compact(acked), sortCodes(want)) {
		t.Errorf("A received acks from %v, want %v", acked, want)
	}
	held, _ := a.Store.IssuedAlert(id)
	if !slices.Contains(held.Acked, b.Authority) || !slices.Contains(held.Acked, cn.Authority) {
		t.Errorf("A recorded acks %v", held.Acked)
	}
	queried := false
	for _, e := range auditOf(t, a.Store) {
		if e.Action == v1.ActionAlertMatchQuery && e.Subject == string(id) && e.Recipient == string(b.Authority) {
			queried = true
		}
	}
	if !queried {
		t.Error("A did not audit B's match query")
	}

	// Nothing that reached B or C, nothing they stored, and nothing on the
	// match wire holds the canary or one of A's identity keys.
	needles := map[string][]byte{}
	for _, s := range []string{canary, strings.ToLower(canary), strings.ToUpper(canary), "Canaryzq", "Wexford"} {
		needles[s] = []byte(s)
	}
	for i, k := range d.Keys(aIdentity) {
		needles["A's identity key "+string(rune('0'+i))] = k.Bytes
	}
	haystacks := map[string][]byte{
		"A's served match streams": a.MatchServed.Bytes(),
	}
	for _, n := range []*nodetest.Node{b, cn} {
		name := string(n.Authority)
		haystacks[name+"'s match streams"] = n.MatchSent.Bytes()
		var got []byte
		for _, r := range n.Delivered() {
			got = append(got, r.Envelope...)
		}
		if len(got) == 0 {
			t.Errorf("%s: no alert delivered", name)
		}
		haystacks[name+"'s delivered alerts"] = got
		haystacks[name+"'s stored records"] = storedBytes(t, n.Store, id)
	}
	if len(haystacks[string(b.Authority)+"'s match streams"]) == 0 {
		t.Error("B's match streams captured nothing")
	}
	for hn, h := range haystacks {
		for nn, nd := range needles {
			if bytes.Contains(h, nd) {
				t.Errorf("%s hold %s", hn, nn)
			}
		}
	}
	// And on disk, after the nodes close.
	for _, n := range []*nodetest.Node{b, cn} {
		n.Close()
		files := 0
		err := filepath.WalkDir(n.Dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			for nn, nd := range needles {
				if bytes.Contains(raw, nd) {
					t.Errorf("%s's file %s holds %s", n.Authority, path, nn)
				}
			}
			return nil
		})
		if err != nil || files == 0 {
			t.Errorf("%s: scanned %d files: %v", n.Authority, files, err)
		}
	}
}

func sortCodes(cs []v1.AuthorityCode) []v1.AuthorityCode {
	cs = slices.Clone(cs)
	slices.Sort(cs)
	return cs
}

func auditOf(t *testing.T, s *storage.Store) []v1.AuditEntry {
	t.Helper()
	cp, err := s.AuditCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.AuditEntries(0, int(cp.Size))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// storedBytes encodes what a store holds about alerts: its audit log, its
// received alerts, its tasks and its seen-set envelopes.
func storedBytes(t *testing.T, s *storage.Store, alert v1.ID) []byte {
	t.Helper()
	var out []byte
	add := func(v v1.Record) {
		b, err := v1.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	for _, e := range auditOf(t, s) {
		add(&e)
	}
	received, err := s.LiveReceivedAlerts(time.Now(), 0)
	if err != nil || len(received) == 0 {
		t.Fatalf("received alerts: %d, %v", len(received), err)
	}
	for _, r := range received {
		add(&r.Alert)
	}
	tasks, err := s.MatchTasks(false, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		out = append(out, []byte(tk.Strength+string(tk.Case)+tk.Reason)...)
	}
	env, _, found, err := s.GetSeen(alert)
	if err != nil || !found {
		t.Fatalf("seen-set: %v, %v", found, err)
	}
	return append(out, env...)
}

// The issuer's rules as wired: an authority the alert does not target is
// refused its match query, and the refusal is audited; a target is
// answered.
func TestOnlyTargetsMayQueryAnAlert(t *testing.T) {
	c := nodetest.New(t, nodetest.Config{Nodes: 3})
	a, b, cn := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	ctx := context.Background()
	now := time.Now()
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	g := synthetic.New(43, synthetic.WithAuthority(a.Authority), synthetic.WithClock(now))
	child := g.Case()
	aCase := mustRefer(t, a, child.Identity, child)
	raised, err := a.CrossBorder.RaiseAlert(ctx, a.Coordinator, node.NewAlert{
		Case: aCase, Type: v1.AlertRiskOfMovement, Urgency: v1.UrgencyStandard,
		TargetAuthorities: []v1.AuthorityCode{b.Authority}, Contact: v1.ContactNRMCoordinator})
	if err != nil {
		t.Fatal(err)
	}
	alert := raised.Alert
	cands := []match.Candidate{{Case: v1.NewID(), Keys: [][]byte{d.Keys(child.Identity)[0].Bytes}}}

	qctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := cn.Receiver.Match(qctx, a.Host.ID(), &alert, cands); !errors.Is(err, match.ErrRefused) {
		t.Errorf("untargeted %s: %v, want ErrRefused", cn.Authority, err)
	}
	got, err := b.Receiver.Match(qctx, a.Host.ID(), &alert, cands)
	if err != nil || len(got) != 1 {
		t.Errorf("target %s: %d matches, %v; want its one candidate (the child's own key)", b.Authority, len(got), err)
	}
	var denied, allowed bool
	for _, e := range auditOf(t, a.Store) {
		if e.Action != v1.ActionAlertMatchQuery || e.Subject != string(alert.ID) {
			continue
		}
		denied = denied || (e.Recipient == string(cn.Authority) && e.Outcome == v1.AuditDenied)
		allowed = allowed || (e.Recipient == string(b.Authority) && e.Outcome == v1.AuditAllowed)
	}
	if !denied || !allowed {
		t.Errorf("A's audit: refusal of %s recorded %v, answer to %s recorded %v", cn.Authority, denied, b.Authority, allowed)
	}
}

// A caseload with more identity keys than the issuer lets one authority
// have evaluated in a window is matched in full over several windows, on
// real hosts: B keeps what A answered, waits out each limit, asks only the
// keys still unanswered, and finds the child. A's audit of B's queries adds
// up to B's distinct keys: none was asked twice.
func TestLargeCaseloadMatchedAcrossRateLimitWindows(t *testing.T) {
	c := nodetest.New(t, nodetest.Config{Nodes: 2, Patience: 90 * time.Second,
		Matching: func(ic *match.IssuerConfig, rc *match.ReceiverConfig) {
			ic.MaxElementsPerRequest, ic.PeerElementsPerWindow, ic.Window = 16, 32, time.Second
			rc.MaxElementsPerRequest = 16
		}})
	a, b := c.Nodes[0], c.Nodes[1]
	ctx := context.Background()
	now := time.Now()
	d, g, base, variant := meetingChild(t, 43, a.Authority, now)
	aCase := mustRefer(t, a, base.Identity, base)

	// B holds the variant after 30 other children of the same birth date and
	// sex (all candidates for the alert, none the child), so its query is
	// several windows long.
	band, sex := matchkeys.AlertFields(base.Identity, now)
	keys := map[string]bool{}
	addKeys := func(id v1.ChildIdentity) {
		for _, k := range d.Keys(id) {
			keys[string(k.Bytes)] = true
		}
	}
	for len(keys) < 100 {
		other := g.Identity()
		other.DateOfBirth, other.Sex = base.Identity.DateOfBirth, base.Identity.Sex
		if sharesKey(d, base.Identity, other) || !d.Candidate(other, now, band, sex) {
			continue
		}
		mustRefer(t, b, other, base)
		addKeys(other)
	}
	bVariant := mustRefer(t, b, variant, base)
	addKeys(variant)

	raised, err := a.CrossBorder.RaiseAlert(ctx, a.Worker, node.NewAlert{
		Case: aCase, Type: v1.AlertMayBeInArea, Urgency: v1.UrgencyHigh,
		TargetAuthorities: []v1.AuthorityCode{b.Authority}, Contact: v1.ContactDutyDesk})
	if err != nil {
		t.Fatal(err)
	}
	id := raised.Alert.ID
	c.Eventually("B has matched the alert in full", func() bool {
		r, err := b.Store.ReceivedAlert(id)
		return err == nil && !r.MatchedAt.IsZero()
	})
	tasks, err := b.CrossBorder.Tasks(ctx, b.Worker, true, 0)
	if err != nil || len(tasks) != 1 || tasks[0].Case != bVariant {
		t.Fatalf("B's tasks = %+v, %v; want one, on case %s", tasks, err, bVariant)
	}
	evaluated, limited := 0, 0
	for _, e := range auditOf(t, a.Store) {
		if e.Action != v1.ActionAlertMatchQuery || e.Subject != string(id) {
			continue
		}
		var n int
		var status string
		if _, err := fmt.Sscanf(e.Reason, "%d elements, answered %s", &n, &status); err != nil {
			t.Fatalf("audit reason %q: %v", e.Reason, err)
		}
		switch status {
		case "ok":
			evaluated += n
		case "rate_limited":
			limited++
		}
	}
	if limited == 0 {
		t.Errorf("no query was rate-limited: %d keys against 32 a window should have been", len(keys))
	}
	if evaluated != len(keys) {
		t.Errorf("A evaluated %d elements for B, want its %d distinct keys exactly once each", evaluated, len(keys))
	}
	t.Logf("%d distinct keys, evaluated once each over %d rate-limited refusals", len(keys), limited)
}
