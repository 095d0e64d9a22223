package match_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"

	"nrmnet/federation/match"
	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// response mirrors the wire response, to read raw streams.
type response struct {
	Status     match.Status `cbor:"status"`
	Elements   [][]byte     `cbor:"elems,omitempty"`
	RetryAfter uint32       `cbor:"retry_after,omitempty"`
}

// A peer that sends garbage, an oversized length, or nothing at all gets a
// bad-request refusal (audited, with no alert named) and costs the issuer
// at most StreamTimeout; nothing is evaluated.
func TestMalformedAndSlowRequests(t *testing.T) {
	issuerHost, aHost := newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	audit := &auditLog{}
	newIssuer(t, issuerHost, match.NewMemoryKeyStore(), audit, func(c *match.IssuerConfig) {
		c.StreamTimeout = 300 * time.Millisecond
	})
	for _, c := range []struct {
		name string
		send func(s network.Stream) error
	}{
		{"garbage", func(s network.Stream) error {
			_, err := s.Write([]byte{0, 0, 0, 5, 0xff, 0xfe, 0xfd, 0xfc, 0xfb})
			return err
		}},
		{"oversized length", func(s network.Stream) error {
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], 1<<30)
			_, err := s.Write(hdr[:])
			return err
		}},
		{"truncated body", func(s network.Stream) error {
			if _, err := s.Write([]byte{0, 0, 1, 0, 0xa2}); err != nil {
				return err
			}
			return s.CloseWrite()
		}},
		{"silent", func(network.Stream) error { return nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := aHost.NewStream(ctxFor(t), issuerHost.ID(), match.ProtocolID)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_ = s.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.send(s); err != nil {
				t.Fatal(err)
			}
			var hdr [4]byte
			if _, err := io.ReadFull(s, hdr[:]); err != nil {
				t.Fatalf("no response: %v", err)
			}
			body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
			if _, err := io.ReadFull(s, body); err != nil {
				t.Fatal(err)
			}
			var r response
			if err := schemas.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			if r.Status != match.StatusBadRequest || len(r.Elements) != 0 {
				t.Fatalf("response %+v, want bad_request", r)
			}
		})
	}
	recs := audit.all()
	if len(recs) != 4 {
		t.Fatalf("audited %d queries, want 4", len(recs))
	}
	for _, r := range recs {
		if r.Status != match.StatusBadRequest || r.Alert != "" || r.Peer != aHost.ID() {
			t.Errorf("audit %+v, want a bad request from %s naming no alert", r, aHost.ID())
		}
	}
}

// An issuer that never answers costs the receiver RequestTimeout.
func TestReceiverTimesOut(t *testing.T) {
	issuerHost, aHost := newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	issuerHost.SetStreamHandler(match.ProtocolID, func(s network.Stream) {
		select {
		case <-hold:
		case <-time.After(20 * time.Second):
		}
		_ = s.Reset()
	})
	cfg := match.DefaultReceiverConfig()
	cfg.Host, cfg.RequestTimeout = aHost, 300*time.Millisecond
	r, err := match.NewReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	alert := alertWith(v1.NewID(), [][]byte{make([]byte, v1.MatchTokenSize)})
	_, err = r.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{{Case: v1.NewID(), Keys: childKeys}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent issuer: %v, want the request deadline", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Match(ctxFor(t), issuerHost.ID(), alert, nil); !errors.Is(err, match.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	h := newHost(t)
	good := match.DefaultIssuerConfig()
	good.Host, good.Keys, good.Audit = h, match.NewMemoryKeyStore(), (&auditLog{}).record
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		edit  func(*match.IssuerConfig)
	}{
		{"Host", func(c *match.IssuerConfig) { c.Host = nil }},
		{"Keys", func(c *match.IssuerConfig) { c.Keys = nil }},
		{"Audit", func(c *match.IssuerConfig) { c.Audit = nil }},
		{"StreamTimeout", func(c *match.IssuerConfig) { c.StreamTimeout = 0 }},
		{"MaxElementsPerRequest", func(c *match.IssuerConfig) { c.MaxElementsPerRequest = match.MaxElementsPerRequest + 1 }},
		{"PeerElementsPerWindow", func(c *match.IssuerConfig) { c.PeerElementsPerWindow = 1 }},
		{"AlertElementsPerWindow", func(c *match.IssuerConfig) { c.AlertElementsPerWindow = 1 }},
		{"TokensPerAlert", func(c *match.IssuerConfig) { c.TokensPerAlert = v1.MaxMatchTokens + 1 }},
		{"Window", func(c *match.IssuerConfig) { c.Window = 0 }},
	} {
		cfg := good
		c.edit(&cfg)
		_, err := match.NewIssuer(cfg)
		if !errors.Is(err, match.ErrConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v", c.field, err)
		}
	}
	rc := match.DefaultReceiverConfig()
	if _, err := match.NewReceiver(rc); !errors.Is(err, match.ErrConfig) {
		t.Errorf("receiver without a host: %v", err)
	}
}

// IssueTokens refuses what it cannot make an alert of.
func TestIssueTokensRefuses(t *testing.T) {
	is := newIssuer(t, newHost(t), match.NewMemoryKeyStore(), &auditLog{})
	later := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name string
		id   v1.ID
		exp  time.Time
		keys [][]byte
		want error
	}{
		{"bad ID", "nope", later, childKeys, match.ErrBadAlert},
		{"already expired", v1.NewID(), time.Now().Add(-time.Second), childKeys, match.ErrBadAlert},
		{"no keys", v1.NewID(), later, nil, match.ErrNoKeys},
		{"empty key", v1.NewID(), later, [][]byte{{}}, match.ErrBadKey},
		{"huge key", v1.NewID(), later, [][]byte{make([]byte, match.MaxKeySize+1)}, match.ErrBadKey},
		{"too many keys", v1.NewID(), later, make([][]byte, v1.MaxMatchTokens+1), match.ErrTooManyKeys},
	} {
		if _, err := is.IssueTokens(c.id, c.exp, c.keys); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
