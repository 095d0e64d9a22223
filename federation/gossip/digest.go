package gossip

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// The digest exchange, over one stream opened by the node that repairs:
//
//	puller -> server  alert_digest  the live alert IDs the puller holds
//	server -> puller  alert_digest  the live alert IDs the server holds and the puller lacks
//	puller -> server  alert_want    the IDs it asks for (it may have got some meanwhile)
//	server -> puller  one alert envelope per frame, then end of stream
//
// Every alert received this way goes through the same checks as on a topic
// (issuer signature, roster, region, expiry, replay) before the node sees it.

// pullCooldown is the least time between two exchanges with one peer
// triggered by events (connections, a peer's digest).
const pullCooldown = 2 * time.Second

// pullRequest asks for an exchange with peer. since, when set, is when the
// peer was seen to hold alerts this node lacks (its digest listed them): the
// exchange then happens unless one with the peer started after that time,
// cooldown or not, since the evidence is new.
type pullRequest struct {
	peer  peer.ID
	since time.Time
}

// requestPull asks the digest loop for an exchange with p, if it is a
// member and the loop is not too busy.
func (s *Service) requestPull(p peer.ID) { s.queuePull(pullRequest{peer: p}) }

// requestPullFor asks for an exchange with p, which holds alerts this node
// lacks.
func (s *Service) requestPullFor(p peer.ID) { s.queuePull(pullRequest{peer: p, since: time.Now()}) }

func (s *Service) queuePull(r pullRequest) {
	if r.peer == s.self {
		return
	}
	if _, ok := s.host.LookupPeer(r.peer); !ok {
		return
	}
	select {
	case s.pulls <- r:
	default:
	}
}

// digestLoop runs the exchanges this node starts, one at a time.
func (s *Service) digestLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.DigestInterval)
	defer tick.Stop()
	last := map[peer.ID]time.Time{}
	for {
		select {
		case <-s.ctx.Done():
			return
		case r := <-s.pulls:
			p := r.peer
			if r.since.IsZero() && time.Since(last[p]) < pullCooldown {
				s.log.Debug("digest exchange skipped: cooldown", "peer", p)
				continue
			}
			if !r.since.IsZero() && last[p].After(r.since) {
				s.log.Debug("digest exchange skipped: one ran since", "peer", p)
				continue // an exchange since then fetched what was lacking
			}
			s.log.Debug("digest exchange starts", "peer", p, "lacking", !r.since.IsZero())
			last[p] = time.Now()
			s.pullFrom(p)
		case <-tick.C:
			for p, t := range last {
				if time.Since(t) > pullCooldown {
					delete(last, p)
				}
			}
			// Any connected member: of this region, or, for a bridge, the
			// other regions' bridges.
			var peers []peer.ID
			for _, p := range s.host.Libp2p().Network().Peers() {
				if _, ok := s.host.LookupPeer(p); ok && p != s.self {
					peers = append(peers, p)
				}
			}
			if len(peers) > 0 {
				p := peers[rand.IntN(len(peers))]
				last[p] = time.Now()
				s.pullFrom(p)
			}
		}
	}
}

func (s *Service) pullFrom(p peer.ID) {
	n, err := s.pull(p)
	if err != nil {
		s.metrics.digests.WithLabelValues("failed").Inc()
		s.log.Debug("digest exchange failed", "peer", p, "err", err)
		return
	}
	s.metrics.digests.WithLabelValues("done").Inc()
	if n > 0 {
		s.log.Info("digest exchange fetched missing alerts", "peer", p, "alerts", n)
	}
}

// spreadFromOtherRegion: a bridge that has just fetched alerts from another
// region's bridge (the link between them was down when they were published)
// holds national alerts its own region may all lack, and that gossip will
// not carry again (the issuer's re-publishes stop at the first node that
// holds the alert). It starts an exchange with every connected member of
// its region: each sees, in the bridge's digest, IDs it lacks and pulls them
// at once, instead of waiting for its next random exchange. Only bridges do
// this, and only after a fetch across regions, so it cannot cascade. The
// inbox loop calls it once the fetched alerts are recorded (so the digest
// lists them), once per batch.
func (s *Service) spreadFromOtherRegion(from peer.ID) {
	net := s.host.Libp2p().Network()
	for _, q := range s.host.Roster().PeerIDs() {
		if q != s.self && net.Connectedness(q) == network.Connected {
			// Our digest now lists what q lacks: exchange even if we did
			// a moment ago.
			s.requestPullFor(q)
		}
	}
}

// pull runs one exchange with p and returns how many alerts it fetched.
func (s *Service) pull(p peer.ID) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
	defer cancel()
	mine, err := s.cfg.Seen.LiveSeen(s.now(), s.cfg.MaxDigestIDs)
	if err != nil {
		return 0, fmt.Errorf("list live alerts: %w", err)
	}
	// A peer of another region hears only of national alerts, not even
	// the IDs of this region's own.
	if l, ok := s.host.LookupPeer(p); ok && l.Region != s.region {
		if mine, err = s.nationalOnly(mine); err != nil {
			return 0, err
		}
	}
	st, err := s.host.Libp2p().NewStream(ctx, p, DigestProtocol)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	fail := func(err error) (int, error) {
		st.Reset()
		return 0, err
	}
	if err := s.send(st, "send digest", KindAlertDigest, mine); err != nil {
		return fail(err)
	}
	br := bufio.NewReader(st)
	b, err := readFrame(br, maxDigestFrame)
	if err != nil {
		return fail(fmt.Errorf("read digest: %w", err))
	}
	if s.tap != nil {
		s.tap("receive digest", b)
	}
	theirs, err := decodeIDList(b, KindAlertDigest)
	if err != nil {
		s.metrics.rejected.WithLabelValues(labelDigest, reasonMalformed).Inc()
		return fail(err)
	}
	var want []v1.ID
	for _, id := range theirs {
		if _, _, found, err := s.cfg.Seen.GetSeen(id); err == nil && !found {
			want = append(want, id)
		}
	}
	if err := s.send(st, "send want", KindAlertWant, want); err != nil {
		return fail(err)
	}
	if err := st.CloseWrite(); err != nil {
		return fail(err)
	}
	asked := make(map[v1.ID]bool, len(want))
	for _, id := range want {
		asked[id] = true
	}
	got := 0
	for range want {
		b, err := readFrame(br, maxAlertMessage)
		if errors.Is(err, io.EOF) {
			break // the server no longer held some
		}
		if err != nil {
			return got, fmt.Errorf("read alert: %w", err)
		}
		if s.tap != nil {
			s.tap("receive digest alert", b)
		}
		a, v := s.checkAlert(b, "", "")
		if v.result == pubsub.ValidationAccept && !asked[a.ID] {
			v = reject(reasonMalformed, fmt.Errorf("%w: alert %s was not asked for", ErrMalformed, a.ID))
		}
		if v.result != pubsub.ValidationAccept {
			s.count(labelDigest, v, p, a)
			if v.result == pubsub.ValidationReject {
				return fail(fmt.Errorf("peer sent an invalid alert: %w", v.err))
			}
			continue
		}
		delete(asked, a.ID)
		s.metrics.delivered.WithLabelValues(labelDigest).Inc()
		select {
		case s.inbox <- incoming{alert: a, envelope: b, from: p, via: "digest"}:
			got++
		case <-s.ctx.Done():
			return got, ErrClosed
		}
	}
	return got, nil
}

// nationalOnly keeps the alerts of ids that belong on the national topic.
func (s *Service) nationalOnly(ids []v1.ID) ([]v1.ID, error) {
	var out []v1.ID
	for _, id := range ids {
		env, _, found, err := s.cfg.Seen.GetSeen(id)
		if err != nil {
			return nil, fmt.Errorf("read seen alert: %w", err)
		}
		if !found {
			continue
		}
		a, err := decodeAlert(env)
		if err != nil {
			continue // held since before a format change; not offered
		}
		if topicFor(a, regionOf(a.Issuer)) == NationalTopic {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *Service) send(w io.Writer, what string, kind schemas.Kind, ids []v1.ID) error {
	env, err := encodeIDList(kind, ids)
	if err != nil {
		return err
	}
	if s.tap != nil {
		s.tap(what, env)
	}
	return writeFrame(w, env)
}

// serveDigest answers one exchange started by a peer.
func (s *Service) serveDigest(st network.Stream) {
	defer st.Close()
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	remote := st.Conn().RemotePeer()
	l, ok := s.host.LookupPeer(remote)
	if !ok {
		st.Reset()
		return
	}
	if err := s.answerDigest(st, remote, l.Region); err != nil {
		s.log.Debug("digest exchange served with an error", "peer", remote, "err", err)
		st.Reset()
	}
}

// answerDigest serves one exchange. A peer of another region is offered only
// the alerts that belong on the national topic: an alert for this region
// alone is none of its business.
func (s *Service) answerDigest(st network.Stream, remote peer.ID, remoteRegion string) error {
	br := bufio.NewReader(st)
	b, err := readFrame(br, maxDigestFrame)
	if err != nil {
		return fmt.Errorf("read digest: %w", err)
	}
	if s.tap != nil {
		s.tap("receive digest", b)
	}
	theirs, err := decodeIDList(b, KindAlertDigest)
	if err != nil {
		s.metrics.rejected.WithLabelValues(labelDigest, reasonMalformed).Inc()
		return err
	}
	now := s.now()
	mine, err := s.cfg.Seen.LiveSeen(now, s.cfg.MaxDigestIDs)
	if err != nil {
		return fmt.Errorf("list live alerts: %w", err)
	}
	if remoteRegion != s.region {
		if mine, err = s.nationalOnly(mine); err != nil {
			return err
		}
	}
	has := make(map[v1.ID]bool, len(theirs))
	for _, id := range theirs {
		has[id] = true
	}
	held := make(map[v1.ID]bool, len(mine))
	var lack []v1.ID
	for _, id := range mine {
		held[id] = true
		if !has[id] {
			lack = append(lack, id)
		}
	}
	// The peer holds alerts we do not: pull them in turn.
	for _, id := range theirs {
		if !held[id] {
			s.requestPullFor(remote)
			break
		}
	}
	if err := s.send(st, "send digest", KindAlertDigest, lack); err != nil {
		return err
	}
	b, err = readFrame(br, maxDigestFrame)
	if err != nil {
		return fmt.Errorf("read want: %w", err)
	}
	if s.tap != nil {
		s.tap("receive want", b)
	}
	want, err := decodeIDList(b, KindAlertWant)
	if err != nil {
		s.metrics.rejected.WithLabelValues(labelDigest, reasonMalformed).Inc()
		return err
	}
	for _, id := range want {
		if !held[id] {
			continue
		}
		env, _, found, err := s.cfg.Seen.GetSeen(id)
		if err != nil {
			return err
		}
		if !found {
			continue
		}
		if s.tap != nil {
			s.tap("send digest alert", env)
		}
		if err := writeFrame(st, env); err != nil {
			return err
		}
	}
	return st.CloseWrite()
}
