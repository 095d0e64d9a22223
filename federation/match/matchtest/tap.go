// Package matchtest helps leak tests of private matching: a Tap keeps a copy
// of every byte read from or written to the match streams of the hosts it
// wraps, so a test can search what crossed the wire for canaries and keys.
// It is for tests only.
package matchtest

import (
	"bytes"
	"context"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Tap records stream bytes; the zero Tap is ready to use and safe for
// concurrent use.
type Tap struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Bytes returns a copy of everything recorded so far.
func (t *Tap) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf.Bytes())
}

func (t *Tap) add(p []byte) {
	t.mu.Lock()
	t.buf.Write(p)
	t.mu.Unlock()
}

// Opener wraps h so that the streams it opens are recorded (for a Receiver).
func (t *Tap) Opener(h host.Host) Opener { return Opener{h, t} }

// Handlers wraps h so that the streams its handlers accept are recorded (for
// an Issuer).
func (t *Tap) Handlers(h host.Host) Handlers { return Handlers{h, t} }

// Opener is a host whose outgoing streams are recorded.
type Opener struct {
	host.Host
	tap *Tap
}

// NewStream opens a recorded stream.
func (o Opener) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := o.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return stream{s, o.tap}, nil
}

// Handlers is a host whose incoming streams are recorded.
type Handlers struct {
	host.Host
	tap *Tap
}

// SetStreamHandler registers handler with every stream it gets recorded.
func (h Handlers) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(stream{s, h.tap}) })
}

type stream struct {
	network.Stream
	tap *Tap
}

func (s stream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	s.tap.add(p[:n])
	return n, err
}

func (s stream) Write(p []byte) (int, error) {
	s.tap.add(p)
	return s.Stream.Write(p)
}
