package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// wiretap records the plaintext of every libp2p stream of the connections
// whose stream multiplexer it wraps (federation.Config.WrapMuxer). The
// multiplexer runs above Noise or TLS, so what a stream reads and writes
// here is exactly what the encryption carries for it: the multistream
// negotiation, then the protocol's own bytes. One tap is shared by every
// node of a test, so each stream is recorded twice, once at each end.
//
// The yamux framing itself (stream IDs, window updates, pings) is not
// recorded: it carries no application data.
type wiretap struct {
	mu      sync.Mutex
	conns   int
	streams []*tappedStream
}

// wrap is a federation.Config.WrapMuxer.
func (w *wiretap) wrap(m network.Multiplexer) network.Multiplexer {
	return tapMuxer{inner: m, tap: w}
}

// Conns is how many connections the tap has seen set up.
func (w *wiretap) Conns() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conns
}

// Streams returns a copy of every stream end recorded so far.
func (w *wiretap) Streams() []capturedStream {
	w.mu.Lock()
	all := slices.Clone(w.streams)
	w.mu.Unlock()
	out := make([]capturedStream, len(all))
	for i, s := range all {
		out[i] = s.snapshot()
	}
	return out
}

func (w *wiretap) stream(s network.MuxedStream, local, remote peer.ID, opened bool) network.MuxedStream {
	ts := &tappedStream{MuxedStream: s, local: local, remote: remote, opened: opened, at: time.Now()}
	w.mu.Lock()
	w.streams = append(w.streams, ts)
	w.mu.Unlock()
	return ts
}

type tapMuxer struct {
	inner network.Multiplexer
	tap   *wiretap
}

// peersOf is what the secured connection handed to a multiplexer knows of
// its two ends (sec.SecureConn).
type peersOf interface {
	LocalPeer() peer.ID
	RemotePeer() peer.ID
}

func (m tapMuxer) NewConn(c net.Conn, isServer bool, scope network.PeerScope) (network.MuxedConn, error) {
	mc, err := m.inner.NewConn(c, isServer, scope)
	if err != nil {
		return nil, err
	}
	tc := &tapConn{MuxedConn: mc, tap: m.tap}
	if p, ok := c.(peersOf); ok {
		tc.local, tc.remote = p.LocalPeer(), p.RemotePeer()
	}
	m.tap.mu.Lock()
	m.tap.conns++
	m.tap.mu.Unlock()
	return tc, nil
}

type tapConn struct {
	network.MuxedConn
	tap           *wiretap
	local, remote peer.ID
}

func (c *tapConn) OpenStream(ctx context.Context) (network.MuxedStream, error) {
	s, err := c.MuxedConn.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return c.tap.stream(s, c.local, c.remote, true), nil
}

func (c *tapConn) AcceptStream() (network.MuxedStream, error) {
	s, err := c.MuxedConn.AcceptStream()
	if err != nil {
		return nil, err
	}
	return c.tap.stream(s, c.local, c.remote, false), nil
}

// tappedStream is one end of a stream: what it wrote (out) and read (in).
type tappedStream struct {
	network.MuxedStream
	local, remote peer.ID
	opened        bool
	at            time.Time

	mu      sync.Mutex
	out, in []byte
}

func (s *tappedStream) Read(p []byte) (int, error) {
	n, err := s.MuxedStream.Read(p)
	if n > 0 {
		s.mu.Lock()
		s.in = append(s.in, p[:n]...)
		s.mu.Unlock()
	}
	return n, err
}

func (s *tappedStream) Write(p []byte) (int, error) {
	n, err := s.MuxedStream.Write(p)
	if n > 0 {
		s.mu.Lock()
		s.out = append(s.out, p[:n]...)
		s.mu.Unlock()
	}
	return n, err
}

func (s *tappedStream) snapshot() capturedStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := capturedStream{Local: s.local, Remote: s.remote, Opened: s.opened, At: s.at,
		Out: bytes.Clone(s.out), In: bytes.Clone(s.in)}
	c.Protocol, c.Refused = negotiatedProtocol(c.responderBytes())
	if proposed := multistreamLines(c.initiatorBytes()); len(proposed) > 0 {
		c.Proposed = protocol.ID(proposed[0])
	}
	return c
}

// capturedStream is one recorded stream end.
type capturedStream struct {
	Local, Remote peer.ID
	// Opened is true at the end that opened the stream.
	Opened bool
	// At is when the stream was opened or accepted.
	At time.Time
	// Out is what this end wrote; In what it read.
	Out, In []byte
	// Protocol is the protocol the multistream negotiation settled on, as
	// this end read or wrote the answer; empty if this end never saw one
	// (a refusal, a stream reset first, or an opener that writes without
	// reading, as identify push does).
	Protocol protocol.ID
	// Proposed is the first protocol the opener asked for.
	Proposed protocol.ID
	// Refused is set when the responder refused every protocol asked for.
	Refused bool
}

// Proto is the protocol the stream's bytes went on: the one negotiated, or
// else the one the opener asked for (with lazy negotiation the opener may
// write its data before the answer comes, so the bytes cross even when the
// answer is a refusal or never read).
func (c capturedStream) Proto() protocol.ID {
	if c.Protocol != "" {
		return c.Protocol
	}
	return c.Proposed
}

// Label names the stream's protocol for a summary.
func (c capturedStream) Label() string {
	switch {
	case c.Protocol != "":
		return string(c.Protocol)
	case c.Refused:
		return string(c.Proposed) + " (refused)"
	case c.Proposed != "":
		return string(c.Proposed) + " (answer not read at this end)"
	}
	return "(nothing negotiated)"
}

// Bytes is everything the stream carried, both ways.
func (c capturedStream) Bytes() []byte { return append(bytes.Clone(c.Out), c.In...) }

// Between reports whether the stream joins peers a and b (either way).
func (c capturedStream) Between(a, b peer.ID) bool {
	return (c.Local == a && c.Remote == b) || (c.Local == b && c.Remote == a)
}

// responderBytes is what the end that accepted the stream wrote: its
// multistream answers come first.
func (c capturedStream) responderBytes() []byte {
	if c.Opened {
		return c.In
	}
	return c.Out
}

// initiatorBytes is what the end that opened the stream wrote.
func (c capturedStream) initiatorBytes() []byte {
	if c.Opened {
		return c.Out
	}
	return c.In
}

// multistreamHeader opens every multistream-select exchange.
const multistreamHeader = "/multistream/1.0.0"

// negotiatedProtocol reads the responder's side of a multistream-select
// exchange: the header, a "na" for each protocol it refused, then the
// protocol it accepted, echoed. It returns that protocol, or "" and whether
// the responder refused what it was asked.
func negotiatedProtocol(b []byte) (p protocol.ID, refused bool) {
	for _, line := range multistreamLines(b) {
		if line == "na" {
			refused = true
			continue
		}
		return protocol.ID(line), false
	}
	return "", refused
}

// multistreamLines returns the multistream-select messages at the start
// of b (each a uvarint length, then text ending in a newline), without the
// header and newlines, stopping at the first bytes that are not one.
func multistreamLines(b []byte) []string {
	var lines []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n == 0 || n > 1024 || uint64(len(b)-k) < n {
			break
		}
		msg := b[k : k+int(n)]
		b = b[k+int(n):]
		if msg[len(msg)-1] != '\n' {
			break
		}
		if line := strings.TrimSuffix(string(msg), "\n"); line != multistreamHeader {
			lines = append(lines, line)
		}
	}
	return lines
}
