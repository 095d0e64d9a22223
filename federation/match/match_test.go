package match_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/oprf"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation/match"
	"nrmnet/federation/match/matchtest"
	v1 "nrmnet/schemas/v1"
)

var childKeys = keys("child/given+family/2009", "child/given+family/2010", "child/alias+family/2009")

// Three real hosts on loopback: the issuer, a receiver holding the same
// child among other cases, and a receiver holding only other children.
func TestMatchOverLoopback(t *testing.T) {
	issuerHost, aHost, bHost := newHost(t), newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	connect(t, bHost, issuerHost)
	store, audit := match.NewMemoryKeyStore(), &auditLog{}
	is := newIssuer(t, issuerHost, store, audit)

	alertID := v1.NewID()
	tokens, err := is.IssueTokens(alertID, time.Now().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	alert := alertWith(alertID, tokens)
	if err := checkTokensShape(tokens, 32); err != nil {
		t.Fatal(err)
	}

	same, other1, other2 := v1.NewID(), v1.NewID(), v1.NewID()
	a := newReceiver(t, aHost, 0)
	got, err := a.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{
		{Case: other1, Keys: keys("other/one/2009", "other/one/2010")},
		{Case: same, Keys: keys("child/x/2008", "child/given+family/2010")},
		{Case: other2, Keys: keys("other/two/2009")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Case != same || !slices.Equal(got[0].Keys, []int{1}) {
		t.Fatalf("matches = %+v, want only case %s on key 1", got, same)
	}

	b := newReceiver(t, bHost, 0)
	got, err = b.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{
		{Case: other1, Keys: keys("unrelated/a/2009", "unrelated/b/2010")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("unrelated children matched: %+v", got)
	}

	recs := audit.all()
	if len(recs) != 2 {
		t.Fatalf("audited %d queries, want 2: %+v", len(recs), recs)
	}
	for i, want := range []struct {
		p peer.ID
		n int
	}{{aHost.ID(), 5}, {bHost.ID(), 2}} {
		r := recs[i]
		if r.Peer != want.p || r.Alert != alertID || r.Elements != want.n || r.Status != match.StatusOK || r.At.IsZero() {
			t.Errorf("audit[%d] = %+v, want peer %s alert %s %d elements ok", i, r, want.p, alertID, want.n)
		}
	}
}

func checkTokensShape(tokens [][]byte, n int) error {
	if len(tokens) != n {
		return errors.New("wrong token count")
	}
	if !slices.IsSortedFunc(tokens, bytes.Compare) {
		return errors.New("tokens not sorted")
	}
	a := &v1.CrossBorderAlert{MatchTokens: tokens}
	for _, tk := range a.MatchTokens {
		if len(tk) != v1.MatchTokenSize {
			return errors.New("token of the wrong size")
		}
	}
	return nil
}

// A receiver that holds the tokens cannot test a guess offline: the same
// child gives unrelated tokens in two alerts, since each alert has its own
// key, so tokens from one alert say nothing about another and there is no
// shared key to compute them with.
func TestTokensDifferPerAlert(t *testing.T) {
	h := newHost(t)
	is := newIssuer(t, h, match.NewMemoryKeyStore(), &auditLog{})
	t1, err := is.IssueTokens(v1.NewID(), time.Now().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := is.IssueTokens(v1.NewID(), time.Now().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range t1 {
		for _, b := range t2 {
			if bytes.Equal(a, b) {
				t.Fatalf("the same token %x appears in two alerts about the same child", a)
			}
		}
	}
	// And an unkeyed evaluation (a guess computed with any other key) does
	// not land on a token.
	sk, err := oprf.GenerateKey(oprf.SuiteRistretto255, rand.Reader)
	if err == nil {
		guess, _ := oprf.NewServer(oprf.SuiteRistretto255, sk).FullEvaluate(childKeys[0])
		if slices.ContainsFunc(t1, func(tk []byte) bool { return bytes.Equal(tk, guess) }) {
			t.Fatal("a guess under another key equals a token")
		}
	}
	if _, err := is.IssueTokens(v1.NewID(), time.Now().Add(time.Hour), append(childKeys, childKeys...)); err != nil {
		t.Fatalf("repeated keys: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	issuerHost, aHost, bHost := newHost(t), newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	connect(t, bHost, issuerHost)
	audit := &auditLog{}
	is := newIssuer(t, issuerHost, match.NewMemoryKeyStore(), audit, func(c *match.IssuerConfig) {
		c.MaxElementsPerRequest, c.PeerElementsPerWindow, c.AlertElementsPerWindow = 4, 8, 12
	})
	alertID := v1.NewID()
	tokens, err := is.IssueTokens(alertID, time.Now().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	alert := alertWith(alertID, tokens)

	// Peer A: 8 elements pass in two requests of 4; the ninth is refused.
	a := newReceiver(t, aHost, 4)
	eight := []match.Candidate{{Case: v1.NewID(), Keys: keys("a1", "a2", "a3", "a4", "a5", "a6", "a7", "child/given+family/2009")}}
	got, err := a.Match(ctxFor(t), issuerHost.ID(), alert, eight)
	if err != nil || len(got) != 1 {
		t.Fatalf("within the allowance: matches %+v, err %v", got, err)
	}
	_, err = a.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{{Case: v1.NewID(), Keys: keys("a9")}})
	var rl *match.RateLimitError
	if !errors.Is(err, match.ErrRateLimited) || !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Hour {
		t.Fatalf("over the peer allowance: err %v, want ErrRateLimited with a retry-after within the hour", err)
	}
	t.Logf("refusal as the caller sees it: %v", err)

	// Peer B has its own allowance, but the alert has only 4 left.
	b := newReceiver(t, bHost, 4)
	if _, err := b.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{{Case: v1.NewID(), Keys: keys("b1", "b2", "b3", "b4")}}); err != nil {
		t.Fatalf("peer B within the alert's allowance: %v", err)
	}
	got, err = b.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{
		{Case: v1.NewID(), Keys: keys("child/given+family/2010")},
		{Case: v1.NewID(), Keys: keys("b5", "b6", "b7", "b8")},
	})
	if !errors.Is(err, match.ErrRateLimited) {
		t.Fatalf("over the alert allowance: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("a refused request still matched: %+v", got)
	}

	// A request larger than the issuer's per-request bound is a bad request.
	big := newReceiver(t, bHost, 5)
	if _, err := big.Match(ctxFor(t), issuerHost.ID(), alert, []match.Candidate{{Case: v1.NewID(), Keys: keys("1", "2", "3", "4", "5")}}); !errors.Is(err, match.ErrBadRequest) {
		t.Fatalf("5 elements against a bound of 4: %v", err)
	}

	var refused int
	for _, r := range audit.all() {
		if r.Status == match.StatusRateLimited {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("audited %d rate-limited queries, want 2: %+v", refused, audit.all())
	}
}

// A caseload with more keys than one window's allowance is matched in
// full over several windows: each Match asks only what earlier ones did not
// get answered, asks nothing while the issuer's limit lasts, and asks every
// candidate's strongest key first, so the child's is answered in the first
// window although its candidate comes last.
func TestMatchResumesAcrossRateLimitWindows(t *testing.T) {
	issuerHost, h := newHost(t), newHost(t)
	connect(t, h, issuerHost)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	audit := &auditLog{}
	is := newIssuer(t, issuerHost, match.NewMemoryKeyStore(), audit, func(c *match.IssuerConfig) {
		c.MaxElementsPerRequest, c.PeerElementsPerWindow, c.AlertElementsPerWindow = 4, 8, 64
		c.Now = clock
	})
	alertID := v1.NewID()
	tokens, err := is.IssueTokens(alertID, now.Add(24*time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	alert := alertWith(alertID, tokens)
	alert.ExpiresAt = now.Add(24 * time.Hour)
	cfg := match.DefaultReceiverConfig()
	cfg.Host, cfg.Logger, cfg.MaxElementsPerRequest, cfg.Now = h, testLogger(t), 4, clock
	r, err := match.NewReceiver(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })

	// 20 distinct keys: four candidates of four weak keys each, then the
	// child's candidate, whose strongest key is the child's.
	var cands []match.Candidate
	for i := range 4 {
		cands = append(cands, match.Candidate{Case: v1.NewID(), Keys: keys(
			fmt.Sprintf("c%d/1", i), fmt.Sprintf("c%d/2", i), fmt.Sprintf("c%d/3", i), fmt.Sprintf("c%d/4", i))})
	}
	child := v1.NewID()
	cands = append(cands, match.Candidate{Case: child, Keys: [][]byte{childKeys[0], []byte("x/2"), []byte("x/3"), []byte("x/4")}})
	evaluated := func() (n, requests int) {
		for _, q := range audit.all() {
			if q.Status == match.StatusOK {
				n += q.Elements
				requests++
			}
		}
		return n, requests
	}
	check := func(step string, wantLimited bool, wantEvaluated int) {
		t.Helper()
		got, err := r.Match(ctxFor(t), issuerHost.ID(), alert, cands)
		var rl *match.RateLimitError
		if limited := errors.As(err, &rl); limited != wantLimited || (!limited && err != nil) {
			t.Fatalf("%s: err %v, want rate-limited %v", step, err, wantLimited)
		}
		if len(got) != 1 || got[0].Case != child || !slices.Equal(got[0].Keys, []int{0}) {
			t.Fatalf("%s: matches %+v, want the child's case on its key 0", step, got)
		}
		if n, _ := evaluated(); n != wantEvaluated {
			t.Fatalf("%s: the issuer has evaluated %d elements in all, want %d", step, n, wantEvaluated)
		}
	}
	check("first window", true, 8)
	if w := r.Waiting(alertID); w <= 0 || w > time.Hour {
		t.Fatalf("Waiting after the limit = %v, want up to an hour", w)
	}
	before := len(audit.all())
	check("the same window again", true, 8)
	if len(audit.all()) != before {
		t.Fatal("the receiver asked the issuer again while its limit lasted")
	}
	if r.InProgress() != 1 {
		t.Fatalf("in progress: %d alerts, want 1", r.InProgress())
	}
	advance(time.Hour)
	check("second window", true, 16)
	advance(time.Hour)
	check("third window", false, 20)
	if w := r.Waiting(alertID); w != 0 {
		t.Fatalf("Waiting after the query completed = %v, want 0", w)
	}
	if r.InProgress() != 0 {
		t.Fatalf("in progress after the query completed: %d alerts, want 0", r.InProgress())
	}
	if _, requests := evaluated(); requests != 5 {
		t.Errorf("%d evaluated requests, want 5 (4 + 4, 4 + 4, 4)", requests)
	}
}

func TestUnknownExpiredAndRetiredAlerts(t *testing.T) {
	issuerHost, aHost := newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	var now atomic.Int64
	now.Store(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	store, audit := match.NewMemoryKeyStore(), &auditLog{}
	is := newIssuer(t, issuerHost, store, audit, func(c *match.IssuerConfig) { c.Now = clock })
	r := newReceiver(t, aHost, 0)
	cands := []match.Candidate{{Case: v1.NewID(), Keys: childKeys[:1]}}

	unknown := alertWith(v1.NewID(), [][]byte{make([]byte, v1.MatchTokenSize)})
	if _, err := r.Match(ctxFor(t), issuerHost.ID(), unknown, cands); !errors.Is(err, match.ErrUnknownAlert) {
		t.Fatalf("unknown alert: %v", err)
	}

	id := v1.NewID()
	tokens, err := is.IssueTokens(id, clock().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.IssueTokens(id, clock().Add(time.Hour), childKeys); !errors.Is(err, match.ErrAlertKeyExists) {
		t.Fatalf("re-keying an alert: %v", err)
	}
	now.Add(int64(time.Hour))
	if _, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id, tokens), cands); !errors.Is(err, match.ErrAlertExpired) {
		t.Fatalf("expired alert: %v", err)
	}

	id2 := v1.NewID()
	tokens2, err := is.IssueTokens(id2, clock().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	if err := is.Retire(id2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id2, tokens2), cands); !errors.Is(err, match.ErrUnknownAlert) {
		t.Fatalf("retired alert: %v", err)
	}
	statuses := []match.Status{}
	for _, rec := range audit.all() {
		statuses = append(statuses, rec.Status)
	}
	want := []match.Status{match.StatusUnknownAlert, match.StatusExpired, match.StatusUnknownAlert}
	if !slices.Equal(statuses, want) {
		t.Fatalf("audited %v, want %v", statuses, want)
	}
}

// The issuer's keys live in its KeyStore: a new Issuer over the same store
// (a restarted node) answers for alerts issued before.
func TestIssuerRestart(t *testing.T) {
	issuerHost, aHost := newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	store := match.NewMemoryKeyStore()
	first := newIssuer(t, issuerHost, store, &auditLog{})
	id := v1.NewID()
	tokens, err := first.IssueTokens(id, time.Now().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r := newReceiver(t, aHost, 0)
	cands := []match.Candidate{{Case: v1.NewID(), Keys: childKeys[2:]}}
	if _, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id, tokens), cands); err == nil {
		t.Fatal("a closed issuer answered")
	}
	newIssuer(t, issuerHost, store, &auditLog{})
	got, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id, tokens), cands)
	if err != nil || len(got) != 1 {
		t.Fatalf("after restart: matches %+v, err %v", got, err)
	}
}

// When the audit cannot be written the query is refused and nothing is
// evaluated; an Authorize hook refuses peers the alert is not for.
func TestAuditFailureAndAuthorize(t *testing.T) {
	issuerHost, aHost := newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	audit := &auditLog{fail: errors.New("disk full")}
	var authorizeErr atomic.Pointer[error]
	is := newIssuer(t, issuerHost, match.NewMemoryKeyStore(), audit, func(c *match.IssuerConfig) {
		c.Authorize = func(p peer.ID, _ v1.ID) error {
			if err := authorizeErr.Load(); err != nil {
				return *err
			}
			return nil
		}
	})
	id := v1.NewID()
	tokens, err := is.IssueTokens(id, time.Now().Add(time.Hour), childKeys)
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, aHost, 0)
	cands := []match.Candidate{{Case: v1.NewID(), Keys: childKeys}}
	if got, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id, tokens), cands); !errors.Is(err, match.ErrIssuerUnavailable) || len(got) != 0 {
		t.Fatalf("audit failing: matches %+v, err %v", got, err)
	}
	audit.mu.Lock()
	audit.fail = nil
	audit.mu.Unlock()
	notTarget := errors.New("peer is not a target of this alert")
	authorizeErr.Store(&notTarget)
	if _, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id, tokens), cands); !errors.Is(err, match.ErrRefused) {
		t.Fatalf("unauthorised peer: %v", err)
	}
	if recs := audit.all(); len(recs) != 1 || recs[0].Status != match.StatusRefused {
		t.Fatalf("audit = %+v, want one refused query", recs)
	}
}

// Everything written on the match stream, both ways, holds no identity key,
// no canary, no OPRF key, no unblinded point H(key) nor its evaluation
// H(key)^k, and no token: only blinded and evaluated random-looking points.
func TestEavesdropperLearnsNothing(t *testing.T) {
	const canary = "CANARY-7f3a-Zyxwvut"
	issuerHost, aHost := newHost(t), newHost(t)
	connect(t, aHost, issuerHost)
	tap := &matchtest.Tap{}
	store := match.NewMemoryKeyStore()
	is := newIssuer(t, tap.Handlers(issuerHost), store, &auditLog{})
	child := keys("name:"+canary+"|dob:2009", "name:"+canary+"|dob:2010")
	id := v1.NewID()
	tokens, err := is.IssueTokens(id, time.Now().Add(time.Hour), child)
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, tap.Opener(aHost), 0)
	cand := keys("name:"+canary+"|dob:2010", "name:someone-else|dob:2010")
	got, err := r.Match(ctxFor(t), issuerHost.ID(), alertWith(id, tokens), []match.Candidate{{Case: v1.NewID(), Keys: cand}})
	if err != nil || len(got) != 1 {
		t.Fatalf("matches %+v, err %v", got, err)
	}
	wire := tap.Bytes()
	if len(wire) < 2*2*32 {
		t.Fatalf("captured only %d bytes: the recorder saw no exchange", len(wire))
	}

	secret, err := store.MatchKey(id)
	if err != nil {
		t.Fatal(err)
	}
	var sk oprf.PrivateKey
	if err := sk.UnmarshalBinary(oprf.SuiteRistretto255, secret.Secret); err != nil {
		t.Fatal(err)
	}
	forbidden := map[string][]byte{"canary": []byte(canary), "OPRF key": secret.Secret}
	for i, k := range append(child, cand...) {
		forbidden["identity key "+string(rune('0'+i))] = k
		// Blinding by 1 gives H(k) itself, the unblinded point.
		one := group.Ristretto255.NewScalar().SetUint64(1)
		_, req, err := oprf.NewClient(oprf.SuiteRistretto255).DeterministicBlind([][]byte{k}, []oprf.Blind{one})
		if err != nil {
			t.Fatal(err)
		}
		hk, _ := req.Elements[0].MarshalBinaryCompress()
		forbidden["H(key) "+string(rune('0'+i))] = hk
		ev, err := oprf.NewServer(oprf.SuiteRistretto255, &sk).Evaluate(req)
		if err != nil {
			t.Fatal(err)
		}
		hkk, _ := ev.Elements[0].MarshalBinaryCompress()
		forbidden["H(key)^k "+string(rune('0'+i))] = hkk
	}
	for i, tk := range tokens {
		forbidden["token "+string(rune('a'+i%26))] = tk
	}
	for what, b := range forbidden {
		if bytes.Contains(wire, b) {
			t.Errorf("the wire carries the %s", what)
		}
		if len(b) >= 8 && bytes.Contains(wire, b[:8]) {
			t.Errorf("the wire carries the first 8 bytes of the %s", what)
		}
	}
}
