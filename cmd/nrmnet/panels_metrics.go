package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// panelCollector exports each combined panel's Raft state, as last read by
// the panels' status refresh (every few seconds), to /metrics: which state
// this node is in, its term and applied index, whether it sees a leader, and
// on the leader the largest lag of a member. Labels are panel IDs and
// authority codes only.
type panelCollector struct {
	panels    *panelParts
	state     *prometheus.Desc
	term      *prometheus.Desc
	applied   *prometheus.Desc
	hasLeader *prometheus.Desc
	lag       *prometheus.Desc
}

// raftStates are the states a panel's Raft group reports; every one gets a
// series, 1 for the current state and 0 for the others, so a dashboard can
// alert on "no leader" without knowing the names in advance.
var raftStates = []string{"Follower", "Candidate", "Leader", "Shutdown"}

func newPanelCollector(p *panelParts, constLabels prometheus.Labels) *panelCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append([]string{"panel"}, labels...), constLabels)
	}
	return &panelCollector{
		panels:    p,
		state:     d("nrmnet_panel_raft_state", "1 for the Raft state this node is in for the panel, 0 for the others.", "state"),
		term:      d("nrmnet_panel_raft_term", "The panel's current Raft term as this node sees it."),
		applied:   d("nrmnet_panel_applied_index", "The last Raft index this node applied for the panel."),
		hasLeader: d("nrmnet_panel_has_leader", "1 when this node knows the panel's leader.", "leader"),
		lag:       d("nrmnet_panel_max_lag_entries", "On the leader: entries the furthest-behind member lags."),
	}
}

func (c *panelCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.term, c.applied, c.hasLeader, c.lag} {
		ch <- d
	}
}

func (c *panelCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.panels.States() {
		id := string(s.Panel)
		for _, st := range raftStates {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, id, st)
		}
		ch <- prometheus.MustNewConstMetric(c.term, prometheus.GaugeValue, float64(s.Term), id)
		ch <- prometheus.MustNewConstMetric(c.applied, prometheus.GaugeValue, float64(s.AppliedIndex), id)
		leader := 0.0
		if s.Leader != "" {
			leader = 1
		}
		ch <- prometheus.MustNewConstMetric(c.hasLeader, prometheus.GaugeValue, leader, id, string(s.Leader))
		if s.Lag != nil {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(*s.Lag), id)
		}
	}
}
