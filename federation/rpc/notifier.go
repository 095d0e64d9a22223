package rpc

import "sync"

// notifier calls the observer with every record change, in order, on its own
// goroutine, keeping its backlog rather than dropping any.
type notifier struct {
	fn      func(Handover)
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []Handover
	stopped bool
	done    chan struct{}
}

func newNotifier(fn func(Handover)) *notifier {
	n := &notifier{fn: fn, done: make(chan struct{})}
	n.cond = sync.NewCond(&n.mu)
	if fn == nil {
		close(n.done)
		return n
	}
	go n.run()
	return n
}

func (n *notifier) send(h Handover) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	n.queue = append(n.queue, h)
	n.mu.Unlock()
	n.cond.Signal()
}

func (n *notifier) run() {
	defer close(n.done)
	for {
		n.mu.Lock()
		for len(n.queue) == 0 && !n.stopped {
			n.cond.Wait()
		}
		if len(n.queue) == 0 {
			n.mu.Unlock()
			return
		}
		h := n.queue[0]
		n.queue = n.queue[1:]
		n.mu.Unlock()
		n.fn(h)
	}
}

// close delivers the backlog, then stops.
func (n *notifier) close() {
	n.mu.Lock()
	n.stopped = true
	n.mu.Unlock()
	n.cond.Broadcast()
	<-n.done
}
