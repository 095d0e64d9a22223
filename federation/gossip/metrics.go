package gossip

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the service's Prometheus metrics. Labels are topic kinds and
// fixed reasons, never alert IDs, authorities or content.
type metrics struct {
	delivered     *prometheus.CounterVec // topic
	rejected      *prometheus.CounterVec // topic, reason
	ignored       *prometheus.CounterVec // topic, reason
	published     *prometheus.CounterVec // topic
	republished   *prometheus.CounterVec // topic
	acksSent      *prometheus.CounterVec // result
	acksReceived  *prometheus.CounterVec // result
	digests       *prometheus.CounterVec // result
	repaired      prometheus.Counter
	handlerErrors prometheus.Counter
	conflicts     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, outbox Outbox) (*metrics, error) {
	const ns, sub = "nrmnet", "gossip"
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_delivered_total", Help: "Messages from peers accepted by a validator, by topic (digest: alerts fetched by digest repair)."}, []string{"topic"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_rejected_total", Help: "Messages rejected as malformed or forged (the sender is penalised), by topic and reason."}, []string{"topic", "reason"}),
		ignored: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_ignored_total", Help: "Messages ignored as expired, duplicate, replayed or stale, by topic and reason."}, []string{"topic", "reason"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "messages_published_total", Help: "Alerts and heartbeats this node published, by topic."}, []string{"topic"}),
		republished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "alerts_republished_total", Help: "Alerts re-published from the outbox while acknowledgements were missing, by topic."}, []string{"topic"}),
		acksSent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "acks_sent_total", Help: "Acknowledgements sent to issuers, by result."}, []string{"result"}),
		acksReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "acks_received_total", Help: "Acknowledgements received for this node's alerts, by result."}, []string{"result"}),
		digests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "digest_exchanges_total", Help: "Digest exchanges this node started, by result."}, []string{"result"}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "alerts_repaired_total", Help: "Alerts first received through digest repair rather than gossip."}),
		handlerErrors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "alert_handler_errors_total", Help: "Alerts the node's handler failed to take (left unacknowledged)."}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "checkpoint_conflicts_total", Help: "Audit checkpoints from members inconsistent with their previous one."}),
	}
	if reg == nil {
		return m, nil
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
		Name: "outbox_depth", Help: "Messages in the outbox waiting for acknowledgements."},
		func() float64 { return float64(outbox.OutboxDepth()) })
	for _, c := range []prometheus.Collector{m.delivered, m.rejected, m.ignored, m.published, m.republished,
		m.acksSent, m.acksReceived, m.digests, m.repaired, m.handlerErrors, m.conflicts, depth} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
