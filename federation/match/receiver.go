package match

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	v1 "nrmnet/schemas/v1"
)

// StreamOpener is what the Receiver needs of a libp2p host: a stream to the
// issuer. host.Host and federation.Host's Libp2p() satisfy it.
type StreamOpener interface {
	NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error)
}

// ReceiverConfig configures a Receiver.
type ReceiverConfig struct {
	// Host opens streams to issuers. Required.
	Host StreamOpener
	// RequestTimeout bounds one request, from stream open to response read.
	RequestTimeout time.Duration
	// MaxElementsPerRequest splits a query into requests of at most this
	// many elements; at most the issuers' own limit.
	MaxElementsPerRequest int
	// Now is the clock (when an issuer's rate limit ends, when an alert's
	// progress is forgotten); time.Now when nil.
	Now func() time.Time
	// Logger; slog.Default() when nil. It never receives a key or element.
	Logger *slog.Logger
}

// DefaultReceiverConfig returns defaults matching DefaultIssuerConfig; Host
// must still be set.
func DefaultReceiverConfig() ReceiverConfig {
	return ReceiverConfig{RequestTimeout: 10 * time.Second, MaxElementsPerRequest: 256}
}

// Validate reports every field missing or out of range.
func (c ReceiverConfig) Validate() error {
	var errs []error
	if c.Host == nil {
		errs = append(errs, fmt.Errorf("%w: Host is nil", ErrConfig))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: RequestTimeout is %s, want > 0", ErrConfig, c.RequestTimeout))
	}
	if c.MaxElementsPerRequest < 1 || c.MaxElementsPerRequest > MaxElementsPerRequest {
		errs = append(errs, fmt.Errorf("%w: MaxElementsPerRequest is %d, want 1 to %d", ErrConfig, c.MaxElementsPerRequest, MaxElementsPerRequest))
	}
	return errors.Join(errs...)
}

// Candidate is one of the receiver's own cases, narrowed to the alert's age
// band and sex, with its child's identity keys.
type Candidate struct {
	Case v1.ID
	Keys [][]byte
}

// Match is a candidate case that may be the alert's child. Keys are the
// indexes, into the candidate's Keys, of the keys that met a token, so the
// caller can say how strong the match is. A match is a task for a person,
// never a reason to share anything.
type Match struct {
	Case v1.ID
	Keys []int
}

// Receiver asks issuers about this node's candidate cases. It remembers,
// per alert, the answer for every key the issuer evaluated, so that a query
// cut short (the issuer's rate limit, a lost connection, a deadline)
// resumes where it stopped instead of spending the next allowance on the
// same keys: without that, a caseload with more keys than one window's
// allowance would never be matched in full.
type Receiver struct {
	cfg ReceiverConfig
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	closed   bool
	inFlight sync.WaitGroup
	progress map[v1.ID]*progress
}

// progress is what the receiver has learned of one alert's query so far.
type progress struct {
	forget time.Time          // the alert's expiry: dropped after it
	hits   map[keyDigest]bool // per key evaluated: whether it met a token
	wait   time.Time          // the issuer's rate limit: not asked before
}

// keyDigest stands for an identity key in progress (32 bytes, whatever the
// key's length).
type keyDigest [sha256.Size]byte

// Bounds of what the receiver remembers: alerts part-way through (the
// earliest to expire is forgotten first; it starts again if asked), and how
// long an alert with no expiry is kept.
const (
	maxProgressAlerts = 64
	progressTTL       = 24 * time.Hour
)

// NewReceiver validates cfg and returns a Receiver.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Receiver{cfg: cfg, log: cfg.Logger, now: cfg.Now, progress: map[v1.ID]*progress{}}
	if r.log == nil {
		r.log = slog.Default()
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Close refuses new queries and waits for those in flight. It is idempotent.
func (r *Receiver) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.inFlight.Wait()
	return nil
}

// Match asks issuer, the peer of the authority that issued alert, to
// evaluate its OPRF on the blinded keys of cands, and returns the candidates
// whose keys meet one of the alert's tokens. Keys shared by several
// candidates are asked about once, and keys already answered for this alert
// (by an earlier Match cut short) are not asked again. Every candidate's
// strongest key goes before anyone's second, so a match is likely found
// early. Requests go out in batches of MaxElementsPerRequest; if one fails
// (a refusal comes back as the error for its Status, e.g. ErrRateLimited),
// Match returns the matches found so far with the error. After a rate
// limit it does not ask the issuer about the alert again until the limit
// ends: it returns what it knows with a *RateLimitError.
func (r *Receiver) Match(ctx context.Context, issuer peer.ID, alert *v1.CrossBorderAlert, cands []Candidate) ([]Match, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	r.inFlight.Add(1)
	r.mu.Unlock()
	defer r.inFlight.Done()

	tokens, err := alertTokens(alert)
	if err != nil {
		return nil, err
	}
	// Distinct keys, and which candidates' keys each one is; each key's
	// rank is its lowest index in a candidate's keys (0: strongest).
	type owner struct{ cand, key int }
	var inputs [][]byte
	owners := map[string][]owner{}
	rank := map[string]int{}
	for ci, c := range cands {
		if !c.Case.Valid() {
			return nil, fmt.Errorf("%w: candidate %d has case ID %q", ErrBadKey, ci, c.Case)
		}
		if err := checkKeys(c.Keys); err != nil {
			return nil, fmt.Errorf("candidate %d: %w", ci, err)
		}
		for ki, k := range c.Keys {
			if _, seen := owners[string(k)]; !seen {
				inputs = append(inputs, k)
				rank[string(k)] = ki
			}
			owners[string(k)] = append(owners[string(k)], owner{ci, ki})
			rank[string(k)] = min(rank[string(k)], ki)
		}
	}
	slices.SortStableFunc(inputs, func(a, b []byte) int { return rank[string(a)] - rank[string(b)] })

	hits := map[int][]int{}
	var order []int
	hit := func(k []byte) {
		for _, o := range owners[string(k)] {
			if _, ok := hits[o.cand]; !ok {
				order = append(order, o.cand)
			}
			hits[o.cand] = append(hits[o.cand], o.key)
		}
	}
	known, wait := r.known(alert, inputs)
	var ask [][]byte
	for _, k := range inputs {
		met, ok := known[digestOf(k)]
		switch {
		case !ok:
			ask = append(ask, k)
		case met:
			hit(k)
		}
	}
	if len(ask) > 0 && wait > 0 {
		err := &RateLimitError{RetryAfter: wait, err: fmt.Errorf("issuer %s asked to wait %s before more queries about alert %s (%d of %d keys answered): %w",
			issuer, wait.Round(time.Second), alert.ID, len(inputs)-len(ask), len(inputs), ErrRateLimited)}
		return collect(cands, hits, order), err
	}
	for start := 0; start < len(ask); start += r.cfg.MaxElementsPerRequest {
		batch := ask[start:min(start+r.cfg.MaxElementsPerRequest, len(ask))]
		outs, err := r.evaluate(ctx, issuer, alert.ID, batch)
		if err != nil {
			var rl *RateLimitError
			if errors.As(err, &rl) {
				r.learn(alert, nil, nil, rl.RetryAfter)
			}
			err = fmt.Errorf("asking %s about alert %s (keys %d to %d of %d still to ask, %d answered before): %w",
				issuer, alert.ID, start, start+len(batch), len(ask), len(inputs)-len(ask), err)
			return collect(cands, hits, order), err
		}
		met := make([]bool, len(batch))
		for i, out := range outs {
			if met[i] = tokens[string(out)]; met[i] {
				hit(batch[i])
			}
		}
		r.learn(alert, batch, met, 0)
	}
	r.forget(alert.ID)
	return collect(cands, hits, order), nil
}

func digestOf(k []byte) keyDigest { return sha256.Sum256(k) }

// known returns what the receiver learned earlier of alert's answers for
// keys, and how long the issuer asked it to wait, if it still must.
func (r *Receiver) known(alert *v1.CrossBorderAlert, keys [][]byte) (map[keyDigest]bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.progress[alert.ID]
	if p == nil {
		return nil, 0
	}
	out := map[keyDigest]bool{}
	for _, k := range keys {
		d := digestOf(k)
		if met, ok := p.hits[d]; ok {
			out[d] = met
		}
	}
	return out, max(p.wait.Sub(r.now()), 0)
}

// learn records the issuer's answers for keys (met[i]: keys[i] met a
// token), or a rate limit that ends after wait.
func (r *Receiver) learn(alert *v1.CrossBorderAlert, keys [][]byte, met []bool, wait time.Duration) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.progress[alert.ID]
	if p == nil {
		forget := alert.ExpiresAt
		if forget.IsZero() || forget.After(now.Add(v1.MaxAlertLifetime)) {
			forget = now.Add(progressTTL)
		}
		r.makeRoom(now)
		p = &progress{forget: forget, hits: map[keyDigest]bool{}}
		r.progress[alert.ID] = p
	}
	for i, k := range keys {
		p.hits[digestOf(k)] = met[i]
	}
	if wait > 0 {
		p.wait = now.Add(wait)
	}
}

// makeRoom drops expired progress and, at the bound, the alert that
// expires first (r.mu held).
func (r *Receiver) makeRoom(now time.Time) {
	for id, p := range r.progress {
		if !now.Before(p.forget) {
			delete(r.progress, id)
		}
	}
	for len(r.progress) >= maxProgressAlerts {
		var first v1.ID
		for id, p := range r.progress {
			if first == "" || p.forget.Before(r.progress[first].forget) {
				first = id
			}
		}
		delete(r.progress, first)
	}
}

// forget drops an alert's progress once its query is complete.
func (r *Receiver) forget(id v1.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.progress, id)
}

// Waiting reports how long the issuer of alert asked this receiver to wait
// before asking about it again (0: it may ask now).
func (r *Receiver) Waiting(alert v1.ID) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.progress[alert]; p != nil {
		return max(p.wait.Sub(r.now()), 0)
	}
	return 0
}

// InProgress reports how many alerts the receiver holds answers for, part-way
// through their query.
func (r *Receiver) InProgress() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.progress)
}

func collect(cands []Candidate, hits map[int][]int, order []int) []Match {
	var out []Match
	for _, ci := range order {
		out = append(out, Match{Case: cands[ci].Case, Keys: hits[ci]})
	}
	return out
}

// alertTokens checks the alert's ID and tokens and returns the tokens as a set.
func alertTokens(a *v1.CrossBorderAlert) (map[string]bool, error) {
	if a == nil {
		return nil, fmt.Errorf("%w: nil", ErrBadAlert)
	}
	if !a.ID.Valid() {
		return nil, fmt.Errorf("%w: ID %q", ErrBadAlert, a.ID)
	}
	if len(a.MatchTokens) == 0 {
		return nil, fmt.Errorf("%w: alert %s", ErrNoTokens, a.ID)
	}
	if len(a.MatchTokens) > v1.MaxMatchTokens {
		return nil, fmt.Errorf("%w: %d tokens, at most %d", ErrBadAlert, len(a.MatchTokens), v1.MaxMatchTokens)
	}
	set := make(map[string]bool, len(a.MatchTokens))
	for i, t := range a.MatchTokens {
		if len(t) != v1.MatchTokenSize {
			return nil, fmt.Errorf("%w: token %d is %d bytes, want %d", ErrBadAlert, i, len(t), v1.MatchTokenSize)
		}
		set[string(t)] = true
	}
	return set, nil
}

// evaluate runs one request: blind, send, read, finalise.
func (r *Receiver) evaluate(ctx context.Context, issuer peer.ID, alert v1.ID, inputs [][]byte) ([][]byte, error) {
	parts, blindedElems, err := blindParts(inputs, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, fmt.Errorf("blinding: %w", err)
	}
	elems, err := encodeElements(blindedElems)
	if err != nil {
		return nil, fmt.Errorf("encoding blinded elements: %w", err)
	}

	ctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	s, err := r.cfg.Host.NewStream(ctx, issuer, ProtocolID)
	if err != nil {
		return nil, fmt.Errorf("opening a stream: %w", err)
	}
	defer s.Close()
	// The context ends the wait (and resets the stream); the stream's own
	// deadline, a little later, is only a backstop, so a timeout reads as
	// the context's error.
	deadline, _ := ctx.Deadline()
	_ = s.SetDeadline(deadline.Add(time.Second))
	stop := context.AfterFunc(ctx, func() { _ = s.Reset() })
	defer stop()

	if err := writeFrame(s, evalRequest{Alert: alert, Elements: elems}); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("sending: %w", err)
	}
	_ = s.CloseWrite()
	body, err := readFrame(s)
	if err != nil {
		_ = s.Reset()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for the response: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	resp, err := decodeResponse(body, len(inputs))
	if err != nil {
		return nil, err
	}
	if resp.Status != StatusOK {
		err := fmt.Errorf("issuer answered %s: %w", resp.Status, statusErr(resp.Status))
		if resp.Status == StatusRateLimited {
			err = &RateLimitError{RetryAfter: time.Duration(resp.RetryAfter) * time.Second, err: err}
		}
		return nil, err
	}
	evaluated, err := decodeElements(resp.Elements)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	outs, err := finalizeParts(parts, evaluated)
	if err != nil {
		return nil, fmt.Errorf("%w: finalising: %w", ErrBadResponse, err)
	}
	return outs, nil
}

// minPart is the fewest keys worth a goroutine of their own when blinding
// and finalising (each key costs about half a millisecond of group
// arithmetic, so a goroutine's own cost is negligible above it).
const minPart = 16

// blindPart is a run of a request's keys, blinded together.
type blindPart struct {
	fin *oprf.FinalizeData
	n   int
}

// blindParts blinds inputs in parts, at most workers (one per CPU) and
// none under minPart keys, at once; it returns the parts and every blinded
// element, in the order of inputs. Base-mode OPRF (no proof) evaluates
// element by element, so one request may carry the parts' elements
// together and finalizeParts split the answer again.
func blindParts(inputs [][]byte, workers int) ([]blindPart, []group.Element, error) {
	n := max(1, min(workers, len(inputs)/minPart))
	parts := make([]blindPart, n)
	elems := make([][]group.Element, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		lo, hi := i*len(inputs)/n, (i+1)*len(inputs)/n
		wg.Go(func() {
			fin, req, err := oprf.NewClient(suite).Blind(inputs[lo:hi])
			if err != nil {
				errs[i] = err
				return
			}
			parts[i], elems[i] = blindPart{fin: fin, n: hi - lo}, req.Elements
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return parts, slices.Concat(elems...), nil
}

// finalizeParts finalises each part with its run of the evaluated
// elements, at once, and returns the outputs in order.
func finalizeParts(parts []blindPart, evaluated []group.Element) ([][]byte, error) {
	total := 0
	for _, p := range parts {
		total += p.n
	}
	if len(evaluated) != total {
		return nil, fmt.Errorf("%d evaluated elements for %d keys", len(evaluated), total)
	}
	outs := make([][][]byte, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	at := 0
	for i, p := range parts {
		ev := evaluated[at : at+p.n]
		at += p.n
		wg.Go(func() {
			outs[i], errs[i] = oprf.NewClient(suite).Finalize(p.fin, &oprf.Evaluation{Elements: ev})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return slices.Concat(outs...), nil
}

// RateLimitError is a refusal for rate; it wraps ErrRateLimited and says
// when the issuer's allowance renews.
type RateLimitError struct {
	RetryAfter time.Duration
	err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.err, e.RetryAfter)
}

func (e *RateLimitError) Unwrap() error { return e.err }
