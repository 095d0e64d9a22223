package rpc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

func TestConfigValidateNamesEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RetryMin = 0
	err := cfg.Validate()
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"authority", "identity", "store", "cases", "intake", "audit", "retry"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	b := &book{c: &custody{}, cases: map[v1.CaseID]*entry{}}
	ok := testRelConfig(t, "ISL", seedKey(5), NewMemStore(), b)
	if err := ok.Validate(); err != nil {
		t.Errorf("a complete config: %v", err)
	}
}

func TestNewRefusesAnIdentityThatIsNotTheHosts(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 2, c)
	startRegion(t, nodes)
	cfg := testRelConfig(t, nodes[0].code, nodes[1].key, NewMemStore(), nodes[0].book)
	if _, err := New(nodes[0].host, cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("another node's key: %v", err)
	}
	cfg = testRelConfig(t, nodes[1].code, nodes[0].key, NewMemStore(), nodes[0].book)
	if _, err := New(nodes[0].host, cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("another authority's code: %v", err)
	}
}

func testHandover(t *testing.T) Handover {
	t.Helper()
	frames := seedMessages(t)
	d, err := decodeMessage(frames["offer"])
	if err != nil {
		t.Fatal(err)
	}
	return Handover{Request: *d.request, Side: SideOrigin, State: StateRequested, Updated: time.Now().UTC().Truncate(time.Second)}
}

func TestHandoverValidate(t *testing.T) {
	good := testHandover(t)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	acc := &v1.RelocationResponse{RequestID: good.Request.ID, Decision: v1.RelocationAccept, By: good.Request.Origin, At: good.Updated}
	for name, tc := range map[string]struct {
		mod   func(h *Handover)
		field string
	}{
		"unknown side":              {func(h *Handover) { h.Side = "middle" }, "side"},
		"destination-only state":    {func(h *Handover) { h.State = StateReceived }, "state"},
		"accepted without decision": {func(h *Handover) { h.State = StateAccepted }, "decision"},
		"accept by the origin":      {func(h *Handover) { h.State, h.Decision = StateAccepted, acc }, "decision"},
		"bad cid":                   {func(h *Handover) { h.CaseCID = "not-a-cid" }, "case_cid"},
		"no time":                   {func(h *Handover) { h.Updated = time.Time{} }, "updated"},
		"bad request":               {func(h *Handover) { h.Request.Destination = h.Request.Origin }, "request"},
	} {
		t.Run(name, func(t *testing.T) {
			h := good
			tc.mod(&h)
			err := h.Validate()
			if !errors.Is(err, schemas.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("got %v, want an error naming %s", err, tc.field)
			}
			if _, err := encodeHandover(&h); !errors.Is(err, ErrBadRecord) {
				t.Errorf("encoded an invalid record: %v", err)
			}
		})
	}
}

// TestStores runs the same checks on both stores: a record round-trips, a
// missing one is reported as missing, List is in ID order, and Badger keeps
// records across a reopen.
func TestStores(t *testing.T) {
	dir := t.TempDir()
	open := func() *BadgerStore {
		s, err := OpenBadgerStore(BadgerConfig{Dir: dir, EncryptionKey: make([]byte, 32), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	db := open()
	for name, s := range map[string]HandoverStore{"mem": NewMemStore(), "badger": db} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := testHandover(t), testHandover(t)
			b.Request.ID = "00000000000000000000000000000001"
			for _, h := range []Handover{a, b} {
				if err := s.Put(ctx, h); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := s.Get(ctx, a.ID())
			if err != nil || !ok || !sameRequest(&got.Request, &a.Request) || got.State != a.State {
				t.Fatalf("get: %+v %v %v", got, ok, err)
			}
			if _, ok, err := s.Get(ctx, "ffffffffffffffffffffffffffffffff"); ok || err != nil {
				t.Errorf("missing record: %v %v", ok, err)
			}
			all, err := s.List(ctx)
			if err != nil || len(all) != 2 || all[0].ID() != b.ID() {
				t.Errorf("list: %d records, %v", len(all), err)
			}
			bad := a
			bad.Side = "nowhere"
			if err := s.Put(ctx, bad); !errors.Is(err, ErrBadRecord) {
				t.Errorf("stored an invalid record: %v", err)
			}
		})
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	db = open()
	defer db.Close()
	if all, err := db.List(context.Background()); err != nil || len(all) != 2 {
		t.Errorf("after reopen: %d records, %v", len(all), err)
	}
	if _, err := OpenBadgerStore(BadgerConfig{Dir: t.TempDir(), EncryptionKey: []byte("short")}); !errors.Is(err, ErrConfig) {
		t.Errorf("a 5-byte key: %v", err)
	}
}

func TestRequestRefusesWhatIsNotOurs(t *testing.T) {
	c := &custody{}
	nodes := newNodes(t, 3, c)
	startRegion(t, nodes)
	o, d := nodes[0], nodes[1]
	_, req := seedCase(t, o, d, "")
	theirs := req
	theirs.Origin, theirs.Destination = d.code, o.code
	if _, err := o.service().Request(bg, "worker-1", theirs); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("a request with another origin: %v", err)
	}
	offRoster := req
	offRoster.Destination = "KEN"
	if _, err := o.service().Request(bg, "worker-1", offRoster); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("a destination off the roster: %v", err)
	}
	if _, err := o.service().Request(bg, "worker-1", req); err != nil {
		t.Fatal(err)
	}
	if h, err := o.service().Request(bg, "worker-1", req); err != nil || h.State == "" {
		t.Errorf("repeating a request: %+v %v", h, err)
	}
	changed := req
	changed.Urgency = v1.UrgencyImmediate
	if _, err := o.service().Request(bg, "worker-1", changed); !errors.Is(err, ErrConflict) {
		t.Errorf("a different request under a used ID: %v", err)
	}
	if _, err := o.service().Get(bg, v1.NewID()); !errors.Is(err, ErrUnknownHandover) {
		t.Errorf("unknown ID: %v", err)
	}
}

// TestInvalidCaseErrorQuotesNoContent: a case message whose case fails
// validation is refused with an error (which is logged) that does not
// quote the case.
func TestInvalidCaseErrorQuotesNoContent(t *testing.T) {
	const canary = "Quorvelline Canarytest"
	c := synthetic.CanaryCase(synthetic.New(5, synthetic.WithAuthority("ISL")), canary)
	c.Identity.Names[0].Given = canary + "\x01" // a control character: invalid
	rec, err := schemas.Seal(schemas.KindCase, v1.Version, c)
	if err != nil {
		t.Fatal(err)
	}
	frames := seedMessages(t)
	d, err := decodeMessage(frames["case"])
	if err != nil {
		t.Fatal(err)
	}
	m := d.message
	m.Record = rec
	frame, err := sealMessage(&m, seedKey(9))
	if err != nil {
		t.Fatal(err)
	}
	_, err = decodeMessage(frame)
	if !errors.Is(err, ErrBadMessage) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "Quorvelline") {
		t.Errorf("the error quotes the case: %v", err)
	}
	t.Log(err)
}
