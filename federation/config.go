package federation

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
)

// Config configures a Host. Start from DefaultConfig.
type Config struct {
	// Identity is the node's ed25519 key, kept by the caller (storage). Its
	// peer ID must be on the roster.
	Identity ed25519.PrivateKey

	// Region is the region this node federates in, one of authority.Regions().
	Region string
	// Anchors are the public keys of the region's trust anchors, and Threshold
	// how many of them must sign a roster. They come from this node's own
	// configuration, never from a roster.
	Anchors   []ed25519.PublicKey
	Threshold int
	// Roster is the signed roster to start from: the newest this node holds.
	Roster []byte
	// Neighbours are the other regions whose rosters this node checks and
	// holds, so that alerts cross regions (neighbours.go). Empty: this
	// node federates in its own region only.
	Neighbours []RegionTrust

	// ListenAddrs are TCP and QUIC v1 multiaddrs to listen on.
	ListenAddrs []string

	// ReconnectInterval is how often the host checks that it is connected to
	// every member. A disconnection also triggers a check at once.
	ReconnectInterval time.Duration
	// DialBackoffMin and DialBackoffMax bound the wait before redialling a
	// member that could not be reached: it doubles from min to max, with
	// jitter, and resets once connected.
	DialBackoffMin time.Duration
	DialBackoffMax time.Duration
	// DialTimeout bounds one attempt to connect to a member.
	DialTimeout time.Duration
	// MaxConcurrentDials bounds the dials in flight at once.
	MaxConcurrentDials int

	// Limits sizes the libp2p resource manager.
	Limits Limits

	// Logger receives the host's logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives libp2p's Prometheus metrics. nil turns them
	// off.
	Metrics prometheus.Registerer
	// Now is the clock roster expiry is checked against; nil means time.Now.
	Now func() time.Time

	// WrapMuxer, when set, wraps the stream multiplexer (yamux) of every
	// TCP connection. The multiplexer sits above Noise/TLS, so a wrapper sees
	// the plaintext of every stream: tests use it to capture all that crosses
	// the wire and search it for canary values. A node never sets it. QUIC
	// has its own multiplexing, so a test that wraps must listen on TCP only.
	WrapMuxer func(network.Multiplexer) network.Multiplexer
}

// DefaultConfig returns a configuration with every setting but the identity,
// region, anchors and roster filled in. The threshold of two means no single
// anchor key, lost or stolen, can admit a node.
func DefaultConfig() Config {
	return Config{
		Threshold: 2,
		ListenAddrs: []string{
			"/ip4/0.0.0.0/tcp/4001",
			"/ip4/0.0.0.0/udp/4001/quic-v1",
			"/ip6/::/tcp/4001",
			"/ip6/::/udp/4001/quic-v1",
		},
		ReconnectInterval:  10 * time.Second,
		DialBackoffMin:     time.Second,
		DialBackoffMax:     5 * time.Minute,
		DialTimeout:        15 * time.Second,
		MaxConcurrentDials: 8,
		Limits:             DefaultLimits(),
	}
}

// Validate checks the configuration and names every problem.
func (c *Config) Validate() error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if len(c.Identity) != ed25519.PrivateKeySize {
		fail("Identity", "is %d bytes, want an ed25519 private key of %d", len(c.Identity), ed25519.PrivateKeySize)
	}
	if !validRegion(c.Region) {
		fail("Region", "%q is not a region", c.Region)
	}
	if err := roster.CheckTrust(c.Anchors, c.Threshold); err != nil {
		fail("Anchors", "%v", err)
	}
	if len(c.Roster) == 0 {
		fail("Roster", "is required: a node admits only peers on a verified roster")
	} else if len(c.Roster) > roster.MaxSignedRosterSize {
		fail("Roster", "is %d bytes, limit %d", len(c.Roster), roster.MaxSignedRosterSize)
	}
	seenRegion := map[string]bool{}
	for i, t := range c.Neighbours {
		field := fmt.Sprintf("Neighbours[%d]", i)
		if err := t.validate(c.Region); err != nil {
			fail(field, "%v", err)
		}
		if seenRegion[t.Region] {
			fail(field, "%s appears twice", t.Region)
		}
		seenRegion[t.Region] = true
	}
	if len(c.ListenAddrs) == 0 {
		fail("ListenAddrs", "is empty")
	}
	for i, s := range c.ListenAddrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			fail(fmt.Sprintf("ListenAddrs[%d]", i), "%q: %v", s, err)
			continue
		}
		if !isTCP(a) && !isQUIC(a) {
			fail(fmt.Sprintf("ListenAddrs[%d]", i), "%s is neither /ip…/tcp/PORT nor /ip…/udp/PORT/quic-v1", s)
		}
	}
	if c.ReconnectInterval <= 0 {
		fail("ReconnectInterval", "must be positive")
	}
	if c.DialBackoffMin <= 0 || c.DialBackoffMax < c.DialBackoffMin {
		fail("DialBackoffMin", "must be positive and at most DialBackoffMax (%s, %s)", c.DialBackoffMin, c.DialBackoffMax)
	}
	if c.DialTimeout <= 0 {
		fail("DialTimeout", "must be positive")
	}
	if c.MaxConcurrentDials < 1 {
		fail("MaxConcurrentDials", "must be at least 1")
	}
	if err := c.Limits.validate(); err != nil {
		errs = append(errs, fmt.Errorf("Limits: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

func validRegion(r string) bool {
	for _, x := range authority.Regions() {
		if x == r {
			return true
		}
	}
	return false
}

func isTCP(a ma.Multiaddr) bool {
	return len(a) == 2 && (a[0].Code() == ma.P_IP4 || a[0].Code() == ma.P_IP6) && a[1].Code() == ma.P_TCP
}

func isQUIC(a ma.Multiaddr) bool {
	return len(a) == 3 && (a[0].Code() == ma.P_IP4 || a[0].Code() == ma.P_IP6) &&
		a[1].Code() == ma.P_UDP && a[2].Code() == ma.P_QUIC_V1
}

// Limits sizes the libp2p resource manager for one region. The reasoning is
// in DESIGN.md ("Resource limits"); in short: every budget is per peer, the
// system budget is large enough that no one peer can starve the others, and
// the protocols that are not Raft are capped per peer so that Raft, under the
// default protocol limits, always has room.
type Limits struct {
	// Peers is how many peers the limits are sized for: the roster's maximum.
	Peers int
	// ConnsPerPeer caps connections with one peer, each way (TCP and QUIC,
	// and both sides dialling at once, make more than one normal).
	ConnsPerPeer int
	// StreamsPerPeer caps streams with one peer, each way.
	StreamsPerPeer int
	// MemoryPerPeer caps the memory one peer's connections may reserve, in
	// bytes. Every yamux stream reserves a 256 KiB window to start with.
	MemoryPerPeer int64
	// Memory caps the memory all of libp2p may reserve, in bytes.
	Memory int64
	// FileDescriptors caps the sockets libp2p may hold.
	FileDescriptors int
	// HandshakeConns caps connections not yet tied to a peer (handshakes in
	// progress, including those of strangers the gater will refuse).
	HandshakeConns int
	// ProtocolStreamsPerPeer caps the streams of one protocol with one peer,
	// each way, for protocols that are not Raft. Raft's protocols
	// (/nrmnet/raft/<panel>/1) are left out on purpose: they fall under the
	// default, which is only the per-peer cap.
	ProtocolStreamsPerPeer map[protocol.ID]int
}

// Protocol IDs of go-libp2p-pubsub, capped by default.
const (
	protoMeshsub10 protocol.ID = "/meshsub/1.0.0"
	protoMeshsub11 protocol.ID = "/meshsub/1.1.0"
	protoMeshsub12 protocol.ID = "/meshsub/1.2.0"
	protoMeshsub13 protocol.ID = "/meshsub/1.3.0"
	protoFloodsub  protocol.ID = "/floodsub/1.0.0"
	// The national router's protocol (gossip.NationalRouterProtocol; the
	// gossip package imports this one, so the name is repeated here).
	protoNational protocol.ID = "/meshsub/nrmnet-national/1.2.0"
)

// DefaultLimits returns limits for a region of up to roster.MaxMembers peers.
func DefaultLimits() Limits {
	return Limits{
		Peers:           roster.MaxMembers,
		ConnsPerPeer:    4,
		StreamsPerPeer:  128,
		MemoryPerPeer:   64 << 20,
		Memory:          1 << 30,
		FileDescriptors: 1024,
		HandshakeConns:  64,
		ProtocolStreamsPerPeer: map[protocol.ID]int{
			// GossipSub holds one long-lived stream each way per peer.
			protoMeshsub10: 4, protoMeshsub11: 4, protoMeshsub12: 4, protoMeshsub13: 4, protoFloodsub: 4,
			protoNational: 4,
		},
	}
}

func (l *Limits) validate() error {
	var errs []error
	if l.Peers < 1 {
		errs = append(errs, errors.New("Peers must be at least 1"))
	}
	if l.ConnsPerPeer < 1 {
		errs = append(errs, errors.New("ConnsPerPeer must be at least 1"))
	}
	if l.StreamsPerPeer < 8 {
		errs = append(errs, errors.New("StreamsPerPeer must be at least 8"))
	}
	if need := 2 * int64(l.StreamsPerPeer) * 256 << 10; l.MemoryPerPeer < need {
		errs = append(errs, fmt.Errorf("MemoryPerPeer %d is less than 2 x StreamsPerPeer x 256 KiB (%d): streams would fail for want of memory first",
			l.MemoryPerPeer, need))
	}
	if l.Memory < l.MemoryPerPeer {
		errs = append(errs, errors.New("Memory must be at least MemoryPerPeer"))
	}
	if l.FileDescriptors < l.Peers {
		errs = append(errs, errors.New("FileDescriptors must be at least Peers"))
	}
	if l.HandshakeConns < 1 {
		errs = append(errs, errors.New("HandshakeConns must be at least 1"))
	}
	for p, n := range l.ProtocolStreamsPerPeer {
		if n < 1 || n > l.StreamsPerPeer {
			errs = append(errs, fmt.Errorf("ProtocolStreamsPerPeer[%s] = %d is not between 1 and StreamsPerPeer", p, n))
		}
	}
	return errors.Join(errs...)
}
