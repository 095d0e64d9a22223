package consensus

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestForwardFramesRoundTrip(t *testing.T) {
	for _, req := range []request{{kind: kindPropose, payload: []byte("sealed")}, {kind: kindReadIndex}, {kind: kindProgress}, {kind: kindSettle}} {
		var buf bytes.Buffer
		if err := writeRequest(&buf, req); err != nil {
			t.Fatal(err)
		}
		got, err := readRequest(&buf)
		if err != nil || got.kind != req.kind || !bytes.Equal(got.payload, req.payload) && len(req.payload) > 0 {
			t.Fatalf("request %+v came back %+v, %v", req, got, err)
		}
	}
	resp := response{status: statusRejected, index: 42, applied: 41, payload: []byte("no quorum of voters")}
	var buf bytes.Buffer
	if err := writeResponse(&buf, resp); err != nil {
		t.Fatal(err)
	}
	got, err := readResponse(&buf)
	if err != nil || got.status != resp.status || got.index != 42 || got.applied != 41 || string(got.payload) != string(resp.payload) {
		t.Fatalf("response came back %+v, %v", got, err)
	}
}

func TestForwardFramesRejectMalformed(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":              {},
		"short header":       {1, 1, 0},
		"wrong version":      {2, 1, 0, 0, 0, 0},
		"unknown kind":       {1, 9, 0, 0, 0, 0},
		"oversized":          {1, 1, 0xff, 0xff, 0xff, 0xff},
		"truncated payload":  {1, 1, 0, 0, 0, 5, 'a'},
		"payload on a read":  {1, 2, 0, 0, 0, 1, 'a'},
		"payload on a query": {1, 3, 0, 0, 0, 1, 'a'},
	} {
		if _, err := readRequest(bytes.NewReader(data)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: got %v, want ErrProtocol", name, err)
		}
	}
	bad := make([]byte, 22)
	bad[0], bad[1] = 1, 7
	if _, err := readResponse(bytes.NewReader(bad)); !errors.Is(err, ErrProtocol) {
		t.Errorf("unknown status: %v", err)
	}
}

// FuzzReadRequest: any bytes either decode to a request that re-encodes to
// the same frame, or fail with ErrProtocol; never a panic or a huge
// allocation.
func FuzzReadRequest(f *testing.F) {
	for _, req := range []request{{kind: kindPropose, payload: []byte("x")}, {kind: kindReadIndex}, {kind: kindSettle}} {
		var buf bytes.Buffer
		_ = writeRequest(&buf, req)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readRequest(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not match ErrProtocol", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := writeRequest(&buf, req); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data[:buf.Len()]) {
			t.Fatal("decoded request does not re-encode to its frame")
		}
	})
}

func FuzzReadResponse(f *testing.F) {
	for _, resp := range []response{{status: statusOK, index: 7, payload: []byte("ok")}, {status: statusNotLeader}, {status: statusAmbiguous, payload: []byte("lost")}} {
		var buf bytes.Buffer
		_ = writeResponse(&buf, resp)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := readResponse(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not match ErrProtocol", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := writeResponse(&buf, resp); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), data[:buf.Len()]) {
			t.Fatal("decoded response does not re-encode to its frame")
		}
	})
}

func testPeerID(t testing.TB) peer.ID {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(priv)
	return id
}

func TestDecodePeersFile(t *testing.T) {
	a, b := testPeerID(t), testPeerID(t)
	good := `{"panel":"islington-camden","members":[{"id":"` + a.String() + `"},{"id":"` + b.String() + `","non_voter":true}]}`
	ms, err := DecodePeersFile([]byte(good), "islington-camden")
	if err != nil || len(ms) != 2 || ms[0] != (Member{ID: a}) || ms[1] != (Member{ID: b, NonVoter: true}) {
		t.Fatalf("decoded %+v, %v", ms, err)
	}
	for name, data := range map[string]string{
		"other panel":   strings.Replace(good, "islington-camden", "north-yorkshire-york", 1),
		"unknown field": `{"panel":"islington-camden","members":[{"id":"` + a.String() + `","address":"10.0.0.1:8300"}]}`,
		"bad id":        `{"panel":"islington-camden","members":[{"id":"not-a-peer"}]}`,
		"duplicate":     `{"panel":"islington-camden","members":[{"id":"` + a.String() + `"},{"id":"` + a.String() + `"}]}`,
		"no members":    `{"panel":"islington-camden","members":[]}`,
		"trailing":      good + `{}`,
		"raft format":   `[{"id":"` + a.String() + `","address":"` + a.String() + `","non_voter":false}]`,
	} {
		if _, err := DecodePeersFile([]byte(data), "islington-camden"); !errors.Is(err, ErrBadPeersFile) {
			t.Errorf("%s: got %v, want ErrBadPeersFile", name, err)
		}
	}
	if _, err := ReadPeersFile(t.TempDir()+"/missing.json", "islington-camden"); !errors.Is(err, ErrBadPeersFile) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzDecodePeersFile(f *testing.F) {
	f.Add([]byte(`{"panel":"islington-camden","members":[{"id":"12D3KooWCADwYtwmDNWuTJTJ7HHH8W69stAkrkxqKzvPQMYAfDts"}]}`))
	f.Add([]byte(`{"panel":"islington-camden","members":[{"id":"12D3KooWCADwYtwmDNWuTJTJ7HHH8W69stAkrkxqKzvPQMYAfDts","non_voter":true}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := DecodePeersFile(data, "islington-camden")
		if err != nil {
			if !errors.Is(err, ErrBadPeersFile) {
				t.Fatalf("error %v does not match ErrBadPeersFile", err)
			}
			return
		}
		seen := map[peer.ID]bool{}
		for _, m := range ms {
			if m.ID.Validate() != nil || seen[m.ID] {
				t.Fatalf("accepted a bad member list %+v", ms)
			}
			seen[m.ID] = true
		}
	})
}

func TestSealedCommandsOpenOnlyWithTheKeyAndPanel(t *testing.T) {
	key := randKey()
	s, _ := newSealer(key, "islington-camden")
	sealed, err := s.sealCommand([]byte("CANARY child views"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("CANARY")) {
		t.Fatal("sealed command carries plaintext")
	}
	if got, err := s.openCommand(sealed); err != nil || string(got) != "CANARY child views" {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := newSealer(randKey(), "islington-camden")
	otherPanel, _ := newSealer(key, "north-yorkshire-york")
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		s    *sealer
		data []byte
	}{"other key": {other, sealed}, "other panel": {otherPanel, sealed}, "tampered": {s, tampered}, "short": {s, sealed[:10]}, "plain": {s, []byte("CANARY child views plus padding")}} {
		if _, err := tc.s.openCommand(tc.data); !errors.Is(err, ErrUnreadable) {
			t.Errorf("%s: got %v, want ErrUnreadable", name, err)
		}
	}
}

// A data key's ID is the same for the same key and panel, differs for
// another key or panel, and does not hold the key.
func TestDataKeyID(t *testing.T) {
	key := randKey()
	id := DataKeyID(key, "islington-camden")
	if len(id) != 16 || id != DataKeyID(bytes.Clone(key), "islington-camden") {
		t.Fatalf("DataKeyID = %q, not 16 hex digits the same each time", id)
	}
	if id == DataKeyID(randKey(), "islington-camden") || id == DataKeyID(key, "north-yorkshire-york") {
		t.Fatal("another key or panel has the same ID")
	}
	if strings.Contains(id, hex.EncodeToString(key[:8])) {
		t.Fatal("the ID shows the key")
	}
}

// A member whose data key is not the proposer's refuses the entry, counts
// it as applied, and says in the log, with its key ID, that the keys differ.
func TestSealedFSMSaysWhenKeysDiffer(t *testing.T) {
	fsm := openKV(t, t.TempDir())
	defer fsm.close()
	var logged bytes.Buffer
	mine, theirs := randKey(), randKey()
	cfg := Config{Panel: "islington-camden", FSM: fsm, DataKey: mine, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	m, _, err := cfg.stateMachine()
	if err != nil {
		t.Fatal(err)
	}
	proposer, _ := newSealer(theirs, "islington-camden")
	sealed, err := proposer.sealCommand([]byte(`{"id":"0123456789abcdef0123456789abcdef","key":"k","value":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	res := m.Apply(&raft.Log{Index: 7, Type: raft.LogCommand, Data: sealed})
	if err, ok := res.(error); !ok || !errors.Is(err, ErrUnreadable) {
		t.Fatalf("Apply = %v, want ErrUnreadable", res)
	}
	if got := m.(*sealedFSM).AppliedIndex(); got != 7 {
		t.Errorf("AppliedIndex = %d, want 7 (refused entries count as applied)", got)
	}
	for _, want := range []string{"level=ERROR", "does not open with this member's data key", "key_id=" + DataKeyID(mine, "islington-camden"), "index=7"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log %q lacks %q", logged.String(), want)
		}
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Close() error  { m.closed = true; return nil }
func (m *memSink) Cancel() error { m.cancelled = true; return nil }

type bytesSnapshot []byte

func (b bytesSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(b); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}
func (b bytesSnapshot) Release() {}

// Snapshots of every size around the chunk boundary seal and open again;
// truncation, reordering, a flipped bit or another key are refused.
func TestSealedSnapshotStream(t *testing.T) {
	s, _ := newSealer(randKey(), "islington-camden")
	for _, size := range []int{0, 1, snapChunk - 1, snapChunk, snapChunk + 1, 3*snapChunk + 17} {
		plain := make([]byte, size)
		_, _ = rand.Read(plain)
		sink := &memSink{}
		if err := (&sealedSnapshot{inner: bytesSnapshot(plain), s: s}).Persist(sink); err != nil || !sink.closed {
			t.Fatalf("size %d: persist %v closed=%v", size, err, sink.closed)
		}
		sealed := sink.Bytes()
		or, err := s.newOpeningReader(bytes.NewReader(sealed))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(or)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: reopened %d bytes, %v", size, len(got), err)
		}
		bad := map[string][]byte{
			"truncated":      sealed[:len(sealed)-1],
			"cut at a chunk": sealed[:min(len(sealed), streamIDSize+4+snapChunk+tagSize)],
			"flipped":        flip(sealed, len(sealed)/2+1),
			"extra":          append(bytes.Clone(sealed), 0),
		}
		if size > snapChunk {
			bad["cut at a chunk"] = sealed[:streamIDSize+4+snapChunk+tagSize]
		} else {
			delete(bad, "cut at a chunk")
		}
		for name, data := range bad {
			or, err := s.newOpeningReader(bytes.NewReader(data))
			if err == nil {
				_, err = io.ReadAll(or)
			}
			if !errors.Is(err, ErrUnreadable) {
				t.Errorf("size %d %s: got %v, want ErrUnreadable", size, name, err)
			}
		}
		other, _ := newSealer(randKey(), "islington-camden")
		or, _ = other.newOpeningReader(bytes.NewReader(sealed))
		if _, err := io.ReadAll(or); !errors.Is(err, ErrUnreadable) {
			t.Errorf("size %d: another key opened the snapshot: %v", size, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i%len(c)] ^= 0x40
	return c
}

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	cfg := Config{Panel: "Bad Panel", Timeouts: Timeouts{Heartbeat: 1, LeaderLease: 2}, Witness: true, DataKey: randKey()}
	err := cfg.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"panel", "self", "host is required", "at least one voter", "dir is required",
		"encryption_key", "witness must not hold", "timeouts.election", "leader_lease", "max_pool", "snapshot_interval",
		"retain_snapshots", "max_command_bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	a, b := testPeerID(t), testPeerID(t)
	two := DefaultConfig()
	two.Panel, two.Self, two.Members = "islington-camden", a, []Member{{ID: a}, {ID: b}}
	if err := two.Validate(); err == nil || !strings.Contains(err.Error(), "two voters") {
		t.Errorf("a two-voter panel was not refused: %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New accepted an empty config: %v", err)
	}
	d := DefaultTimeouts()
	if d.Heartbeat <= raft.DefaultConfig().HeartbeatTimeout || d.Election <= raft.DefaultConfig().ElectionTimeout {
		t.Errorf("default timeouts %+v are not raised above raft's LAN defaults", d)
	}
}

// A request to a member whose node does not run the panel is refused during
// protocol negotiation: it counts as not sent, so a Propose retries it
// rather than reporting an ambiguous outcome.
func TestForwardToNodeWithoutThePanelIsNotSent(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 1})
	n := c.nodes[0]
	c.waitLeader()
	other := c.net.AddHost()
	c.mu.Lock()
	c.members[other.ID()] = true
	c.mu.Unlock()
	_, err := n.panel.forward(ctxT(t, 10*time.Second), other.ID(), request{kind: kindProgress})
	if !errors.Is(err, errNotSent) {
		t.Fatalf("forward to a node without the panel: %v, want errNotSent", err)
	}
}

// A peer the host lets connect but that is not a member of the panel gets
// its forwarded request reset unread: it cannot put a command in the log.
func TestForwardFromNonMemberIsRefused(t *testing.T) {
	c := newCluster(t, clusterOpts{voters: 1})
	leader := c.waitLeader()
	stranger := c.net.AddHost()
	// Settle the leader's own entries (its no-op, a first barrier) first, so
	// that growth below can only come from the stranger or the check's
	// barrier.
	if err := leader.panel.Sync(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	before := leader.panel.raft.LastIndex()
	s, err := stranger.NewStream(ctxT(t, 10*time.Second), leader.id, ForwardProtocolID(c.panelID))
	if err == nil {
		_ = writeRequest(s, request{kind: kindPropose, payload: encodeCmd(kvCommand{ID: newID(), Key: "k", Value: "forged"})})
		_ = s.CloseWrite()
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := readResponse(s); err == nil {
			t.Fatal("a non-member's request was answered")
		}
		_ = s.Reset()
	}
	if err := leader.panel.Sync(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if v, ok := leader.fsm.get("k"); ok {
		t.Fatalf("a non-member's command was applied: %q", v)
	}
	if after := leader.panel.raft.LastIndex(); after > before+1 { // +1: the read barrier
		t.Fatalf("log grew from %d to %d", before, after)
	}
}
