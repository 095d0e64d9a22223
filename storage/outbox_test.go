package storage

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

func TestOutboxLifecycle(t *testing.T) {
	cfg := newNode(t)
	s := mustOpenNoCleanup(t, cfg)
	ctx := context.Background()
	msg := func(created time.Time, targets ...v1.AuthorityCode) OutboxMessage {
		return OutboxMessage{ID: v1.NewID(), Kind: schemas.KindAlert, Payload: []byte("encoded alert"),
			Targets: targets, CreatedAt: created, ExpiresAt: created.Add(48 * time.Hour)}
	}
	a := msg(fixed, "CMD", "YOR")
	b := msg(fixed.Add(time.Minute), "CMD")
	c := msg(fixed.Add(-72*time.Hour), "YOR") // already expired at fixed
	for _, m := range []OutboxMessage{a, b, c} {
		if err := s.EnqueueOutbox(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EnqueueOutbox(ctx, a); !errors.Is(err, ErrExists) {
		t.Errorf("enqueue twice: %v, want ErrExists", err)
	}
	if err := s.EnqueueOutbox(ctx, OutboxMessage{ID: v1.NewID()}); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("enqueue an invalid message: %v, want ErrInvalid", err)
	}
	if d := s.OutboxDepth(); d != 3 {
		t.Fatalf("OutboxDepth = %d, want 3", d)
	}
	ids := func(ms []OutboxMessage) []v1.ID {
		var out []v1.ID
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	due, err := s.DueOutbox(fixed, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(due), []v1.ID{c.ID, a.ID}) {
		t.Errorf("DueOutbox(fixed) = %v, want [c a]", ids(due))
	}
	if err := s.MarkAttempt(ctx, a.ID, fixed.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueOutbox(fixed.Add(5*time.Minute), 10)
	if !slices.Equal(ids(due), []v1.ID{c.ID, b.ID}) {
		t.Errorf("after MarkAttempt, DueOutbox = %v, want [c b]", ids(due))
	}
	due, _ = s.DueOutbox(fixed.Add(10*time.Minute), 10)
	if len(due) != 3 || due[2].ID != a.ID || due[2].Attempts != 1 {
		t.Errorf("a is due again after its next attempt time with Attempts 1: %+v", due)
	}
	if err := s.MarkAttempt(ctx, v1.NewID(), fixed); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkAttempt of an unknown message: %v", err)
	}

	if done, err := s.AckOutbox(ctx, a.ID, "CMD"); err != nil || done {
		t.Fatalf("first ack of two: complete=%v err=%v", done, err)
	}
	if done, err := s.AckOutbox(ctx, a.ID, "CMD"); err != nil || done {
		t.Errorf("repeated ack: complete=%v err=%v", done, err)
	}
	if done, err := s.AckOutbox(ctx, a.ID, "WOK"); err != nil || done {
		t.Errorf("ack from a non-target: complete=%v err=%v", done, err)
	}
	due, _ = s.DueOutbox(fixed.Add(time.Hour), 10)
	for _, m := range due {
		if m.ID == a.ID && (!slices.Equal(m.Targets, []v1.AuthorityCode{"YOR"}) || !slices.Equal(m.Acked, []v1.AuthorityCode{"CMD"})) {
			t.Errorf("after CMD's ack: targets %v acked %v", m.Targets, m.Acked)
		}
	}
	if done, err := s.AckOutbox(ctx, a.ID, "YOR"); err != nil || !done {
		t.Fatalf("last ack: complete=%v err=%v", done, err)
	}
	if _, err := s.AckOutbox(ctx, a.ID, "YOR"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of a completed message: %v, want ErrNotFound", err)
	}
	if d := s.OutboxDepth(); d != 2 {
		t.Errorf("OutboxDepth = %d, want 2", d)
	}

	n, err := s.ExpireOutbox(ctx, fixed)
	if err != nil || n != 1 {
		t.Fatalf("ExpireOutbox = %d, %v; want 1", n, err)
	}
	mustClose(t, s)

	// The outbox survives a restart.
	s = mustOpen(t, cfg)
	if d := s.OutboxDepth(); d != 1 {
		t.Errorf("after reopening, OutboxDepth = %d, want 1", d)
	}
	due, _ = s.DueOutbox(fixed.Add(time.Hour), 10)
	if !slices.Equal(ids(due), []v1.ID{b.ID}) || string(due[0].Payload) != "encoded alert" {
		t.Errorf("after reopening, DueOutbox = %+v", due)
	}
}

// TestCloseStopsGoroutines checks that Close stops the writer and the
// garbage collector (which is made to run several times first) and every
// goroutine Badger started.
func TestCloseStopsGoroutines(t *testing.T) {
	cfg := newNode(t)
	cfg.GCInterval = time.Second
	logger, logs := bufferLogger()
	cfg.Logger = logger
	before := runtime.NumGoroutine()
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		mustCreate(t, s, newCase(v1.NewID()))
	}
	time.Sleep(2500 * time.Millisecond) // two GC runs
	if runtime.NumGoroutine() <= before {
		t.Fatal("the store started no goroutines?")
	}
	mustClose(t, s)
	if n := strings.Count(grepLines(logs.Bytes(), `msg="value log GC"`), "db=data"); n < 2 {
		t.Errorf("value-log GC ran %d times in 2.5s with a 1s interval:\n%s", n, grepLines(logs.Bytes(), "GC"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before Open, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

func grepLines(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
