package web

import (
	"context"
	"time"

	"nrmnet/schemas/authority"
)

// RegionStatus is where the coordinator view reads the region's state. The
// composition root implements it from what the node knows: the roster and its
// own connections now, the members' signed heartbeats once gossip carries
// them. It must never put personal data in a RegionView.
type RegionStatus interface {
	RegionView(ctx context.Context) (RegionView, error)
}

// RegionView is the state of one region's federation as this node sees it.
type RegionView struct {
	// Region is the region's name, e.g. "London".
	Region string
	// Self is the authority of the node rendering the view.
	Self authority.Code
	// RosterSerial and RosterExpires describe the roster in force.
	RosterSerial  uint64
	RosterExpires time.Time
	// Source says where liveness comes from, in words for the page, e.g.
	// "direct connections" or "signed heartbeats".
	Source string
	// Authorities are the roster's members, in roster order.
	Authorities []AuthorityStatus
	// Panels are the combined panels members sit on, from the roster.
	Panels []PanelStatus
	// OtherRegions are the other regions whose rosters this node holds, so
	// that national alerts and hand-overs cross to them.
	OtherRegions []OtherRegionStatus
}

// Inconsistent lists the members whose audit log this node found
// inconsistent with its earlier log.
func (v RegionView) Inconsistent() []authority.Code {
	var out []authority.Code
	for _, a := range v.Authorities {
		if a.Report != nil && a.Report.AuditInconsistent {
			out = append(out, a.Code)
		}
	}
	return out
}

// OtherRegionStatus is another region as this node holds it.
type OtherRegionStatus struct {
	Region        string
	RosterSerial  uint64
	RosterExpires time.Time
	// Authorities counts the authority members on its roster.
	Authorities int
	// Bridges are its bridge members, national alerts' way in and out.
	Bridges []BridgeStatus
}

// BridgeStatus is another region's bridge and whether this node is
// connected to it (a bridge keeps connections to the others; an ordinary
// member connects only when it needs to).
type BridgeStatus struct {
	Code      authority.Code
	Name      string
	Connected bool
}

// AuthorityStatus is one member node as the view sees it.
type AuthorityStatus struct {
	Code   authority.Code
	Name   string // short name, e.g. "Islington"
	Roles  []string
	Panels []string
	// Self marks the node rendering the view.
	Self bool
	// Up says whether the node is reachable now.
	Up bool
	// LastSeen is when the node was last known to be up; zero if never since
	// this node started.
	LastSeen time.Time
	// Report is the member's latest status report, nil when none is known.
	Report *NodeReport
}

// NodeReport is what a node says about itself: counts and health only.
type NodeReport struct {
	// At is when the report was made.
	At          time.Time
	Version     string
	Peers       int // members it is connected to
	OutboxDepth int // messages waiting for acknowledgement
	Cases       int // cases held; -1 when not reported (heartbeats do not carry it)
	Overdue     int // cases past their next statutory deadline
	// AuditSize and AuditRoot are its latest audit checkpoint (the root as
	// hex, possibly shortened).
	AuditSize int64
	AuditRoot string
	// AuditVerified says this node checked the member's checkpoint with a
	// consistency proof from the one before; AuditProblem, when set, says
	// why it is not verified (waiting for a proof, no answer) or that it is
	// inconsistent (AuditInconsistent).
	AuditVerified     bool
	AuditInconsistent bool
	AuditProblem      string
}

// PanelStatus is one combined panel.
type PanelStatus struct {
	ID      string
	Members []authority.Code
	// MembersUp counts the members that are up.
	MembersUp int
	// Leader is the panel's Raft leader, empty when not known.
	Leader authority.Code
	// Lag is the largest replication lag reported, when known.
	Lag *uint64
}
