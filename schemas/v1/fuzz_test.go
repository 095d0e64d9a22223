package v1_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// The fuzz targets check, for any input: the decoder never panics; it refuses
// with an error that matches one of the schemas sentinels; and anything it
// accepts validates and re-marshals to exactly the input bytes, with a CID that
// any node computes the same way.
//
// Seed corpora are committed under testdata/fuzz/<FuzzName>/ and run with every
// go test; regenerate them with -update (see golden_test.go). To fuzz:
//
//	go test -run XXX -fuzz '^FuzzUnmarshalAlert$' -fuzztime 20s ./schemas/v1/

// sentinels are the errors a decoder may return; every refusal wraps one.
var sentinels = []error{
	schemas.ErrTooLarge, schemas.ErrMalformed, schemas.ErrNotCanonical,
	schemas.ErrUnknownKind, schemas.ErrUnsupportedVersion, schemas.ErrInvalid,
}

// checkDecoded applies the properties to one decoder result.
func checkDecoded(t *testing.T, data []byte, r v1.Record, err error) {
	t.Helper()
	if err != nil {
		if r != nil && !reflect.ValueOf(r).IsNil() {
			t.Fatalf("decoder returned a record and an error: %v", err)
		}
		if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
			t.Fatalf("error matches no schemas sentinel: %v", err)
		}
		// Decoding errors quote the input only briefly. (Validation errors
		// list every bad field, so they grow with the record.)
		if !errors.Is(err, schemas.ErrInvalid) && len(err.Error()) > 1024 {
			t.Fatalf("decoding error is %d bytes long: %.200s...", len(err.Error()), err)
		}
		return
	}
	if verr := r.Validate(); verr != nil {
		t.Fatalf("accepted a record that does not validate: %v", verr)
	}
	again, merr := v1.Marshal(r)
	if merr != nil {
		t.Fatalf("accepted a record that does not marshal: %v", merr)
	}
	if !bytes.Equal(again, data) {
		t.Fatalf("accepted input is not canonical:\n  input: %x\nmarshal: %x", data, again)
	}
	c, cerr := v1.CID(r)
	if cerr != nil || c != schemas.CID(data).String() {
		t.Fatalf("CID of the record = %s, %v; CID of the bytes = %s", c, cerr, schemas.CID(data))
	}
}

// addGoldenSeeds adds the golden encodings of the given kinds (all if none).
func addGoldenSeeds(f *testing.F, kinds ...schemas.Kind) {
	for _, g := range goldens {
		if len(kinds) == 0 || slices.Contains(kinds, g.kind) {
			f.Add(mustGoldenBytes(f, g.kind))
		}
	}
	if len(kinds) == 0 || slices.Contains(kinds, schemas.KindCase) {
		f.Add(mustClosedCaseBytes(f))
	}
}

func FuzzUnmarshal(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := v1.Unmarshal(data)
		checkDecoded(t, data, r, err)
	})
}

// fuzzKind is the body of the per-kind targets.
func fuzzKind[R v1.Record](f *testing.F, kind schemas.Kind, decode func([]byte) (R, error)) {
	addGoldenSeeds(f, kind)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decode(data)
		checkDecoded(t, data, r, err)
		if err != nil {
			return
		}
		if r.Kind() != kind {
			t.Fatalf("decoder for %s returned a %s", kind, r.Kind())
		}
		// The generic decoder agrees.
		g, gerr := v1.Unmarshal(data)
		if gerr != nil || !reflect.DeepEqual(g, v1.Record(r)) {
			t.Fatalf("v1.Unmarshal disagrees: %v", gerr)
		}
	})
}

func FuzzUnmarshalCase(f *testing.F) { fuzzKind(f, schemas.KindCase, v1.UnmarshalCase) }

func FuzzUnmarshalAlert(f *testing.F) { fuzzKind(f, schemas.KindAlert, v1.UnmarshalAlert) }

func FuzzUnmarshalAlertAck(f *testing.F) { fuzzKind(f, schemas.KindAlertAck, v1.UnmarshalAlertAck) }

func FuzzUnmarshalRelocationRequest(f *testing.F) {
	fuzzKind(f, schemas.KindRelocationRequest, v1.UnmarshalRelocationRequest)
}

func FuzzUnmarshalRelocationResponse(f *testing.F) {
	fuzzKind(f, schemas.KindRelocationResponse, v1.UnmarshalRelocationResponse)
}

func FuzzUnmarshalPanelDecision(f *testing.F) {
	fuzzKind(f, schemas.KindPanelDecision, v1.UnmarshalPanelDecision)
}

func FuzzUnmarshalAuditEntry(f *testing.F) {
	fuzzKind(f, schemas.KindAuditEntry, v1.UnmarshalAuditEntry)
}

// fuzzTargets maps each per-kind target to its kind.
var fuzzTargets = map[string]schemas.Kind{
	"FuzzUnmarshalCase":               schemas.KindCase,
	"FuzzUnmarshalAlert":              schemas.KindAlert,
	"FuzzUnmarshalAlertAck":           schemas.KindAlertAck,
	"FuzzUnmarshalRelocationRequest":  schemas.KindRelocationRequest,
	"FuzzUnmarshalRelocationResponse": schemas.KindRelocationResponse,
	"FuzzUnmarshalPanelDecision":      schemas.KindPanelDecision,
	"FuzzUnmarshalAuditEntry":         schemas.KindAuditEntry,
}

// sparseRecords are valid records of every kind with only the required fields:
// a different shape from the goldens for the fuzzer to start from.
var sparseRecords = map[schemas.Kind]func() v1.Record{
	schemas.KindCase: func() v1.Record {
		return &v1.Case{
			ID: caseID, ChildID: childID, State: v1.StateReceived, Responsible: "ISL",
			CreatedAt: at(2025, 3, 3, 9, 20, 0, 0), UpdatedAt: at(2025, 3, 3, 9, 20, 0, 0),
			Identity: v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Unknown"}}, Sex: v1.SexUnknown},
			Referral: v1.Referral{
				ReferredAt: at(2025, 3, 3, 9, 15, 0, 0), FirstResponderOrg: "Islington Children's Services",
				FirstResponderType: v1.ResponderLocalAuthority, ExploitationTypes: []v1.ExploitationType{v1.ExploitationUnknown},
				ExploitationLocation: v1.LocationUnknown, Source: "school", PresentingIssue: "missing episodes",
			},
		}
	},
	schemas.KindAlert: func() v1.Record {
		a := goldenAlert()
		a.TargetAuthorities, a.TargetRegions, a.Exploitation, a.MatchTokens, a.Signature = nil, nil, nil, nil, nil
		return a
	},
	schemas.KindAlertAck: func() v1.Record { return handWrittenAck() },
	schemas.KindRelocationRequest: func() v1.Record {
		r := goldenRelocationRequest()
		r.MoveDate, r.ProtectionPlan, r.LookedAfter, r.Exploitation, r.CountyLines = "", false, false, nil, false
		return r
	},
	schemas.KindRelocationResponse: func() v1.Record {
		r := goldenRelocationResponse()
		r.Decision, r.Reason = v1.RelocationAccept, ""
		return r
	},
	schemas.KindPanelDecision: func() v1.Record {
		d := goldenPanelDecision()
		d.Attendance = d.Attendance[:5]
		d.Votes, d.Outcomes = d.Votes[:4], d.Outcomes[:1]
		return d
	},
	schemas.KindAuditEntry: func() v1.Record {
		return &v1.AuditEntry{At: at(2025, 1, 1, 0, 0, 0, 0), Authority: "ISL", Actor: "node", Action: v1.ActionBackupCreate, Outcome: v1.AuditAllowed}
	},
}

// seedsFor returns named seed inputs for a kind: the golden and sparse
// records, and mutations of the golden one that must be refused.
func seedsFor(tb testing.TB, kind schemas.Kind) map[string][]byte {
	g := mustGoldenBytes(tb, kind)
	other := mustGoldenBytes(tb, schemas.KindAlertAck)
	if kind == schemas.KindAlertAck {
		other = mustGoldenBytes(tb, schemas.KindAuditEntry)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(slices.Clone(g)) }
	return map[string][]byte{
		"golden":    g,
		"sparse":    mustMarshal(tb, sparseRecords[kind]()),
		"truncated": g[:len(g)/2],
		"trailing":  append(slices.Clone(g), 0x00),
		// a3 61 76 01: the envelope's first key is "v" with value 1.
		"version-2":            mutate(func(b []byte) []byte { b[3] = 0x02; return b }),
		"version-non-shortest": mutate(func(b []byte) []byte { return slices.Insert(b, 3, 0x18) }),
		"flipped-byte":         mutate(func(b []byte) []byte { b[len(b)*2/3] ^= 0x20; return b }),
		"other-kind":           other,
		"empty":                {},
	}
}

// TestSeedCorpus writes the committed seed corpora with -update, and otherwise
// checks that every target has at least five well-formed seed files.
func TestSeedCorpus(t *testing.T) {
	corpora := map[string]map[string][]byte{}
	for name, kind := range fuzzTargets {
		corpora[filepath.Join("testdata", "fuzz", name)] = seedsFor(t, kind)
	}
	all := map[string][]byte{
		"garbage-ff":      bytes.Repeat([]byte{0xff}, 16),
		"unknown-kind":    mustSealRaw(t, "dossier", 1, goldenAlertAck()),
		"text-not-map":    []byte("\x6bhello world"),
		"deep-nesting":    append(bytes.Repeat([]byte{0x81}, 40), 0x00),
		"huge-array-head": {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for _, g := range goldens {
		all["golden-"+string(g.kind)] = mustGoldenBytes(t, g.kind)
		all["sparse-"+string(g.kind)] = mustMarshal(t, sparseRecords[g.kind]())
	}
	all["golden-"+closedCaseGolden] = mustClosedCaseBytes(t)
	corpora[filepath.Join("testdata", "fuzz", "FuzzUnmarshal")] = all
	// The closed case carries the fields added after the first release;
	// its mutations reach their decoders and validators.
	closed := mustClosedCaseBytes(t)
	caseSeeds := corpora[filepath.Join("testdata", "fuzz", "FuzzUnmarshalCase")]
	caseSeeds["golden-closed"] = closed
	caseSeeds["closed-flipped-byte"] = func() []byte { b := slices.Clone(closed); b[len(b)*9/10] ^= 0x01; return b }()
	caseSeeds["closed-truncated"] = closed[:len(closed)*9/10]
	// The envelope decoder lives in package schemas; its seeds come from here
	// because the records do.
	corpora[filepath.Join("..", "testdata", "fuzz", "FuzzOpenEnvelope")] = map[string][]byte{
		"golden-alert":      mustGoldenBytes(t, schemas.KindAlert),
		"golden-panel":      mustGoldenBytes(t, schemas.KindPanelDecision),
		"hand-written-ack":  mustMarshal(t, handWrittenAck()),
		"unknown-kind":      mustSealRaw(t, "dossier", 7, goldenAlertAck()),
		"version-zero":      mustHex(t, "a3617600646b696e6461786761796c6f6164a0"),
		"missing-payload":   mustHex(t, "a2617601646b696e6463636173"),
		"null-payload":      mustHex(t, "a3617601646b696e646463617365677061796c6f6164f6"),
		"unsorted-keys":     mustHex(t, "a3646b696e64646361736561760167"+"7061796c6f6164a0"),
		"duplicate-kind":    mustHex(t, "a4617601646b696e646463617365646b696e646463617365677061796c6f6164a0"),
		"indefinite-map":    mustHex(t, "bf617601ff"),
		"tagged-payload":    mustHex(t, "a3617601646b696e646463617365677061796c6f6164c0a0"),
		"trailing-garbage":  append(mustGoldenBytes(t, schemas.KindAlertAck), 0xff),
		"deep-payload":      append(mustHex(t, "a3617601646b696e646463617365677061796c6f6164"), append(bytes.Repeat([]byte{0x81}, 20), 0x00)...),
		"truncated-payload": mustGoldenBytes(t, schemas.KindCase)[:100],
	}

	for dir, seeds := range corpora {
		if *update {
			// Files are written by name and never removed: inputs the fuzzer
			// found (named by hash) stay as regression seeds.
			for name, data := range seeds {
				writeFile(t, filepath.Join(dir, name), corpusFile(data))
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v (run go test ./schemas/v1/ -run TestSeedCorpus -args -update)", err)
		}
		if len(entries) < 5 {
			t.Errorf("%s has %d seeds, want at least 5", dir, len(entries))
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseCorpusFile(b); err != nil {
				t.Errorf("%s: %v", filepath.Join(dir, e.Name()), err)
			}
		}
	}
}

// corpusFile renders one input in Go's fuzz corpus format.
func corpusFile(data []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n")
}

// parseCorpusFile reads back a single-[]byte corpus file.
func parseCorpusFile(b []byte) ([]byte, error) {
	header, body, ok := strings.Cut(string(b), "\n")
	if !ok || header != "go test fuzz v1" {
		return nil, fmt.Errorf("missing header %q", "go test fuzz v1")
	}
	body = strings.TrimSpace(body)
	if !strings.HasPrefix(body, "[]byte(") || !strings.HasSuffix(body, ")") {
		return nil, fmt.Errorf("want one []byte(...) value, got %.40q", body)
	}
	s, err := strconv.Unquote(body[len("[]byte(") : len(body)-1])
	if err != nil {
		return nil, fmt.Errorf("value: %w", err)
	}
	return []byte(s), nil
}

// mustSealRaw seals a payload under any kind and version, bypassing Validate.
func mustSealRaw(tb testing.TB, kind schemas.Kind, version uint16, payload any) []byte {
	tb.Helper()
	b, err := schemas.Seal(kind, version, payload)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
