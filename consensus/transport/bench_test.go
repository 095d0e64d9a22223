package transport_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus/raftstore"
	"nrmnet/consensus/transport"
	"nrmnet/consensus/transport/transporttest"
)

// counterFSM counts applied entries; the benchmark measures the transport
// and the log store, not an FSM.
type counterFSM struct{ n atomic.Uint64 }

func (f *counterFSM) Apply(*raft.Log) any { return f.n.Add(1) }
func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	return nil, fmt.Errorf("counterFSM: no snapshots in benchmarks")
}
func (f *counterFSM) Restore(io.ReadCloser) error { return fmt.Errorf("counterFSM: no restore") }

type benchCluster struct {
	leader *raft.Raft
}

// newBenchCluster starts size raft servers on encrypted, synced on-disk
// raftstore stores (the production stores), over trans(i).
func newBenchCluster(b *testing.B, size int, trans func(i int) (raft.Transport, raft.ServerID)) *benchCluster {
	b.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	rafts := make([]*raft.Raft, size)
	var servers []raft.Server
	for i := range size {
		tr, id := trans(i)
		key := make([]byte, raftstore.KeySize)
		_, _ = rand.Read(key)
		scfg := raftstore.DefaultConfig()
		scfg.Dir, scfg.EncryptionKey, scfg.Logger = b.TempDir(), key, logger
		store, err := raftstore.Open(scfg)
		if err != nil {
			b.Fatal(err)
		}
		conf := raft.DefaultConfig()
		conf.LocalID = id
		conf.Logger = raftstore.HCLogger(logger)
		// Raised so that a loaded shared machine does not trigger elections
		// mid-measurement; they do not affect the commit path.
		conf.HeartbeatTimeout, conf.ElectionTimeout = 2*time.Second, 2*time.Second
		conf.LeaderLeaseTimeout = time.Second
		r, err := raft.NewRaft(conf, &counterFSM{}, store, store, raft.NewInmemSnapshotStore(), tr)
		if err != nil {
			b.Fatal(err)
		}
		rafts[i] = r
		servers = append(servers, raft.Server{ID: id, Address: tr.LocalAddr()})
		b.Cleanup(func() {
			_ = r.Shutdown().Error()
			if c, ok := tr.(io.Closer); ok {
				_ = c.Close()
			}
			_ = store.Close()
		})
	}
	if err := rafts[0].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		b.Fatal(err)
	}
	return &benchCluster{leader: waitLeader(b, rafts)}
}

// run commits ops entries with clients concurrent proposers and returns the
// elapsed time and every commit's latency.
func (c *benchCluster) run(b *testing.B, ops, clients int) (time.Duration, []time.Duration) {
	payload := make([]byte, 512) // about a panel decision command
	var next atomic.Int64
	lat := make([]time.Duration, ops)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(ops) {
					return
				}
				t0 := time.Now()
				if err := c.leader.Apply(payload, 30*time.Second).Error(); err != nil {
					b.Errorf("apply: %v", err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return time.Since(start), lat
}

func pct(lat []time.Duration, p float64) float64 {
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[int(p*float64(len(s)-1))].Microseconds()) / 1000
}

// BenchmarkCommit3Nodes compares a three-server raft over the libp2p stream
// layer with the same raft over raft's own TCP transport; see benchCommit.
//
//	go test -run '^$' -bench Commit3Nodes -benchtime 2000x ./consensus/transport/
func BenchmarkCommit3Nodes(b *testing.B) { benchCommit(b, 3) }

// BenchmarkCommit5Nodes is BenchmarkCommit3Nodes with five servers: a commit
// then needs the leader and two of four followers.
func BenchmarkCommit5Nodes(b *testing.B) { benchCommit(b, 5) }

// benchCommit compares a raft group of size servers over the libp2p stream
// layer with the same raft over raft's own TCP transport, in the same run, on
// the same encrypted synced stores, interleaved in rounds of 100 commits.
// Each b.N is one commit on each cluster.
// Reported: commits/s and p50/p99 commit latency (ms) of each, and the
// libp2p/TCP ratios (throughput ratio below 1 and latency ratio above 1 mean
// libp2p is slower). Run with a fixed count (-benchtime 2000x).
func benchCommit(b *testing.B, size int) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			n := transporttest.NewNetwork(b)
			hosts := make([]host.Host, size)
			ids := make([]peer.ID, size)
			for i := range size {
				hosts[i] = n.AddHost()
				ids[i] = hosts[i].ID()
			}
			admit := members(ids...)
			p2p := newBenchCluster(b, size, func(i int) (raft.Transport, raft.ServerID) {
				cfg := transport.DefaultConfig()
				cfg.Panel, cfg.Host, cfg.Admit = "islington-camden", hosts[i], admit
				cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
				tr, _, err := transport.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				return tr, raft.ServerID(hosts[i].ID().String())
			})
			tcp := newBenchCluster(b, size, func(i int) (raft.Transport, raft.ServerID) {
				tr, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, transport.DefaultConfig().MaxPool,
					10*time.Second, raftstore.HCLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
				if err != nil {
					b.Fatal(err)
				}
				return tr, raft.ServerID(fmt.Sprintf("tcp-%d", i))
			})
			// Warm both (connections, pools, Badger) before measuring.
			p2p.run(b, 50, clients)
			tcp.run(b, 50, clients)
			// Interleave the two in rounds of 100 commits, so that load from
			// elsewhere on the machine falls on both alike.
			b.ResetTimer()
			var p2pTime, tcpTime time.Duration
			var p2pLat, tcpLat []time.Duration
			for done := 0; done < b.N; done += 100 {
				n := min(100, b.N-done)
				d, l := p2p.run(b, n, clients)
				p2pTime, p2pLat = p2pTime+d, append(p2pLat, l...)
				d, l = tcp.run(b, n, clients)
				tcpTime, tcpLat = tcpTime+d, append(tcpLat, l...)
			}
			b.StopTimer()
			p2pRate := float64(b.N) / p2pTime.Seconds()
			tcpRate := float64(b.N) / tcpTime.Seconds()
			b.ReportMetric(p2pRate, "libp2p-commits/s")
			b.ReportMetric(tcpRate, "tcp-commits/s")
			b.ReportMetric(p2pRate/tcpRate, "throughput-ratio")
			b.ReportMetric(pct(p2pLat, 0.50), "libp2p-p50-ms")
			b.ReportMetric(pct(p2pLat, 0.99), "libp2p-p99-ms")
			b.ReportMetric(pct(tcpLat, 0.50), "tcp-p50-ms")
			b.ReportMetric(pct(tcpLat, 0.99), "tcp-p99-ms")
			b.ReportMetric(pct(p2pLat, 0.50)/pct(tcpLat, 0.50), "p50-ratio")
			b.ReportMetric(pct(p2pLat, 0.99)/pct(tcpLat, 0.99), "p99-ratio")
		})
	}
}
