package node

import (
	"context"
	"errors"

	"nrmnet/node/workflow"
	"nrmnet/schemas"
	"nrmnet/storage"
)

// Sentinel errors; every error the node returns wraps one of them (match
// with errors.Is). The HTTP API maps each to a status and a stable code.
var (
	// ErrInvalid: the request is malformed or a field is invalid; the
	// message names the field.
	ErrInvalid = errors.New("invalid request")
	// ErrNoPurpose: case data was asked for without saying why.
	ErrNoPurpose = errors.New("a purpose is required to read case data")
	// ErrUnauthenticated: no token, or a token that is unknown or revoked.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrForbidden: the user's role may not do this (the refusal is audited).
	ErrForbidden = errors.New("forbidden")
	// ErrNotFound: no such case or user.
	ErrNotFound = errors.New("not found")
	// ErrExists: a user with that ID exists (IDs are never reused).
	ErrExists = errors.New("already exists")
	// ErrConflict: the change was made from a revision of the case that is
	// no longer current; reload the case, reapply the change, try again.
	ErrConflict = errors.New("revision conflict")
	// ErrNotAllowedNow: the NRM rules do not allow the event in the case's
	// state or at this time (an illegal transition, the recovery period,
	// a closed reconsideration window, out of scope).
	ErrNotAllowedNow = errors.New("not allowed now")
	// ErrGone: the child's data has been erased.
	ErrGone = errors.New("erased")
	// ErrUnavailable: the store is closed or failing; try again later.
	ErrUnavailable = errors.New("unavailable")
	// ErrInvalidConfig: Config.Validate failed.
	ErrInvalidConfig = errors.New("invalid node config")
)

// classify wraps an error from the store or the workflow in the node's
// sentinel that says what a caller can do about it, keeping the original
// message (which names fields, states and IDs, never case content).
func classify(err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch {
	case errors.Is(err, storage.ErrNotFound):
		sentinel = ErrNotFound
	case errors.Is(err, storage.ErrConflict):
		sentinel = ErrConflict
	case errors.Is(err, storage.ErrExists):
		sentinel = ErrExists
	case errors.Is(err, storage.ErrErased):
		sentinel = ErrGone
	case errors.Is(err, storage.ErrNoPurpose):
		sentinel = ErrNoPurpose
	case errors.Is(err, workflow.ErrIllegalTransition),
		errors.Is(err, workflow.ErrOutOfScope),
		errors.Is(err, workflow.ErrRecoveryPeriod),
		errors.Is(err, workflow.ErrReconsiderationWindowClosed):
		sentinel = ErrNotAllowedNow
	case errors.Is(err, workflow.ErrInvalidEvent),
		errors.Is(err, schemas.ErrInvalid),
		errors.Is(err, storage.ErrTooLarge),
		errors.Is(err, storage.ErrNoActor):
		sentinel = ErrInvalid
	case errors.Is(err, storage.ErrClosed),
		errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		sentinel = ErrUnavailable
	default:
		return err
	}
	return &classified{sentinel: sentinel, err: err}
}

// classified is an error of another package matched to a node sentinel. Its
// message is the original's: the sentinel adds a meaning, not words.
type classified struct{ sentinel, err error }

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.sentinel, e.err} }
