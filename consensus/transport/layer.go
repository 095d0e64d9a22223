package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/consensus/raftstore"
	v1 "nrmnet/schemas/v1"
)

// Errors returned by the package. Match them with errors.Is.
var (
	// ErrInvalidConfig wraps the problems Config.Validate finds.
	ErrInvalidConfig = errors.New("raft transport: invalid config")
	// ErrClosed is returned by Accept and Dial once the layer is closed.
	ErrClosed = errors.New("raft transport: closed")
	// ErrBadAddress is returned by Dial for a server address that is not a
	// libp2p peer ID.
	ErrBadAddress = errors.New("raft transport: server address is not a peer ID")
	// ErrNotAdmitted is returned by Dial for a peer that Admit refuses: raft
	// talks only to the panel's members.
	ErrNotAdmitted = errors.New("raft transport: peer is not a member of the panel")
)

// ProtocolID returns the libp2p protocol that carries a panel's Raft RPCs.
func ProtocolID(panel v1.PanelID) protocol.ID {
	return protocol.ID("/nrmnet/raft/" + string(panel) + "/1")
}

// Config configures a StreamLayer and the raft.NetworkTransport around it.
type Config struct {
	// Panel names the panel; its Raft RPCs use ProtocolID(Panel).
	Panel v1.PanelID
	// Host is the node's libp2p host. The layer registers a stream handler
	// on it and removes it on Close; closing the host is the caller's job.
	Host host.Host
	// Admit says whether a peer may exchange Raft RPCs for this panel. It is
	// called for every inbound stream and every dial, from several
	// goroutines, and must be fast. Required.
	Admit func(peer.ID) bool

	// MaxPool is how many idle streams raft keeps per peer for reuse.
	MaxPool int `yaml:"max_pool"`
	// Timeout is raft's I/O deadline for one RPC (scaled up for snapshots).
	Timeout time.Duration `yaml:"timeout"`
	// AcceptBacklog is how many admitted inbound streams may wait for raft to
	// accept them; past it a new stream is reset.
	AcceptBacklog int `yaml:"accept_backlog"`

	// Logger receives the layer's and raft's transport messages. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns settings for authorities on ordinary links: a pool of
// four streams per peer (raft uses one for pipelined appends, one for
// heartbeats and the rest for votes, snapshots and bursts) and a 10 s RPC
// deadline.
func DefaultConfig() Config {
	return Config{MaxPool: 4, Timeout: 10 * time.Second, AcceptBacklog: 64}
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if !c.Panel.Valid() {
		errs = append(errs, fmt.Errorf("panel %q is not a valid panel ID", c.Panel))
	}
	if c.Host == nil {
		errs = append(errs, errors.New("host is required"))
	}
	if c.Admit == nil {
		errs = append(errs, errors.New("admit is required: raft streams are accepted only from panel members"))
	}
	if c.MaxPool < 1 {
		errs = append(errs, fmt.Errorf("max_pool %d must be at least 1", c.MaxPool))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %s must be positive", c.Timeout))
	}
	if c.AcceptBacklog < 1 {
		errs = append(errs, fmt.Errorf("accept_backlog %d must be at least 1", c.AcceptBacklog))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// StreamLayer is a raft.StreamLayer over libp2p streams of one panel's
// protocol. It is safe for concurrent use.
type StreamLayer struct {
	host   host.Host
	proto  protocol.ID
	admit  func(peer.ID) bool
	logger *slog.Logger

	incoming chan *streamConn
	done     chan struct{}

	mu     sync.Mutex
	closed bool
	open   map[*streamConn]struct{}
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer validates cfg and starts accepting the panel's streams.
func NewStreamLayer(cfg Config) (*StreamLayer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	l := &StreamLayer{
		host:     cfg.Host,
		proto:    ProtocolID(cfg.Panel),
		admit:    cfg.Admit,
		logger:   logger.With("panel", string(cfg.Panel), "protocol", string(ProtocolID(cfg.Panel))),
		incoming: make(chan *streamConn, cfg.AcceptBacklog),
		done:     make(chan struct{}),
		open:     make(map[*streamConn]struct{}),
	}
	cfg.Host.SetStreamHandler(l.proto, l.handle)
	return l, nil
}

// New builds the layer and raft's NetworkTransport around it. Closing the
// transport closes the layer.
func New(cfg Config) (*raft.NetworkTransport, *StreamLayer, error) {
	l, err := NewStreamLayer(cfg)
	if err != nil {
		return nil, nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  l,
		MaxPool: cfg.MaxPool,
		Timeout: cfg.Timeout,
		Logger:  raftstore.HCLogger(l.logger),
	})
	return trans, l, nil
}

// handle runs on libp2p's goroutine for each inbound stream.
func (l *StreamLayer) handle(s network.Stream) {
	remote := s.Conn().RemotePeer()
	if !l.admit(remote) {
		l.logger.Warn("refused raft stream from a peer that is not a panel member", "peer", remote.String())
		_ = s.Reset()
		return
	}
	c, ok := l.track(s)
	if !ok {
		_ = s.Reset()
		return
	}
	select {
	case l.incoming <- c:
	case <-l.done:
		_ = c.Reset()
	default:
		l.logger.Warn("raft accept backlog full; stream reset", "peer", remote.String())
		_ = c.Reset()
	}
}

func (l *StreamLayer) track(s network.Stream) (*streamConn, bool) {
	c := &streamConn{Stream: s, layer: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, false
	}
	l.open[c] = struct{}{}
	return c, true
}

func (l *StreamLayer) untrack(c *streamConn) {
	l.mu.Lock()
	delete(l.open, c)
	l.mu.Unlock()
}

// Accept waits for the next admitted inbound stream.
func (l *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.incoming:
		return c, nil
	case <-l.done:
		return nil, ErrClosed
	}
}

// Dial opens a stream of the panel's protocol to the peer whose ID is addr.
func (l *StreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	select {
	case <-l.done:
		return nil, ErrClosed
	default:
	}
	p, err := peer.Decode(string(addr))
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrBadAddress, addr, err)
	}
	if !l.admit(p) {
		return nil, fmt.Errorf("%w: %s", ErrNotAdmitted, p)
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	s, err := l.host.NewStream(ctx, p, l.proto)
	if err != nil {
		return nil, fmt.Errorf("raft transport: open stream to %s: %w", p, err)
	}
	c, ok := l.track(s)
	if !ok {
		_ = s.Reset()
		return nil, ErrClosed
	}
	return c, nil
}

// Addr returns this node's server address: its peer ID.
func (l *StreamLayer) Addr() net.Addr { return peerAddr(l.host.ID()) }

// Sever resets every open stream with p, both directions, and returns how
// many there were. Call it when p leaves the panel: Admit already refuses its
// new streams, and this ends the ones it holds.
func (l *StreamLayer) Sever(p peer.ID) int {
	l.mu.Lock()
	var victims []*streamConn
	for c := range l.open {
		if c.Conn().RemotePeer() == p {
			victims = append(victims, c)
		}
	}
	l.mu.Unlock()
	for _, c := range victims {
		_ = c.Reset()
	}
	return len(victims)
}

// OpenStreams returns how many of the panel's streams are open now.
func (l *StreamLayer) OpenStreams() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// Close stops accepting, removes the stream handler and resets every stream
// still open (raft's inbound handlers would otherwise wait on them until the
// remote side hung up). It is idempotent.
func (l *StreamLayer) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	open := make([]*streamConn, 0, len(l.open))
	for c := range l.open {
		open = append(open, c)
	}
	l.mu.Unlock()

	l.host.RemoveStreamHandler(l.proto)
	for _, c := range open {
		_ = c.Reset()
	}
	for {
		select {
		case c := <-l.incoming:
			_ = c.Reset()
		default:
			return nil
		}
	}
}

// streamConn is a libp2p stream seen as a net.Conn by raft.
type streamConn struct {
	network.Stream
	layer *StreamLayer
	once  sync.Once
}

var _ net.Conn = (*streamConn)(nil)

func (c *streamConn) LocalAddr() net.Addr  { return peerAddr(c.Conn().LocalPeer()) }
func (c *streamConn) RemoteAddr() net.Addr { return peerAddr(c.Conn().RemotePeer()) }

// Read reports a stream the other side reset (it shut down, its connection
// went, or it severed us) as the end of the stream: raft's transport takes
// io.EOF as a peer going away and logs anything else as "failed to decode
// incoming command" at Error, which every member's shutdown would raise. A
// reset in the middle of a message still fails that message's decoding.
func (c *streamConn) Read(b []byte) (int, error) {
	n, err := c.Stream.Read(b)
	if err != nil && errors.Is(err, network.ErrReset) {
		err = io.EOF
	}
	return n, err
}

func (c *streamConn) Close() error {
	c.once.Do(func() { c.layer.untrack(c) })
	return c.Stream.Close()
}

func (c *streamConn) Reset() error {
	c.once.Do(func() { c.layer.untrack(c) })
	return c.Stream.Reset()
}

// peerAddr is a net.Addr naming a peer; its String is the raft server address.
type peerAddr peer.ID

func (a peerAddr) Network() string { return "libp2p" }
func (a peerAddr) String() string  { return peer.ID(a).String() }
