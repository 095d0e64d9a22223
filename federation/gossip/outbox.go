package gossip

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// PublishReceipt says where an alert went.
type PublishReceipt struct {
	ID    v1.ID
	Topic string
	// Targets are the roster authorities whose acknowledgement the outbox
	// waits for.
	Targets []v1.AuthorityCode
	// Unreachable are target authorities named by the alert that are on no
	// roster this node holds (its region's, or another region's it is
	// configured for): no acknowledgement can come from them here.
	Unreachable []v1.AuthorityCode
	// Published is false when the first publish failed; the outbox retries.
	Published bool
}

// SignAlert signs an alert with the issuing node's key.
func SignAlert(a *v1.CrossBorderAlert, key ed25519.PrivateKey) error {
	a.Signature = nil
	msg, err := a.SigningBytes()
	if err != nil {
		return fmt.Errorf("sign alert: %w", err)
	}
	a.Signature = ed25519.Sign(key, msg)
	return nil
}

// Publish issues an alert of this node's authority: it signs the alert if
// it is unsigned (or checks the signature if not), records it in the outbox
// for every targeted authority on the roster, and publishes it on its topic.
// Once Publish returns nil, the alert is durable: the outbox re-publishes it
// until every target has acknowledged it or it expires, across restarts.
// An ID this node already holds is refused (ErrDuplicate): every alert needs
// a fresh ID.
func (s *Service) Publish(ctx context.Context, alert *v1.CrossBorderAlert) (PublishReceipt, error) {
	if s.ctx.Err() != nil {
		return PublishReceipt{}, ErrClosed
	}
	a := *alert
	if a.Issuer != s.me {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w: issuer %s, this node is %s", a.ID, ErrNotIssuer, a.Issuer, s.me)
	}
	if len(a.Signature) == 0 {
		if err := SignAlert(&a, s.cfg.Identity); err != nil {
			return PublishReceipt{}, fmt.Errorf("publish alert %s: %w", a.ID, err)
		}
	} else {
		msg, err := a.SigningBytes()
		if err != nil {
			return PublishReceipt{}, fmt.Errorf("publish alert %s: %w", a.ID, err)
		}
		if !ed25519.Verify(s.cfg.Identity.Public().(ed25519.PublicKey), msg, a.Signature) {
			return PublishReceipt{}, fmt.Errorf("publish alert %s: %w: signed with another key", a.ID, ErrNotIssuer)
		}
	}
	env, err := v1.Marshal(&a)
	if err != nil {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w", a.ID, err)
	}
	if len(env) > maxAlertMessage {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w: %d bytes", a.ID, schemas.ErrTooLarge, len(env))
	}
	now := s.now().UTC()
	if !a.ExpiresAt.After(now) {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w", a.ID, ErrExpired)
	}
	if regionOf(s.me) != s.region {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w: %s is not in region %s", a.ID, ErrNotIssuer, s.me, s.region)
	}
	rc := PublishReceipt{ID: a.ID, Topic: topicFor(&a, s.region)}
	rc.Targets, rc.Unreachable = targetsOf(&a, s.host.Rosters()...)
	// Outbox first, then the seen-set: a crash between the two leaves the
	// alert tracked for delivery (peers serve it by digest), and a retry
	// with the same ID is refused by the outbox.
	if _, _, found, err := s.cfg.Seen.GetSeen(a.ID); err != nil {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w", a.ID, err)
	} else if found {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: %w", a.ID, ErrDuplicate)
	}
	if len(rc.Targets) > 0 {
		err := s.cfg.Outbox.EnqueueOutbox(ctx, OutboxEntry{
			ID: a.ID, Kind: schemas.KindAlert, Payload: env, Targets: rc.Targets,
			CreatedAt: now, ExpiresAt: a.ExpiresAt, NextAttemptAt: now.Add(s.cfg.RetryMin),
		})
		if err != nil {
			return PublishReceipt{}, fmt.Errorf("publish alert %s: outbox: %w", a.ID, err)
		}
	}
	if _, err := s.cfg.Seen.PutSeen(ctx, a.ID, now, a.ExpiresAt, env); err != nil {
		return PublishReceipt{}, fmt.Errorf("publish alert %s: record as seen: %w", a.ID, err)
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.StreamTimeout)
	defer cancel()
	if err := s.publishOn(pctx, rc.Topic, env); err != nil {
		s.log.Warn("first publish failed; the outbox will retry", "alert", a.ID, "err", err)
	} else {
		rc.Published = true
		s.metrics.published.WithLabelValues(s.labels[rc.Topic]).Inc()
	}
	s.log.Info("alert published", "alert", a.ID, "topic", rc.Topic, "targets", len(rc.Targets), "unreachable", len(rc.Unreachable))
	return rc, nil
}

// outboxLoop re-publishes due alerts and prunes the seen-set.
func (s *Service) outboxLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.OutboxInterval)
	defer tick.Stop()
	prune := time.NewTicker(s.cfg.PruneInterval)
	defer prune.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			s.flushOutbox()
		case <-prune.C:
			ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
			n, err := s.cfg.Seen.PruneSeen(ctx, s.now())
			if _, err := s.cfg.Outbox.ExpireOutbox(ctx, s.now()); err != nil {
				s.log.Error("expire outbox", "err", err)
			}
			cancel()
			if err != nil {
				s.log.Error("prune seen alerts", "err", err)
			} else if n > 0 {
				s.log.Debug("pruned expired seen alerts", "n", n)
			}
		}
	}
}

// flushOutbox re-publishes every alert due, then removes expired ones.
func (s *Service) flushOutbox() {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	now := s.now()
	due, err := s.cfg.Outbox.DueOutbox(now, 64)
	if err != nil {
		s.log.Error("read outbox", "err", err)
		return
	}
	expired := 0
	for _, m := range due {
		if m.Kind != schemas.KindAlert {
			continue // another layer's message
		}
		if !m.ExpiresAt.After(now) {
			expired++
			s.log.Warn("alert expired before every target acknowledged it", "alert", m.ID, "pending", m.Targets, "acked", len(m.Acked))
			continue
		}
		a, err := v1.UnmarshalAlert(m.Payload)
		if err != nil {
			s.log.Error("outbox holds an undecodable alert; leaving it to expire", "alert", m.ID, "err", err)
			_ = s.cfg.Outbox.MarkAttempt(ctx, m.ID, now.Add(s.cfg.RetryMax))
			continue
		}
		topic := topicFor(a, s.region)
		if err := s.publishOn(ctx, topic, m.Payload); err != nil {
			s.log.Warn("re-publish failed", "alert", m.ID, "err", err)
		} else {
			s.metrics.republished.WithLabelValues(s.labels[topic]).Inc()
			s.log.Debug("alert re-published", "alert", m.ID, "attempt", m.Attempts+1, "pending", m.Targets)
		}
		if err := s.cfg.Outbox.MarkAttempt(ctx, m.ID, now.Add(s.backoff(m.Attempts+1))); err != nil {
			s.log.Error("record outbox attempt", "alert", m.ID, "err", err)
		}
	}
	if expired > 0 {
		if _, err := s.cfg.Outbox.ExpireOutbox(ctx, now); err != nil {
			s.log.Error("expire outbox", "err", err)
		}
	}
}

// backoff is the wait before re-publish number attempt: RetryMin doubling
// up to RetryMax.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < attempt && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}
