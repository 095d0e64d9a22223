package auditlog

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func openTestWitness(t testing.TB, path string) *Witness {
	t.Helper()
	pub, _ := testKey()
	w, err := OpenWitness(path, testOrigin, pub)
	if err != nil {
		t.Fatalf("OpenWitness: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func history(t testing.TB, path string) []WitnessRecord {
	t.Helper()
	pub, _ := testKey()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []WitnessRecord
	if err := ReadWitness(f, testOrigin, pub, func(r WitnessRecord) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatalf("ReadWitness: %v", err)
	}
	return recs
}

// witnessLine encodes a record as the witness file holds it.
func witnessLine(signed []byte, reason string) string {
	if reason == "" {
		return kindCheckpoint + " " + base64.StdEncoding.EncodeToString(signed) + "\n"
	}
	return kindRebase + " " + base64.StdEncoding.EncodeToString(signed) + " " + base64.StdEncoding.EncodeToString([]byte(reason)) + "\n"
}

func TestWitnessRecord(t *testing.T) {
	_, priv := testKey()
	_, otherPriv := otherKey()
	path := filepath.Join(t.TempDir(), "audit.witness")
	w := openTestWitness(t, path)
	if _, ok := w.Latest(); ok {
		t.Fatal("new witness has a latest checkpoint")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("witness file mode %v, want 0600", fi.Mode().Perm())
	}

	for _, size := range []int64{0, 3, 3, 10} {
		if err := w.Record(mustSign(t, testCheckpoint(size), priv)); err != nil {
			t.Fatalf("Record(%d): %v", size, err)
		}
	}
	wantErr(t, w.Record(mustSign(t, testCheckpoint(9), priv)), ErrRolledBack, -1)
	forked := testCheckpoint(10)
	forked.Root[0] ^= 1
	wantErr(t, w.Record(mustSign(t, forked, priv)), ErrRolledBack, -1)
	wantErr(t, w.Record(mustSign(t, testCheckpoint(11), otherPriv)), ErrBadSignature, -1)
	if err := w.Rebase(mustSign(t, testCheckpoint(2), priv), "  \n"); err == nil {
		t.Error("Rebase with a blank reason succeeded")
	}
	w.Close()
	if err := w.Record(mustSign(t, testCheckpoint(12), priv)); err == nil {
		t.Error("Record after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	w = openTestWitness(t, path)
	if cp, ok := w.Latest(); !ok || cp != testCheckpoint(10) {
		t.Errorf("Latest after reopen = %+v, %v", cp, ok)
	}
	recs := history(t, path)
	var sizes []int64
	for _, r := range recs {
		sizes = append(sizes, r.Checkpoint.Size)
	}
	if fmt.Sprint(sizes) != "[0 3 10]" { // the repeated checkpoint is written once
		t.Errorf("recorded sizes %v, want [0 3 10]", sizes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), witnessHeader) {
		t.Errorf("file starts %q", data[:20])
	}
}

func TestWitnessRebase(t *testing.T) {
	_, priv := testKey()
	path := filepath.Join(t.TempDir(), "audit.witness")
	w := openTestWitness(t, path)
	const reason = "restored the backup of 1 March after the disk failed; ticket 4411"
	for _, step := range []struct {
		size   int64
		reason string
	}{{10, ""}, {20, ""}, {5, reason}, {7, ""}} {
		signed := mustSign(t, testCheckpoint(step.size), priv)
		var err error
		if step.reason == "" {
			err = w.Record(signed)
		} else {
			err = w.Rebase(signed, step.reason)
		}
		if err != nil {
			t.Fatalf("size %d: %v", step.size, err)
		}
	}
	wantErr(t, w.Record(mustSign(t, testCheckpoint(6), priv)), ErrRolledBack, -1)
	w.Close()

	w = openTestWitness(t, path)
	if cp, _ := w.Latest(); cp.Size != 7 {
		t.Errorf("latest size %d, want 7", cp.Size)
	}
	recs := history(t, path)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	r := recs[2]
	if !r.Rebase || r.Reason != reason || r.Checkpoint.Size != 5 {
		t.Errorf("rebase record %+v", r)
	}
	if recs[1].Rebase || recs[3].Rebase {
		t.Error("checkpoint records marked as rebases")
	}
	if want := int64(len(witnessHeader)); recs[0].Offset != want {
		t.Errorf("first record at offset %d, want %d", recs[0].Offset, want)
	}
}

// writeWitnessFile writes a witness file made of the header and lines.
func writeWitnessFile(t testing.TB, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.witness")
	if err := os.WriteFile(path, []byte(witnessHeader+strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestWitnessFileErrors(t *testing.T) {
	pub, priv := testKey()
	_, otherPriv := otherKey()
	first := witnessLine(mustSign(t, testCheckpoint(10), priv), "")
	second := witnessLine(mustSign(t, testCheckpoint(20), priv), "")
	secondAt := len(witnessHeader) + len(first)

	tests := []struct {
		name    string
		content string
		offset  int    // the byte offset the error must name; -1 for none
		target  error  // an error the failure must match, if any
		want    string // text the error must contain
	}{
		{"truncated trailing record", witnessHeader + first + second[:len(second)-9], secondAt, nil, "truncated"},
		{"trailing record without its newline", witnessHeader + first + second[:len(second)-1], secondAt, nil, "truncated"},
		{"decreasing size without a rebase", witnessHeader + second + first, secondAt, ErrRolledBack, "without a rebase"},
		{"same size, another root", witnessHeader + first + witnessLine(mustSign(t, Checkpoint{Origin: testOrigin, Size: 10}, priv), ""), secondAt, ErrRolledBack, ""},
		{"corrupt byte in a record", witnessHeader + strings.Replace(first, "checkpoint b", "checkpoint c", 1) + second, len(witnessHeader), nil, ""},
		{"signed by another key", witnessHeader + first + witnessLine(mustSign(t, testCheckpoint(30), otherPriv), ""), secondAt, ErrBadSignature, ""},
		{"unknown record", witnessHeader + first + "erase everything\n", secondAt, nil, "unknown record"},
		{"rebase with an empty reason", witnessHeader + first + "rebase " + strings.TrimPrefix(second[:len(second)-1], "checkpoint ") + " \n", secondAt, nil, "rebase reason"},
		{"rebase with a blank reason", witnessHeader + first + witnessLine(mustSign(t, testCheckpoint(20), priv), " \t"), secondAt, nil, "rebase reason"},
		{"space after the record", witnessHeader + first[:len(first)-1] + " \n", len(witnessHeader), nil, "3 fields, want 2"},
		{"CR in base64", witnessHeader + first[:20] + "\r" + first[20:], len(witnessHeader), nil, "base64"},
		{"overlong record", witnessHeader + "checkpoint " + strings.Repeat("A", maxWitnessLine) + "\n", len(witnessHeader), nil, "longer than"},
		{"empty file", "", -1, nil, "empty"},
		{"wrong header", "nrmnet-audit-witness v2\n" + first, -1, nil, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.witness")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenWitness(path, testOrigin, pub)
			if err == nil {
				t.Fatal("OpenWitness succeeded")
			}
			t.Log(err)
			if tt.offset >= 0 && !strings.Contains(err.Error(), fmt.Sprintf("byte offset %d:", tt.offset)) {
				t.Errorf("error does not name byte offset %d", tt.offset)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error does not match %v", tt.target)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not say %q", tt.want)
			}
		})
	}
}

// TestWitnessRecordAfterTornWrite checks that Record appends after the last
// good record: a file whose last line is torn cannot be opened, and once the
// operator cuts the torn line away the witness continues.
func TestWitnessRecordAfterTornWrite(t *testing.T) {
	pub, priv := testKey()
	first := witnessLine(mustSign(t, testCheckpoint(10), priv), "")
	path := writeWitnessFile(t, first, "checkpoint AAAA")
	if _, err := OpenWitness(path, testOrigin, pub); err == nil {
		t.Fatal("OpenWitness of a torn file succeeded")
	}
	if err := os.Truncate(path, int64(len(witnessHeader)+len(first))); err != nil {
		t.Fatal(err)
	}
	w := openTestWitness(t, path)
	if err := w.Record(mustSign(t, testCheckpoint(11), priv)); err != nil {
		t.Fatal(err)
	}
	if recs := history(t, path); len(recs) != 2 {
		t.Errorf("%d records, want 2", len(recs))
	}
}

func TestReadWitnessStopsOnCallbackError(t *testing.T) {
	pub, priv := testKey()
	path := writeWitnessFile(t, witnessLine(mustSign(t, testCheckpoint(1), priv), ""), witnessLine(mustSign(t, testCheckpoint(2), priv), ""))
	data, _ := os.ReadFile(path)
	stop := errors.New("stop")
	calls := 0
	err := ReadWitness(bytes.NewReader(data), testOrigin, pub, func(WitnessRecord) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("ReadWitness = %v after %d calls, want stop after 1", err, calls)
	}
}

func TestWitnessCheckOrigin(t *testing.T) {
	db, l := newTestLog(t, 3)
	w := witnessed(t, db, l)
	other := New("nrmnet/audit/OTHER", testPrefix)
	if err := db.View(func(txn *badger.Txn) error { return w.Check(other, txn) }); err == nil {
		t.Error("Check of another log's witness succeeded")
	}
}
