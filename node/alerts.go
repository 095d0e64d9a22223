package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"nrmnet/node/matchkeys"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Cross-border alerts (ARCHITECTURE.md, flow 2) are case work: the social
// workers and NRM coordinators who hold CanWorkCase raise them and review the
// possible matches they raise (DOMAIN.md, "Who uses it").
const (
	CanRaiseAlert    = CanWorkCase
	CanReviewMatches = CanWorkCase
)

// Audit actions of cross-border work beyond those of schemas/v1.
const (
	actionAlertList v1.AuditAction = "alert.list"
	actionTaskList  v1.AuditAction = "match_task.list"
)

// Limits on a raised alert.
const (
	// DefaultAlertLifetime is how long an alert lives when the caller does
	// not say.
	DefaultAlertLifetime = 7 * 24 * time.Hour
	// MinAlertLifetime is the shortest lifetime accepted.
	MinAlertLifetime = time.Hour
)

// AlertStore is what cross-border work needs of the store; *storage.Store
// satisfies it. Each change is audited by the store in its transaction.
type AlertStore interface {
	Audit(ctx context.Context, e *v1.AuditEntry) error
	Case(ctx context.Context, id v1.CaseID, who storage.Access) (*v1.Case, error)
	CaseIdentities(ctx context.Context, subject string, who storage.Access, fn func(v1.CaseID, v1.ChildIdentity) error) error

	PutIssuedAlert(ctx context.Context, a storage.IssuedAlert, who storage.Access) error
	IssuedAlert(id v1.ID) (storage.IssuedAlert, error)
	RecordAlertAck(ctx context.Context, id v1.ID, from v1.AuthorityCode) error
	LiveIssuedAlerts(now time.Time, limit int) ([]storage.IssuedAlert, error)

	PutReceivedAlert(ctx context.Context, a storage.ReceivedAlert, who storage.Access) (bool, error)
	ReceivedAlert(id v1.ID) (storage.ReceivedAlert, error)
	MarkAlertMatched(ctx context.Context, id v1.ID, at time.Time, tasks int) error
	LiveReceivedAlerts(now time.Time, limit int) ([]storage.ReceivedAlert, error)
	ExpireAlerts(ctx context.Context, now time.Time) (int, error)

	RaiseMatchTask(ctx context.Context, t storage.MatchTask, who storage.Access) (storage.MatchTask, bool, error)
	MatchTasks(openOnly bool, limit int) ([]storage.MatchTask, error)
	ResolveMatchTask(ctx context.Context, id v1.ID, resolution, reason string, who storage.Access) (storage.MatchTask, error)
}

// CandidateStore is what an AlertStore offers to narrow private matching
// through an index instead of decrypting every case; *storage.Store
// satisfies it. CrossBorder uses it when its store has it, and scans every
// identity with CaseIdentities otherwise: both give the same candidates.
type CandidateStore interface {
	MatchCandidates(ctx context.Context, subject string, who storage.Access, q storage.CandidateQuery, fn func(v1.CaseID, []storage.MatchKey) error) error
}

// AlertPublisher hands a signed alert to the federation, which keeps it
// and re-publishes it until every target acknowledges it or it expires.
// The composition root adapts federation/gossip's Service to it.
type AlertPublisher interface {
	PublishAlert(ctx context.Context, a *v1.CrossBorderAlert) error
}

// MatchTokenIssuer draws an alert's private-matching key and computes its
// tokens; *federation/match.Issuer satisfies it.
type MatchTokenIssuer interface {
	IssueTokens(alert v1.ID, expires time.Time, keys [][]byte) ([][]byte, error)
	Retire(alert v1.ID) error
}

// AlertMatcher asks an alert's issuer, over private matching, which of
// this authority's candidate cases may be the alert's child. The
// composition root adapts federation/match's Receiver to it. On an error it
// returns the matches found so far with the error.
type AlertMatcher interface {
	MatchAlert(ctx context.Context, alert *v1.CrossBorderAlert, cands []MatchCandidate) ([]CandidateMatch, error)
}

// AlertMatchWaiter is what an AlertMatcher may add: how long an alert's
// issuer asked this node to wait (its rate limit) before asking again.
// MatchPending skips such an alert until then, without reading a case.
type AlertMatchWaiter interface {
	MatchWait(alert v1.ID) time.Duration
}

// MatchCandidate is one of this authority's cases, narrowed to an alert's
// age band and sex, with its child's identity keys (personal data: they
// leave the node only blinded).
type MatchCandidate struct {
	Case v1.CaseID
	Keys [][]byte
}

// CandidateMatch is a candidate that may be the alert's child: Keys are the
// indexes into its MatchCandidate's Keys that met a token.
type CandidateMatch struct {
	Case v1.CaseID
	Keys []int
}

// CrossBorderConfig configures CrossBorder. Start from
// DefaultCrossBorderConfig.
type CrossBorderConfig struct {
	// Node is the authority's application (required): roles, clock, audit
	// of refusals.
	Node *Node
	// Store keeps alerts, tasks and cases (required).
	Store AlertStore
	// Signer is the authority's key, the one the roster lists for it
	// (required): it signs the alerts this node raises.
	Signer ed25519.PrivateKey
	// Publisher sends raised alerts (required to raise alerts).
	Publisher AlertPublisher
	// Issuer computes raised alerts' match tokens; nil raises alerts with
	// no tokens, so nobody can match them.
	Issuer MatchTokenIssuer
	// Matcher checks received alerts against own cases; nil stores
	// received alerts without matching them.
	Matcher AlertMatcher
	// MatchKeys derives identity keys; every authority in a federation must
	// use the same configuration. Nil means matchkeys.DefaultConfig().
	MatchKeys *matchkeys.Deriver
	// DefaultLifetime is the lifetime of an alert raised without one.
	DefaultLifetime time.Duration
	// MatchRetry is how soon KeepMatching tries again to match an alert
	// whose matching failed when it arrived (its issuer not reachable yet,
	// say); it doubles while rounds keep failing, up to MatchEvery.
	// MatchEvery is how often KeepMatching looks for unfinished matching
	// anyway, and MatchBudget how long one round may take (a national alert
	// against a very large caseload can take minutes).
	MatchRetry, MatchEvery, MatchBudget time.Duration
	// Logger receives logs (IDs and counts, never case content); nil
	// discards.
	Logger *slog.Logger
}

// Defaults of CrossBorderConfig's matching rounds.
const (
	DefaultMatchRetry  = 2 * time.Second
	DefaultMatchEvery  = time.Minute
	DefaultMatchBudget = 10 * time.Minute
)

// DefaultCrossBorderConfig returns a config with the defaults set.
func DefaultCrossBorderConfig() CrossBorderConfig {
	return CrossBorderConfig{DefaultLifetime: DefaultAlertLifetime,
		MatchRetry: DefaultMatchRetry, MatchEvery: DefaultMatchEvery, MatchBudget: DefaultMatchBudget}
}

// Validate reports every missing or invalid field.
func (c CrossBorderConfig) Validate() error {
	var errs []error
	if c.Node == nil {
		errs = append(errs, fmt.Errorf("%w: Node is required", ErrInvalidConfig))
	}
	if c.Store == nil {
		errs = append(errs, fmt.Errorf("%w: Store is required", ErrInvalidConfig))
	}
	if len(c.Signer) != ed25519.PrivateKeySize {
		errs = append(errs, fmt.Errorf("%w: Signer is %d bytes, want an ed25519 private key", ErrInvalidConfig, len(c.Signer)))
	}
	if c.DefaultLifetime < MinAlertLifetime || c.DefaultLifetime > v1.MaxAlertLifetime {
		errs = append(errs, fmt.Errorf("%w: DefaultLifetime is %v, want %v to %v", ErrInvalidConfig, c.DefaultLifetime, MinAlertLifetime, v1.MaxAlertLifetime))
	}
	if c.MatchRetry <= 0 || c.MatchEvery < c.MatchRetry || c.MatchBudget <= 0 {
		errs = append(errs, fmt.Errorf("%w: MatchRetry %v, MatchEvery %v and MatchBudget %v must be positive, with MatchRetry no longer than MatchEvery", ErrInvalidConfig, c.MatchRetry, c.MatchEvery, c.MatchBudget))
	}
	return errors.Join(errs...)
}

// CrossBorder is the node's side of cross-border alerts: it raises alerts
// about this authority's cases, receives other authorities' alerts, runs
// private matching against its own cases, raises a task for a person on
// every possible match (never an automatic share), and answers the
// federation's questions about the alerts it raised (who may query, what
// to audit). It holds no mutable state of its own beyond a wake-up for
// KeepMatching: the store serialises writes.
type CrossBorder struct {
	n        *Node
	store    AlertStore
	signer   ed25519.PrivateKey
	pub      AlertPublisher
	issuer   MatchTokenIssuer
	matcher  AlertMatcher
	keys     *matchkeys.Deriver
	lifetime time.Duration
	log      *slog.Logger

	retry, every, budget time.Duration
	// unfinished wakes KeepMatching when an alert's matching failed on
	// arrival; one pending wake-up is enough.
	unfinished chan struct{}
}

// NewCrossBorder validates cfg and returns a CrossBorder.
func NewCrossBorder(cfg CrossBorderConfig) (*CrossBorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &CrossBorder{n: cfg.Node, store: cfg.Store, signer: cfg.Signer, pub: cfg.Publisher,
		issuer: cfg.Issuer, matcher: cfg.Matcher, keys: cfg.MatchKeys, lifetime: cfg.DefaultLifetime, log: cfg.Logger,
		retry: cfg.MatchRetry, every: cfg.MatchEvery, budget: cfg.MatchBudget, unfinished: make(chan struct{}, 1)}
	if c.keys == nil {
		d, err := matchkeys.New(matchkeys.DefaultConfig())
		if err != nil {
			return nil, fmt.Errorf("%w: match keys: %w", ErrInvalidConfig, err)
		}
		c.keys = d
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.log = c.log.With("component", "crossborder", "authority", string(cfg.Node.authority))
	return c, nil
}

// NewAlert is an alert a social worker or NRM coordinator raises about one
// of this authority's cases. It has no field for the child's identity: the
// alert carries only the case's coarse age band and sex, and match tokens
// that only the issuer can compute.
type NewAlert struct {
	Case              v1.CaseID
	Type              v1.AlertType
	Urgency           v1.Urgency
	TargetAuthorities []v1.AuthorityCode
	TargetRegions     []string
	National          bool
	Contact           v1.ContactRoute
	// LegalBasis for sharing; empty means DefaultBasis.
	LegalBasis v1.LegalBasis
	// Lifetime is how long the alert lives; 0 means the default.
	Lifetime time.Duration
}

// RaisedAlert is an alert this authority raised, with who has acknowledged it.
type RaisedAlert struct {
	Alert   v1.CrossBorderAlert
	Case    v1.CaseID
	Acked   []v1.AuthorityCode
	Pending []v1.AuthorityCode // named target authorities not yet acknowledged
}

func raised(a storage.IssuedAlert) RaisedAlert {
	r := RaisedAlert{Alert: a.Alert, Case: a.Case, Acked: slices.Clone(a.Acked)}
	for _, t := range a.Alert.TargetAuthorities {
		if !slices.Contains(a.Acked, t) {
			r.Pending = append(r.Pending, t)
		}
	}
	return r
}

func keyBytes(ks []matchkeys.Key) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = k.Bytes
	}
	return out
}

// RaiseAlert raises a cross-border alert about one of this authority's
// cases: it checks the role, reads the case (audited, with the purpose and
// the legal basis), builds the minimal alert with its age band, sex and
// match tokens, signs it with the authority's key, records it (audited
// alert.raise) and hands it to the federation. A refused request stores
// nothing but its audit entry. If the federation refuses the alert after it
// was recorded, the error says so; the alert stays recorded, unsent.
func (c *CrossBorder) RaiseAlert(ctx context.Context, who Principal, r NewAlert) (*RaisedAlert, error) {
	if err := c.n.require(ctx, who, CanRaiseAlert, v1.ActionAlertRaise, string(r.Case)); err != nil {
		return nil, err
	}
	if c.pub == nil {
		return nil, fmt.Errorf("%w: this node is not federated, so it cannot send alerts", ErrUnavailable)
	}
	if !r.Case.Valid() {
		return nil, fmt.Errorf("%w: case: %q is not a case ID", ErrInvalid, truncate(string(r.Case)))
	}
	basis := r.LegalBasis
	if basis == "" {
		basis = DefaultBasis
	}
	life := r.Lifetime
	if life == 0 {
		life = c.lifetime
	}
	if life < MinAlertLifetime || life > v1.MaxAlertLifetime {
		return nil, fmt.Errorf("%w: lifetime: %v, want %v to %v", ErrInvalid, life, MinAlertLifetime, v1.MaxAlertLifetime)
	}
	now := c.n.now().UTC().Truncate(time.Second)
	a := &v1.CrossBorderAlert{
		ID: v1.NewID(), Type: r.Type, Issuer: c.n.authority,
		TargetAuthorities: slices.Clone(r.TargetAuthorities), TargetRegions: slices.Clone(r.TargetRegions),
		National: r.National, Urgency: r.Urgency, IssuedAt: now, ExpiresAt: now.Add(life),
		Contact: r.Contact, LegalBasis: basis, AgeBand: v1.AgeUnknown, Sex: v1.SexUnknown,
	}
	if slices.Contains(a.TargetAuthorities, c.n.authority) {
		return nil, fmt.Errorf("%w: targets: an alert cannot target its own authority %s", ErrInvalid, c.n.authority)
	}
	if err := a.Validate(); err != nil { // every field but the case's, before the case is read
		return nil, classify(err)
	}
	why := who.access("raise a cross-border alert "+string(a.ID), basis)
	cs, err := c.store.Case(ctx, r.Case, why)
	if err != nil {
		return nil, classify(err)
	}
	if cs.Responsible != c.n.authority {
		return nil, fmt.Errorf("%w: case %s is held by %s, which raises its alerts", ErrNotAllowedNow, cs.ID, cs.Responsible)
	}
	a.AgeBand, a.Sex = matchkeys.AlertFields(cs.Identity, now)
	a.Exploitation = slices.Clone(cs.Referral.ExploitationTypes)
	if keys := c.keys.Keys(cs.Identity); len(keys) > 0 && c.issuer != nil {
		a.MatchTokens, err = c.issuer.IssueTokens(a.ID, a.ExpiresAt, keyBytes(keys))
		if err != nil {
			return nil, fmt.Errorf("%w: match tokens: %w", ErrUnavailable, err)
		}
	}
	if err := c.sign(a); err != nil {
		c.retire(a.ID)
		return nil, err
	}
	if err := c.store.PutIssuedAlert(ctx, storage.IssuedAlert{Alert: *a, Case: cs.ID, RaisedBy: who.ID}, why); err != nil {
		c.retire(a.ID)
		return nil, classify(err)
	}
	if err := c.pub.PublishAlert(ctx, a); err != nil {
		c.log.Error("alert recorded but not sent", "alert", string(a.ID), "err", err)
		return nil, fmt.Errorf("%w: alert %s is recorded but the federation did not take it: %w", ErrUnavailable, a.ID, err)
	}
	c.log.Info("alert raised", "alert", string(a.ID), "case", string(cs.ID), "tokens", len(a.MatchTokens))
	out := raised(storage.IssuedAlert{Alert: *a, Case: cs.ID})
	return &out, nil
}

func (c *CrossBorder) sign(a *v1.CrossBorderAlert) error {
	a.Signature = nil
	msg, err := a.SigningBytes()
	if err != nil {
		return fmt.Errorf("sign alert %s: %w", a.ID, classify(err))
	}
	a.Signature = ed25519.Sign(c.signer, msg)
	return nil
}

func (c *CrossBorder) retire(id v1.ID) {
	if c.issuer == nil {
		return
	}
	if err := c.issuer.Retire(id); err != nil {
		c.log.Error("cannot retire the match key of an alert not raised", "alert", string(id), "err", err)
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// targets reports whether an alert targets authority code.
func targets(a *v1.CrossBorderAlert, code v1.AuthorityCode) bool {
	if a.National || slices.Contains(a.TargetAuthorities, code) {
		return true
	}
	au, ok := authority.Lookup(code)
	return ok && slices.Contains(a.TargetRegions, au.Region)
}

// ReceiveAlert takes an alert another authority raised and the federation
// validated (signature, roster, expiry, replay): it checks the alert
// again, stores it (audited alert.receive), runs private matching against
// this authority's own cases, and raises a task for a person on every
// possible match. It returns nil once the alert is stored, so the
// federation acknowledges it: the acknowledgement says the alert is
// recorded here, not that matching is done. If matching fails or runs out
// of time (the issuer unreachable, a very large caseload), the alert stays
// recorded as unmatched and MatchPending finishes it later; an error means
// the alert was not stored, and a later copy is handed over again. It is
// idempotent by alert ID: a copy of an alert already matched changes
// nothing.
func (c *CrossBorder) ReceiveAlert(ctx context.Context, a *v1.CrossBorderAlert, via string) error {
	if a == nil {
		return fmt.Errorf("%w: no alert", ErrInvalid)
	}
	if err := a.Validate(); err != nil {
		return classify(err)
	}
	now := c.n.now().UTC()
	switch {
	case a.Issuer == c.n.authority:
		return fmt.Errorf("%w: alert %s was raised by this authority", ErrInvalid, a.ID)
	case !targets(a, c.n.authority):
		return fmt.Errorf("%w: alert %s does not target %s", ErrInvalid, a.ID, c.n.authority)
	case !a.ExpiresAt.After(now):
		return fmt.Errorf("%w: alert %s expired at %s", ErrNotAllowedNow, a.ID, a.ExpiresAt.Format(time.RFC3339))
	}
	who := storage.Access{Actor: "node", Role: "node",
		Purpose:    "cross-border alert from " + string(a.Issuer),
		LegalBasis: a.LegalBasis}
	added, err := c.store.PutReceivedAlert(ctx, storage.ReceivedAlert{Alert: *a, ReceivedAt: now, Via: via}, who)
	if err != nil {
		return classify(err)
	}
	if !added {
		held, err := c.store.ReceivedAlert(a.ID)
		if err != nil {
			return classify(err)
		}
		if !held.MatchedAt.IsZero() {
			return nil
		}
	}
	tasks, err := c.matchAndMark(ctx, a, now)
	if err != nil {
		// Recorded: acknowledge it; KeepMatching resumes the matching soon.
		c.log.Warn("alert stored; matching unfinished, to be resumed", "alert", string(a.ID), "issuer", string(a.Issuer), "tasks", tasks, "err", err)
		select {
		case c.unfinished <- struct{}{}:
		default:
		}
		return nil
	}
	c.log.Info("alert received", "alert", string(a.ID), "issuer", string(a.Issuer), "via", via, "tasks", tasks)
	return nil
}

// matchAndMark matches an alert and records it as matched.
func (c *CrossBorder) matchAndMark(ctx context.Context, a *v1.CrossBorderAlert, now time.Time) (int, error) {
	tasks, err := c.match(ctx, a, now)
	if err != nil {
		return tasks, err
	}
	if err := c.store.MarkAlertMatched(ctx, a.ID, c.n.now().UTC(), tasks); err != nil {
		return tasks, classify(err)
	}
	return tasks, nil
}

// MatchPending finishes private matching for the live received alerts it
// has not finished: those whose matching failed or ran out of time when
// they arrived, or was cut short by a restart. The node calls it
// periodically with a generous deadline; it returns how many alerts it
// finished, and the errors of those it could not (they are tried again
// next time, until they expire). An alert whose issuer asked this node to
// wait (AlertMatchWaiter) is left for a later round, without an error and
// without reading a case.
func (c *CrossBorder) MatchPending(ctx context.Context) (int, error) {
	live, err := c.store.LiveReceivedAlerts(c.n.now().UTC(), storage.MaxListLimit)
	if err != nil {
		return 0, classify(err)
	}
	done := 0
	var errs []error
	for _, r := range live {
		if !r.MatchedAt.IsZero() {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if w, ok := c.matcher.(AlertMatchWaiter); ok {
			if wait := w.MatchWait(r.Alert.ID); wait > 0 {
				c.log.Debug("private matching waits for the issuer's rate limit", "alert", string(r.Alert.ID), "issuer", string(r.Alert.Issuer), "wait", wait.Round(time.Second))
				continue
			}
		}
		a := r.Alert
		// Ages are judged as at arrival, as they would have been then.
		tasks, err := c.matchAndMark(ctx, &a, r.ReceivedAt)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert %s from %s: %w", a.ID, a.Issuer, err))
			continue
		}
		done++
		c.log.Info("alert matched after it was received", "alert", string(a.ID), "issuer", string(a.Issuer), "tasks", tasks)
	}
	return done, errors.Join(errs...)
}

// KeepMatching runs MatchPending until ctx ends: at once (matching a
// restart cut short), then every MatchEvery, and MatchRetry after an alert
// whose matching failed when it arrived, so a match waits seconds, not a
// minute, for an issuer that was briefly out of reach. While rounds keep
// failing the wait doubles, up to MatchEvery. Each round may take up to
// MatchBudget. The node runs it for as long as it runs.
func (c *CrossBorder) KeepMatching(ctx context.Context) {
	retry := c.retry
	due := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.unfinished:
			if time.Until(due) > retry {
				due = time.Now().Add(retry)
				timer.Reset(retry)
			}
			continue
		case <-timer.C:
		}
		round, cancel := context.WithTimeout(ctx, c.budget)
		k, err := c.MatchPending(round)
		cancel()
		next := c.every
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			retry = min(2*retry, c.every)
			next = retry
			c.log.Warn("resuming private matching", "matched", k, "retry_in", retry, "err", err)
		default:
			retry = c.retry
			if k > 0 {
				c.log.Info("private matching resumed", "matched", k)
			}
		}
		due = time.Now().Add(next)
		timer.Reset(next)
	}
}

// match runs private matching of an alert against own cases and raises a
// task for each possible match; it returns how many tasks it raised.
func (c *CrossBorder) match(ctx context.Context, a *v1.CrossBorderAlert, now time.Time) (int, error) {
	if c.matcher == nil || len(a.MatchTokens) == 0 {
		return 0, nil
	}
	scan := storage.Access{Actor: "node", Role: "node",
		Purpose:    "private matching for cross-border alert " + string(a.ID) + " from " + string(a.Issuer),
		LegalBasis: a.LegalBasis}
	cands, strengths, err := c.candidates(ctx, a, now, scan)
	if err != nil {
		return 0, classify(err)
	}
	if len(cands) == 0 {
		return 0, nil
	}
	matches, matchErr := c.matcher.MatchAlert(ctx, a, cands)
	raisedTasks := 0
	for _, m := range matches {
		ss, ok := strengths[m.Case]
		if !ok {
			continue // not a candidate we asked about
		}
		var best matchkeys.Strength
		for _, i := range m.Keys {
			if i >= 0 && i < len(ss) && ss[i] > best {
				best = ss[i]
			}
		}
		if best == 0 {
			continue
		}
		t := storage.MatchTask{Alert: a.ID, Issuer: a.Issuer, Case: m.Case, Strength: best.String(),
			RaisedAt: c.n.now().UTC(), AlertExpiresAt: a.ExpiresAt}
		if _, _, err := c.store.RaiseMatchTask(ctx, t, scan); err != nil {
			return raisedTasks, classify(err)
		}
		raisedTasks++
	}
	if matchErr != nil {
		return raisedTasks, fmt.Errorf("%w: matching alert %s with its issuer %s: %w", ErrUnavailable, a.ID, a.Issuer, matchErr)
	}
	return raisedTasks, nil
}

// candidates returns this authority's cases that may be an alert's child
// (matchkeys Candidate: the alert's age band and sex) and have identity
// keys, with the keys' strengths. Through a CandidateStore only eligible
// cases are decrypted, and their keys are derived once and cached by the
// store; otherwise every case's identity is read and tested. Either way it
// is one audited read with scan's purpose and legal basis.
func (c *CrossBorder) candidates(ctx context.Context, a *v1.CrossBorderAlert, now time.Time, scan storage.Access) ([]MatchCandidate, map[v1.CaseID][]matchkeys.Strength, error) {
	var cands []MatchCandidate
	strengths := map[v1.CaseID][]matchkeys.Strength{}
	if cs, ok := c.store.(CandidateStore); ok {
		err := cs.MatchCandidates(ctx, string(a.ID), scan, c.candidateQuery(a, now), func(id v1.CaseID, ks []storage.MatchKey) error {
			if len(ks) == 0 {
				return nil
			}
			m := MatchCandidate{Case: id, Keys: make([][]byte, len(ks))}
			ss := make([]matchkeys.Strength, len(ks))
			for i, k := range ks {
				m.Keys[i], ss[i] = k.Bytes, matchkeys.Strength(k.Strength)
			}
			cands = append(cands, m)
			strengths[id] = ss
			return nil
		})
		return cands, strengths, err
	}
	err := c.store.CaseIdentities(ctx, string(a.ID), scan, func(id v1.CaseID, ident v1.ChildIdentity) error {
		if !c.keys.Candidate(ident, now, a.AgeBand, a.Sex) {
			return nil
		}
		ks := c.keys.Keys(ident)
		if len(ks) == 0 {
			return nil
		}
		cands = append(cands, MatchCandidate{Case: id, Keys: keyBytes(ks)})
		for _, k := range ks {
			strengths[id] = append(strengths[id], k.Strength)
		}
		return nil
	})
	return cands, strengths, err
}

// candidateQuery is the store's side of candidates: the alert's age band
// and sex test on the indexed fields, and the key derivation to cache.
func (c *CrossBorder) candidateQuery(a *v1.CrossBorderAlert, now time.Time) storage.CandidateQuery {
	return storage.CandidateQuery{
		Eligible: func(sex v1.Sex, dob *v1.DateOfBirth) bool {
			return c.keys.Eligible(sex, dob, now, a.AgeBand, a.Sex)
		},
		Deriver: c.keys.ID(),
		Derive: func(ident v1.ChildIdentity) []storage.MatchKey {
			ks := c.keys.Keys(ident)
			out := make([]storage.MatchKey, len(ks))
			for i, k := range ks {
				out[i] = storage.MatchKey{Bytes: k.Bytes, Strength: uint8(k.Strength)}
			}
			return out
		},
	}
}

// RecordAck records an authority's acknowledgement of an alert this node
// raised (the federation has checked its signature).
func (c *CrossBorder) RecordAck(ctx context.Context, alert v1.ID, from v1.AuthorityCode) error {
	return classify(c.store.RecordAlertAck(ctx, alert, from))
}

// AuthorizeMatchQuery says whether authority from may ask about an alert
// this node raised: only an authority the alert targets may, while the
// alert is live.
func (c *CrossBorder) AuthorizeMatchQuery(from v1.AuthorityCode, alert v1.ID) error {
	a, err := c.store.IssuedAlert(alert)
	if err != nil {
		return classify(err)
	}
	if !a.Alert.ExpiresAt.After(c.n.now()) {
		return fmt.Errorf("%w: alert %s has expired", ErrNotAllowedNow, alert)
	}
	if from == c.n.authority || !targets(&a.Alert, from) {
		return fmt.Errorf("%w: alert %s does not target %s", ErrForbidden, alert, from)
	}
	return nil
}

// MatchQuery is what the issuer records of one private-matching query:
// who asked, about which alert, how many elements, what it answered.
type MatchQuery struct {
	At       time.Time
	From     v1.AuthorityCode // empty when the peer is not on the roster
	Peer     string
	Alert    v1.ID
	Elements int
	Status   string
}

// AuditMatchQuery records a private-matching query about one of this
// node's alerts (alert.match_query), before it is answered.
func (c *CrossBorder) AuditMatchQuery(ctx context.Context, q MatchQuery) error {
	recipient := string(q.From)
	if recipient == "" {
		recipient = truncate(q.Peer)
	}
	e := &v1.AuditEntry{At: q.At.UTC(), Authority: c.n.authority, Actor: "node", Role: "node",
		Action: v1.ActionAlertMatchQuery, Subject: string(q.Alert), Recipient: recipient,
		Purpose: "private matching query", LegalBasis: DefaultBasis, Outcome: v1.AuditAllowed,
		Reason: fmt.Sprintf("%d elements, answered %s", q.Elements, q.Status)}
	if q.Status != "ok" {
		e.Outcome = v1.AuditDenied
	}
	if e.At.IsZero() {
		e.At = c.n.now().UTC()
	}
	return classify(c.store.Audit(ctx, e))
}

// ExpireAlerts removes the alerts that have expired, and the private-match
// keys of the raised ones; open tasks stay for a person. It returns how many
// alerts it removed; the composition root calls it periodically.
func (c *CrossBorder) ExpireAlerts(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := c.store.ExpireAlerts(ctx, c.n.now().UTC())
		total += n
		if err != nil || n < 1000 {
			return total, classify(err)
		}
	}
}

// AlertList is what a caseworker sees of alerts: those this authority
// raised and those it received, live ones only. None holds an identity.
type AlertList struct {
	Raised   []RaisedAlert
	Received []storage.ReceivedAlert
}

// Alerts lists the live alerts this authority raised and received. The
// list is audited.
func (c *CrossBorder) Alerts(ctx context.Context, who Principal, limit int) (*AlertList, error) {
	if err := c.n.require(ctx, who, CanRaiseAlert, actionAlertList, "alerts"); err != nil {
		return nil, err
	}
	if err := c.audit(ctx, who, actionAlertList, "alerts"); err != nil {
		return nil, err
	}
	now := c.n.now().UTC()
	issued, err := c.store.LiveIssuedAlerts(now, limit)
	if err != nil {
		return nil, classify(err)
	}
	received, err := c.store.LiveReceivedAlerts(now, limit)
	if err != nil {
		return nil, classify(err)
	}
	out := &AlertList{Received: received}
	for _, a := range issued {
		out.Raised = append(out.Raised, raised(a))
	}
	return out, nil
}

// audit records an allowed action of who.
func (c *CrossBorder) audit(ctx context.Context, who Principal, action v1.AuditAction, subject string) error {
	e := &v1.AuditEntry{At: c.n.now().UTC(), Authority: c.n.authority, Actor: who.ID, Role: string(who.Role),
		Action: action, Subject: subject, Outcome: v1.AuditAllowed}
	return classify(c.store.Audit(ctx, e))
}
