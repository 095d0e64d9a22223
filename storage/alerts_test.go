package storage

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

var nodeWho = Access{Actor: "node", Role: "node", Purpose: "cross-border alert", LegalBasis: v1.BasisSafeguardingChildren}

// testAlert returns a valid, signed-looking alert of issuer, live from
// fixed for life.
func testAlert(issuer v1.AuthorityCode, life time.Duration) v1.CrossBorderAlert {
	return v1.CrossBorderAlert{
		ID: v1.NewID(), Type: v1.AlertMissing, Issuer: issuer,
		TargetAuthorities: []v1.AuthorityCode{"CMD", testAuthority},
		Urgency:           v1.UrgencyHigh, IssuedAt: fixed, ExpiresAt: fixed.Add(life),
		Contact: v1.ContactDutyDesk, LegalBasis: v1.BasisSafeguardingChildren,
		AgeBand: v1.Age13To15, Sex: v1.SexFemale,
		MatchTokens: [][]byte{bytes.Repeat([]byte{7}, v1.MatchTokenSize)},
		Signature:   bytes.Repeat([]byte{1}, v1.SignatureSize),
	}
}

// actions returns the audit actions recorded after index from.
func actions(t *testing.T, s *Store, from int64) []v1.AuditAction {
	t.Helper()
	es, err := s.AuditEntries(from, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.AuditAction
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

func auditSize(t *testing.T, s *Store) int64 {
	t.Helper()
	cp, err := s.AuditCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size
}

func TestReceivedAlertsStoredOnceListedAndExpired(t *testing.T) {
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	ctx := context.Background()
	short, long := testAlert("CMD", time.Hour), testAlert("HRY", 48*time.Hour)
	start := auditSize(t, s)
	for _, a := range []v1.CrossBorderAlert{short, long, short} {
		_, err := s.PutReceivedAlert(ctx, ReceivedAlert{Alert: a, ReceivedAt: fixed, Via: "gossip"}, nodeWho)
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := actions(t, s, start); len(got) != 2 || got[0] != v1.ActionAlertReceive {
		t.Fatalf("audit after two alerts and one redelivery: %v, want two alert.receive", got)
	}
	if err := s.MarkAlertMatched(ctx, short.ID, fixed.Add(time.Second), 2); err != nil {
		t.Fatal(err)
	}
	live, err := s.LiveReceivedAlerts(fixed, 0)
	if err != nil || len(live) != 2 || live[0].Alert.ID != short.ID || live[0].Tasks != 2 || live[0].MatchedAt.IsZero() {
		t.Fatalf("live = %+v, %v; want short (matched, 2 tasks) then long", live, err)
	}
	if live[1].Alert.Issuer != "HRY" || !live[1].MatchedAt.IsZero() {
		t.Errorf("long alert as stored: %+v", live[1])
	}
	n, err := s.ExpireAlerts(ctx, fixed.Add(2*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("ExpireAlerts = %d, %v; want 1", n, err)
	}
	if _, err := s.ReceivedAlert(short.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired alert still held: %v", err)
	}

	// A restart keeps what is live.
	mustClose(t, s)
	s = mustOpen(t, cfg)
	got, err := s.ReceivedAlert(long.ID)
	if err != nil || got.Alert.ID != long.ID || !got.Alert.ExpiresAt.Equal(long.ExpiresAt) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

func TestReceivedAlertRefusals(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	unsigned := testAlert("CMD", time.Hour)
	unsigned.Signature = nil
	own := testAlert(testAuthority, time.Hour)
	bad := testAlert("CMD", time.Hour)
	bad.AgeBand = "twelve"
	for name, c := range map[string]struct {
		a    v1.CrossBorderAlert
		who  Access
		want error
	}{
		"unsigned":  {unsigned, nodeWho, schemas.ErrInvalid},
		"own alert": {own, nodeWho, ErrWrongAuthority},
		"invalid":   {bad, nodeWho, schemas.ErrInvalid},
		"no actor":  {testAlert("CMD", time.Hour), Access{}, ErrNoActor},
	} {
		if _, err := s.PutReceivedAlert(ctx, ReceivedAlert{Alert: c.a, ReceivedAt: fixed}, c.who); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
	if live, _ := s.LiveReceivedAlerts(fixed, 0); len(live) != 0 {
		t.Errorf("refused alerts stored: %d", len(live))
	}
}

func TestIssuedAlertAcksAndKey(t *testing.T) {
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	ctx := context.Background()
	c := newCase(v1.NewID())
	mustCreate(t, s, c)
	a := testAlert(testAuthority, time.Hour)
	if err := s.PutIssuedAlert(ctx, IssuedAlert{Alert: a, Case: c.ID, RaisedBy: "sw-001"}, worker); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIssuedAlert(ctx, IssuedAlert{Alert: a, Case: c.ID}, worker); !errors.Is(err, ErrExists) {
		t.Errorf("second put: %v, want ErrExists", err)
	}
	foreign := testAlert("CMD", time.Hour)
	if err := s.PutIssuedAlert(ctx, IssuedAlert{Alert: foreign, Case: c.ID}, worker); !errors.Is(err, ErrWrongAuthority) {
		t.Errorf("another authority's alert: %v, want ErrWrongAuthority", err)
	}
	for _, from := range []v1.AuthorityCode{"CMD", "CMD", "HRY"} {
		if err := s.RecordAlertAck(ctx, a.ID, from); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordAlertAck(ctx, v1.NewID(), "CMD"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of an unknown alert: %v", err)
	}
	secret := bytes.Repeat([]byte{9}, 32)
	if err := s.PutAlertMatchKey(ctx, a.ID, secret, a.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlertMatchKey(ctx, a.ID, secret, a.ExpiresAt); !errors.Is(err, ErrExists) {
		t.Errorf("a second key: %v, want ErrExists", err)
	}

	mustClose(t, s)
	s = mustOpen(t, cfg)
	got, err := s.IssuedAlert(a.ID)
	if err != nil || got.Case != c.ID || len(got.Acked) != 2 || got.Acked[0] != "CMD" || got.Acked[1] != "HRY" {
		t.Fatalf("after reopen: %+v, %v; want acks CMD, HRY", got, err)
	}
	k, exp, err := s.AlertMatchKey(a.ID)
	if err != nil || !bytes.Equal(k, secret) || !exp.Equal(a.ExpiresAt) {
		t.Fatalf("match key after reopen: %x %v %v", k, exp, err)
	}
	if err := s.DeleteAlertMatchKey(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAlertMatchKey(ctx, a.ID); err != nil {
		t.Errorf("deleting an absent key: %v", err)
	}
	if _, _, err := s.AlertMatchKey(a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted key: %v", err)
	}

	// Expiry takes the alert and its key.
	b := testAlert(testAuthority, time.Hour)
	if err := s.PutIssuedAlert(ctx, IssuedAlert{Alert: b, Case: c.ID}, worker); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlertMatchKey(ctx, b.ID, secret, b.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ExpireAlerts(ctx, b.ExpiresAt); err != nil || n != 2 {
		t.Fatalf("ExpireAlerts = %d, %v; want 2", n, err)
	}
	if _, _, err := s.AlertMatchKey(b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("key of an expired alert still held: %v", err)
	}
	want := []v1.AuditAction{v1.ActionAlertRaise, ActionAlertAck, ActionAlertAck, ActionMatchKeyCreate}
	all := actions(t, s, 0)
	for _, w := range want {
		found := false
		for _, a := range all {
			found = found || a == w
		}
		if !found {
			t.Errorf("no %s in the audit log", w)
		}
	}
	mustVerify(t, s)
}

func TestMatchTasksRaisedOnceResolvedOnce(t *testing.T) {
	cfg := newNode(t)
	s := mustOpen(t, cfg)
	ctx := context.Background()
	c := newCase(v1.NewID())
	alert := v1.NewID()
	raise := MatchTask{Alert: alert, Issuer: "CMD", Case: c.ID, Strength: "exact_date", AlertExpiresAt: fixed.Add(time.Hour)}
	first, added, err := s.RaiseMatchTask(ctx, raise, nodeWho)
	if err != nil || !added || !first.Open() || !first.ID.Valid() {
		t.Fatalf("raise = %+v, %v, %v", first, added, err)
	}
	again, added, err := s.RaiseMatchTask(ctx, raise, nodeWho)
	if err != nil || added || again.ID != first.ID {
		t.Fatalf("raise again = %+v, %v, %v; want the first task", again, added, err)
	}
	other := raise
	other.Case = v1.NewCaseID(testAuthority)
	if _, added, err := s.RaiseMatchTask(ctx, other, nodeWho); err != nil || !added {
		t.Fatalf("another case: %v %v", added, err)
	}
	bad := raise
	bad.Case = "not a case"
	if _, _, err := s.RaiseMatchTask(ctx, bad, nodeWho); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("bad case ID: %v", err)
	}
	open, err := s.MatchTasks(true, 0)
	if err != nil || len(open) != 2 {
		t.Fatalf("open tasks = %d, %v; want 2", len(open), err)
	}

	for name, c := range map[string]struct {
		id       v1.ID
		res, why string
		want     error
	}{
		"unknown resolution": {first.ID, "maybe", "looked", schemas.ErrInvalid},
		"no reason":          {first.ID, TaskNotSameChild, "", schemas.ErrInvalid},
		"unknown task":       {v1.NewID(), TaskNotSameChild, "looked", ErrNotFound},
	} {
		if _, err := s.ResolveMatchTask(ctx, c.id, c.res, c.why, worker); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	done, err := s.ResolveMatchTask(ctx, first.ID, TaskSameChild, "spoke to the issuer's duty desk", worker)
	if err != nil || done.Open() || done.ResolvedBy != "sw-001" {
		t.Fatalf("resolve = %+v, %v", done, err)
	}
	if _, err := s.ResolveMatchTask(ctx, first.ID, TaskNotSameChild, "second opinion", worker); !errors.Is(err, ErrConflict) {
		t.Errorf("second resolution: %v, want ErrConflict", err)
	}

	mustClose(t, s)
	s = mustOpen(t, cfg)
	got, err := s.MatchTask(first.ID)
	if err != nil || got.Resolution != TaskSameChild || got.Reason != "spoke to the issuer's duty desk" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	if open, _ := s.MatchTasks(true, 0); len(open) != 1 {
		t.Errorf("open tasks after one resolution: %d, want 1", len(open))
	}
	if all, _ := s.MatchTasks(false, 0); len(all) != 2 {
		t.Errorf("all tasks: %d, want 2", len(all))
	}
}

func TestCaseIdentitiesIsOneAuditedScan(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	ctx := context.Background()
	want := map[v1.CaseID]bool{}
	for range 5 {
		c := newCase(v1.NewID())
		mustCreate(t, s, c)
		want[c.ID] = true
	}
	if err := s.CaseIdentities(ctx, "alert", Access{Actor: "node"}, func(v1.CaseID, v1.ChildIdentity) error { return nil }); !errors.Is(err, ErrNoPurpose) {
		t.Errorf("no purpose: %v", err)
	}
	start := auditSize(t, s)
	alert := v1.NewID()
	got := map[v1.CaseID]bool{}
	err := s.CaseIdentities(ctx, string(alert), nodeWho, func(id v1.CaseID, ident v1.ChildIdentity) error {
		if len(ident.Names) == 0 {
			t.Errorf("case %s: no names", id)
		}
		got[id] = true
		return nil
	})
	if err != nil || len(got) != len(want) {
		t.Fatalf("scanned %d of %d cases: %v", len(got), len(want), err)
	}
	es, _ := s.AuditEntries(start, 100)
	if len(es) != 1 || es[0].Action != ActionCaseMatchScan || es[0].Subject != string(alert) {
		t.Fatalf("audit of the scan: %+v, want one case.match_scan", es)
	}
	stop := errors.New("stop")
	n := 0
	err = s.CaseIdentities(ctx, string(alert), nodeWho, func(v1.CaseID, v1.ChildIdentity) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d calls", err, n)
	}
}
