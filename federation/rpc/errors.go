package rpc

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrConfig: the Config is invalid.
	ErrConfig = errors.New("invalid relocation config")
	// ErrClosed: the service has been closed.
	ErrClosed = errors.New("relocation service closed")
	// ErrInvalidRequest: a relocation request given to Request is invalid or
	// is not this authority's to make.
	ErrInvalidRequest = errors.New("invalid relocation request")
	// ErrUnknownHandover: no hand-over with that request ID is held here.
	ErrUnknownHandover = errors.New("unknown relocation hand-over")
	// ErrNotDestination: only the destination authority may accept or
	// reject a relocation.
	ErrNotDestination = errors.New("only the destination authority may accept or reject")
	// ErrNotOrigin: only the origin authority may revoke a relocation.
	ErrNotOrigin = errors.New("only the origin authority may revoke")
	// ErrAlreadyAccepted: the relocation has been accepted, and an accepted
	// relocation cannot be revoked (the case is moving or has moved).
	ErrAlreadyAccepted = errors.New("relocation already accepted; it cannot be revoked")
	// ErrRevoked: the origin revoked the relocation.
	ErrRevoked = errors.New("relocation revoked by the origin")
	// ErrFinished: the hand-over is already rejected, revoked or complete.
	ErrFinished = errors.New("relocation hand-over already finished")
	// ErrWrongState: the hand-over is not in a state that allows this.
	ErrWrongState = errors.New("relocation hand-over in the wrong state")
	// ErrConflict: a request ID is already held with different content.
	ErrConflict = errors.New("relocation request ID already used for a different request")
	// ErrBadMessage: a wire message is malformed, too large, unsigned, signed
	// by the wrong key, or inconsistent with its stream.
	ErrBadMessage = errors.New("bad relocation message")
	// ErrRefused: the peer refused a message; the refusal code follows.
	ErrRefused = errors.New("relocation message refused by peer")
	// ErrBadRecord: a stored hand-over record is malformed.
	ErrBadRecord = errors.New("bad hand-over record")
)
