package report

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestParseQuarter(t *testing.T) {
	for _, s := range []string{"2026-Q1", "2026-Q3", "2000-Q4", "2199-Q2"} {
		q, err := ParseQuarter(s)
		if err != nil || q.String() != s {
			t.Errorf("ParseQuarter(%q) = %v, %v", s, q, err)
		}
	}
	for _, s := range []string{"", "2026-Q0", "2026-Q5", "2026Q3", "2026-q3", "26-Q3", "1999-Q4", "2200-Q1",
		"+026-Q1", "2026-Q3 ", "2026-Q33", "abcd-Q1", "2026-Q\x00", "2026-Q3\n"} {
		if _, err := ParseQuarter(s); !errors.Is(err, ErrInvalidQuarter) {
			t.Errorf("ParseQuarter(%q): %v, want ErrInvalidQuarter", s, err)
		}
	}
}

func TestQuarterBoundsInLondon(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	q2 := Quarter{2026, 2}
	// 1 April 2026 00:00 BST is 31 March 23:00 UTC.
	if want := utc("2026-03-31T23:00:00Z"); !q2.Start().Equal(want) {
		t.Errorf("2026-Q2 starts %s, want %s", q2.Start().UTC(), want)
	}
	if q2.Contains(utc("2026-03-31T22:59:59Z")) || !q2.Contains(utc("2026-03-31T23:00:00Z")) {
		t.Error("2026-Q2 start boundary wrong")
	}
	// 1 January 2027 00:00 GMT.
	q4 := Quarter{2026, 4}
	if !q4.End().Equal(utc("2027-01-01T00:00:00Z")) || q4.Contains(q4.End()) || !q4.Contains(q4.End().Add(-time.Nanosecond)) {
		t.Error("2026-Q4 end boundary wrong")
	}
	if q4.Next() != (Quarter{2027, 1}) || QuarterOf(utc("2026-09-30T23:30:00Z")) != (Quarter{2026, 4}) ||
		QuarterOf(utc("2026-09-30T22:30:00Z")) != (Quarter{2026, 3}) {
		t.Error("Next or QuarterOf wrong")
	}
}

func TestQuarterJSON(t *testing.T) {
	var v struct{ Q Quarter }
	if err := json.Unmarshal([]byte(`{"Q":"2026-Q3"}`), &v); err != nil || v.Q != (Quarter{2026, 3}) {
		t.Fatalf("%v %v", v, err)
	}
	b, err := json.Marshal(v)
	if err != nil || string(b) != `{"Q":"2026-Q3"}` {
		t.Fatalf("%s %v", b, err)
	}
	if err := json.Unmarshal([]byte(`{"Q":"2026-Q9"}`), &v); !errors.Is(err, ErrInvalidQuarter) {
		t.Errorf("bad quarter decoded: %v", err)
	}
	if _, err := json.Marshal(Quarter{}); !errors.Is(err, ErrInvalidQuarter) {
		t.Errorf("zero quarter encoded: %v", err)
	}
}
