package report

import (
	"encoding/json"
	"slices"
	"strconv"
)

// Count is a published count: a number, or suppressed. A suppressed Count
// does not hold the number it hides, so no printing, encoding or reflection
// of a Return can reveal it.
type Count struct {
	n          int
	suppressed bool
	threshold  int // for the text of a suppressed count, "<5"
}

// Shown returns the number and true, or 0 and false when suppressed.
func (c Count) Shown() (int, bool) {
	if c.suppressed {
		return 0, false
	}
	return c.n, true
}

// Suppressed reports whether the count is hidden.
func (c Count) Suppressed() bool { return c.suppressed }

// String is the number, or "<T" (T the threshold) when suppressed.
func (c Count) String() string {
	if c.suppressed {
		return "<" + strconv.Itoa(c.threshold)
	}
	return strconv.Itoa(c.n)
}

// MarshalJSON writes the number, or the string "<5" when suppressed.
func (c Count) MarshalJSON() ([]byte, error) {
	if c.suppressed {
		return json.Marshal(c.String())
	}
	return []byte(strconv.Itoa(c.n)), nil
}

// Cell is one category of a table and its count.
type Cell struct {
	Category string `json:"category"`
	Count    Count  `json:"count"`
}

// Table is a breakdown whose categories add up to its total.
type Table struct {
	Total Count  `json:"total"`
	Cells []Cell `json:"cells"`
}

// tally is a table before suppression: raw counts, categories in order.
type tally struct {
	cats   []string
	counts map[string]int
}

func newTally(cats ...string) *tally {
	t := &tally{counts: map[string]int{}}
	for _, c := range cats {
		t.ensure(c)
	}
	return t
}

func (t *tally) ensure(cat string) {
	if _, ok := t.counts[cat]; !ok {
		t.cats = append(t.cats, cat)
		t.counts[cat] = 0
	}
}

func (t *tally) add(cat string) {
	t.ensure(cat)
	t.counts[cat]++
}

func (t *tally) total() int {
	n := 0
	for _, v := range t.counts {
		n += v
	}
	return n
}

// Suppress applies the small-number rule to a table of counts that add up
// to their total, with threshold T (5 by default):
//
//   - primary: a count from 1 to T-1 is shown as "<T"; 0 is shown;
//   - secondary: if exactly one category is suppressed and the total is
//     shown, the total minus the others would reveal it, so the smallest
//     other non-zero count is suppressed too (the first in order on a tie);
//   - a total from 1 to T-1 is suppressed, and then so is every non-zero
//     category (each is at most the total).
//
// counts are in category order. It returns the published total and cells.
func Suppress(threshold int, cats []string, counts []int) Table {
	total := 0
	for _, n := range counts {
		total += n
	}
	small := func(n int) bool { return n > 0 && n < threshold }
	hide := make([]bool, len(counts))
	hidden := 0
	for i, n := range counts {
		if small(n) {
			hide[i] = true
			hidden++
		}
	}
	if hidden == 1 && !small(total) {
		best := -1
		for i, n := range counts {
			if !hide[i] && n > 0 && (best < 0 || n < counts[best]) {
				best = i
			}
		}
		if best >= 0 {
			hide[best] = true
		}
	}
	t := Table{Total: count(total, small(total), threshold), Cells: make([]Cell, len(counts))}
	for i, n := range counts {
		t.Cells[i] = Cell{Category: cats[i], Count: count(n, hide[i], threshold)}
	}
	return t
}

// count makes a published count; a suppressed one keeps no number.
func count(n int, suppressed bool, threshold int) Count {
	if suppressed {
		return Count{suppressed: true, threshold: threshold}
	}
	return Count{n: n, threshold: threshold}
}

// table suppresses a tally.
func (t *tally) table(threshold int) Table {
	counts := make([]int, len(t.cats))
	for i, c := range t.cats {
		counts[i] = t.counts[c]
	}
	return Suppress(threshold, slices.Clone(t.cats), counts)
}
