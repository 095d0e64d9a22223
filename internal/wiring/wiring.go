// Package wiring holds the adapters between storage, federation and node that
// the composition root (cmd/nrmnet) and the in-process test harness
// (node/nodetest) both need. storage, federation and node never import each
// other (ARCHITECTURE.md); their types meet here, in one place, instead of in
// two hand-kept copies.
package wiring

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/match"
	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Outbox adapts *storage.Store to gossip.Outbox; the two message types have
// the same fields in the same order.
type Outbox struct{ Store *storage.Store }

func (o Outbox) EnqueueOutbox(ctx context.Context, m gossip.OutboxEntry) error {
	return o.Store.EnqueueOutbox(ctx, storage.OutboxMessage(m))
}

func (o Outbox) DueOutbox(now time.Time, limit int) ([]gossip.OutboxEntry, error) {
	ms, err := o.Store.DueOutbox(now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]gossip.OutboxEntry, len(ms))
	for i, m := range ms {
		out[i] = gossip.OutboxEntry(m)
	}
	return out, nil
}

func (o Outbox) AckOutbox(ctx context.Context, id v1.ID, from v1.AuthorityCode) (bool, error) {
	return o.Store.AckOutbox(ctx, id, from)
}

func (o Outbox) MarkAttempt(ctx context.Context, id v1.ID, next time.Time) error {
	return o.Store.MarkAttempt(ctx, id, next)
}

func (o Outbox) ExpireOutbox(ctx context.Context, now time.Time) (int, error) {
	return o.Store.ExpireOutbox(ctx, now)
}

func (o Outbox) OutboxDepth() int { return o.Store.OutboxDepth() }

// MatchKeys adapts *storage.Store to match.KeyStore: the OPRF keys of
// raised alerts live in the encrypted store, synced, so the issuer keeps
// answering after a restart.
type MatchKeys struct{ Store *storage.Store }

func (k MatchKeys) PutMatchKey(alert v1.ID, key match.AlertKey) error {
	err := k.Store.PutAlertMatchKey(context.Background(), alert, key.Secret, key.ExpiresAt)
	if errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("%w: %w", match.ErrAlertKeyExists, err)
	}
	return err
}

func (k MatchKeys) MatchKey(alert v1.ID) (match.AlertKey, error) {
	secret, expires, err := k.Store.AlertMatchKey(alert)
	if errors.Is(err, storage.ErrNotFound) {
		return match.AlertKey{}, fmt.Errorf("%w: %w", match.ErrUnknownAlert, err)
	}
	if err != nil {
		return match.AlertKey{}, err
	}
	return match.AlertKey{Secret: secret, ExpiresAt: expires}, nil
}

func (k MatchKeys) DeleteMatchKey(alert v1.ID) error {
	return k.Store.DeleteAlertMatchKey(context.Background(), alert)
}

// Publisher adapts the gossip service to node.AlertPublisher. It is bound
// after the service starts (the service's handler needs CrossBorder, which
// needs the publisher); nothing raises an alert before the node is up.
type Publisher struct {
	svc atomic.Pointer[gossip.Service]
}

// Bind sets the gossip service alerts are published on.
func (p *Publisher) Bind(s *gossip.Service) { p.svc.Store(s) }

func (p *Publisher) PublishAlert(ctx context.Context, a *v1.CrossBorderAlert) error {
	svc := p.svc.Load()
	if svc == nil {
		return errors.New("gossip not started")
	}
	_, err := svc.Publish(ctx, a)
	return err
}

// TokenIssuer adapts the match issuer to node.MatchTokenIssuer, bound after
// the issuer starts (its Audit and Authorize need CrossBorder).
type TokenIssuer struct{ is atomic.Pointer[match.Issuer] }

// Bind sets the issuer tokens are made by.
func (t *TokenIssuer) Bind(is *match.Issuer) { t.is.Store(is) }

func (t *TokenIssuer) IssueTokens(alert v1.ID, expires time.Time, keys [][]byte) ([][]byte, error) {
	is := t.is.Load()
	if is == nil {
		return nil, errors.New("match issuer not started")
	}
	return is.IssueTokens(alert, expires, keys)
}

func (t *TokenIssuer) Retire(alert v1.ID) error {
	is := t.is.Load()
	if is == nil {
		return errors.New("match issuer not started")
	}
	return is.Retire(alert)
}

// Matcher adapts the match receiver to node.AlertMatcher: it finds the
// issuer's peer on the roster and maps case IDs to the receiver's
// candidate IDs and back.
type Matcher struct {
	Host     *federation.Host
	Receiver *match.Receiver
}

// MatchWait says how long the alert's issuer asked this node to wait
// before asking about it again (node.AlertMatchWaiter).
func (m Matcher) MatchWait(alert v1.ID) time.Duration { return m.Receiver.Waiting(alert) }

func (m Matcher) MatchAlert(ctx context.Context, a *v1.CrossBorderAlert, cands []node.MatchCandidate) ([]node.CandidateMatch, error) {
	// The issuer may be of another region (a national alert): any roster
	// held will do.
	l, ok := m.Host.Lookup(a.Issuer)
	if !ok {
		return nil, fmt.Errorf("issuer %s is on no roster this node holds", a.Issuer)
	}
	issuer, err := l.Member.ID()
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", a.Issuer, err)
	}
	byID := make(map[v1.ID]v1.CaseID, len(cands))
	in := make([]match.Candidate, len(cands))
	for i, c := range cands {
		id := v1.NewID()
		byID[id] = c.Case
		in[i] = match.Candidate{Case: id, Keys: c.Keys}
	}
	got, err := m.Receiver.Match(ctx, issuer, a, in)
	out := make([]node.CandidateMatch, 0, len(got))
	for _, g := range got {
		if c, ok := byID[g.Case]; ok {
			out = append(out, node.CandidateMatch{Case: c, Keys: g.Keys})
		}
	}
	return out, err
}

// IssuerHooks gives the match issuer the node's rules: only an alert's
// targets may query it, and every query is audited before it is answered.
func IssuerHooks(h *federation.Host, cb *node.CrossBorder) (authorize func(peer.ID, v1.ID) error, audit func(match.QueryRecord) error) {
	authorize = func(p peer.ID, alert v1.ID) error {
		l, ok := h.LookupPeer(p)
		if !ok {
			return fmt.Errorf("peer %s is on no roster this node holds", p)
		}
		return cb.AuthorizeMatchQuery(l.Member.Authority, alert)
	}
	audit = func(q match.QueryRecord) error {
		l, _ := h.LookupPeer(q.Peer)
		return cb.AuditMatchQuery(context.Background(), node.MatchQuery{At: q.At, From: l.Member.Authority,
			Peer: q.Peer.String(), Alert: q.Alert, Elements: q.Elements, Status: q.Status.String()})
	}
	return authorize, audit
}
