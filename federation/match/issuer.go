package match

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cloudflare/circl/oprf"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	v1 "nrmnet/schemas/v1"
)

// MaxKeySize bounds one identity key, the OPRF input.
const MaxKeySize = 1024

// StreamHost is what the Issuer needs of a libp2p host: a handler for
// ProtocolID. host.Host and federation.Host's Libp2p() satisfy it.
type StreamHost interface {
	SetStreamHandler(pid protocol.ID, handler network.StreamHandler)
	RemoveStreamHandler(pid protocol.ID)
}

// QueryRecord is what the issuer audits about one query: who asked, about
// which alert, how many elements, and what it answered. It has no field that
// could hold an element.
type QueryRecord struct {
	At       time.Time
	Peer     peer.ID
	Alert    v1.ID // empty when the request was too malformed to name one
	Elements int
	Status   Status
}

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// Host serves ProtocolID. Required.
	Host StreamHost
	// Keys keeps each alert's OPRF key. Required.
	Keys KeyStore
	// Audit records every query before it is answered; when it fails, the
	// query is refused with StatusUnavailable. Required.
	Audit func(QueryRecord) error
	// Authorize, when set, decides whether a peer may query an alert (for
	// example, only the authorities the alert targets); an error refuses
	// the query with StatusRefused.
	Authorize func(p peer.ID, alert v1.ID) error
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; slog.Default() when nil. It never receives an element.
	Logger *slog.Logger

	// StreamTimeout bounds reading a request from the stream's opening, and
	// then writing the response.
	StreamTimeout time.Duration
	// MaxElementsPerRequest bounds one request (at most the protocol's
	// MaxElementsPerRequest).
	MaxElementsPerRequest int
	// Window is the rate-limit window.
	Window time.Duration
	// PeerElementsPerWindow bounds the elements one peer may have evaluated
	// in a Window, across all of this issuer's alerts.
	PeerElementsPerWindow int
	// AlertElementsPerWindow bounds the elements evaluated for one alert in
	// a Window, across all peers.
	AlertElementsPerWindow int
	// TokensPerAlert is the number of tokens IssueTokens returns: the
	// child's own tokens padded with random ones, so the count says nothing
	// about how the child's identity is recorded. An identity with more keys
	// gets as many tokens as keys (at most v1.MaxMatchTokens).
	TokensPerAlert int
}

// DefaultIssuerConfig returns the limits described in DESIGN.md; Host, Keys
// and Audit must still be set.
func DefaultIssuerConfig() IssuerConfig {
	return IssuerConfig{
		StreamTimeout:          10 * time.Second,
		MaxElementsPerRequest:  256,
		Window:                 time.Hour,
		PeerElementsPerWindow:  4096,
		AlertElementsPerWindow: 65536,
		TokensPerAlert:         32,
	}
}

// Validate reports every field missing or out of range.
func (c IssuerConfig) Validate() error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s %s", ErrConfig, field, fmt.Sprintf(format, args...)))
	}
	if c.Host == nil {
		fail("Host", "is nil")
	}
	if c.Keys == nil {
		fail("Keys", "is nil")
	}
	if c.Audit == nil {
		fail("Audit", "is nil: every query must be audited")
	}
	if c.StreamTimeout <= 0 {
		fail("StreamTimeout", "is %s, want > 0", c.StreamTimeout)
	}
	if c.MaxElementsPerRequest < 1 || c.MaxElementsPerRequest > MaxElementsPerRequest {
		fail("MaxElementsPerRequest", "is %d, want 1 to %d", c.MaxElementsPerRequest, MaxElementsPerRequest)
	}
	if c.Window <= 0 {
		fail("Window", "is %s, want > 0", c.Window)
	}
	if c.PeerElementsPerWindow < c.MaxElementsPerRequest {
		fail("PeerElementsPerWindow", "is %d, want at least MaxElementsPerRequest (%d)", c.PeerElementsPerWindow, c.MaxElementsPerRequest)
	}
	if c.AlertElementsPerWindow < c.PeerElementsPerWindow {
		fail("AlertElementsPerWindow", "is %d, want at least PeerElementsPerWindow (%d)", c.AlertElementsPerWindow, c.PeerElementsPerWindow)
	}
	if c.TokensPerAlert < 1 || c.TokensPerAlert > v1.MaxMatchTokens {
		fail("TokensPerAlert", "is %d, want 1 to %d", c.TokensPerAlert, v1.MaxMatchTokens)
	}
	return errors.Join(errs...)
}

// Issuer holds the OPRF keys of this node's alerts and answers other nodes'
// match queries about them.
type Issuer struct {
	cfg   IssuerConfig
	log   *slog.Logger
	now   func() time.Time
	allow *allowance

	mu       sync.Mutex // guards closed; wg.Add happens under it
	closed   bool
	handlers sync.WaitGroup
}

// NewIssuer validates cfg and starts serving ProtocolID on cfg.Host.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	is := &Issuer{cfg: cfg, log: cfg.Logger, now: cfg.Now, allow: newAllowance(cfg.Window)}
	if is.log == nil {
		is.log = slog.Default()
	}
	if is.now == nil {
		is.now = time.Now
	}
	cfg.Host.SetStreamHandler(ProtocolID, is.handle)
	return is, nil
}

// Close stops serving and waits for queries in flight. It is idempotent.
func (is *Issuer) Close() error {
	is.mu.Lock()
	if is.closed {
		is.mu.Unlock()
		return nil
	}
	is.closed = true
	is.mu.Unlock()
	is.cfg.Host.RemoveStreamHandler(ProtocolID)
	is.handlers.Wait()
	return nil
}

// IssueTokens draws a fresh OPRF key for alert, stores it until expires, and
// returns the alert's MatchTokens: the OPRF outputs of keys (the issuer's
// own child's identity keys), distinct, padded with random tokens to
// TokensPerAlert, and sorted, so neither their order nor their count says
// anything about the child. It refuses an alert that already has a key.
func (is *Issuer) IssueTokens(alert v1.ID, expires time.Time, keys [][]byte) ([][]byte, error) {
	if !alert.Valid() {
		return nil, fmt.Errorf("%w: alert ID %q", ErrBadAlert, alert)
	}
	if !expires.After(is.now()) {
		return nil, fmt.Errorf("%w: expires at %s, already past", ErrBadAlert, expires.UTC().Format(time.RFC3339))
	}
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	if len(keys) > v1.MaxMatchTokens {
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyKeys, len(keys), v1.MaxMatchTokens)
	}
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	if _, err := is.cfg.Keys.MatchKey(alert); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrAlertKeyExists, alert)
	} else if !errors.Is(err, ErrUnknownAlert) {
		return nil, fmt.Errorf("checking the key store for alert %s: %w", alert, err)
	}

	sk, err := oprf.GenerateKey(suite, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the OPRF key: %w", err)
	}
	server := oprf.NewServer(suite, sk)
	tokens := make([][]byte, 0, max(len(keys), is.cfg.TokensPerAlert))
	for _, k := range keys {
		t, err := server.FullEvaluate(k)
		if err != nil {
			return nil, fmt.Errorf("evaluating an identity key: %w", err)
		}
		tokens = append(tokens, t)
	}
	slices.SortFunc(tokens, bytes.Compare)
	tokens = slices.CompactFunc(tokens, bytes.Equal)
	for len(tokens) < is.cfg.TokensPerAlert {
		pad := make([]byte, v1.MatchTokenSize)
		if _, err := rand.Read(pad); err != nil {
			return nil, fmt.Errorf("drawing padding: %w", err)
		}
		tokens = append(tokens, pad)
	}
	slices.SortFunc(tokens, bytes.Compare)

	secret, err := sk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encoding the OPRF key: %w", err)
	}
	defer clear(secret)
	if err := is.cfg.Keys.PutMatchKey(alert, AlertKey{Secret: secret, ExpiresAt: expires}); err != nil {
		return nil, fmt.Errorf("storing the match key of alert %s: %w", alert, err)
	}
	return tokens, nil
}

// Retire forgets alert's OPRF key, for an alert withdrawn or expired: its
// tokens then match nothing, ever.
func (is *Issuer) Retire(alert v1.ID) error {
	if err := is.cfg.Keys.DeleteMatchKey(alert); err != nil {
		return fmt.Errorf("deleting the match key of alert %s: %w", alert, err)
	}
	return nil
}

func checkKeys(keys [][]byte) error {
	for i, k := range keys {
		if len(k) == 0 || len(k) > MaxKeySize {
			return fmt.Errorf("%w: key %d is %d bytes, want 1 to %d", ErrBadKey, i, len(k), MaxKeySize)
		}
	}
	return nil
}

// handle answers one query on one stream.
func (is *Issuer) handle(s network.Stream) {
	is.mu.Lock()
	if is.closed {
		is.mu.Unlock()
		_ = s.Reset()
		return
	}
	is.handlers.Add(1)
	is.mu.Unlock()
	defer is.handlers.Done()
	defer s.Close()

	_ = s.SetDeadline(time.Now().Add(is.cfg.StreamTimeout)) // real time: it bounds real I/O
	from := s.Conn().RemotePeer()
	resp := is.answer(from, s)
	// The read may have used up the deadline (a silent peer): the answer
	// gets its own.
	_ = s.SetWriteDeadline(time.Now().Add(is.cfg.StreamTimeout))
	if err := writeFrame(s, resp); err != nil {
		is.log.Debug("match: writing response", "peer", from, "err", err)
		_ = s.Reset()
	}
}

// answer decides the response to the request on r, auditing it first.
func (is *Issuer) answer(from peer.ID, r io.Reader) evalResponse {
	rec := QueryRecord{At: is.now(), Peer: from}
	refuse := func(st Status, retry time.Duration, why error) evalResponse {
		rec.Status = st
		if err := is.cfg.Audit(rec); err != nil {
			is.log.Error("match: auditing a refused query", "peer", from, "alert", rec.Alert, "err", err)
		}
		is.log.Info("match: query refused", "peer", from, "alert", rec.Alert, "elements", rec.Elements, "status", st, "reason", why)
		resp := evalResponse{Status: st}
		if st == StatusRateLimited {
			resp.RetryAfter = uint32(min(math.Ceil(retry.Seconds()), math.MaxUint32))
		}
		return resp
	}

	body, err := readFrame(r)
	if err != nil {
		return refuse(StatusBadRequest, 0, err)
	}
	req, err := decodeRequest(body)
	if err != nil {
		return refuse(StatusBadRequest, 0, err)
	}
	rec.Alert, rec.Elements = req.Alert, len(req.Elements)
	if len(req.Elements) > is.cfg.MaxElementsPerRequest {
		return refuse(StatusBadRequest, 0, fmt.Errorf("%d elements, limit %d", len(req.Elements), is.cfg.MaxElementsPerRequest))
	}
	if is.cfg.Authorize != nil {
		if err := is.cfg.Authorize(from, req.Alert); err != nil {
			return refuse(StatusRefused, 0, err)
		}
	}
	key, err := is.cfg.Keys.MatchKey(req.Alert)
	switch {
	case errors.Is(err, ErrUnknownAlert):
		return refuse(StatusUnknownAlert, 0, err)
	case err != nil:
		return refuse(StatusUnavailable, 0, err)
	}
	defer clear(key.Secret)
	if !rec.At.Before(key.ExpiresAt) {
		return refuse(StatusExpired, 0, fmt.Errorf("expired at %s", key.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	if ok, wait := is.allow.take(rec.At, len(req.Elements),
		[]string{"peer/" + string(from), "alert/" + string(req.Alert)},
		[]int{is.cfg.PeerElementsPerWindow, is.cfg.AlertElementsPerWindow}); !ok {
		return refuse(StatusRateLimited, wait, fmt.Errorf("allowance used up for %s", wait.Round(time.Second)))
	}

	var sk oprf.PrivateKey
	if err := sk.UnmarshalBinary(suite, key.Secret); err != nil {
		return refuse(StatusUnavailable, 0, fmt.Errorf("stored key: %w", err))
	}
	elems, err := decodeElements(req.Elements)
	if err != nil { // decodeRequest already checked them
		return refuse(StatusBadRequest, 0, err)
	}
	rec.Status = StatusOK
	if err := is.cfg.Audit(rec); err != nil {
		is.log.Error("match: audit failed; query refused", "peer", from, "alert", rec.Alert, "err", err)
		rec.Status = StatusUnavailable
		return evalResponse{Status: StatusUnavailable}
	}
	ev, err := oprf.NewServer(suite, &sk).Evaluate(&oprf.EvaluationRequest{Elements: elems})
	if err != nil {
		return evalResponse{Status: StatusUnavailable}
	}
	out, err := encodeElements(ev.Elements)
	if err != nil {
		return evalResponse{Status: StatusUnavailable}
	}
	is.log.Debug("match: query answered", "peer", from, "alert", rec.Alert, "elements", rec.Elements)
	return evalResponse{Status: StatusOK, Elements: out}
}
