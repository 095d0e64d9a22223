package rpc

import (
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Side says which end of a hand-over a record belongs to.
type Side string

// The two sides.
const (
	SideOrigin      Side = "origin"
	SideDestination Side = "destination"
)

// State is where a hand-over stands on one side. The states and the moves
// between them are drawn in DESIGN.md.
type State string

// Origin states: requested -> accepted -> case_sent -> completed, or
// requested -> rejected, or requested -> revoked.
//
// Destination states: offered -> accepted -> received -> completed, or
// offered -> rejected, or offered|accepted|rejected (not yet acknowledged by
// the origin) -> revoked.
const (
	StateRequested State = "requested" // origin: request recorded, offer being delivered
	StateOffered   State = "offered"   // destination: offer recorded, awaiting a person's decision
	StateAccepted  State = "accepted"  // both: acceptance recorded on this side
	StateCaseSent  State = "case_sent" // origin: the case has been exported and is being sent
	StateReceived  State = "received"  // destination: the case is installed provisionally, receipt confirmed
	StateCompleted State = "completed" // origin: transferred out; destination: responsible
	StateRejected  State = "rejected"  // both: the destination rejected
	StateRevoked   State = "revoked"   // both: the origin revoked before acceptance
)

var sideStates = map[Side]map[State]bool{
	SideOrigin: {StateRequested: true, StateAccepted: true, StateCaseSent: true,
		StateCompleted: true, StateRejected: true, StateRevoked: true},
	SideDestination: {StateOffered: true, StateAccepted: true, StateReceived: true,
		StateCompleted: true, StateRejected: true, StateRevoked: true},
}

// Final reports whether no further move is possible from s.
func (s State) Final() bool {
	return s == StateCompleted || s == StateRejected || s == StateRevoked
}

// Handover is one side's record of one relocation. It holds the minimal
// request and decisions, never the case: the case is read from the node when
// it is sent and handed to the node when it arrives.
type Handover struct {
	Request v1.RelocationRequest `cbor:"request"`
	Side    Side                 `cbor:"side"`
	State   State                `cbor:"state"`
	// Acked is set once the peer has acknowledged the message this side owes
	// for the current state (the offer, a decision, a revoke or the
	// completion). Delivery is retried until it is.
	Acked bool `cbor:"acked,omitempty"`
	// Decision is the signed-off accept, reject or revoke, once there is one.
	Decision *v1.RelocationResponse `cbor:"decision,omitempty"`
	// CaseCID is the content ID of the case sent (origin) or installed
	// (destination), once there is one.
	CaseCID string `cbor:"case_cid,omitempty"`
	// Failure, when set, says why delivery stopped for good: the peer
	// refused in a way no retry can mend. A person must look at it.
	Failure string    `cbor:"failure,omitempty"`
	Updated time.Time `cbor:"updated"`
}

// ID returns the request ID the hand-over is keyed by.
func (h *Handover) ID() v1.ID { return h.Request.ID }

// Peer returns the other authority.
func (h *Handover) Peer() v1.AuthorityCode {
	if h.Side == SideOrigin {
		return h.Request.Destination
	}
	return h.Request.Origin
}

// HoldsCase reports whether this side holds the child's case: the origin
// until it has marked the case transferred out, the destination from the
// moment the case is installed (provisionally) on it.
func (h *Handover) HoldsCase() bool {
	if h.Side == SideOrigin {
		return h.State != StateCompleted
	}
	return h.State == StateReceived || h.State == StateCompleted
}

// Responsible reports whether this side is responsible for the child (holds
// the case fully): the origin until completed, the destination only once
// completed.
func (h *Handover) Responsible() bool {
	if h.Side == SideOrigin {
		return h.State != StateCompleted
	}
	return h.State == StateCompleted
}

// Validate checks a record read from a store and names what is wrong.
func (h *Handover) Validate() error {
	ch := schemas.NewChecker()
	if err := h.Request.Validate(); err != nil {
		ch.Fail("request", "%v", err)
	}
	states, ok := sideStates[h.Side]
	ch.Check(ok, "side", "%q is not origin or destination", clip(string(h.Side)))
	if ok {
		ch.Check(states[h.State], "state", "%q is not a %s state", clip(string(h.State)), h.Side)
	}
	if d := h.Decision; d != nil {
		if err := d.Validate(); err != nil {
			ch.Fail("decision", "%v", err)
		}
		ch.Check(d.RequestID == h.Request.ID, "decision", "is for request %s, not %s", clip(string(d.RequestID)), h.Request.ID)
		want := map[v1.RelocationDecision]v1.AuthorityCode{
			v1.RelocationAccept: h.Request.Destination,
			v1.RelocationReject: h.Request.Destination,
			v1.RelocationRevoke: h.Request.Origin,
		}[d.Decision]
		ch.Check(d.By == want, "decision", "%s by %s, which only %s may make", d.Decision, clip(string(d.By)), want)
	}
	needs := map[State]v1.RelocationDecision{
		StateAccepted: v1.RelocationAccept, StateCaseSent: v1.RelocationAccept,
		StateReceived: v1.RelocationAccept, StateCompleted: v1.RelocationAccept,
		StateRejected: v1.RelocationReject,
	}
	if d, ok := needs[h.State]; ok {
		ch.Check(h.Decision != nil && h.Decision.Decision == d, "decision", "state %s needs a recorded %s", h.State, d)
	}
	if h.State == StateRevoked && h.Side == SideOrigin {
		ch.Check(h.Decision != nil && h.Decision.Decision == v1.RelocationRevoke, "decision", "state revoked needs a recorded revoke")
	}
	if h.CaseCID != "" {
		_, err := cid.Decode(h.CaseCID)
		ch.Check(err == nil && len(h.CaseCID) <= 100, "case_cid", "%q is not a CID", clip(h.CaseCID))
	}
	ch.Check(len(h.Failure) <= 1000, "failure", "is longer than 1000 bytes")
	ch.Check(!h.Updated.IsZero(), "updated", "is required")
	return ch.Err()
}

// encodeHandover returns a record's canonical encoding.
func encodeHandover(h *Handover) ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return schemas.Marshal(h)
}

// DecodeHandover decodes and validates a stored record.
func DecodeHandover(b []byte) (Handover, error) {
	var h Handover
	if len(b) > maxRecord {
		return h, fmt.Errorf("%w: %d bytes, limit %d", ErrBadRecord, len(b), maxRecord)
	}
	if err := schemas.Unmarshal(b, &h); err != nil {
		return Handover{}, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	if err := h.Validate(); err != nil {
		return Handover{}, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	return h, nil
}

// maxRecord bounds a stored record: a request, a decision and a few fields.
const maxRecord = 16 << 10

// clip shortens untrusted text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
