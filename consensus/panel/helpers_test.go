package panel

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	v1 "nrmnet/schemas/v1"
)

// The test panel: Islington leads, the case touches Camden.
const (
	testPanel v1.PanelID       = "islington-camden"
	lead      v1.AuthorityCode = "ISL"
	touched   v1.AuthorityCode = "CMD"
	outsider  v1.AuthorityCode = "LDS"

	leadSW   = "sw-isl-17"   // the child's lead social worker
	chair    = "chair-ind-1" // an independent chair (attends as adviser)
	laISL    = "la-isl-1"
	laCMD    = "la-cmd-1"
	police   = "police-met-1"
	health   = "health-nhs-1"
	ictg     = "ictg-1"
	advocate = "advocate-1"
	adviser  = "edu-isl-1"
	coord    = "coord-isl-1"
)

var testCase = v1.CaseID("ISL-00000000000000a1")

// t0 is when the test case is opened; command times advance from it.
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// fixture builds commands for one case with deterministic IDs and times.
type fixture struct {
	seq   int
	clock time.Time
	case_ v1.CaseID
}

func newFixture() *fixture { return &fixture{clock: t0, case_: testCase} }

func (f *fixture) id() v1.ID {
	f.seq++
	return v1.ID(fmt.Sprintf("%032x", f.seq))
}

// header returns a header issued by authority a, acted by person in role,
// one minute after the previous command.
func (f *fixture) header(a v1.AuthorityCode, person string, role Role) Header {
	f.clock = f.clock.Add(time.Minute)
	return Header{ID: f.id(), Panel: testPanel, Case: f.case_, Authority: a,
		Actor: Actor{PersonID: person, Role: role}, At: f.clock}
}

func (f *fixture) open() Command {
	return NewCommand(f.header(lead, leadSW, RoleSocialWorker), &OpenCase{
		Lead: lead, LeadSocialWorker: leadSW, Touches: []v1.AuthorityCode{touched}, Rules: DefaultRuleset(),
	})
}

// fullAttendance is a quorate meeting: both authorities, police, health, the
// ICTG, an adviser and an independent chair.
func fullAttendance() []v1.Attendee {
	return []v1.Attendee{
		{MemberID: chair, Capacity: v1.CapacityAdviser, Chair: true},
		{MemberID: laISL, Capacity: v1.CapacityLocalAuthority, Authority: lead},
		{MemberID: laCMD, Capacity: v1.CapacityLocalAuthority, Authority: touched},
		{MemberID: police, Capacity: v1.CapacityPolice},
		{MemberID: health, Capacity: v1.CapacityHealth},
		{MemberID: ictg, Capacity: v1.CapacityICTG},
		{MemberID: adviser, Capacity: v1.CapacityAdviser},
	}
}

var voters = []string{laISL, laCMD, police, health}

// without returns the attendance less the named members.
func without(att []v1.Attendee, members ...string) []v1.Attendee {
	var out []v1.Attendee
	for _, a := range att {
		drop := false
		for _, m := range members {
			drop = drop || a.MemberID == m
		}
		if !drop {
			out = append(out, a)
		}
	}
	return out
}

func (f *fixture) meeting(id v1.ID, att []v1.Attendee) Command {
	h := f.header(lead, coord, RoleNRMCoordinator)
	return NewCommand(h, &RecordMeeting{Meeting: id, HeldAt: h.At.Add(-30 * time.Second), Attendance: att})
}

func (f *fixture) views(text string) Command {
	return NewCommand(f.header(lead, leadSW, RoleSocialWorker), &RecordChildViews{Views: text})
}

func (f *fixture) propose(proposal, meeting v1.ID, chairID string, stages ...v1.DecisionStage) Command {
	return NewCommand(f.header(lead, chairID, RoleChair), &ProposeDecision{Proposal: proposal, Meeting: meeting, Stages: stages})
}

func (f *fixture) vote(proposal v1.ID, member string, s v1.DecisionStage, c v1.VoteChoice) Command {
	return NewCommand(f.header(lead, member, RolePanelMember), &CastVote{Proposal: proposal, Stage: s, Choice: c})
}

func (f *fixture) conclude(proposal v1.ID, chairID string, casting ...CastingVote) Command {
	return NewCommand(f.header(lead, chairID, RoleChair), &ConcludeDecision{
		Proposal: proposal, Reasons: "The panel weighed the police and health evidence.",
		ChildViewsConsidered: "The panel met the child's wish to be heard by the ICTG.", CastingVotes: casting,
	})
}

func (f *fixture) reconsider(decision v1.ID) Command {
	return NewCommand(f.header(lead, leadSW, RoleSocialWorker), &RequestReconsideration{
		Decision: decision, Grounds: GroundsNewEvidence, Detail: "A new police report."})
}

func (f *fixture) assurance(decision v1.ID, s v1.AssuranceStatus, query string) Command {
	return NewCommand(f.header(lead, coord, RoleNRMCoordinator), &RecordAssurance{Decision: decision, Status: s, Query: query})
}

func (f *fixture) close(r CloseReason) Command {
	return NewCommand(f.header(lead, coord, RoleNRMCoordinator), &CloseCase{Reason: r})
}

// harness applies commands to one FSM at consecutive log indexes.
type harness struct {
	t     testing.TB
	fsm   *FSM
	index uint64

	mu        sync.Mutex
	concluded []ConcludedDecision
	changed   []DecisionChange
}

func mustEncode(t testing.TB, c Command) []byte {
	t.Helper()
	b, err := Encode(c)
	if err != nil {
		t.Fatalf("encode %s: %v", c.Op, err)
	}
	return b
}

// memConfig is an in-memory, plaintext configuration.
func memConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Panel = testPanel
	cfg.InMemory = true
	cfg.Plaintext = true
	cfg.Logger = testLogger(t)
	return cfg
}

// diskConfig is the production configuration in a fresh directory.
func diskConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Panel = testPanel
	cfg.Dir = t.TempDir()
	cfg.EncryptionKey = bytes.Repeat([]byte{0x3c}, KeySize)
	cfg.Logger = testLogger(t)
	return cfg
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t}
	cfg.Observer = func(d ConcludedDecision) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.concluded = append(h.concluded, d)
	}
	cfg.ChangeObserver = func(c DecisionChange) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.changed = append(h.changed, c)
	}
	fsm, err := Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = fsm.Close() })
	h.fsm = fsm
	h.index = fsm.AppliedIndex()
	return h
}

func (h *harness) applyBytes(data []byte) Result {
	h.index++
	return h.fsm.Apply(&raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: data}).(Result)
}

func (h *harness) apply(c Command) Result {
	h.t.Helper()
	return h.applyBytes(mustEncode(h.t, c))
}

func (h *harness) accept(cs ...Command) {
	h.t.Helper()
	for _, c := range cs {
		if r := h.apply(c); !r.Accepted() {
			h.t.Fatalf("%s rejected: %s: %s", c.Op, r.Code, r.Message)
		}
	}
}

func (h *harness) reject(c Command, want Code) Result {
	h.t.Helper()
	r := h.apply(c)
	if r.Code != want {
		h.t.Fatalf("%s: got %s (%s), want %s", c.Op, r.Code, r.Message, want)
	}
	return r
}

func (h *harness) caseState() PanelCase {
	h.t.Helper()
	pc, err := h.fsm.Case(testCase)
	if err != nil {
		h.t.Fatalf("case: %v", err)
	}
	return pc
}

// snapshotBytes returns the FSM's snapshot as raft would persist it.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer s.Release()
	sink := &memSink{}
	if err := s.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	if !sink.closed {
		t.Fatal("persist did not close the sink")
	}
	return sink.Bytes()
}

// stateBytes is the snapshot without the applied index: the state alone.
func stateBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	var out bytes.Buffer
	sw := newSnapshotWriter(&out)
	if _, err := readSnapshot(bytes.NewReader(snapshotBytes(t, f)), func(k, v []byte) error {
		if k[0] != tableApplied {
			sw.entry(k, v)
		}
		return nil
	}); err != nil {
		t.Fatalf("read own snapshot: %v", err)
	}
	if err := sw.finish(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// testWriter sends log lines to t until the test ends, and keeps them.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
	all  bytes.Buffer
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	if !w.done {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	l, _ := capturingLogger(t)
	return l
}

// capturingLogger logs to t at Debug and returns everything logged.
func capturingLogger(t testing.TB) (*slog.Logger, func() []byte) {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), func() []byte {
		w.mu.Lock()
		defer w.mu.Unlock()
		return bytes.Clone(w.all.Bytes())
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
