package gossip

import (
	"bufio"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"

	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// Kinds and version of this package's own wire messages. They travel in the
// schemas envelope in the canonical encoding, like every record.
const (
	KindHeartbeat   schemas.Kind = "status_heartbeat"
	KindAlertDigest schemas.Kind = "alert_digest"
	KindAlertWant   schemas.Kind = "alert_want"
	WireVersion     uint16       = 1
)

// Limits on the wire.
const (
	maxVersionLen   = 64
	maxPanels       = 32
	maxOverdue      = 16
	maxStateLen     = 16
	maxClockLen     = 40
	maxDigestIDs    = 16384
	maxRootSize     = 64
	maxHeartbeat    = 8 << 10
	maxAckFrame     = 4 << 10
	maxAlertMessage = 64 << 10
	// maxDigestFrame bounds a digest or want frame: 16384 IDs of 32 hex
	// digits and their CBOR heads.
	maxDigestFrame = 640 << 10
)

// PanelState is the Raft state of one panel this node sits on, as the
// consensus layer reports it: small, opaque to this package, never case
// content.
type PanelState struct {
	Panel v1.PanelID `cbor:"panel"`
	// State is the node's Raft role: "Leader", "Follower", "Candidate" or
	// "Shutdown".
	State        string `cbor:"state"`
	Term         uint64 `cbor:"term"`
	AppliedIndex uint64 `cbor:"applied"`
	// Leader is the authority that leads the panel, if known.
	Leader v1.AuthorityCode `cbor:"leader,omitempty"`
}

// OverdueCount is how many open cases have passed one statutory clock, e.g.
// {Clock: "reasonable_grounds", Count: 3}. Counts only, never cases.
type OverdueCount struct {
	Clock string `cbor:"clock"`
	Count uint32 `cbor:"count"`
}

// Checkpoint is the head of a node's audit log: its size and root hash.
type Checkpoint struct {
	Size int64  `cbor:"size"`
	Root []byte `cbor:"root,omitempty"`
}

// StatusReport is what the node tells the status loop for each heartbeat.
type StatusReport struct {
	Panels     []PanelState
	Overdue    []OverdueCount
	Checkpoint Checkpoint
}

// Heartbeat is a node's signed status, published on the region's status
// topic. It holds counts and states, never personal data.
type Heartbeat struct {
	Authority   v1.AuthorityCode `cbor:"authority"`
	Region      string           `cbor:"region"`
	SentAt      time.Time        `cbor:"sent_at"`
	StartedAt   time.Time        `cbor:"started_at"`
	Version     string           `cbor:"version"`
	Peers       uint32           `cbor:"peers"` // connected roster members
	Panels      []PanelState     `cbor:"panels,omitempty"`
	OutboxDepth uint32           `cbor:"outbox"`
	Overdue     []OverdueCount   `cbor:"overdue,omitempty"`
	Checkpoint  Checkpoint       `cbor:"checkpoint"`
	Signature   []byte           `cbor:"sig,omitempty"` // the node key's ed25519 signature over SigningBytes
}

// SigningBytes returns the canonical envelope of the heartbeat without its
// signature.
func (h *Heartbeat) SigningBytes() ([]byte, error) {
	c := *h
	c.Signature = nil
	return schemas.Seal(KindHeartbeat, WireVersion, &c)
}

// Uptime is how long the node had run when it sent the heartbeat.
func (h *Heartbeat) Uptime() time.Duration { return h.SentAt.Sub(h.StartedAt) }

// Validate checks every field and names each invalid one.
func (h *Heartbeat) Validate() error {
	ch := schemas.NewChecker()
	ch.Check(authority.Known(authority.Code(h.Authority)), "authority", "is not a known authority code")
	ch.Check(validRegion(h.Region), "region", "is not a region")
	ch.Check(h.SentAt.Year() >= 2000 && h.SentAt.Year() < 2200, "sent_at", "is not between 2000 and 2199")
	ch.Check(h.StartedAt.Year() >= 2000 && !h.StartedAt.After(h.SentAt), "started_at", "must be after 2000 and not after sent_at")
	ch.Check(printable(h.Version, maxVersionLen), "version", "must be 1 to %d printable characters", maxVersionLen)
	ch.Check(len(h.Panels) <= maxPanels, "panels", "lists more than %d", maxPanels)
	if len(h.Panels) <= maxPanels {
		for i, p := range h.Panels {
			f := fmt.Sprintf("panels[%d]", i)
			ch.Check(p.Panel.Valid(), f+".panel", "is not a panel ID")
			ch.Check(printable(p.State, maxStateLen), f+".state", "must be 1 to %d printable characters", maxStateLen)
			ch.Check(p.Leader == "" || authority.Known(authority.Code(p.Leader)), f+".leader", "is not a known authority code")
		}
	}
	ch.Check(len(h.Overdue) <= maxOverdue, "overdue", "lists more than %d", maxOverdue)
	if len(h.Overdue) <= maxOverdue {
		for i, o := range h.Overdue {
			ch.Check(printable(o.Clock, maxClockLen), fmt.Sprintf("overdue[%d].clock", i), "must be 1 to %d printable characters", maxClockLen)
		}
	}
	ch.Check(h.Checkpoint.Size >= 0, "checkpoint.size", "is negative")
	ch.Check(len(h.Checkpoint.Root) <= maxRootSize, "checkpoint.root", "is longer than %d bytes", maxRootSize)
	ch.Check(h.Signature == nil || len(h.Signature) == ed25519.SignatureSize, "sig", "is %d bytes, want %d", len(h.Signature), ed25519.SignatureSize)
	return ch.Err()
}

// MarshalHeartbeat validates h and returns its envelope.
func MarshalHeartbeat(h *Heartbeat) ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return schemas.Seal(KindHeartbeat, WireVersion, h)
}

// VerifyHeartbeat decodes a signed heartbeat envelope (kept as evidence of
// a checkpoint conflict, say) and checks its signature under the member's
// authority key, from the roster.
func VerifyHeartbeat(data []byte, pub ed25519.PublicKey) (*Heartbeat, error) {
	hb, err := UnmarshalHeartbeat(data)
	if err != nil {
		return nil, err
	}
	sb, err := hb.SigningBytes()
	if err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, sb, hb.Signature) {
		return nil, fmt.Errorf("%w: heartbeat of %s is not signed by that key", ErrBadSignature, hb.Authority)
	}
	return hb, nil
}

// UnmarshalHeartbeat decodes and validates a heartbeat envelope. It does not
// check the signature (that needs the roster).
func UnmarshalHeartbeat(data []byte) (*Heartbeat, error) {
	if len(data) > maxHeartbeat {
		return nil, fmt.Errorf("heartbeat: %w: %d bytes, limit %d", schemas.ErrTooLarge, len(data), maxHeartbeat)
	}
	var h Heartbeat
	if err := openAs(data, KindHeartbeat, &h); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return &h, nil
}

// alertDigest lists alert IDs: the live ones a node holds, or those its
// peer lacks.
type alertDigest struct {
	IDs []v1.ID `cbor:"ids"`
}

// alertWant lists the alert IDs a node asks its peer to send.
type alertWant struct {
	IDs []v1.ID `cbor:"ids"`
}

func checkIDs(ids []v1.ID) error {
	ch := schemas.NewChecker()
	ch.Check(len(ids) <= maxDigestIDs, "ids", "lists more than %d", maxDigestIDs)
	if len(ids) <= maxDigestIDs {
		seen := make(map[v1.ID]bool, len(ids))
		for i, id := range ids {
			ch.Check(id.Valid(), fmt.Sprintf("ids[%d]", i), "is not an alert ID")
			ch.Check(!seen[id], fmt.Sprintf("ids[%d]", i), "is listed twice")
			seen[id] = true
		}
	}
	return ch.Err()
}

// decodeIDList decodes a digest or want envelope of the given kind.
func decodeIDList(data []byte, kind schemas.Kind) ([]v1.ID, error) {
	if len(data) > maxDigestFrame {
		return nil, fmt.Errorf("%s: %w: %d bytes, limit %d", kind, schemas.ErrTooLarge, len(data), maxDigestFrame)
	}
	var d alertDigest
	if err := openAs(data, kind, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if err := checkIDs(d.IDs); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return d.IDs, nil
}

func encodeIDList(kind schemas.Kind, ids []v1.ID) ([]byte, error) {
	if err := checkIDs(ids); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if ids == nil {
		ids = []v1.ID{}
	}
	if kind == KindAlertWant {
		return schemas.Seal(kind, WireVersion, alertWant{IDs: ids})
	}
	return schemas.Seal(kind, WireVersion, alertDigest{IDs: ids})
}

// openAs opens an envelope of the given kind and version and decodes its
// payload into v.
func openAs(data []byte, kind schemas.Kind, v any) error {
	env, err := schemas.OpenEnvelope(data)
	if err != nil {
		return err
	}
	if env.Kind != kind {
		return fmt.Errorf("%w: got a %.40q envelope, want %s", schemas.ErrMalformed, env.Kind, kind)
	}
	if env.Version != WireVersion {
		return fmt.Errorf("%w %d", schemas.ErrUnsupportedVersion, env.Version)
	}
	return schemas.Unmarshal(env.Payload, v)
}

// decodeAlert decodes an alert envelope received from the network: size,
// canonical form, every field, and the presence of a signature. It does not
// check the signature.
func decodeAlert(data []byte) (*v1.CrossBorderAlert, error) {
	if len(data) > maxAlertMessage {
		return nil, fmt.Errorf("alert: %w: %d bytes, limit %d", schemas.ErrTooLarge, len(data), maxAlertMessage)
	}
	a, err := v1.UnmarshalAlert(data)
	if err != nil {
		return nil, err
	}
	if len(a.Signature) == 0 {
		return nil, fmt.Errorf("alert: %w: field sig: is missing", schemas.ErrInvalid)
	}
	return a, nil
}

// decodeAck decodes an acknowledgement envelope and checks that it is signed.
func decodeAck(data []byte) (*v1.AlertAck, error) {
	if len(data) > maxAckFrame {
		return nil, fmt.Errorf("alert_ack: %w: %d bytes, limit %d", schemas.ErrTooLarge, len(data), maxAckFrame)
	}
	a, err := v1.UnmarshalAlertAck(data)
	if err != nil {
		return nil, err
	}
	if len(a.Signature) == 0 {
		return nil, fmt.Errorf("alert_ack: %w: field sig: is missing", schemas.ErrInvalid)
	}
	return a, nil
}

// writeFrame writes one length-prefixed frame.
func writeFrame(w io.Writer, b []byte) error {
	var head [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(head[:], uint64(len(b)))
	if _, err := w.Write(head[:n]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

// errFrameTooLarge: a frame's declared length is over the limit.
var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one length-prefixed frame of at most limit bytes. At a
// clean end of stream it returns io.EOF.
func readFrame(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("frame length: %w", err)
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("frame: %w", io.ErrUnexpectedEOF)
	}
	return b, nil
}

func validRegion(r string) bool {
	for _, x := range authority.Regions() {
		if x == r {
			return true
		}
	}
	return false
}

func printable(s string, max int) bool {
	if len(s) == 0 || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// mustLibp2pPub converts an ed25519 private key's public half to libp2p's
// type.
func mustLibp2pPub(k ed25519.PrivateKey) crypto.PubKey {
	pub, err := crypto.UnmarshalEd25519PublicKey(k.Public().(ed25519.PublicKey))
	if err != nil {
		panic(err) // a 32-byte ed25519 key always converts
	}
	return pub
}
