package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nrmnet/node/matchkeys"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// The federation's parts are faked here with function fields; the real
// gossip and OPRF matching over loopback are in node/nodetest.

type fakePublisher struct {
	mu   sync.Mutex
	sent []*v1.CrossBorderAlert
	fail error
}

func (p *fakePublisher) PublishAlert(_ context.Context, a *v1.CrossBorderAlert) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	c := *a
	p.sent = append(p.sent, &c)
	return nil
}

// fakeIssuer computes a token as SHA-512 over a per-alert secret and the
// key, so a fake matcher holding the secret can compare as the OPRF would.
type fakeIssuer struct {
	mu      sync.Mutex
	secrets map[v1.ID][]byte
	retired []v1.ID
}

func (is *fakeIssuer) token(alert v1.ID, key []byte) []byte {
	h := sha512.Sum512(append(slices.Clone(is.secrets[alert]), key...))
	return h[:]
}

func (is *fakeIssuer) IssueTokens(alert v1.ID, _ time.Time, keys [][]byte) ([][]byte, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.secrets == nil {
		is.secrets = map[v1.ID][]byte{}
	}
	is.secrets[alert] = []byte("secret " + string(alert))
	var out [][]byte
	for _, k := range keys {
		out = append(out, is.token(alert, k))
	}
	return out, nil
}

func (is *fakeIssuer) Retire(alert v1.ID) error {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.retired = append(is.retired, alert)
	delete(is.secrets, alert)
	return nil
}

type fakeMatcher struct {
	issuer *fakeIssuer
	fail   error
	asked  int
}

func (m *fakeMatcher) MatchAlert(_ context.Context, a *v1.CrossBorderAlert, cands []MatchCandidate) ([]CandidateMatch, error) {
	m.asked += len(cands)
	if m.fail != nil {
		return nil, m.fail
	}
	m.issuer.mu.Lock()
	defer m.issuer.mu.Unlock()
	var out []CandidateMatch
	for _, c := range cands {
		var hit []int
		for i, k := range c.Keys {
			if slices.ContainsFunc(a.MatchTokens, func(t []byte) bool { return bytes.Equal(t, m.issuer.token(a.ID, k)) }) {
				hit = append(hit, i)
			}
		}
		if len(hit) > 0 {
			out = append(out, CandidateMatch{Case: c.Case, Keys: hit})
		}
	}
	return out, nil
}

type crossFixture struct {
	*fixture
	cb      *CrossBorder
	key     ed25519.PrivateKey
	pub     *fakePublisher
	issuer  *fakeIssuer
	matcher *fakeMatcher
}

func newCrossFixture(t *testing.T, issuer *fakeIssuer) *crossFixture {
	t.Helper()
	f := newFixture(t)
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	cf := &crossFixture{fixture: f, key: key, pub: &fakePublisher{}, issuer: issuer}
	cf.matcher = &fakeMatcher{issuer: issuer}
	cfg := DefaultCrossBorderConfig()
	cfg.Node, cfg.Store, cfg.Signer = f.node, f.store, key
	cfg.Publisher, cfg.Issuer, cfg.Matcher = cf.pub, issuer, cf.matcher
	cfg.Logger = testLogger(t)
	cf.cb, err = NewCrossBorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cf
}

func newAlertFor(c v1.CaseID) NewAlert {
	return NewAlert{Case: c, Type: v1.AlertMissing, Urgency: v1.UrgencyHigh,
		TargetAuthorities: []v1.AuthorityCode{"CMD", "HRY"}, Contact: v1.ContactDutyDesk}
}

func TestCrossBorderConfigValidate(t *testing.T) {
	err := CrossBorderConfig{DefaultLifetime: time.Minute}.Validate()
	for _, want := range []string{"Node", "Store", "Signer", "DefaultLifetime", "MatchRetry"} {
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate of an empty config does not name %s: %v", want, err)
		}
	}
}

func TestRaiseAlertBuildsMinimalSignedAlert(t *testing.T) {
	f := newCrossFixture(t, &fakeIssuer{})
	ctx := context.Background()
	c := f.mustCreate(t)
	from := f.auditSize(t)
	got, err := f.cb.RaiseAlert(ctx, f.users[RoleSocialWorker], newAlertFor(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.pub.sent) != 1 {
		t.Fatalf("published %d alerts, want 1", len(f.pub.sent))
	}
	a := f.pub.sent[0]
	if a.ID != got.Alert.ID || a.Issuer != testAuthority || a.AgeBand != v1.Age13To15 || a.Sex != v1.SexMale {
		t.Errorf("alert = %+v; want ISL's, 13_15, male", a)
	}
	if len(a.MatchTokens) == 0 {
		t.Error("no match tokens")
	}
	msg, _ := a.SigningBytes()
	if !ed25519.Verify(f.key.Public().(ed25519.PublicKey), msg, a.Signature) {
		t.Error("signature does not verify under the authority key")
	}
	wire, _ := v1.Marshal(a)
	for _, canary := range []string{"Dritan", "Hoxha", "2010-06-14", "Police"} {
		if bytes.Contains(bytes.ToLower(wire), bytes.ToLower([]byte(canary))) {
			t.Errorf("the alert carries %q", canary)
		}
	}
	if err := a.Validate(); err != nil {
		t.Errorf("the alert is invalid: %v", err)
	}
	var acts []v1.AuditAction
	for _, e := range f.auditSince(t, from) {
		acts = append(acts, e.Action)
	}
	if !slices.Contains(acts, v1.ActionCaseRead) || !slices.Contains(acts, v1.ActionAlertRaise) {
		t.Errorf("audit = %v; want the case read and the raise", acts)
	}
	held, err := f.store.IssuedAlert(a.ID)
	if err != nil || held.Case != c.ID || held.RaisedBy != "sw" {
		t.Errorf("stored = %+v, %v", held, err)
	}
	list, err := f.cb.Alerts(ctx, f.users[RoleNRMCoordinator], 0)
	if err != nil || len(list.Raised) != 1 || len(list.Raised[0].Pending) != 2 {
		t.Fatalf("Alerts = %+v, %v; want one raised alert pending CMD and HRY", list, err)
	}
	if err := f.cb.RecordAck(ctx, a.ID, "CMD"); err != nil {
		t.Fatal(err)
	}
	list, _ = f.cb.Alerts(ctx, f.users[RoleNRMCoordinator], 0)
	if r := list.Raised[0]; len(r.Acked) != 1 || r.Acked[0] != "CMD" || len(r.Pending) != 1 || r.Pending[0] != "HRY" {
		t.Errorf("after CMD's ack: acked %v pending %v", r.Acked, r.Pending)
	}
}

func TestRaiseAlertRefusals(t *testing.T) {
	f := newCrossFixture(t, &fakeIssuer{})
	ctx := context.Background()
	c := f.mustCreate(t)
	for _, r := range []Role{RolePanelMember, RolePanelChair, RoleAdvocate, RoleRegionalCoordinator, RoleAuditor, RoleAdministrator} {
		from := f.auditSize(t)
		if _, err := f.cb.RaiseAlert(ctx, f.users[r], newAlertFor(c.ID)); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", r, err)
		}
		es := f.auditSince(t, from)
		if len(es) != 1 || es[0].Outcome != v1.AuditDenied {
			t.Errorf("%s: refusal audit = %+v", r, es)
		}
	}
	bad := func(mut func(*NewAlert)) NewAlert { a := newAlertFor(c.ID); mut(&a); return a }
	for name, tc := range map[string]struct {
		a    NewAlert
		want error
	}{
		"no type":       {bad(func(a *NewAlert) { a.Type = "" }), ErrInvalid},
		"no targets":    {bad(func(a *NewAlert) { a.TargetAuthorities = nil }), ErrInvalid},
		"own authority": {bad(func(a *NewAlert) { a.TargetAuthorities = []v1.AuthorityCode{testAuthority} }), ErrInvalid},
		"bad region":    {bad(func(a *NewAlert) { a.TargetRegions = []string{"Atlantis"} }), ErrInvalid},
		"long life":     {bad(func(a *NewAlert) { a.Lifetime = 40 * 24 * time.Hour }), ErrInvalid},
		"bad case":      {bad(func(a *NewAlert) { a.Case = "../../etc" }), ErrInvalid},
		"unknown case":  {bad(func(a *NewAlert) { a.Case = v1.NewCaseID(testAuthority) }), ErrNotFound},
	} {
		if _, err := f.cb.RaiseAlert(ctx, f.users[RoleSocialWorker], tc.a); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if len(f.pub.sent) != 0 {
		t.Errorf("refused requests published %d alerts", len(f.pub.sent))
	}
	f.pub.fail = errors.New("gossip closed")
	if _, err := f.cb.RaiseAlert(ctx, f.users[RoleSocialWorker], newAlertFor(c.ID)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("publisher down: %v, want ErrUnavailable", err)
	}
}

// alertFrom returns an alert of CMD about a child with identity id,
// tokens issued by is, targeting ISL.
func alertFrom(t *testing.T, is *fakeIssuer, id v1.ChildIdentity, now time.Time) *v1.CrossBorderAlert {
	t.Helper()
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	band, sex := matchkeys.AlertFields(id, now)
	a := &v1.CrossBorderAlert{ID: v1.NewID(), Type: v1.AlertMayBeInArea, Issuer: "CMD",
		TargetAuthorities: []v1.AuthorityCode{testAuthority}, Urgency: v1.UrgencyHigh,
		IssuedAt: now, ExpiresAt: now.Add(24 * time.Hour), Contact: v1.ContactDutyDesk,
		LegalBasis: v1.BasisSafeguardingChildren, AgeBand: band, Sex: sex,
		Signature: bytes.Repeat([]byte{1}, v1.SignatureSize)}
	a.MatchTokens, err = is.IssueTokens(a.ID, a.ExpiresAt, keyBytes(d.Keys(id)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// hoxhaj is the fixture's own child (Dritan Hoxha, 2010-06-14, male) as
// another authority recorded him: "Dritan Hoxhaj".
func hoxhaj() v1.ChildIdentity {
	return v1.ChildIdentity{Names: []v1.PersonName{{Kind: v1.NameUsed, Given: "Dritan", Family: "Hoxhaj"}},
		DateOfBirth: &v1.DateOfBirth{Date: "2010-06-14"}, Sex: v1.SexMale}
}

// crossBorderWith returns a CrossBorder on f's node and store with matcher
// m, retrying after 10 ms and otherwise matching every hour.
func (f *crossFixture) crossBorderWith(t *testing.T, m AlertMatcher) *CrossBorder {
	t.Helper()
	cfg := DefaultCrossBorderConfig()
	cfg.Node, cfg.Store, cfg.Signer, cfg.Matcher = f.node, f.store, f.key, m
	cfg.MatchRetry, cfg.MatchEvery, cfg.Logger = 10*time.Millisecond, time.Hour, testLogger(t)
	cb, err := NewCrossBorder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// gateMatcher is a matcher that is down until opened; it records when it
// was asked. It is safe for KeepMatching's goroutine and the test's.
type gateMatcher struct {
	mu    sync.Mutex
	inner *fakeMatcher
	down  bool
	asked []time.Time
}

func (g *gateMatcher) MatchAlert(ctx context.Context, a *v1.CrossBorderAlert, cands []MatchCandidate) ([]CandidateMatch, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, time.Now())
	if g.down {
		return nil, fmt.Errorf("%w: issuer unreachable", ErrUnavailable)
	}
	return g.inner.MatchAlert(ctx, a, cands)
}

func (g *gateMatcher) times() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.asked)
}

func (g *gateMatcher) set(down bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.down = down
}

// KeepMatching matches at once on start what a restart cut short, and an
// alert whose matching fails on arrival soon after its issuer is back, not
// at the next regular round (an hour away here); failed rounds come no
// sooner than the retry delay, doubling each time.
func TestKeepMatchingResumesSoonAfterAFailure(t *testing.T) {
	is := &fakeIssuer{}
	f := newCrossFixture(t, is)
	gm := &gateMatcher{inner: f.matcher, down: true}
	cb := f.crossBorderWith(t, gm)
	own := f.mustCreate(t) // Dritan Hoxha, 2010-06-14, male
	variant := hoxhaj()
	ctx := context.Background()
	matched := func(a *v1.CrossBorderAlert) func() bool {
		return func() bool {
			held, err := f.store.ReceivedAlert(a.ID)
			return err == nil && !held.MatchedAt.IsZero()
		}
	}
	// checkGaps checks that the rounds asked after call from came no
	// sooner than the delays given.
	checkGaps := func(from int, delays ...time.Duration) {
		t.Helper()
		asked := gm.times()
		for i, want := range delays {
			if gap := asked[from+i+1].Sub(asked[from+i]); gap < want {
				t.Errorf("call %d came %v after the one before, sooner than its retry delay %v", from+i+1, gap, want)
			}
		}
	}

	// Matching cut short before the node (re)starts.
	first := alertFrom(t, is, variant, f.clock.Now())
	if err := cb.ReceiveAlert(ctx, first, "gossip"); err != nil {
		t.Fatalf("matcher down: %v, want nil (stored, matching resumes later)", err)
	}
	loop, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); cb.KeepMatching(loop) }()
	defer func() { cancel(); <-stopped }()
	// Call 0 was the arrival, call 1 the round at start; then 20, 40 ms.
	waitFor(t, "the round at start and two retries", func() bool { return len(gm.times()) >= 4 })
	gm.set(false)
	waitFor(t, "the first alert matched", matched(first))
	checkGaps(1, 20*time.Millisecond, 40*time.Millisecond)

	// A failure on arrival wakes the loop, an hour before its next round.
	gm.set(true)
	from := len(gm.times())
	second := alertFrom(t, is, variant, f.clock.Now())
	if err := cb.ReceiveAlert(ctx, second, "gossip"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two retries after the failed arrival", func() bool { return len(gm.times()) >= from+3 })
	gm.set(false)
	waitFor(t, "the second alert matched", matched(second))
	checkGaps(from, 10*time.Millisecond, 20*time.Millisecond)

	tasks, err := cb.Tasks(ctx, f.users[RoleSocialWorker], true, 0)
	if err != nil || len(tasks) != 2 || tasks[0].Case != own.ID || tasks[1].Case != own.ID {
		t.Fatalf("tasks = %+v, %v; want two, on case %s", tasks, err, own.ID)
	}
}

// waitingMatcher is a gateMatcher whose issuer may ask the node to wait.
type waitingMatcher struct {
	gateMatcher
	wait time.Duration
}

func (w *waitingMatcher) MatchWait(v1.ID) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wait
}

// While the issuer's rate limit lasts, MatchPending neither asks it nor
// reads (and audits) a case for the alert; afterwards it matches it.
func TestMatchPendingSkipsAnAlertWhileItsIssuerAsksToWait(t *testing.T) {
	is := &fakeIssuer{}
	f := newCrossFixture(t, is)
	wm := &waitingMatcher{gateMatcher: gateMatcher{inner: f.matcher, down: true}}
	cb := f.crossBorderWith(t, wm)
	own := f.mustCreate(t) // Dritan Hoxha, 2010-06-14, male
	a := alertFrom(t, is, hoxhaj(), f.clock.Now())
	ctx := context.Background()
	if err := cb.ReceiveAlert(ctx, a, "gossip"); err != nil {
		t.Fatal(err)
	}
	wm.set(false)
	wm.mu.Lock()
	wm.wait = time.Hour
	wm.mu.Unlock()
	asked, audited := len(wm.times()), f.auditSize(t)
	if n, err := cb.MatchPending(ctx); n != 0 || err != nil {
		t.Fatalf("MatchPending while the issuer asks to wait = %d, %v; want 0, nil", n, err)
	}
	if len(wm.times()) != asked || f.auditSize(t) != audited {
		t.Fatalf("while waiting: the matcher was asked %d times more and %d audit entries were written; want none",
			len(wm.times())-asked, f.auditSize(t)-audited)
	}
	wm.mu.Lock()
	wm.wait = 0
	wm.mu.Unlock()
	if n, err := cb.MatchPending(ctx); n != 1 || err != nil {
		t.Fatalf("MatchPending after the wait = %d, %v; want the alert matched", n, err)
	}
	tasks, err := cb.Tasks(ctx, f.users[RoleSocialWorker], true, 0)
	if err != nil || len(tasks) != 1 || tasks[0].Case != own.ID {
		t.Fatalf("tasks = %+v, %v; want one, on case %s", tasks, err, own.ID)
	}
}

func TestReceiveAlertRaisesOneTaskForAVariant(t *testing.T) {
	is := &fakeIssuer{}
	f := newCrossFixture(t, is)
	ctx := context.Background()
	own := f.mustCreate(t) // Dritan Hoxha, 2010-06-14, male
	other := f.referral()
	other.Identity.Names = []v1.PersonName{{Kind: v1.NameUsed, Given: "Ilir", Family: "Berisha"}}
	if _, err := f.node.CreateReferral(ctx, f.users[RoleSocialWorker], other); err != nil {
		t.Fatal(err)
	}
	// The issuer recorded the child as "Dritan Hoxhaj".
	a := alertFrom(t, is, hoxhaj(), f.clock.Now())

	f.matcher.fail = errors.New("issuer unreachable")
	// Recorded, so acknowledged, even though matching could not finish.
	if err := f.cb.ReceiveAlert(ctx, a, "gossip"); err != nil {
		t.Fatalf("matcher down: %v, want nil (the alert is stored, matching resumes later)", err)
	}
	held, err := f.store.ReceivedAlert(a.ID)
	if err != nil || !held.MatchedAt.IsZero() {
		t.Fatalf("after a failed match: %+v, %v; want stored, unmatched", held, err)
	}
	if n, err := f.cb.MatchPending(ctx); n != 0 || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("MatchPending with the matcher still down = %d, %v; want 0 and ErrUnavailable", n, err)
	}
	f.matcher.fail = nil
	if n, err := f.cb.MatchPending(ctx); n != 1 || err != nil {
		t.Fatalf("MatchPending = %d, %v; want the one alert matched", n, err)
	}
	if n, err := f.cb.MatchPending(ctx); n != 0 || err != nil {
		t.Fatalf("MatchPending again = %d, %v; want nothing left", n, err)
	}
	for range 2 { // a redelivery changes nothing
		if err := f.cb.ReceiveAlert(ctx, a, "digest"); err != nil {
			t.Fatal(err)
		}
	}
	tasks, err := f.cb.Tasks(ctx, f.users[RoleSocialWorker], true, 0)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks = %+v, %v; want one", tasks, err)
	}
	if tk := tasks[0]; tk.Case != own.ID || tk.Alert != a.ID || tk.Issuer != "CMD" || tk.Strength != matchkeys.StrengthExactDate.String() {
		t.Errorf("task = %+v; want case %s, exact date", tk, own.ID)
	}
	asked := f.matcher.asked
	if err := f.cb.ReceiveAlert(ctx, a, "gossip"); err != nil || f.matcher.asked != asked {
		t.Errorf("a copy of a matched alert asked again (%d -> %d): %v", asked, f.matcher.asked, err)
	}
	list, err := f.cb.Alerts(ctx, f.users[RoleSocialWorker], 0)
	if err != nil || len(list.Received) != 1 || list.Received[0].Tasks != 1 {
		t.Fatalf("Alerts = %+v, %v", list, err)
	}

	if _, err := f.cb.Tasks(ctx, f.users[RoleAdvocate], true, 0); !errors.Is(err, ErrForbidden) {
		t.Errorf("advocate listing tasks: %v", err)
	}
	if _, err := f.cb.ResolveTask(ctx, f.users[RolePanelMember], tasks[0].ID, ResolutionSameChild, "x"); !errors.Is(err, ErrForbidden) {
		t.Errorf("panel member resolving: %v", err)
	}
	if _, err := f.cb.ResolveTask(ctx, f.users[RoleSocialWorker], tasks[0].ID, "perhaps", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown resolution: %v", err)
	}
	done, err := f.cb.ResolveTask(ctx, f.users[RoleNRMCoordinator], tasks[0].ID, ResolutionSameChild, "called Camden's duty desk")
	if err != nil || done.ResolvedBy != "coord" {
		t.Fatalf("resolve = %+v, %v", done, err)
	}
	if _, err := f.cb.ResolveTask(ctx, f.users[RoleSocialWorker], tasks[0].ID, ResolutionNotSameChild, "x"); !errors.Is(err, ErrNotAllowedNow) {
		t.Errorf("second resolution: %v, want ErrNotAllowedNow", err)
	}
	if open, _ := f.cb.Tasks(ctx, f.users[RoleSocialWorker], true, 0); len(open) != 0 {
		t.Errorf("open tasks after resolution: %d", len(open))
	}
}

func TestReceiveAlertRefusals(t *testing.T) {
	is := &fakeIssuer{}
	f := newCrossFixture(t, is)
	ctx := context.Background()
	id := f.referral().Identity
	now := f.clock.Now()
	for name, mut := range map[string]func(a *v1.CrossBorderAlert){
		"own alert":  func(a *v1.CrossBorderAlert) { a.Issuer = testAuthority },
		"not for us": func(a *v1.CrossBorderAlert) { a.TargetAuthorities = []v1.AuthorityCode{"HRY"} },
		"invalid":    func(a *v1.CrossBorderAlert) { a.Urgency = "whenever" },
		"expired": func(a *v1.CrossBorderAlert) {
			a.IssuedAt, a.ExpiresAt = now.Add(-48*time.Hour), now.Add(-time.Hour)
		},
	} {
		a := alertFrom(t, is, id, now)
		mut(a)
		if err := f.cb.ReceiveAlert(ctx, a, "gossip"); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := f.store.ReceivedAlert(a.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: stored (%v)", name, err)
		}
	}
	if err := f.cb.ReceiveAlert(ctx, nil, "gossip"); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil alert: %v", err)
	}
	// Regional and national alerts reach ISL.
	for _, mut := range []func(a *v1.CrossBorderAlert){
		func(a *v1.CrossBorderAlert) { a.TargetAuthorities, a.TargetRegions = nil, []string{"London"} },
		func(a *v1.CrossBorderAlert) { a.TargetAuthorities, a.National = nil, true },
	} {
		a := alertFrom(t, is, id, now)
		mut(a)
		if err := f.cb.ReceiveAlert(ctx, a, "gossip"); err != nil {
			t.Errorf("alert for %v/%v: %v", a.TargetRegions, a.National, err)
		}
	}
}

func TestAuthorizeAndAuditMatchQuery(t *testing.T) {
	f := newCrossFixture(t, &fakeIssuer{})
	ctx := context.Background()
	c := f.mustCreate(t)
	r := newAlertFor(c.ID)
	r.TargetAuthorities, r.TargetRegions = []v1.AuthorityCode{"DER"}, []string{"London"}
	got, err := f.cb.RaiseAlert(ctx, f.users[RoleSocialWorker], r)
	if err != nil {
		t.Fatal(err)
	}
	id := got.Alert.ID
	for from, want := range map[v1.AuthorityCode]error{"DER": nil, "CMD": nil, "LDS": ErrForbidden, testAuthority: ErrForbidden} {
		if err := f.cb.AuthorizeMatchQuery(from, id); !errors.Is(err, want) && !(want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", from, err, want)
		}
	}
	if err := f.cb.AuthorizeMatchQuery("CMD", v1.NewID()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown alert: %v", err)
	}
	f.clock.Advance(8 * 24 * time.Hour)
	if err := f.cb.AuthorizeMatchQuery("CMD", id); !errors.Is(err, ErrNotAllowedNow) {
		t.Errorf("expired alert: %v", err)
	}
	from := f.auditSize(t)
	if err := f.cb.AuditMatchQuery(ctx, MatchQuery{From: "CMD", Alert: id, Elements: 12, Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	es := f.auditSince(t, from)
	if len(es) != 1 || es[0].Action != v1.ActionAlertMatchQuery || es[0].Recipient != "CMD" || es[0].Subject != string(id) {
		t.Errorf("audit = %+v", es)
	}
	if n, err := f.cb.ExpireAlerts(ctx); err != nil || n != 1 {
		t.Errorf("ExpireAlerts = %d, %v; want 1", n, err)
	}
}
