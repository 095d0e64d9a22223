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

func TestSeenSurvivesReopenAndPrunes(t *testing.T) {
	ctx := context.Background()
	cfg := newNode(t)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	short, long := v1.NewID(), v1.NewID()
	for _, e := range []struct {
		id  v1.ID
		exp time.Time
	}{{short, now.Add(time.Hour)}, {long, now.Add(48 * time.Hour)}} {
		added, err := s.PutSeen(ctx, e.id, now, e.exp, []byte("alert "+string(e.id)))
		if err != nil || !added {
			t.Fatalf("PutSeen(%s) = %v, %v; want added", e.id, added, err)
		}
	}
	// A second record of the same ID changes nothing.
	if added, err := s.PutSeen(ctx, short, now.Add(time.Minute), now.Add(2*time.Hour), []byte("other")); err != nil || added {
		t.Fatalf("PutSeen again = %v, %v; want not added", added, err)
	}
	mustClose(t, s)

	s = mustOpen(t, cfg)
	alert, seenAt, found, err := s.GetSeen(short)
	if err != nil || !found {
		t.Fatalf("after reopen GetSeen = found %v, %v", found, err)
	}
	if !bytes.Equal(alert, []byte("alert "+string(short))) || !seenAt.Equal(now) {
		t.Errorf("after reopen got %q seen at %v; want the first record", alert, seenAt)
	}
	live, err := s.LiveSeen(now.Add(2*time.Hour), 10)
	if err != nil || len(live) != 1 || live[0] != long {
		t.Errorf("LiveSeen two hours on = %v, %v; want only %s", live, err, long)
	}
	live, err = s.LiveSeen(now, 10)
	if err != nil || len(live) != 2 || live[0] != short {
		t.Errorf("LiveSeen now = %v, %v; want both, soonest first", live, err)
	}
	n, err := s.PruneSeen(ctx, now.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PruneSeen = %d, %v; want 1", n, err)
	}
	if _, _, found, _ := s.GetSeen(short); found {
		t.Error("expired alert still recorded after PruneSeen")
	}
	if _, _, found, _ := s.GetSeen(long); !found {
		t.Error("live alert pruned")
	}
}

func TestPutSeenRefusesBadInput(t *testing.T) {
	s := mustOpen(t, newMemNode(t))
	now := time.Now().UTC()
	for name, tc := range map[string]struct {
		id    v1.ID
		exp   time.Time
		alert []byte
	}{
		"bad id":        {"nope", now.Add(time.Hour), []byte("x")},
		"expired":       {v1.NewID(), now.Add(-time.Hour), []byte("x")},
		"empty alert":   {v1.NewID(), now.Add(time.Hour), nil},
		"alert too big": {v1.NewID(), now.Add(time.Hour), make([]byte, MaxSeenAlert+1)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.PutSeen(context.Background(), tc.id, now, tc.exp, tc.alert)
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Fatalf("PutSeen = %v; want schemas.ErrInvalid", err)
			}
			if tc.id.Valid() {
				if _, _, found, _ := s.GetSeen(tc.id); found {
					t.Error("refused record was stored")
				}
			}
		})
	}
}
