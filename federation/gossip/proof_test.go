package gossip_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/mod/sumdb/tlog"

	"nrmnet/federation/gossip"
	"nrmnet/federation/internal/frame"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// auditSource is a member's audit log as a test drives it: the store the
// member proves from and reports in its heartbeats, which a test swaps for
// another to rewrite the member's history, or makes answer garbage.
type auditSource struct {
	cur     atomic.Pointer[storage.Store]
	garbage atomic.Bool  // prove with garbage hashes
	broken  atomic.Bool  // fail to read the log
	inflate atomic.Int64 // report a checkpoint this much larger than the log
}

// The node wires its store in directly.
var (
	_ gossip.ConsistencyProver = (*storage.Store)(nil)
	_ gossip.PeerCheckpoints   = (*storage.Store)(nil)
)

func (a *auditSource) AuditSize() (int64, error) {
	if a.broken.Load() {
		return 0, errors.New("disk unreadable")
	}
	return a.cur.Load().AuditSize()
}

func (a *auditSource) ProveConsistency(oldSize, newSize int64) (tlog.TreeProof, error) {
	if a.broken.Load() {
		return nil, errors.New("disk unreadable")
	}
	p, err := a.cur.Load().ProveConsistency(oldSize, newSize)
	if err == nil && a.garbage.Load() {
		for i := range p {
			p[i] = tlog.Hash(bytes.Repeat([]byte{0xee}, tlog.HashSize))
		}
	}
	return p, err
}

func (a *auditSource) status() gossip.StatusReport {
	cp, err := a.cur.Load().AuditCheckpoint()
	if err != nil {
		return gossip.StatusReport{}
	}
	if n := a.inflate.Load(); n > 0 {
		return gossip.StatusReport{Checkpoint: gossip.Checkpoint{Size: cp.Size + n, Root: bytes.Repeat([]byte{0x5a}, tlog.HashSize)}}
	}
	return gossip.StatusReport{Checkpoint: gossip.Checkpoint{Size: cp.Size, Root: cp.Root[:]}}
}

// appendAudit appends n entries to a store's audit log, each naming what.
func appendAudit(t *testing.T, s *storage.Store, what string, n int) {
	t.Helper()
	for i := range n {
		e := &v1.AuditEntry{At: time.Now().UTC(), Actor: "sw-001", Action: v1.ActionShareSend,
			Subject: fmt.Sprintf("%s %d", what, i), Outcome: v1.AuditAllowed}
		if err := s.Audit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// auditSize returns the size of a store's audit log.
func auditSize(t *testing.T, s *storage.Store) int64 {
	t.Helper()
	cp, err := s.AuditCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

// openOtherStore opens a second, empty, in-memory store for a member's
// authority: the log a member rewrites its history into.
func openOtherStore(t *testing.T, m *member) *storage.Store {
	t.Helper()
	dir := t.TempDir()
	if err := storage.CreateKeys(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	cfg := storage.DefaultConfig()
	cfg.DataDir, cfg.KeysDir = filepath.Join(dir, "data"), filepath.Join(dir, "keys")
	cfg.InMemory = true
	cfg.Authority = m.code
	cfg.MemTableSize, cfg.BlockCacheSize, cfg.IndexCacheSize = 8<<20, 1<<20, 1<<20
	cfg.Logger = testLogger(t, slog.LevelWarn).With("node", string(m.code))
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// conflictLog collects the conflicts one member raises.
type conflictLog struct {
	mu  sync.Mutex
	got []gossip.CheckpointConflict
}

func (c *conflictLog) add(x gossip.CheckpointConflict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, x)
}

func (c *conflictLog) of(code v1.AuthorityCode) []gossip.CheckpointConflict {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []gossip.CheckpointConflict
	for _, x := range c.got {
		if x.Authority == code {
			out = append(out, x)
		}
	}
	return out
}

// proofRegion makes n members whose heartbeats report their audit source,
// each with three audit entries; the first collects the conflicts it raises.
func proofRegion(t *testing.T, n int, setup func(r *region)) (*region, []*auditSource, *conflictLog) {
	r := newRegion(t, n)
	if setup != nil {
		setup(r)
	}
	srcs := make([]*auditSource, n)
	conflicts := &conflictLog{}
	for i, m := range r.members {
		m.openStore()
		appendAudit(t, m.store, "first history", 3)
		srcs[i] = &auditSource{}
		srcs[i].cur.Store(m.store)
		m.status = srcs[i].status
	}
	r.members[0].onConflict = conflicts.add
	r.start()
	for i, m := range r.members {
		enableProofs(t, m, srcs[i])
	}
	return r, srcs, conflicts
}

// restartChecker starts a stopped member again on its store, with proofs on
// (its audit source follows the reopened store).
func restartChecker(t *testing.T, r *region, m *member, src *auditSource) {
	t.Helper()
	m.startHost(r.signed)
	m.openStore()
	src.cur.Store(m.store)
	m.startService()
	enableProofs(t, m, src)
}

func enableProofs(t *testing.T, m *member, src *auditSource) {
	t.Helper()
	if err := m.svc.EnableAuditProofs(gossip.ProofConfig{Prover: src, References: m.store}); err != nil {
		t.Fatalf("%s: enable audit proofs: %v", m.code, err)
	}
}

// verified returns the audit checkpoint size a member's view shows verified
// for another, and why the latest is not.
func verified(watcher, of *member) (int64, string) {
	ms, _ := watcher.svc.RegionView().Member(of.code)
	return ms.AuditVerified.Size, ms.AuditUnverified
}

// TestAuditProofsCatchRewrittenHistory: four members check each other's
// audit logs. An honest member whose log grows is verified by proof, with no
// conflict. A member whose log is rewritten (another first entry) and grown
// past its old size, which neither the size nor the root alone betrays, is
// caught as inconsistent, once, though it keeps publishing and growing. A
// member answering with a garbage proof is caught. The checker restarts: the
// checkpoint it verified is kept on disk, so an honest member's log
// rewritten while it was down is still caught.
func TestAuditProofsCatchRewrittenHistory(t *testing.T) {
	r, srcs, conflicts := proofRegion(t, 4, func(r *region) { r.members[0].onDisk() })
	checker, honest, rewriter, liar := r.members[0], r.members[1], r.members[2], r.members[3]

	eventually(t, "the checker takes every member's first checkpoint", func() bool {
		for _, m := range r.members[1:] {
			if n, why := verified(checker, m); n != 3 || why != "" {
				return false
			}
		}
		return true
	})

	// An honest member grows: proved, no conflict.
	appendAudit(t, honest.store, "first history", 2)
	eventually(t, "the checker verifies the honest member's growth", func() bool {
		n, why := verified(checker, honest)
		return n == 5 && why == ""
	})
	if n := counter(t, checker, "nrmnet_gossip_audit_proofs_total", map[string]string{"result": "verified"}); n < 1 {
		t.Errorf("audit_proofs_total{verified} = %v; want at least 1", n)
	}

	// The rewriter's history is rewritten from its first entry and grown
	// past the old size.
	rewritten := openOtherStore(t, rewriter)
	appendAudit(t, rewritten, "second history", 6)
	srcs[2].cur.Store(rewritten)
	eventually(t, "the checker catches the rewritten history", func() bool { return len(conflicts.of(rewriter.code)) > 0 })
	c := conflicts.of(rewriter.code)[0]
	if c.Reason != gossip.ConflictInconsistent || c.Previous.Size != 3 || c.Got.Size != 6 || c.Detail == "" {
		t.Errorf("conflict = %+v; want %q from size 3 to 6 with a detail", c, gossip.ConflictInconsistent)
	}
	// The evidence: both checkpoints in heartbeats signed by the rewriter.
	checkEvidence(t, c, rewriter)

	// The liar grows its log but answers with garbage.
	srcs[3].garbage.Store(true)
	appendAudit(t, liar.store, "first history", 1)
	eventually(t, "the checker catches the garbage proof", func() bool { return len(conflicts.of(liar.code)) > 0 })
	if c := conflicts.of(liar.code)[0]; c.Reason != gossip.ConflictInconsistent || c.Got.Size != 4 {
		t.Errorf("conflict = %+v; want %q at size 4", c, gossip.ConflictInconsistent)
	}

	// The rewriter keeps growing; the checker sees it, and then an honest
	// growth after it (heartbeats are checked in order): still one alarm.
	appendAudit(t, rewritten, "second history", 2)
	eventually(t, "the checker sees the rewriter grow", func() bool {
		ms, _ := checker.svc.RegionView().Member(rewriter.code)
		return ms.Heartbeat.Checkpoint.Size == 8
	})
	appendAudit(t, honest.store, "first history", 1)
	eventually(t, "the checker verifies the honest member's next growth", func() bool {
		n, _ := verified(checker, honest)
		return n == 6
	})
	if n := len(conflicts.of(rewriter.code)); n != 1 {
		t.Errorf("rewriter raised %d times; want once", n)
	}
	if n := len(conflicts.of(honest.code)); n != 0 {
		t.Errorf("honest member raised %d conflicts: %+v", n, conflicts.of(honest.code))
	}
	v := checker.svc.RegionView()
	for _, m := range r.members[1:] {
		ms, _ := v.Member(m.code)
		if want := m != honest; ms.CheckpointConflict != want {
			t.Errorf("%s: CheckpointConflict = %v, want %v (unverified: %q)", m.code, ms.CheckpointConflict, want, ms.AuditUnverified)
		}
	}
	if n := counter(t, checker, "nrmnet_gossip_audit_proofs_total", map[string]string{"result": "failed"}); n != 2 {
		t.Errorf("audit_proofs_total{failed} = %v; want 2", n)
	}

	// The checker stops; meanwhile the honest member's log is rewritten and
	// grown past the size verified (6). Back up, the checker still holds 6.
	checker.stop()
	other := openOtherStore(t, honest)
	appendAudit(t, other, "second history", 9)
	srcs[1].cur.Store(other)
	conflicts = &conflictLog{}
	checker.onConflict = conflicts.add
	restartChecker(t, r, checker, srcs[0])
	eventually(t, "the restarted checker catches the history rewritten while it was down", func() bool {
		return len(conflicts.of(honest.code)) > 0
	})
	if c := conflicts.of(honest.code)[0]; c.Reason != gossip.ConflictInconsistent || c.Previous.Size != 6 || c.Got.Size != 9 {
		t.Errorf("after restart conflict = %+v; want %q from the stored size 6 to 9", c, gossip.ConflictInconsistent)
	}
	// The reference heartbeat came from the store, across the restart.
	checkEvidence(t, conflicts.of(honest.code)[0], honest)
}

// checkEvidence checks that a conflict carries the member's two signed
// heartbeats, one with each checkpoint, and that another key does not
// verify them.
func checkEvidence(t *testing.T, c gossip.CheckpointConflict, m *member) {
	t.Helper()
	for _, e := range []struct {
		what string
		b    []byte
		cp   gossip.Checkpoint
	}{{"reference", c.Reference, c.Previous}, {"contradicting", c.Heartbeat, c.Got}} {
		hb, err := gossip.VerifyHeartbeat(e.b, pub(m.key))
		if err != nil {
			t.Errorf("%s heartbeat: %v", e.what, err)
			continue
		}
		if hb.Authority != m.code || hb.Checkpoint.Size != e.cp.Size || !bytes.Equal(hb.Checkpoint.Root, e.cp.Root) {
			t.Errorf("%s heartbeat carries %s %d, want %s %d", e.what, hb.Authority, hb.Checkpoint.Size, m.code, e.cp.Size)
		}
		if _, err := gossip.VerifyHeartbeat(e.b, pub(keyFrom("someone else"))); !errors.Is(err, gossip.ErrBadSignature) {
			t.Errorf("%s heartbeat verifies under another key: %v", e.what, err)
		}
	}
}

// TestAuditProofsAfterRestartContinue: a checker that restarts proves a
// member's growth from the checkpoint it stored before, rather than taking
// the member's new checkpoint on trust.
func TestAuditProofsAfterRestartContinue(t *testing.T) {
	r, srcs, conflicts := proofRegion(t, 2, func(r *region) { r.members[0].onDisk() })
	checker, member := r.members[0], r.members[1]
	eventually(t, "the checker takes the member's first checkpoint", func() bool {
		n, _ := verified(checker, member)
		return n == 3
	})
	checker.stop()
	appendAudit(t, member.store, "first history", 4)
	restartChecker(t, r, checker, srcs[0])
	eventually(t, "the restarted checker proves the growth from the stored checkpoint", func() bool {
		n, why := verified(checker, member)
		return n == 7 && why == ""
	})
	if n := counter(t, checker, "nrmnet_gossip_audit_proofs_total", map[string]string{"result": "verified"}); n < 1 {
		t.Errorf("audit_proofs_total{verified} = %v after restart; want at least 1 (not adopted on trust)", n)
	}
	if n := counter(t, checker, "nrmnet_gossip_audit_proofs_total", map[string]string{"result": "adopted"}); n != 0 {
		t.Errorf("audit_proofs_total{adopted} = %v after restart; want 0", n)
	}
	if got := conflicts.of(member.code); len(got) != 0 {
		t.Errorf("conflicts = %+v; want none", got)
	}
}

// TestAcceptAuditHistory: a member restores its audit log from a backup
// and grows it (another history than the one verified): the checker raises
// the conflict. Once an operator accepts the new history, the conflict is
// gone, the member's next checkpoint is taken on trust, its growth from
// there is proved again (a rewrite after that is caught again), and the
// acceptance survives the checker's restart. Accepting this node itself or
// an authority not on the roster is refused.
func TestAcceptAuditHistory(t *testing.T) {
	r, srcs, conflicts := proofRegion(t, 2, func(r *region) { r.members[0].onDisk() })
	checker, member := r.members[0], r.members[1]
	ctx := context.Background()
	eventually(t, "the checker takes the member's first checkpoint", func() bool {
		n, _ := verified(checker, member)
		return n == 3
	})
	restored := openOtherStore(t, member)
	appendAudit(t, restored, "restored history", 5)
	srcs[1].cur.Store(restored)
	eventually(t, "the checker raises the conflict", func() bool { return len(conflicts.of(member.code)) == 1 })

	for _, bad := range []v1.AuthorityCode{checker.code, "XXX", "KEN"} {
		if err := checker.svc.AcceptAuditHistory(ctx, bad); !errors.Is(err, gossip.ErrNotMember) {
			t.Errorf("accepting the history of %s: %v; want ErrNotMember", bad, err)
		}
	}
	if err := checker.svc.AcceptAuditHistory(ctx, member.code); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the member's next checkpoint is taken on trust, without a conflict", func() bool {
		ms, _ := checker.svc.RegionView().Member(member.code)
		return !ms.CheckpointConflict && ms.AuditVerified.Size == 5 && ms.AuditUnverified == ""
	})
	if n := counter(t, checker, "nrmnet_gossip_audit_proofs_total", map[string]string{"result": "accepted"}); n != 1 {
		t.Errorf("audit_proofs_total{accepted} = %v; want 1", n)
	}
	appendAudit(t, restored, "restored history", 2)
	eventually(t, "the growth after the accepted history is proved", func() bool {
		n, why := verified(checker, member)
		return n == 7 && why == ""
	})

	// The checker restarts: it proves from the accepted history, not the old.
	checker.stop()
	appendAudit(t, restored, "restored history", 1)
	restartChecker(t, r, checker, srcs[0])
	eventually(t, "after a restart the checker proves growth from the accepted history", func() bool {
		n, why := verified(checker, member)
		return n == 8 && why == ""
	})
	if got := conflicts.of(member.code); len(got) != 1 {
		t.Errorf("conflicts = %d; want only the one before the acceptance", len(got))
	}

	// Accepting is not a blank cheque: the next rewrite is caught again.
	again := openOtherStore(t, member)
	appendAudit(t, again, "third history", 9)
	srcs[1].cur.Store(again)
	eventually(t, "a rewrite after the acceptance is caught", func() bool {
		ms, _ := checker.svc.RegionView().Member(member.code)
		return ms.CheckpointConflict
	})
}

// TestAuditProofsOnlyForMembers: a host that is not on the roster cannot
// get a proof from a member: it is refused before any answer.
func TestAuditProofsOnlyForMembers(t *testing.T) {
	r, _, _ := proofRegion(t, 2, nil)
	m := r.members[1]
	stranger, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stranger.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	req, err := gossip.EncodeProofRequest(1, 3)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := func() (string, error) {
		if err := stranger.Connect(ctx, peer.AddrInfo{ID: m.peerID(), Addrs: m.host.Addrs()}); err != nil {
			return "", fmt.Errorf("connect: %w", err)
		}
		st, err := stranger.NewStream(ctx, m.peerID(), gossip.AuditProofProtocol)
		if err != nil {
			return "", fmt.Errorf("open stream: %w", err)
		}
		defer st.Close()
		_ = st.SetDeadline(time.Now().Add(patience))
		if err := frame.Write(st, req, 1<<10); err != nil {
			return "", fmt.Errorf("write: %w", err)
		}
		b, err := frame.Read(st, 64<<10)
		if err != nil {
			return "", fmt.Errorf("read: %w", err)
		}
		return gossip.DecodeProofResponse(b)
	}()
	if err == nil {
		t.Fatalf("a stranger got an answer %q", answer)
	}
	refused := m.host.RefusedConnections() > 0 ||
		counter(t, m, "nrmnet_gossip_audit_proofs_served_total", map[string]string{"result": "not_member"}) > 0
	if !refused {
		t.Errorf("the stranger got no answer (%v), but the member recorded no refusal", err)
	}
}

// TestAuditProofsRefusedOrUnanswered: a member that publishes a checkpoint
// beyond its log cannot prove it, and is caught; a member that cannot read
// its log answers "unavailable", which is no conflict: it stays unverified
// and is asked again, and is verified once it answers.
func TestAuditProofsRefusedOrUnanswered(t *testing.T) {
	r, srcs, conflicts := proofRegion(t, 3, nil)
	checker, boaster, broken := r.members[0], r.members[1], r.members[2]
	eventually(t, "the checker takes every member's first checkpoint", func() bool {
		a, _ := verified(checker, boaster)
		b, _ := verified(checker, broken)
		return a == 3 && b == 3
	})

	srcs[1].inflate.Store(2)
	eventually(t, "the checker catches the checkpoint beyond the log", func() bool { return len(conflicts.of(boaster.code)) > 0 })
	if c := conflicts.of(boaster.code)[0]; c.Reason != gossip.ConflictInconsistent || c.Got.Size != 5 {
		t.Errorf("conflict = %+v; want %q at size 5", c, gossip.ConflictInconsistent)
	}
	if n := counter(t, boaster, "nrmnet_gossip_audit_proofs_served_total", map[string]string{"result": "beyond_log"}); n < 1 {
		t.Errorf("the boaster answered beyond_log %v times; want at least 1", n)
	}

	srcs[2].broken.Store(true)
	appendAudit(t, broken.store, "first history", 2)
	eventually(t, "the checker shows the silent member unverified", func() bool {
		n, why := verified(checker, broken)
		return n == 3 && why == "member did not answer" &&
			counter(t, checker, "nrmnet_gossip_audit_proofs_total", map[string]string{"result": "unreachable"}) >= 1
	})
	if got := conflicts.of(broken.code); len(got) != 0 {
		t.Fatalf("a member that did not answer raised %+v", got)
	}
	srcs[2].broken.Store(false)
	eventually(t, "the member is verified once it answers", func() bool {
		n, why := verified(checker, broken)
		return n == 5 && why == ""
	})
	if got := conflicts.of(broken.code); len(got) != 0 {
		t.Errorf("conflicts = %+v; want none", got)
	}
}
