package main

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
	"nrmnet/node/web"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// The adapters below join storage, federation and node for cross-border
// alerts and private matching; they are the composition root's, since those
// packages never import each other.

// matchKeyStore adapts *storage.Store to match.KeyStore: the OPRF keys of
// raised alerts live in the encrypted store, synced, so the issuer keeps
// answering after a restart.
type matchKeyStore struct{ s *storage.Store }

func (k matchKeyStore) PutMatchKey(alert v1.ID, key match.AlertKey) error {
	err := k.s.PutAlertMatchKey(context.Background(), alert, key.Secret, key.ExpiresAt)
	if errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("%w: %w", match.ErrAlertKeyExists, err)
	}
	return err
}

func (k matchKeyStore) MatchKey(alert v1.ID) (match.AlertKey, error) {
	secret, expires, err := k.s.AlertMatchKey(alert)
	if errors.Is(err, storage.ErrNotFound) {
		return match.AlertKey{}, fmt.Errorf("%w: %w", match.ErrUnknownAlert, err)
	}
	if err != nil {
		return match.AlertKey{}, err
	}
	return match.AlertKey{Secret: secret, ExpiresAt: expires}, nil
}

func (k matchKeyStore) DeleteMatchKey(alert v1.ID) error {
	return k.s.DeleteAlertMatchKey(context.Background(), alert)
}

// publisher adapts the gossip service to node.AlertPublisher. It is bound
// after the service starts (the service's handler needs CrossBorder, which
// needs the publisher); nothing raises an alert before the node is up.
type publisher struct {
	svc atomic.Pointer[gossip.Service]
}

func (p *publisher) PublishAlert(ctx context.Context, a *v1.CrossBorderAlert) error {
	svc := p.svc.Load()
	if svc == nil {
		return errors.New("gossip not started")
	}
	_, err := svc.Publish(ctx, a)
	return err
}

// tokenIssuer adapts the match issuer to node.MatchTokenIssuer, bound after
// the issuer starts (its Audit and Authorize need CrossBorder).
type tokenIssuer struct{ is atomic.Pointer[match.Issuer] }

func (t *tokenIssuer) IssueTokens(alert v1.ID, expires time.Time, keys [][]byte) ([][]byte, error) {
	is := t.is.Load()
	if is == nil {
		return nil, errors.New("match issuer not started")
	}
	return is.IssueTokens(alert, expires, keys)
}

func (t *tokenIssuer) Retire(alert v1.ID) error {
	is := t.is.Load()
	if is == nil {
		return errors.New("match issuer not started")
	}
	return is.Retire(alert)
}

// matcher adapts the match receiver to node.AlertMatcher: it finds the
// issuer's peer on the roster and maps case IDs to the receiver's
// candidate IDs (fresh for every query, so no case ID crosses the wire)
// and back.
type matcher struct {
	host     *federation.Host
	receiver *match.Receiver
}

func (m matcher) MatchAlert(ctx context.Context, a *v1.CrossBorderAlert, cands []node.MatchCandidate) ([]node.CandidateMatch, error) {
	member, ok := m.host.Roster().Member(a.Issuer)
	if !ok {
		return nil, fmt.Errorf("issuer %s is not on the roster", a.Issuer)
	}
	issuer, err := member.ID()
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
	got, err := m.receiver.Match(ctx, issuer, a, in)
	out := make([]node.CandidateMatch, 0, len(got))
	for _, g := range got {
		if c, ok := byID[g.Case]; ok {
			out = append(out, node.CandidateMatch{Case: c, Keys: g.Keys})
		}
	}
	return out, err
}

// issuerHooks gives the match issuer the node's rules: only an alert's
// targets may query it, and every query is audited before it is answered.
func issuerHooks(h *federation.Host, cb *node.CrossBorder) (authorize func(peer.ID, v1.ID) error, audit func(match.QueryRecord) error) {
	authorize = func(p peer.ID, alert v1.ID) error {
		m, ok := h.Member(p)
		if !ok {
			return fmt.Errorf("peer %s is not on the roster", p)
		}
		return cb.AuthorizeMatchQuery(m.Authority, alert)
	}
	audit = func(q match.QueryRecord) error {
		m, _ := h.Member(q.Peer)
		return cb.AuditMatchQuery(context.Background(), node.MatchQuery{At: q.At, From: m.Authority,
			Peer: q.Peer.String(), Alert: q.Alert, Elements: q.Elements, Status: q.Status.String()})
	}
	return authorize, audit
}

// asNode is the node's principal for a user signed in to the pages.
func asNode(who web.Principal, code v1.AuthorityCode) node.Principal {
	return node.Principal{ID: who.UserID, Role: node.Role(who.Role), Authority: code}
}

// webCaseFiles lets the case page read a case through the node's audited
// read, for the purpose the user gave.
type webCaseFiles struct{ app *node.Node }

func (f webCaseFiles) Case(ctx context.Context, who web.Principal, id v1.CaseID, purpose string) (*node.CaseRecord, error) {
	return f.app.Case(ctx, asNode(who, f.app.Authority()), id, node.Read{Purpose: purpose})
}

// webAlerts lets the alert and task pages use the node's CrossBorder.
type webAlerts struct {
	cb   *node.CrossBorder
	self v1.AuthorityCode
}

func (a webAlerts) RaiseAlert(ctx context.Context, who web.Principal, r node.NewAlert) (*node.RaisedAlert, error) {
	return a.cb.RaiseAlert(ctx, asNode(who, a.self), r)
}

func (a webAlerts) Alerts(ctx context.Context, who web.Principal, limit int) (*node.AlertList, error) {
	return a.cb.Alerts(ctx, asNode(who, a.self), limit)
}

func (a webAlerts) Tasks(ctx context.Context, who web.Principal, openOnly bool, limit int) ([]storage.MatchTask, error) {
	return a.cb.Tasks(ctx, asNode(who, a.self), openOnly, limit)
}

func (a webAlerts) ResolveTask(ctx context.Context, who web.Principal, id v1.ID, resolution, reason string) (storage.MatchTask, error) {
	return a.cb.ResolveTask(ctx, asNode(who, a.self), id, resolution, reason)
}
