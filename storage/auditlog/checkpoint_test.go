package auditlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func testCheckpoint(size int64) Checkpoint {
	cp := Checkpoint{Origin: testOrigin, Size: size}
	for i := range cp.Root {
		cp.Root[i] = byte(i) + byte(size)
	}
	return cp
}

func mustSign(t testing.TB, cp Checkpoint, key ed25519.PrivateKey) []byte {
	t.Helper()
	signed, err := Sign(cp, key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// signText signs arbitrary note text under the name testOrigin with the test key.
func signText(t testing.TB, text string) []byte {
	t.Helper()
	_, priv := testKey()
	s, err := NewNoteSigner(testOrigin, priv)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestSignOpen(t *testing.T) {
	pub, priv := testKey()
	for _, size := range []int64{0, 1, 2048, 1<<63 - 1} {
		cp := testCheckpoint(size)
		signed := mustSign(t, cp, priv)
		text := fmt.Sprintf("%s\n%d\n%s\n\n— %s ", testOrigin, size, base64.StdEncoding.EncodeToString(cp.Root[:]), testOrigin)
		if !strings.HasPrefix(string(signed), text) {
			t.Errorf("signed checkpoint %q, want it to start %q", signed, text)
		}
		got, err := Open(signed, testOrigin, pub)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if got != cp {
			t.Errorf("Open = %+v, want %+v", got, cp)
		}
	}
}

// TestNoteInterop checks that the signer and verifier agree with note's own
// Ed25519 keys in both directions (same key hash, same signatures).
func TestNoteInterop(t *testing.T) {
	pub, priv := testKey()
	cp := testCheckpoint(42)

	vkey, err := note.NewEd25519VerifierKey(testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(mustSign(t, cp, priv), note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open of our signature: %v", err)
	}
	if n.Text != formatCheckpoint(cp) {
		t.Errorf("note text %q", n.Text)
	}

	ours, err := NewNoteVerifier(testOrigin, pub)
	if err != nil {
		t.Fatal(err)
	}
	if ours.KeyHash() != v.KeyHash() {
		t.Errorf("key hash %08x, note computes %08x", ours.KeyHash(), v.KeyHash())
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", testOrigin, v.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, priv.Seed()...)))
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatalf("note.NewSigner: %v", err)
	}
	signed, err := note.Sign(&note.Note{Text: formatCheckpoint(cp)}, s)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(signed, testOrigin, pub); err != nil || got != cp {
		t.Errorf("Open of note's signature = %+v, %v", got, err)
	}
}

func TestOpenRejectsSignatures(t *testing.T) {
	pub, priv := testKey()
	otherPub, otherPriv := otherKey()
	cp := testCheckpoint(10)
	signed := mustSign(t, cp, priv)

	edited := func(from, to string) []byte {
		if !bytes.Contains(signed, []byte(from)) {
			t.Fatalf("%q not in %q", from, signed)
		}
		return bytes.Replace(signed, []byte(from), []byte(to), 1)
	}
	otherOrigin := cp
	otherOrigin.Origin = "nrmnet/audit/OTHER"
	root64 := base64.StdEncoding.EncodeToString(cp.Root[:])
	flipped := cp.Root
	flipped[0] ^= 1

	tests := []struct {
		name   string
		signed []byte
		pub    ed25519.PublicKey
		origin string
	}{
		{"wrong key", mustSign(t, cp, otherPriv), pub, testOrigin},
		{"verified with the wrong key", signed, otherPub, testOrigin},
		{"wrong origin", mustSign(t, otherOrigin, priv), pub, testOrigin},
		{"opened as another origin", signed, pub, "nrmnet/audit/OTHER"},
		{"edited size", edited("\n10\n", "\n11\n"), pub, testOrigin},
		{"edited root", edited(root64, base64.StdEncoding.EncodeToString(flipped[:])), pub, testOrigin},
		{"text names another origin", signText(t, "nrmnet/audit/OTHER\n10\n"+root64+"\n"), pub, testOrigin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.signed, tt.origin, tt.pub)
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Open error %v, want ErrBadSignature", err)
			}
			t.Log(err)
		})
	}
}

func TestOpenRejectsMalformed(t *testing.T) {
	pub, _ := testKey()
	root := testCheckpoint(1).Root
	root64 := base64.StdEncoding.EncodeToString(root[:])
	body := func(size, root string) string { return testOrigin + "\n" + size + "\n" + root + "\n" }
	texts := []struct{ name, text string }{
		{"negative size", body("-1", root64)},
		{"leading zero", body("010", root64)},
		{"plus sign", body("+10", root64)},
		{"size overflow", body("9223372036854775808", root64)},
		{"size not a number", body("ten", root64)},
		{"empty size", body("", root64)},
		{"bad base64", body("10", "!!!!"+root64[4:])},
		{"short root", body("10", base64.StdEncoding.EncodeToString(make([]byte, 31)))},
		{"long root", body("10", base64.StdEncoding.EncodeToString(make([]byte, 33)))},
		{"unpadded root", body("10", strings.TrimRight(root64, "="))},
		{"non-canonical root bits", body("10", root64[:42]+"B=")},
		{"extra line", body("10", root64) + "extension\n"},
		{"missing root", testOrigin + "\n10\n"},
		{"space in size", body(" 10", root64)},
	}
	for _, tt := range texts {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(signText(t, tt.text), testOrigin, pub)
			if err == nil || errors.Is(err, ErrBadSignature) {
				t.Fatalf("Open error %v, want a parse error", err)
			}
			t.Log(err)
		})
	}
	notes := []struct{ name, signed string }{
		{"empty", ""},
		{"no signature", body("10", root64)},
		{"no blank line", body("10", root64) + "— " + testOrigin + " AAAA\n"},
		{"control character", strings.Replace(string(signText(t, body("10", root64))), "10", "1\x00", 1)},
		{"too long", strings.Repeat("a", MaxSignedCheckpoint+1)},
	}
	for _, tt := range notes {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open([]byte(tt.signed), testOrigin, pub); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestOpenAcceptsCosigned checks that a checkpoint also signed by another key
// (a peer's cosignature) opens.
func TestOpenAcceptsCosigned(t *testing.T) {
	pub, priv := testKey()
	_, peer := otherKey()
	signer, _ := NewNoteSigner(testOrigin, priv)
	cosigner, _ := NewNoteSigner("nrmnet/witness/PEER", peer)
	cp := testCheckpoint(5)
	signed, err := note.Sign(&note.Note{Text: formatCheckpoint(cp)}, cosigner, signer)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(signed, testOrigin, pub); err != nil || got != cp {
		t.Errorf("Open = %+v, %v", got, err)
	}
}

func TestSignRejects(t *testing.T) {
	_, priv := testKey()
	for _, cp := range []Checkpoint{
		{Origin: "", Size: 1},
		{Origin: "has space", Size: 1},
		{Origin: "has+plus", Size: 1},
		{Origin: "has\nnewline", Size: 1},
		{Origin: "has\x01control", Size: 1},
		{Origin: "bad\xffutf8", Size: 1},
		{Origin: testOrigin, Size: -1},
	} {
		if _, err := Sign(cp, priv); err == nil {
			t.Errorf("Sign(%+v) succeeded", cp)
		}
	}
	if _, err := Sign(testCheckpoint(1), priv[:32]); err == nil {
		t.Error("Sign with a short key succeeded")
	}
	if _, err := Open(mustSign(t, testCheckpoint(1), priv), testOrigin, make([]byte, 31)); err == nil {
		t.Error("Open with a short key succeeded")
	}
}

func TestEmptyRoot(t *testing.T) {
	if h, _ := tlog.TreeHash(0, nil); h != emptyRoot || emptyRoot != mth(nil) {
		t.Errorf("emptyRoot %s", emptyRoot)
	}
}
