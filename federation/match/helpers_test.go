package match_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/match"
	v1 "nrmnet/schemas/v1"
)

// newHost starts a plain libp2p host on a loopback TCP port.
func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// connect dials b from a.
func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

// testLogger sends logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// auditLog collects the issuer's audit records.
type auditLog struct {
	mu      sync.Mutex
	records []match.QueryRecord
	fail    error
}

func (a *auditLog) record(r match.QueryRecord) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.records = append(a.records, r)
	return nil
}

func (a *auditLog) all() []match.QueryRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]match.QueryRecord(nil), a.records...)
}

type issuerOpt func(*match.IssuerConfig)

func newIssuer(t testing.TB, h match.StreamHost, keys match.KeyStore, audit *auditLog, opts ...issuerOpt) *match.Issuer {
	t.Helper()
	cfg := match.DefaultIssuerConfig()
	cfg.Host, cfg.Keys, cfg.Audit, cfg.Logger = h, keys, audit.record, testLogger(t)
	for _, o := range opts {
		o(&cfg)
	}
	is, err := match.NewIssuer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = is.Close() })
	return is
}

func newReceiver(t testing.TB, h match.StreamOpener, perRequest int) *match.Receiver {
	t.Helper()
	cfg := match.DefaultReceiverConfig()
	cfg.Host, cfg.Logger = h, testLogger(t)
	if perRequest > 0 {
		cfg.MaxElementsPerRequest = perRequest
	}
	r, err := match.NewReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// alertWith returns a minimal alert carrying the tokens: Match reads only
// its ID and tokens.
func alertWith(id v1.ID, tokens [][]byte) *v1.CrossBorderAlert {
	return &v1.CrossBorderAlert{ID: id, MatchTokens: tokens}
}

func keys(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
