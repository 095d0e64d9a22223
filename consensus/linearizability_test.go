package consensus

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The fault harness runs a short bounded pass by default. For a longer one:
//
//	go test -run TestLinearizableUnderFaults -count=1 -timeout 30m ./consensus/ -faults.long
//
// which runs 40 fault rounds on five members with six clients; add
// -faults.seed N to repeat a run's fault sequence (timings still vary).
var (
	longFaults = flag.Bool("faults.long", false, "run the longer randomised fault harness")
	faultSeed  = flag.Uint64("faults.seed", 0, "seed of the fault harness (0: from the clock); the log prints the seed used")
)

type faultPlan struct {
	voters  int
	rounds  int
	clients int
	opsEach int
	seed    uint64
}

func planFor(long bool, seed uint64) faultPlan {
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if long {
		return faultPlan{voters: 5, rounds: 40, clients: 6, opsEach: 400, seed: seed}
	}
	return faultPlan{voters: 3, rounds: 6, clients: 3, opsEach: 40, seed: seed}
}

// kvInput and kvOutput are a register operation in the porcupine history.
type kvInput struct {
	put   bool
	key   string
	value string
}

type kvOutput struct{ value string }

// registerModel is a set of independent registers, one per key, all empty at
// first: a put sets the register, a get returns its value.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := make(map[string][]porcupine.Operation)
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.put {
			return true, in.value
		}
		return output.(kvOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.put {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, output.(kvOutput).value)
	},
}

// opLog records the client operations of a run, and the puts whose outcome
// was ambiguous until they are resolved by command ID.
type opLog struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	amb   []ambiguousPut
	stats map[string]int
}

type ambiguousPut struct {
	op porcupine.Operation
	id v1IDT
}

func (l *opLog) now() int64 { return time.Since(l.start).Nanoseconds() }

func (l *opLog) add(op porcupine.Operation, what string) {
	l.mu.Lock()
	l.ops = append(l.ops, op)
	l.mu.Unlock()
	l.count(what)
}

func (l *opLog) count(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats[what]++
}

// TestLinearizableUnderFaults runs clients against every member while a
// fault loop partitions, isolates, kills and restarts members, records every
// operation, resolves ambiguous puts by command ID after healing, and checks
// the history with porcupine.
func TestLinearizableUnderFaults(t *testing.T) {
	plan := planFor(*longFaults, *faultSeed)
	t.Logf("fault plan %+v (repeat the fault sequence with -faults.seed %d)", plan, plan.seed)
	rng := rand.New(rand.NewPCG(plan.seed, 1))
	c := newCluster(t, clusterOpts{voters: plan.voters, sealed: true, tune: func(cfg *Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs = 32, 8
		cfg.Timeouts.Forward = 2 * time.Second
		cfg.Logger = discardLogger()
	}})
	c.waitLeader()

	// nodeMu[i] lets a client use node i's panel and FSM without the fault
	// loop closing them underneath: the fault loop takes the write lock.
	nodeMu := make([]sync.RWMutex, len(c.nodes))
	log := &opLog{start: time.Now(), stats: make(map[string]int)}
	keys := []string{"case-a", "case-b", "case-c"}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for client := range plan.clients {
		crng := rand.New(rand.NewPCG(plan.seed, uint64(client)+2))
		wg.Go(func() {
			for i := 0; i < plan.opsEach; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ni := crng.IntN(len(c.nodes))
				nodeMu[ni].RLock()
				n := c.nodes[ni]
				if n.panel == nil {
					nodeMu[ni].RUnlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				key := keys[crng.IntN(len(keys))]
				if crng.IntN(2) == 0 {
					value := fmt.Sprintf("c%d-%d", client, i)
					id := newID()
					in := kvInput{put: true, key: key, value: value}
					call := log.now()
					_, err := n.panel.Propose(ctxT(t, 3*time.Second), encodeCmd(kvCommand{ID: id, Key: key, Value: value}))
					ret := log.now()
					op := porcupine.Operation{ClientId: client, Input: in, Call: call, Output: kvOutput{}, Return: ret}
					switch {
					case err == nil:
						log.add(op, "put ok")
					case errors.Is(err, ErrAmbiguous):
						log.mu.Lock()
						log.amb = append(log.amb, ambiguousPut{op: op, id: id})
						log.mu.Unlock()
						log.count("put ambiguous")
					default:
						// Not applied: it has no place in the history.
						log.count("put failed")
					}
				} else {
					call := log.now()
					err := n.panel.Sync(ctxT(t, 3*time.Second))
					var value string
					if err == nil {
						value, _ = n.fsm.get(key)
					}
					ret := log.now()
					if err == nil {
						log.add(porcupine.Operation{ClientId: client, Input: kvInput{key: key}, Call: call,
							Output: kvOutput{value: value}, Return: ret}, "get ok")
					} else {
						log.count("get failed")
					}
				}
				nodeMu[ni].RUnlock()
			}
		})
	}

	// The fault loop: each round picks a fault, holds it a while, heals.
	for round := 0; round < plan.rounds; round++ {
		time.Sleep(time.Duration(200+rng.IntN(400)) * time.Millisecond)
		switch rng.IntN(4) {
		case 0: // isolate the leader
			for _, n := range c.nodes {
				if n.panel != nil && n.panel.raft.State().String() == "Leader" {
					c.net.Isolate(n.id)
				}
			}
		case 1: // random partition into a minority and a majority
			perm := rng.Perm(len(c.nodes))
			cut := 1 + rng.IntN(len(c.nodes)/2)
			var a, b []peerIDT
			for i, j := range perm {
				if i < cut {
					a = append(a, c.nodes[j].id)
				} else {
					b = append(b, c.nodes[j].id)
				}
			}
			c.net.Partition(a, b)
		case 2: // kill a member, restart it later in the round
			ni := rng.IntN(len(c.nodes))
			nodeMu[ni].Lock()
			c.stop(c.nodes[ni])
			nodeMu[ni].Unlock()
			time.Sleep(time.Duration(200+rng.IntN(400)) * time.Millisecond)
			nodeMu[ni].Lock()
			c.start(c.nodes[ni], nil)
			nodeMu[ni].Unlock()
		case 3: // no fault this round
		}
		time.Sleep(time.Duration(300+rng.IntN(500)) * time.Millisecond)
		c.net.HealAll()
	}
	close(stop)
	wg.Wait()
	c.net.HealAll()
	c.waitLeader()

	// Resolve every ambiguous put by its command ID. After the run the
	// settle barrier in CommandApplied makes the answer final, and
	// Timeouts.Forward has long passed for every request.
	time.Sleep(2 * time.Second)
	resolver := c.nodes[0]
	var applied, dropped int
	for _, a := range log.amb {
		_, ok, err := resolver.panel.CommandApplied(ctxT(t, 20*time.Second), a.id)
		if err != nil {
			t.Fatalf("resolve %s: %v", a.id, err)
		}
		if ok {
			// It took effect at some point after its call: its return is
			// unknown, so it stays open to the end of the history.
			a.op.Return = log.now() + int64(time.Hour)
			log.ops = append(log.ops, a.op)
			applied++
		} else {
			dropped++
		}
	}
	t.Logf("operations: %v; ambiguous puts resolved applied=%d not-applied=%d; history %d ops",
		log.stats, applied, dropped, len(log.ops))
	if log.stats["put ok"] == 0 || log.stats["get ok"] == 0 {
		t.Fatalf("the run completed no puts or no gets (%v): it checks nothing", log.stats)
	}
	res, info := porcupine.CheckOperationsVerbose(registerModel, log.ops, 60*time.Second)
	switch res {
	case porcupine.Illegal:
		path := t.TempDir() + "/history.html"
		_ = porcupine.VisualizePath(registerModel, info, path)
		t.Fatalf("history is not linearizable (visualisation: %s)", path)
	case porcupine.Unknown:
		t.Fatalf("linearizability check did not finish in 60s on %d operations", len(log.ops))
	}
}
