package panel

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// scenario is a case's whole life on the panel, touching every operation and
// including rejected commands: a tied RG decided negative by the chair, a
// reconsideration, RG and CG together at a second meeting, assurance queried
// and then assured, and closure.
func scenario(f *fixture) []Command {
	m1, p1, m2, p2 := f.id(), f.id(), f.id(), f.id()
	cs := []Command{f.open(), f.views("He is frightened of being moved again."), f.meeting(m1, fullAttendance()),
		f.propose(p1, m1, chair, rg)}
	cs = append(cs, votes(f, p1, rg, pos, neg, pos, neg)...)
	cs = append(cs,
		f.vote(p1, police, rg, pos), // double vote: rejected
		f.vote(p1, ictg, rg, pos),   // the ICTG does not vote: rejected
		f.conclude(p1, chair),       // tie without casting vote: rejected
		f.conclude(p1, chair, CastingVote{Stage: rg, Outcome: v1.OutcomeNegative}),
		f.assurance(p1, v1.AssuranceSubmitted, ""),
		f.reconsider(p1),
		f.meeting(m2, fullAttendance()),
		f.views("He now says he wants to talk to the police."),
		f.propose(p2, m2, chair, rg, cg),
	)
	cs = append(cs, votes(f, p2, rg, pos, pos, pos, pos)...)
	cs = append(cs, votes(f, p2, cg, pos, pos, neg, pos)...)
	cs = append(cs,
		f.conclude(p2, chair),
		f.assurance(p2, v1.AssuranceSubmitted, ""),
		f.assurance(p2, v1.AssuranceQueried, "Please say how the child's views were weighed."),
		f.assurance(p2, v1.AssuranceSubmitted, ""),
		f.assurance(p2, v1.AssuranceAssured, ""),
		f.close(CloseDecided),
		f.views("Too late: the case is closed."), // rejected
	)
	return cs
}

func encodeAll(t testing.TB, cs []Command) [][]byte {
	out := make([][]byte, len(cs))
	for i, c := range cs {
		out[i] = mustEncode(t, c)
	}
	return out
}

func TestScenarioEndsDecided(t *testing.T) {
	h := newHarness(t, memConfig(t))
	rejected := 0
	for _, c := range scenario(newFixture()) {
		if !h.apply(c).Accepted() {
			rejected++
		}
	}
	if rejected != 4 {
		t.Fatalf("%d commands rejected, want 4", rejected)
	}
	pc := h.caseState()
	if pc.RG.Status != StagePositive || pc.CG.Status != StagePositive || pc.Closed == nil || len(pc.Decisions) != 2 {
		t.Fatalf("RG %s, CG %s, closed %v, %d decisions", pc.RG.Status, pc.CG.Status, pc.Closed, len(pc.Decisions))
	}
	if len(h.concluded) != 2 {
		t.Fatalf("observer saw %d decisions, want 2", len(h.concluded))
	}
	second := pc.Decisions[1]
	if !reflect.DeepEqual(h.concluded[1], ConcludedDecision{Index: second.Index, Record: second.Record}) {
		t.Fatalf("observer got %+v\nstate has %+v", h.concluded[1], second)
	}
	if err := second.Record.Validate(); err != nil {
		t.Fatalf("decision record does not validate: %v", err)
	}
	if !strings.Contains(second.Record.ChildViews, "talk to the police") {
		t.Fatalf("the decision does not carry the latest record of the child's views: %q", second.Record.ChildViews)
	}
	if len(second.Record.Votes) != 8 || len(second.Record.Attendance) != len(fullAttendance()) {
		t.Fatalf("decision records %d votes and %d attendees", len(second.Record.Votes), len(second.Record.Attendance))
	}
	if a := second.Assurance; a == nil || a.Status != v1.AssuranceAssured {
		t.Fatalf("assurance = %+v", a)
	}
	d, err := h.fsm.Decision(second.Record.ID)
	if err != nil || !reflect.DeepEqual(d, second) {
		t.Fatalf("Decision = %+v, %v", d, err)
	}
	if cases, err := h.fsm.Cases(); err != nil || !reflect.DeepEqual(cases, []v1.CaseID{testCase}) {
		t.Fatalf("Cases = %v, %v", cases, err)
	}
	if _, err := h.fsm.Case("CMD-00000000000000ff"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown case: %v", err)
	}
	if _, err := h.fsm.Decision(v1.NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown decision: %v", err)
	}
	if _, err := h.fsm.CommandResult(v1.NewID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown command: %v", err)
	}
}

// Every command of the scenario, accepted or rejected, applied a second time
// returns its first result and changes nothing.
func TestEveryCommandAppliedTwiceChangesNothing(t *testing.T) {
	h := newHarness(t, memConfig(t))
	for _, c := range scenario(newFixture()) {
		data := mustEncode(t, c)
		first := h.applyBytes(data)
		state := stateBytes(t, h.fsm)
		seen := len(h.concluded)
		again := h.applyBytes(data)
		if !again.Duplicate {
			t.Fatalf("%s applied twice: second result not marked duplicate: %+v", c.Op, again)
		}
		again.Duplicate = false
		if again != first {
			t.Fatalf("%s applied twice: %+v, first %+v", c.Op, again, first)
		}
		if !bytes.Equal(stateBytes(t, h.fsm), state) {
			t.Fatalf("%s (%s) applied twice changed the state", c.Op, first.Code)
		}
		if len(h.concluded) != seen {
			t.Fatalf("%s applied twice notified the observer again", c.Op)
		}
		if h.fsm.AppliedIndex() != h.index {
			t.Fatalf("applied index %d, want %d", h.fsm.AppliedIndex(), h.index)
		}
	}
}

func TestCommandIDReusedForAnotherCommand(t *testing.T) {
	h := newHarness(t, memConfig(t))
	f := newFixture()
	open := f.open()
	h.accept(open)
	state := stateBytes(t, h.fsm)
	other := f.views("Different content, same ID.")
	other.ID = open.ID
	r := h.reject(other, CodeIDReused)
	if !strings.Contains(r.Message, "index 1") {
		t.Fatalf("message does not say where the ID was first used: %q", r.Message)
	}
	if !bytes.Equal(stateBytes(t, h.fsm), state) {
		t.Fatal("a reused ID changed the state")
	}
	if got, err := h.fsm.CommandResult(open.ID); err != nil || !got.Accepted() || got.Op != OpOpenCase {
		t.Fatalf("the first command's result was replaced: %+v, %v", got, err)
	}
}

func TestMalformedEntryIsARejectionNotAFailure(t *testing.T) {
	h := newHarness(t, memConfig(t))
	f := newFixture()
	h.accept(f.open())
	state := stateBytes(t, h.fsm)
	for _, junk := range [][]byte{nil, []byte("not cbor"), {0xa0}} {
		r := h.applyBytes(junk)
		if r.Code != CodeMalformed || r.Message == "" || r.Index != h.index {
			t.Fatalf("junk %x: %+v", junk, r)
		}
	}
	bad := f.views("x")
	bad.RecordChildViews.Views = ""
	data, err := sealUnchecked(bad)
	if err != nil {
		t.Fatal(err)
	}
	if r := h.applyBytes(data); r.Code != CodeMalformed || !strings.Contains(r.Message, "record_child_views.views") {
		t.Fatalf("invalid command: %+v", r)
	}
	if !bytes.Equal(stateBytes(t, h.fsm), state) || h.fsm.AppliedIndex() != h.index {
		t.Fatal("malformed entries changed the state or did not advance the applied index")
	}
	h.accept(f.views("Still working."))
	if err := h.fsm.Failed(); err != nil {
		t.Fatal(err)
	}
}

// Three state machines (in memory, on disk encrypted, on disk plaintext)
// applying the same log reach byte-identical state and identical results.
func TestSameLogSameStateOnEveryMember(t *testing.T) {
	log := encodeAll(t, scenario(newFixture()))
	// Add duplicates and junk, as a leader retrying after a timeout would.
	log = append(log, log[3], log[10], []byte{0xff}, log[0])
	plain := diskConfig(t)
	plain.EncryptionKey, plain.Plaintext = nil, true
	members := []*harness{newHarness(t, memConfig(t)), newHarness(t, diskConfig(t)), newHarness(t, plain)}
	results := make([][]Result, len(members))
	for i, m := range members {
		for _, e := range log {
			results[i] = append(results[i], m.applyBytes(e))
		}
	}
	want := snapshotBytes(t, members[0].fsm)
	for i, m := range members[1:] {
		if got := snapshotBytes(t, m.fsm); !bytes.Equal(got, want) {
			t.Fatalf("member %d's state differs from member 0's (%d vs %d bytes)", i+1, len(got), len(want))
		}
		if !reflect.DeepEqual(results[i+1], results[0]) {
			t.Fatalf("member %d's results differ", i+1)
		}
		if !reflect.DeepEqual(m.concluded, members[0].concluded) {
			t.Fatalf("member %d's observer saw other decisions", i+1)
		}
	}
}

// A restart resumes from the stored applied index: the entries raft replays
// are answered from the state, not applied again, and the observer is not
// called twice.
func TestReopenDoesNotReapply(t *testing.T) {
	log := encodeAll(t, scenario(newFixture()))
	cfg := diskConfig(t)
	h := newHarness(t, cfg)
	half := len(log) / 2
	var first []Result
	for _, e := range log[:half] {
		first = append(first, h.applyBytes(e))
	}
	before := snapshotBytes(t, h.fsm)
	seen := len(h.concluded)
	if seen == 0 {
		t.Fatal("the first half concluded nothing; the test would not see a repeated notification")
	}
	if err := h.fsm.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.fsm.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	again := newHarness(t, cfg)
	if got := again.fsm.AppliedIndex(); got != uint64(half) {
		t.Fatalf("reopened at applied index %d, want %d", got, half)
	}
	if !bytes.Equal(snapshotBytes(t, again.fsm), before) {
		t.Fatal("the state changed across reopen")
	}
	again.index = 0 // raft replays from the start (no snapshot)
	for i, e := range log[:half] {
		if r := again.applyBytes(e); r != first[i] {
			t.Fatalf("replayed entry %d: %+v, first %+v", i+1, r, first[i])
		}
	}
	if len(again.concluded) != 0 {
		t.Fatalf("replay notified the observer %d times", len(again.concluded))
	}
	if !bytes.Equal(snapshotBytes(t, again.fsm), before) {
		t.Fatal("replay changed the state")
	}
	for _, e := range log[half:] {
		again.applyBytes(e)
	}
	whole := newHarness(t, memConfig(t))
	for _, e := range log {
		whole.applyBytes(e)
	}
	if !bytes.Equal(snapshotBytes(t, again.fsm), snapshotBytes(t, whole.fsm)) {
		t.Fatal("a member that restarted half way differs from one that did not")
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	log := encodeAll(t, scenario(newFixture()))
	a := newHarness(t, memConfig(t))
	for _, e := range log {
		a.applyBytes(e)
	}
	snap := snapshotBytes(t, a.fsm)

	// b holds other state, which Restore must replace entirely.
	cfg := diskConfig(t)
	b := newHarness(t, cfg)
	other := newFixture()
	other.case_ = "CMD-00000000000000b2"
	other.seq = 1000
	b.accept(NewCommand(other.header(touched, "sw-cmd-1", RoleSocialWorker), &OpenCase{
		Lead: touched, LeadSocialWorker: "sw-cmd-1", Rules: DefaultRuleset()}))
	if err := b.fsm.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := snapshotBytes(t, b.fsm); !bytes.Equal(got, snap) {
		t.Fatal("snapshot after restore differs from the snapshot restored")
	}
	if b.fsm.AppliedIndex() != a.fsm.AppliedIndex() {
		t.Fatalf("applied index %d, want %d", b.fsm.AppliedIndex(), a.fsm.AppliedIndex())
	}
	if _, err := b.fsm.Case(other.case_); !errors.Is(err, ErrNotFound) {
		t.Fatalf("state from before the restore survived: %v", err)
	}
	da, _ := a.fsm.DecisionsSince(0)
	db, _ := b.fsm.DecisionsSince(0)
	if len(da) != 2 || !reflect.DeepEqual(da, db) {
		t.Fatalf("decisions after restore: %d vs %d", len(db), len(da))
	}
	for i, e := range log {
		want, _ := a.fsm.CommandResult(mustDecode(t, e).ID)
		if got, err := b.fsm.CommandResult(mustDecode(t, e).ID); err != nil || got != want {
			t.Fatalf("entry %d: result after restore %+v, %v; want %+v", i+1, got, err, want)
		}
	}
	// The restored slot is the one a reopen reads.
	if err := b.fsm.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := newHarness(t, cfg)
	if !bytes.Equal(snapshotBytes(t, reopened.fsm), snap) {
		t.Fatal("reopen after restore does not read the restored state")
	}
}

func TestRestoreRefusesABadSnapshotAndKeepsTheState(t *testing.T) {
	a := newHarness(t, memConfig(t))
	for _, c := range scenario(newFixture()) {
		a.apply(c)
	}
	snap := snapshotBytes(t, a.fsm)
	flipped := bytes.Clone(snap)
	flipped[len(flipped)/2] ^= 0x01
	b := newHarness(t, memConfig(t))
	b.accept(newFixture().open())
	before := snapshotBytes(t, b.fsm)
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"flipped byte":   flipped,
		"truncated":      snap[:len(snap)-10],
		"no checksum":    snap[:len(snap)-32],
		"trailing bytes": append(bytes.Clone(snap), 0),
		"other format":   append([]byte("nrmnet-other-state"), snap[18:]...),
	} {
		err := b.fsm.Restore(io.NopCloser(bytes.NewReader(bad)))
		if !errors.Is(err, ErrCorruptState) {
			t.Fatalf("%s: restore returned %v, want ErrCorruptState", name, err)
		}
		if !bytes.Equal(snapshotBytes(t, b.fsm), before) {
			t.Fatalf("%s: a refused snapshot changed the state", name)
		}
	}
}

// A snapshot is the state as of the call to Snapshot, even when entries are
// applied before Persist runs.
func TestSnapshotIsPinnedWhileApplyContinues(t *testing.T) {
	log := encodeAll(t, scenario(newFixture()))
	a := newHarness(t, memConfig(t))
	prefix := newHarness(t, memConfig(t))
	for _, e := range log[:10] {
		a.applyBytes(e)
		prefix.applyBytes(e)
	}
	s, err := a.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Release()
	for _, e := range log[10:] {
		a.applyBytes(e)
	}
	sink := &memSink{}
	if err := s.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), snapshotBytes(t, prefix.fsm)) {
		t.Fatal("the snapshot includes entries applied after Snapshot was called")
	}
}

func TestDecisionsSince(t *testing.T) {
	h := newHarness(t, memConfig(t))
	for _, c := range scenario(newFixture()) {
		h.apply(c)
	}
	all, err := h.fsm.DecisionsSince(0)
	if err != nil || len(all) != 2 || all[0].Index >= all[1].Index {
		t.Fatalf("DecisionsSince(0) = %d decisions, %v", len(all), err)
	}
	if !reflect.DeepEqual(all[0].Record, h.concluded[0].Record) {
		t.Fatal("DecisionsSince and the observer disagree")
	}
	rest, err := h.fsm.DecisionsSince(all[0].Index)
	if err != nil || len(rest) != 1 || rest[0].Index != all[1].Index {
		t.Fatalf("DecisionsSince(%d) = %+v, %v", all[0].Index, rest, err)
	}
	if none, _ := h.fsm.DecisionsSince(all[1].Index); len(none) != 0 {
		t.Fatalf("DecisionsSince(last) = %d decisions", len(none))
	}
}

// The child's views and the panel's reasons never appear in the state's
// files (encrypted at rest) or in the log. The plaintext control proves the
// search would find them.
func TestCanaryNeverOnDiskOrInLogs(t *testing.T) {
	canary := "CANARY-panel-7f3e1a"
	child := synthetic.CanaryCase(synthetic.New(7, synthetic.WithAuthority(lead)), canary)
	views := child.WishesAndFeelings[0].Views
	if !strings.Contains(views, canary) {
		t.Fatalf("synthetic canary case has no canary in its wishes: %q", views)
	}
	run := func(cfg Config) (dir string, logs []byte) {
		logger, logged := capturingLogger(t)
		cfg.Logger = logger
		h := newHarness(t, cfg)
		f := newFixture()
		cs := scenario(f)
		for i := range cs {
			if cs[i].RecordChildViews != nil {
				cs[i].RecordChildViews.Views = views
			}
			if cs[i].Conclude != nil {
				cs[i].Conclude.Reasons = "Reasons naming " + canary
			}
		}
		for _, c := range cs {
			if r := h.apply(c); strings.Contains(r.Message, canary) {
				t.Fatalf("a result message carries case content: %q", r.Message)
			}
		}
		if pc := h.caseState(); !strings.Contains(pc.Decisions[1].Record.ChildViews, canary) {
			t.Fatal("the canary did not reach the state; the test proves nothing")
		}
		if err := h.fsm.Close(); err != nil {
			t.Fatal(err)
		}
		return cfg.Dir, logged()
	}
	found := func(dir string) bool {
		hit := false
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, rerr := os.ReadFile(path)
			hit = hit || rerr == nil && bytes.Contains(b, []byte(canary))
			return rerr
		})
		return hit
	}
	dir, logs := run(diskConfig(t))
	if found(dir) {
		t.Fatal("the canary is on disk in the encrypted state")
	}
	if bytes.Contains(logs, []byte(canary)) {
		t.Fatal("the canary is in the log")
	}
	plain := diskConfig(t)
	plain.EncryptionKey, plain.Plaintext = nil, true
	if dir, _ := run(plain); !found(dir) {
		t.Fatal("control: the canary is not found in plaintext state; the search is broken")
	}
}

func TestClosedFSM(t *testing.T) {
	h := newHarness(t, memConfig(t))
	h.accept(newFixture().open())
	if err := h.fsm.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.fsm.Case(testCase); !errors.Is(err, ErrClosed) {
		t.Fatalf("Case after Close: %v", err)
	}
	if _, err := h.fsm.Snapshot(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Snapshot after Close: %v", err)
	}
	if r := h.apply(newFixture().open()); r.Accepted() || !errors.Is(r.Err(), ErrFailed) {
		t.Fatalf("Apply after Close: %+v", r)
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"bad panel":          func(c *Config) { c.Panel = "Islington Camden" },
		"no dir":             func(c *Config) { c.InMemory = false },
		"short key":          func(c *Config) { c.Plaintext = false; c.EncryptionKey = []byte("short") },
		"key and plaintext":  func(c *Config) { c.EncryptionKey = make([]byte, KeySize) },
		"tiny memtable":      func(c *Config) { c.MemTableSize = 1024 },
		"no block cache":     func(c *Config) { c.BlockCacheSize = 0 },
		"dir and in memory":  func(c *Config) { c.Dir = t.TempDir() },
		"negative idx cache": func(c *Config) { c.IndexCacheSize = -1 },
	} {
		cfg := memConfig(t)
		mutate(&cfg)
		if _, err := Open(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Open returned %v, want ErrInvalidConfig", name, err)
		}
	}
	if err := memConfig(t).Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestResultErr(t *testing.T) {
	if err := (Result{Code: CodeAccepted}).Err(); err != nil {
		t.Fatal(err)
	}
	err := Result{Code: CodeAlreadyVoted, Message: "x"}.Err()
	var re *RejectedError
	if !errors.Is(err, ErrRejected) || !errors.As(err, &re) || re.Code != CodeAlreadyVoted {
		t.Fatalf("rejection error: %v", err)
	}
}

func mustDecode(t testing.TB, data []byte) Command {
	t.Helper()
	c, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var _ raft.FSM = (*FSM)(nil)

// The runtime's view: CommandApplied for ambiguity resolution, and results
// encoded for a proposer on another node.
func TestCommandAppliedAndEncodedResults(t *testing.T) {
	h := newHarness(t, memConfig(t))
	f := newFixture()
	open, views := f.open(), f.views("Views.")
	h.accept(open)
	outside := f.meeting(f.id(), fullAttendance())
	outside.Authority = outsider
	rejected := h.reject(outside, CodeAuthorityNotOnCase)
	dup := h.apply(open)
	if idx, ok, err := h.fsm.CommandApplied(open.ID); err != nil || !ok || idx != 1 {
		t.Fatalf("CommandApplied(open) = %d, %v, %v", idx, ok, err)
	}
	if _, ok, err := h.fsm.CommandApplied(views.ID); err != nil || ok {
		t.Fatalf("CommandApplied(never proposed) = %v, %v", ok, err)
	}
	for _, r := range []Result{dup, rejected, h.apply(views)} {
		b, err := h.fsm.EncodeResponse(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeResult(b)
		if err != nil || got != r {
			t.Fatalf("DecodeResult = %+v, %v; want %+v", got, err, r)
		}
	}
	if !dup.Duplicate {
		t.Fatal("duplicate not marked")
	}
	if _, err := h.fsm.EncodeResponse("text"); err == nil {
		t.Fatal("EncodeResponse accepted a string")
	}
	stored, _ := h.fsm.CommandResult(open.ID)
	if stored.Duplicate {
		t.Fatal("a stored result is marked duplicate")
	}
}

// A snapshot taken before a Restore refuses to persist: the slot it read
// from is gone, and it must not write a partial state.
func TestSnapshotPinnedBeforeRestoreRefusesToPersist(t *testing.T) {
	a := newHarness(t, memConfig(t))
	for _, c := range scenario(newFixture()) {
		a.apply(c)
	}
	snap := snapshotBytes(t, a.fsm)
	b := newHarness(t, memConfig(t))
	b.accept(newFixture().open())
	pinned, err := b.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Release()
	if err := b.fsm.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := pinned.Persist(sink); err == nil || !sink.cancelled || sink.closed {
		t.Fatalf("persist after restore: %v, cancelled %v, closed %v", err, sink.cancelled, sink.closed)
	}
	if !bytes.Equal(snapshotBytes(t, b.fsm), snap) {
		t.Fatal("state after restore differs from the snapshot")
	}
}

// The change observer sees every accepted reconsideration and assurance
// command, in log order, with the decision as it stands after the command;
// rejected commands and replays of applied entries are not seen.
func TestChangeObserverSeesReconsiderationAndAssurance(t *testing.T) {
	h := newHarness(t, memConfig(t))
	f := newFixture()
	cs := scenario(f)
	for _, c := range cs {
		h.apply(c)
	}
	type seen struct {
		op        Op
		assurance v1.AssuranceStatus
		reconsid  bool
	}
	var got []seen
	for _, c := range h.changed {
		s := seen{op: c.Op, reconsid: c.Decision.Reconsideration != nil}
		if c.Decision.Assurance != nil {
			s.assurance = c.Decision.Assurance.Status
		}
		got = append(got, s)
	}
	want := []seen{
		{OpRecordAssurance, v1.AssuranceSubmitted, false},
		{OpReconsider, v1.AssuranceSubmitted, true},
		{OpRecordAssurance, v1.AssuranceSubmitted, false},
		{OpRecordAssurance, v1.AssuranceQueried, false},
		{OpRecordAssurance, v1.AssuranceSubmitted, false},
		{OpRecordAssurance, v1.AssuranceAssured, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("change observer saw %+v\nwant %+v", got, want)
	}
	pc := h.caseState()
	last := h.changed[len(h.changed)-1]
	if last.Decision.Record.ID != pc.Decisions[1].Record.ID || last.Decision.Record.LeadAuthority != lead {
		t.Fatalf("last change is of decision %s (lead %s), want %s", last.Decision.Record.ID, last.Decision.Record.LeadAuthority, pc.Decisions[1].Record.ID)
	}
	for i := 1; i < len(h.changed); i++ {
		if h.changed[i].Index <= h.changed[i-1].Index {
			t.Fatalf("changes out of log order: %d after %d", h.changed[i].Index, h.changed[i-1].Index)
		}
	}
	// A rejected assurance command (assured after assured) is not seen.
	n := len(h.changed)
	h.reject(f.assurance(pc.Decisions[1].Record.ID, v1.AssuranceAssured, ""), CodeCaseClosed)
	if len(h.changed) != n {
		t.Fatalf("a rejected command reached the change observer")
	}
}
