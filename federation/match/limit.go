package match

import (
	"sync"
	"time"
)

// allowance counts elements per key (a peer, an alert) in fixed windows.
// Its state is a small map touched for microseconds under a mutex by the
// stream handlers; no I/O happens under the lock.
type allowance struct {
	mu      sync.Mutex
	window  time.Duration
	windows map[string]*window
}

type window struct {
	start time.Time
	used  int
}

// maxTrackedWindows bounds the map: above it, expired windows are swept.
const maxTrackedWindows = 4096

func newAllowance(w time.Duration) *allowance {
	return &allowance{window: w, windows: map[string]*window{}}
}

// take consumes n elements from every (key, limit) pair at once, or from
// none: ok is false, with the wait until the first refusing window ends,
// when any pair would exceed its limit.
func (a *allowance) take(now time.Time, n int, keys []string, limits []int) (ok bool, retryAfter time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.windows) > maxTrackedWindows {
		for k, w := range a.windows {
			if now.Sub(w.start) >= a.window {
				delete(a.windows, k)
			}
		}
	}
	ws := make([]*window, len(keys))
	for i, k := range keys {
		w := a.windows[k]
		if w == nil || now.Sub(w.start) >= a.window || now.Before(w.start) {
			w = &window{start: now}
			a.windows[k] = w
		}
		if w.used+n > limits[i] {
			return false, w.start.Add(a.window).Sub(now)
		}
		ws[i] = w
	}
	for _, w := range ws {
		w.used += n
	}
	return true, 0
}
