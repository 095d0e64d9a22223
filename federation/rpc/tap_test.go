package rpc

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/schemas"
)

// frameTap keeps, for every relocation stream of the hosts it wraps, the
// bytes this side wrote: exactly one frame per stream and side. Every frame
// of a scenario is written by one of the wrapped hosts, so the tap holds all
// of them, in plaintext (above libp2p's Noise or TLS).
type frameTap struct {
	mu     sync.Mutex
	frames [][]byte
}

func (ft *frameTap) wrap(h host.Host) host.Host { return tappedHost{Host: h, tap: ft} }

func (ft *frameTap) all() [][]byte {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	out := make([][]byte, len(ft.frames))
	for i, f := range ft.frames {
		out[i] = bytes.Clone(f)
	}
	return out
}

type tappedHost struct {
	host.Host
	tap *frameTap
}

func (h tappedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return h.tap.stream(s), nil
}

func (h tappedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(h.tap.stream(s)) })
}

func (ft *frameTap) stream(s network.Stream) network.Stream {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.frames = append(ft.frames, nil)
	return &tappedStream{Stream: s, tap: ft, i: len(ft.frames) - 1}
}

type tappedStream struct {
	network.Stream
	tap *frameTap
	i   int
}

func (s *tappedStream) Write(p []byte) (int, error) {
	s.tap.mu.Lock()
	s.tap.frames[s.i] = append(s.tap.frames[s.i], p...)
	s.tap.mu.Unlock()
	return s.Stream.Write(p)
}

// frameTypes decodes every tapped frame and returns, for each, its message
// type and whether it holds needle.
func frameTypes(t *testing.T, frames [][]byte, needle string) (types []MessageType, holds []bool) {
	t.Helper()
	for _, f := range frames {
		if len(f) == 0 {
			continue
		}
		body, err := readFrame(bytes.NewReader(f))
		if err != nil {
			t.Fatalf("tapped frame: %v", err)
		}
		d, err := decodeMessage(body)
		if err != nil {
			t.Fatalf("tapped frame: %v", err)
		}
		types = append(types, d.Type)
		holds = append(holds, bytes.Contains(f, []byte(needle)))
	}
	return types, holds
}

// snapshot returns every stored record of the nodes, encoded.
func snapshot(t *testing.T, nodes ...*node) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, n := range nodes {
		hs, err := n.service().List(bg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range hs {
			b, err := schemas.Marshal(&hs[i])
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
		}
	}
	return buf.Bytes()
}

// rawExchange sends a prepared frame from h to n's node on the relocation
// protocol and returns the decoded reply.
func rawExchange(h host.Host, n *node, frame []byte) (message, error) {
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	st, err := h.NewStream(ctx, n.host.ID(), ProtocolID)
	if err != nil {
		return message{}, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(10 * time.Second))
	if err := writeFrame(st, frame); err != nil {
		return message{}, err
	}
	_ = st.CloseWrite()
	body, err := readFrame(st)
	if err != nil {
		return message{}, fmt.Errorf("no reply: %w", err)
	}
	d, err := decodeMessage(body)
	if err != nil {
		return message{}, err
	}
	return d.message, nil
}
