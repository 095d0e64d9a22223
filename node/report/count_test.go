package report

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func cells(t Table) string {
	var b strings.Builder
	b.WriteString(t.Total.String())
	for _, c := range t.Cells {
		b.WriteString(" " + c.Count.String())
	}
	return b.String()
}

func TestSuppress(t *testing.T) {
	tests := []struct {
		name   string
		counts []int
		want   string // total then cells
	}{
		{"nothing small", []int{5, 9, 0}, "14 5 9 0"},
		{"zeros are shown", []int{0, 0, 0}, "0 0 0 0"},
		{"one small: the next smallest is hidden too", []int{3, 9, 6}, "18 <5 9 <5"},
		{"two small: enough", []int{3, 9, 2}, "14 <5 9 <5"},
		{"one small, a tie for next smallest: the first", []int{7, 1, 7}, "15 <5 <5 7"},
		{"small total hides every non-zero cell", []int{2, 0, 1}, "<5 <5 0 <5"},
		{"one cell, small", []int{4}, "<5 <5"},
		{"one small and only zeros else", []int{0, 4, 0}, "<5 0 <5 0"},
		{"threshold itself is shown", []int{5, 5}, "10 5 5"},
		{"one small beside one big", []int{1, 40}, "41 <5 <5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cats := make([]string, len(tt.counts))
			for i := range cats {
				cats[i] = fmt.Sprint("c", i)
			}
			if got := cells(Suppress(5, cats, tt.counts)); got != tt.want {
				t.Errorf("Suppress(%v) = %s, want %s", tt.counts, got, tt.want)
			}
		})
	}
}

// TestSuppressNeverRevealsOne: over random tables, no hidden count can be
// worked out from the total and the shown counts: when the total is shown,
// either nothing is hidden or at least two non-zero counts are.
func TestSuppressNeverRevealsOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := 1 + rng.IntN(7)
		counts := make([]int, n)
		cats := make([]string, n)
		for i := range counts {
			counts[i] = []int{0, rng.IntN(5), rng.IntN(12), rng.IntN(100)}[rng.IntN(4)]
			cats[i] = fmt.Sprint(i)
		}
		tab := Suppress(5, cats, counts)
		hidden := 0
		for i, c := range tab.Cells {
			n, shown := c.Count.Shown()
			switch {
			case shown && n != counts[i]:
				t.Fatalf("%v: cell %d shows %d", counts, i, n)
			case !shown && counts[i] == 0:
				t.Fatalf("%v: a zero is hidden", counts)
			case shown && counts[i] > 0 && counts[i] < 5:
				t.Fatalf("%v: small count %d shown", counts, counts[i])
			case !shown:
				hidden++
			}
		}
		if _, shown := tab.Total.Shown(); shown && hidden == 1 {
			t.Fatalf("%v: one hidden count follows from the total: %s", counts, cells(tab))
		}
	}
}

// TestSuppressedCountKeepsNoNumber: a hidden count holds nothing that
// printing or encoding could reveal.
func TestSuppressedCountKeepsNoNumber(t *testing.T) {
	tab := Suppress(5, []string{"a", "b"}, []int{3, 1})
	for _, c := range tab.Cells {
		if c.Count != (Count{suppressed: true, threshold: 5}) {
			t.Errorf("suppressed count holds %#v", c.Count)
		}
	}
	b, _ := json.Marshal(tab)
	if string(b) != `{"total":"\u003c5","cells":[{"category":"a","count":"\u003c5"},{"category":"b","count":"\u003c5"}]}` {
		t.Errorf("JSON %s", b)
	}
	if s := fmt.Sprintf("%v %+v", tab, tab); strings.Contains(s, "3") {
		t.Errorf("printing reveals a hidden count: %s", s)
	}
}
