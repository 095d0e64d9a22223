package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// otherRegionsCollector reports the other regions' rosters this node holds
// and how many of their bridges it is connected to: a bridge that shows 0
// for a region is cut off from it, and national alerts wait on the repair
// path.
type otherRegionsCollector struct {
	status  *regionStatus
	serial  *prometheus.Desc
	bridges *prometheus.Desc
	members *prometheus.Desc
}

func newOtherRegionsCollector(s *regionStatus, constLabels prometheus.Labels) *otherRegionsCollector {
	return &otherRegionsCollector{
		status: s,
		serial: prometheus.NewDesc("nrmnet_federation_other_region_roster_serial",
			"Serial of another region's roster held by this node.", []string{"region"}, constLabels),
		bridges: prometheus.NewDesc("nrmnet_federation_other_region_bridges_connected",
			"Bridges of another region this node is connected to (a bridge keeps connections to them all).", []string{"region"}, constLabels),
		members: prometheus.NewDesc("nrmnet_federation_other_region_authorities",
			"Authorities on another region's roster held by this node.", []string{"region"}, constLabels),
	}
}

func (c *otherRegionsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.serial
	ch <- c.bridges
	ch <- c.members
}

func (c *otherRegionsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, o := range c.status.otherRegions() {
		connected := 0
		for _, b := range o.Bridges {
			if b.Connected {
				connected++
			}
		}
		ch <- prometheus.MustNewConstMetric(c.serial, prometheus.GaugeValue, float64(o.RosterSerial), o.Region)
		ch <- prometheus.MustNewConstMetric(c.bridges, prometheus.GaugeValue, float64(connected), o.Region)
		ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(o.Authorities), o.Region)
	}
}
