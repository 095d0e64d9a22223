package report

import (
	"errors"
	"testing"
)

// FuzzParseQuarter: ParseQuarter never panics; what it accepts formats back
// to the same text and lies in 2000 to 2199; what it refuses wraps
// ErrInvalidQuarter. Seeds are in testdata/fuzz/FuzzParseQuarter.
func FuzzParseQuarter(f *testing.F) {
	for _, s := range []string{"2026-Q3", "2000-Q1", "2199-Q4", "1999-Q4", "2026-Q0", "+026-Q1", "2026-Q3\n", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuarter(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuarter) {
				t.Fatalf("ParseQuarter(%q): %v does not wrap ErrInvalidQuarter", s, err)
			}
			return
		}
		if q.String() != s || q.Validate() != nil {
			t.Fatalf("ParseQuarter(%q) = %v", s, q)
		}
		if !q.Contains(q.Start()) || q.Contains(q.End()) || QuarterOf(q.Start()) != q {
			t.Fatalf("%v: bounds disagree", q)
		}
	})
}
