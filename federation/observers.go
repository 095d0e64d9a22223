package federation

import (
	"context"
	"sync"
)

// observers delivers roster updates to registered callbacks. Each observer
// has its own goroutine and an unbounded queue: publishing never blocks and
// never drops, and an observer that is slow, or that calls back into the host,
// holds up nobody but itself. Rosters change rarely (days apart), so a queue
// cannot grow large.
type observers struct {
	mu   sync.Mutex
	list map[*observer]struct{}
	wg   *sync.WaitGroup
	ctx  context.Context
}

type observer struct {
	fn     func(RosterUpdate)
	mu     sync.Mutex
	queue  []RosterUpdate
	signal chan struct{} // capacity 1
	done   chan struct{} // closed by stop
	once   sync.Once
}

func (o *observers) init(wg *sync.WaitGroup, ctx context.Context) {
	o.list = map[*observer]struct{}{}
	o.wg = wg
	o.ctx = ctx
}

// add registers fn with first as its first updates. The caller holds the
// host's updateMu, so no update can come between first and the next publish.
func (o *observers) add(fn func(RosterUpdate), first ...RosterUpdate) (stop func()) {
	ob := &observer{fn: fn, signal: make(chan struct{}, 1), done: make(chan struct{})}
	for _, u := range first {
		ob.push(u)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ctx.Err() != nil {
		return func() {}
	}
	o.list[ob] = struct{}{}
	o.wg.Add(1)
	go o.run(ob)
	return func() {
		ob.once.Do(func() { close(ob.done) })
		o.mu.Lock()
		delete(o.list, ob)
		o.mu.Unlock()
	}
}

func (o *observers) publish(u RosterUpdate) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ob := range o.list {
		ob.push(u)
	}
}

func (ob *observer) push(u RosterUpdate) {
	ob.mu.Lock()
	ob.queue = append(ob.queue, u)
	ob.mu.Unlock()
	select {
	case ob.signal <- struct{}{}:
	default:
	}
}

func (o *observers) run(ob *observer) {
	defer o.wg.Done()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-ob.done:
			return
		case <-ob.signal:
		}
		for {
			ob.mu.Lock()
			if len(ob.queue) == 0 {
				ob.mu.Unlock()
				break
			}
			u := ob.queue[0]
			ob.queue[0] = RosterUpdate{}
			ob.queue = ob.queue[1:]
			ob.mu.Unlock()
			select {
			case <-o.ctx.Done():
				return
			case <-ob.done:
				return
			default:
			}
			ob.fn(u)
		}
	}
}
