package raftstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"hash/crc64"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
)

// testTransport encodes peers for snapshot metadata.
var _, testTransport = raft.NewInmemTransport("a")

func newTestSnapshotStore(t *testing.T, dir string, key []byte) *SnapshotStore {
	t.Helper()
	s, err := NewSnapshotStore(dir, 3, key, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// payload returns n deterministic, incompressible-looking bytes.
func payload(n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	seed := sha256.Sum256([]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	for len(out) < n {
		seed = sha256.Sum256(seed[:])
		out = append(out, seed[:]...)
	}
	return out[:n]
}

// writeSnapshot writes data through a sink in uneven pieces and returns the
// snapshot's ID.
func writeSnapshot(t *testing.T, s raft.SnapshotStore, index uint64, data []byte) string {
	t.Helper()
	sink, err := s.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{
		Servers: []raft.Server{{ID: "a", Address: "a", Suffrage: raft.Voter}},
	}, 1, testTransport)
	if err != nil {
		t.Fatal(err)
	}
	for rest, step := data, 1; len(rest) > 0; step = step*3 + 1 {
		n := min(step, len(rest))
		if _, err := sink.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return sink.ID()
}

func readSnapshot(s raft.SnapshotStore, id string) (*raft.SnapshotMeta, []byte, error) {
	meta, rc, err := s.Open(id)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rc.Close() }()
	data, err := io.ReadAll(rc)
	return meta, data, err
}

func TestSnapshotStore_RoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, snapshotChunkSize - 1, snapshotChunkSize, snapshotChunkSize + 1, 3*snapshotChunkSize + 5} {
		dir := t.TempDir()
		s := newTestSnapshotStore(t, dir, testKey())
		want := payload(n)
		id := writeSnapshot(t, s, 10, want)

		metas, err := s.List()
		if err != nil || len(metas) != 1 {
			t.Fatalf("n=%d: List = %v, %v", n, metas, err)
		}
		if metas[0].Size != int64(n) || metas[0].ID != id || metas[0].Index != 10 {
			t.Fatalf("n=%d: List meta = %+v, want size %d", n, metas[0], n)
		}
		meta, got, err := readSnapshot(s, id)
		if err != nil {
			t.Fatalf("n=%d: read: %v", n, err)
		}
		if meta.Size != int64(n) || !bytes.Equal(got, want) {
			t.Fatalf("n=%d: read %d bytes (meta size %d), want %d", n, len(got), meta.Size, n)
		}
		if len(meta.Configuration.Servers) != 1 || meta.Configuration.Servers[0].ID != "a" {
			t.Fatalf("n=%d: configuration not preserved: %+v", n, meta.Configuration)
		}

		// On disk the state file is ciphertext of the predicted size.
		st, err := os.Stat(filepath.Join(dir, "snapshots", id, "state.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := plaintextSize(st.Size(), snapshotChunkSize); err != nil || got != int64(n) {
			t.Fatalf("n=%d: plaintextSize(%d) = %d, %v", n, st.Size(), got, err)
		}
	}
}

func TestSnapshotStore_CancelLeavesNothing(t *testing.T) {
	s := newTestSnapshotStore(t, t.TempDir(), testKey())
	sink, err := s.Create(raft.SnapshotVersionMax, 1, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("half a snapshot")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatal(err)
	}
	if metas, err := s.List(); err != nil || len(metas) != 0 {
		t.Fatalf("List after Cancel = %v, %v", metas, err)
	}
}

func TestNewSnapshotStore_RejectsBadKey(t *testing.T) {
	if _, err := NewSnapshotStore(t.TempDir(), 1, make([]byte, 16), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("16-byte key: err = %v", err)
	}
}

// rewriteState replaces a snapshot's state.bin and fixes the CRC and size in
// meta.json, so that raft's own checks pass and only ours can object, as they
// must against anyone who can write the disk.
func rewriteState(t *testing.T, dir, id string, edit func([]byte) []byte) {
	t.Helper()
	snapDir := filepath.Join(dir, "snapshots", id)
	state, err := os.ReadFile(filepath.Join(snapDir, "state.bin"))
	if err != nil {
		t.Fatal(err)
	}
	state = edit(state)
	if err := os.WriteFile(filepath.Join(snapDir, "state.bin"), state, 0o600); err != nil {
		t.Fatal(err)
	}
	metaPath := filepath.Join(snapDir, "meta.json")
	raw, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(state)
	meta["CRC"] = h.Sum(nil) // []byte marshals as base64, as raft wrote it
	meta["Size"] = len(state)
	if raw, err = json.Marshal(meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(metaPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotStore_RejectsTampering(t *testing.T) {
	const chunk = snapshotChunkSize + snapshotTagLen
	data := payload(3*snapshotChunkSize + 100) // three full chunks and a short final one
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"bit flip in header magic", func(b []byte) []byte { b[0] ^= 1; return b }},
		{"bit flip in salt", func(b []byte) []byte { b[10] ^= 1; return b }},
		{"bit flip in first chunk", func(b []byte) []byte { b[snapshotHeaderLen+5] ^= 1; return b }},
		{"bit flip in last tag", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"drop final chunk", func(b []byte) []byte { return b[:snapshotHeaderLen+3*chunk] }},
		{"drop final chunk and last full chunk", func(b []byte) []byte { return b[:snapshotHeaderLen+2*chunk] }},
		{"truncate inside a chunk", func(b []byte) []byte { return b[:snapshotHeaderLen+chunk+100] }},
		{"append bytes", func(b []byte) []byte { return append(b, 0, 0, 0) }},
		{"swap two chunks", func(b []byte) []byte {
			c1 := append([]byte(nil), b[snapshotHeaderLen:snapshotHeaderLen+chunk]...)
			copy(b[snapshotHeaderLen:], b[snapshotHeaderLen+chunk:snapshotHeaderLen+2*chunk])
			copy(b[snapshotHeaderLen+chunk:], c1)
			return b
		}},
		{"header only", func(b []byte) []byte { return b[:snapshotHeaderLen] }},
		{"empty", func(b []byte) []byte { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newTestSnapshotStore(t, dir, testKey())
			id := writeSnapshot(t, s, 10, data)
			rewriteState(t, dir, id, tc.edit)
			_, _, err := s.Open(id)
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("Open of tampered snapshot: err = %v, want ErrCorruptSnapshot", err)
			}
		})
	}
}

func TestSnapshotStore_RejectsWrongKeyAndTransplant(t *testing.T) {
	dir := t.TempDir()
	s := newTestSnapshotStore(t, dir, testKey())
	older := writeSnapshot(t, s, 10, []byte("state at index 10"))
	newer := writeSnapshot(t, s, 20, []byte("state at index 20"))

	other := newTestSnapshotStore(t, dir, otherKey())
	if _, _, err := other.Open(newer); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("Open with another key: err = %v, want ErrCorruptSnapshot", err)
	}

	// Passing the older state off as the newer snapshot's (a rollback by
	// someone who can write the disk but has no key) fails: the ID is bound
	// into the key.
	oldState, err := os.ReadFile(filepath.Join(dir, "snapshots", older, "state.bin"))
	if err != nil {
		t.Fatal(err)
	}
	rewriteState(t, dir, newer, func([]byte) []byte { return oldState })
	if _, _, err := s.Open(newer); !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("Open of transplanted state: err = %v, want ErrCorruptSnapshot", err)
	}
}

func TestChunkReader_StreamingDetectsLateCorruption(t *testing.T) {
	// Open's first pass guards the FSM; the streaming reader must also refuse
	// on its own (the file could change between the passes).
	var buf bytes.Buffer
	w, err := newChunkWriter(&buf, testKey(), "id", bytes.NewReader(make([]byte, 64)), 16)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(payload(100)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	enc[len(enc)-3] ^= 1
	r := newChunkReader(bytes.NewReader(enc), testKey(), "id", 16)
	got, err := io.ReadAll(r)
	if !errors.Is(err, ErrCorruptSnapshot) {
		t.Fatalf("ReadAll: err = %v, want ErrCorruptSnapshot", err)
	}
	// Only whole authenticated chunks were released.
	if len(got)%16 != 0 || !bytes.Equal(got, payload(100)[:len(got)]) {
		t.Fatalf("released %d bytes that are not a prefix of whole chunks", len(got))
	}
}

func TestPlaintextSize(t *testing.T) {
	const c = 16
	for n := range 200 {
		var buf bytes.Buffer
		w, err := newChunkWriter(&buf, testKey(), "id", bytes.NewReader(make([]byte, 64)), c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := plaintextSize(int64(buf.Len()), c)
		if err != nil || got != int64(n) {
			t.Fatalf("plaintextSize(%d) = %d, %v; want %d", buf.Len(), got, err, n)
		}
	}
	for _, bad := range []int64{0, int64(snapshotHeaderLen), int64(snapshotHeaderLen + snapshotTagLen + c)} {
		if _, err := plaintextSize(bad, c); !errors.Is(err, ErrCorruptSnapshot) {
			t.Errorf("plaintextSize(%d): err = %v, want ErrCorruptSnapshot", bad, err)
		}
	}
}

// fuzzChunkSize is small so that short fuzz inputs span several chunks.
const fuzzChunkSize = 16

// encryptForFuzz is the canonical encryption of plain with the given salt.
func encryptForFuzz(t testing.TB, plain, salt []byte) []byte {
	var buf bytes.Buffer
	w, err := newChunkWriter(&buf, testKey(), "fuzz", bytes.NewReader(salt), fuzzChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzSnapshotReader feeds arbitrary state files to the chunk reader. It must
// never panic, must fail only with ErrCorruptSnapshot, and may accept only the
// exact encryption of what it returns: re-encrypting the output under the
// input's salt reproduces the input byte for byte. The seed corpus is in
// testdata/fuzz/FuzzSnapshotReader.
func FuzzSnapshotReader(f *testing.F) {
	salt := bytes.Repeat([]byte{7}, snapshotSaltLen)
	for _, n := range []int{0, 1, fuzzChunkSize - 1, fuzzChunkSize, 3*fuzzChunkSize + 2} {
		f.Add(encryptForFuzz(f, payload(n), salt))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		plain, err := io.ReadAll(newChunkReader(bytes.NewReader(in), testKey(), "fuzz", fuzzChunkSize))
		if err != nil {
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Fatalf("error %v does not wrap ErrCorruptSnapshot", err)
			}
			return
		}
		if len(in) < snapshotHeaderLen {
			t.Fatalf("accepted %d bytes, shorter than the header", len(in))
		}
		again := encryptForFuzz(t, plain, in[len(snapshotMagic)+1:snapshotHeaderLen])
		if !bytes.Equal(again, in) {
			t.Fatalf("accepted input that is not the encryption of its output:\n in    %x\n again %x", in, again)
		}
	})
}
