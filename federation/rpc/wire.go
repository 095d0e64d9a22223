package rpc

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/protocol"

	"nrmnet/federation/internal/frame"
	"nrmnet/schemas"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
)

// ProtocolID is the relocation stream protocol: on each stream the opener
// sends one signed message and the other side answers with one signed reply.
const ProtocolID protocol.ID = "/nrmnet/relocation/1"

// Wire limits; part of the protocol. A frame longer than MaxFrame is refused
// before its body is read.
const (
	// MaxFrame bounds one message: a case envelope at the schemas limit, with
	// room for the message fields and the signature.
	MaxFrame = schemas.MaxEnvelopeSize + 4<<10
	// signContext separates relocation signatures from every other use of a
	// node key (roster, alerts, libp2p).
	signContext = "nrmnet/relocation/1\x00"
	// maxSkew is how far a message's send time may be in the future.
	maxSkew = 10 * time.Minute
)

// MessageType says what a message does.
type MessageType string

// The message types. Each but reply is sent by one side only.
const (
	MsgOffer    MessageType = "offer"    // origin -> destination: the minimal request
	MsgDecision MessageType = "decision" // destination -> origin: accept or reject
	MsgRevoke   MessageType = "revoke"   // origin -> destination: revoke before acceptance
	MsgCase     MessageType = "case"     // origin -> destination: the full case, after acceptance
	MsgComplete MessageType = "complete" // origin -> destination: transferred out; take responsibility
	MsgReply    MessageType = "reply"    // the answer to any of them
)

// Refusal says why a reply refuses a message. Empty means handled.
type Refusal string

// The refusals. Unavailable is temporary (retry); the others are not.
const (
	RefusalNone            Refusal = ""
	RefusalUnknown         Refusal = "unknown"          // no such request here
	RefusalForbidden       Refusal = "forbidden"        // the sender may not do this to this request
	RefusalConflict        Refusal = "conflict"         // contradicts what is recorded
	RefusalAlreadyAccepted Refusal = "already_accepted" // a revoke after acceptance
	RefusalWrongState      Refusal = "wrong_state"      // not possible in the recorded state
	RefusalUnavailable     Refusal = "unavailable"      // a local failure; try again later
)

var (
	messageTypes = map[MessageType]bool{MsgOffer: true, MsgDecision: true, MsgRevoke: true,
		MsgCase: true, MsgComplete: true, MsgReply: true}
	refusals = map[Refusal]bool{RefusalNone: true, RefusalUnknown: true, RefusalForbidden: true,
		RefusalConflict: true, RefusalAlreadyAccepted: true, RefusalWrongState: true, RefusalUnavailable: true}
	replyStates = map[State]bool{"": true, StateRequested: true, StateOffered: true, StateAccepted: true,
		StateCaseSent: true, StateReceived: true, StateCompleted: true, StateRejected: true, StateRevoked: true}
)

// message is the signed body of every frame.
type message struct {
	Type    MessageType      `cbor:"type"`
	From    v1.AuthorityCode `cbor:"from"`
	To      v1.AuthorityCode `cbor:"to"`
	Request v1.ID            `cbor:"request"`
	Sent    time.Time        `cbor:"sent"`
	// Record is a v1 envelope: the RelocationRequest of an offer, the
	// RelocationResponse of a decision or revoke, the Case of a case message.
	Record []byte `cbor:"record,omitempty"`
	// Reply fields.
	InReplyTo MessageType `cbor:"re,omitempty"`
	State     State       `cbor:"state,omitempty"`
	Refusal   Refusal     `cbor:"refusal,omitempty"`
	CaseCID   string      `cbor:"cid,omitempty"`
}

// signedFrame is what crosses the wire: the canonical message bytes and the
// sender's ed25519 signature over signContext and those bytes.
type signedFrame struct {
	Body []byte `cbor:"body"`
	Sig  []byte `cbor:"sig"`
}

// decoded is a message whose frame, fields and record have been checked,
// with its record decoded. Its signature is checked separately, against the
// roster, by verifyFrom.
type decoded struct {
	message
	body     []byte
	sig      []byte
	request  *v1.RelocationRequest
	response *v1.RelocationResponse
	kase     *v1.Case
}

// sealMessage signs m with key and returns the frame body.
func sealMessage(m *message, key ed25519.PrivateKey) ([]byte, error) {
	body, err := schemas.Marshal(m)
	if err != nil {
		return nil, err
	}
	return marshalFrame(body, ed25519.Sign(key, append([]byte(signContext), body...)))
}

func marshalFrame(body, sig []byte) ([]byte, error) {
	return schemas.Marshal(&signedFrame{Body: body, Sig: sig})
}

// decodeMessage decodes a frame body and validates every field of the
// message inside and of the record it carries. It does not check the
// signature's key: that needs the roster (see verifyFrom).
func decodeMessage(frame []byte) (*decoded, error) {
	if len(frame) > MaxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrBadMessage, len(frame), MaxFrame)
	}
	var sf signedFrame
	if err := schemas.Unmarshal(frame, &sf); err != nil {
		return nil, fmt.Errorf("%w: frame: %w", ErrBadMessage, err)
	}
	if len(sf.Sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadMessage, len(sf.Sig), ed25519.SignatureSize)
	}
	d := &decoded{body: sf.Body, sig: sf.Sig}
	if err := schemas.Unmarshal(sf.Body, &d.message); err != nil {
		return nil, fmt.Errorf("%w: body: %w", ErrBadMessage, err)
	}
	m := &d.message
	bad := func(format string, args ...any) (*decoded, error) {
		return nil, fmt.Errorf("%w: %s message: %s", ErrBadMessage, clip(string(m.Type)), fmt.Sprintf(format, args...))
	}
	switch {
	case !messageTypes[m.Type]:
		return bad("unknown type")
	case !authority.Known(m.From):
		return bad("from %q is not a listed authority", clip(string(m.From)))
	case !authority.Known(m.To):
		return bad("to %q is not a listed authority", clip(string(m.To)))
	case m.From == m.To:
		return bad("from and to are the same authority")
	case !m.Request.Valid():
		return bad("request %q is not an ID", clip(string(m.Request)))
	case m.Sent.IsZero():
		return bad("sent is required")
	}
	if m.Type == MsgReply {
		switch {
		case !messageTypes[m.InReplyTo] || m.InReplyTo == MsgReply:
			return bad("re %q is not a message type", clip(string(m.InReplyTo)))
		case !replyStates[m.State]:
			return bad("state %q is unknown", clip(string(m.State)))
		case !refusals[m.Refusal]:
			return bad("refusal %q is unknown", clip(string(m.Refusal)))
		case m.Refusal == RefusalNone && m.State == "":
			return bad("neither a state nor a refusal")
		case len(m.Record) != 0:
			return bad("a reply carries no record")
		}
		if m.CaseCID != "" {
			if len(m.CaseCID) > 100 {
				return bad("cid too long")
			}
			if _, err := cid.Decode(m.CaseCID); err != nil {
				return bad("cid: %v", err)
			}
		}
		return d, nil
	}
	if m.InReplyTo != "" || m.State != "" || m.Refusal != "" || m.CaseCID != "" {
		return bad("reply fields on a %s", m.Type)
	}
	var err error
	switch m.Type {
	case MsgOffer:
		if d.request, err = v1.UnmarshalRelocationRequest(m.Record); err != nil {
			return bad("record: %v", err)
		}
		r := d.request
		if r.ID != m.Request || r.Origin != m.From || r.Destination != m.To {
			return bad("request %s from %s to %s does not match the message", r.ID, r.Origin, r.Destination)
		}
	case MsgDecision, MsgRevoke:
		if d.response, err = v1.UnmarshalRelocationResponse(m.Record); err != nil {
			return bad("record: %v", err)
		}
		r := d.response
		if r.RequestID != m.Request || r.By != m.From {
			return bad("response to %s by %s does not match the message", r.RequestID, r.By)
		}
		if (m.Type == MsgRevoke) != (r.Decision == v1.RelocationRevoke) {
			return bad("carries a %s", r.Decision)
		}
	case MsgCase:
		if d.kase, err = v1.UnmarshalCase(m.Record); err != nil {
			// The decoder's text may quote the case (a name, a date of
			// birth), and this error is logged: name only its class.
			return nil, fmt.Errorf("%w: case message: the case %s (details withheld: they may quote case content)",
				ErrBadMessage, caseErrorClass(err))
		}
	case MsgComplete:
		if len(m.Record) != 0 {
			return bad("carries a record")
		}
	}
	return d, nil
}

// caseErrorClass names which kind of decoding failure err is, without its
// text.
func caseErrorClass(err error) string {
	for _, c := range []struct {
		err  error
		what string
	}{
		{schemas.ErrTooLarge, "is too large"},
		{schemas.ErrNotCanonical, "is not in canonical form"},
		{schemas.ErrUnknownKind, "is not a case envelope"},
		{schemas.ErrUnsupportedVersion, "has an unsupported version"},
		{schemas.ErrInvalid, "does not validate"},
		{schemas.ErrMalformed, "is malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.what
		}
	}
	return "does not decode"
}

// verifySignature checks the frame's signature against pub.
func (d *decoded) verifySignature(pub ed25519.PublicKey) error {
	if !ed25519.Verify(pub, append([]byte(signContext), d.body...), d.sig) {
		return fmt.Errorf("%w: signature does not verify with %s's node key", ErrBadMessage, d.From)
	}
	return nil
}

// caseCID returns the content ID of a case's canonical envelope.
func caseCID(c *v1.Case) (string, error) {
	return v1.CID(c)
}

// writeFrame writes a frame body after its length, 4 bytes big-endian.
func writeFrame(w io.Writer, body []byte) error {
	if err := frame.Write(w, body, MaxFrame); err != nil {
		if errors.Is(err, frame.ErrTooLarge) {
			return fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
		return err
	}
	return nil
}

// readFrame reads one length-prefixed frame, refusing a length over MaxFrame
// before reading the body.
func readFrame(r io.Reader) ([]byte, error) {
	body, err := frame.Read(r, MaxFrame)
	if errors.Is(err, frame.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return body, err
}
