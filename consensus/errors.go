package consensus

import "errors"

// Errors returned by the package. Match them with errors.Is.
var (
	// ErrInvalidConfig wraps the problems Config.Validate finds.
	ErrInvalidConfig = errors.New("consensus: invalid panel config")
	// ErrClosed is returned by every operation on a closed Panel.
	ErrClosed = errors.New("consensus: panel closed")
	// ErrAmbiguous means the command may or may not have been committed:
	// leadership was lost after it was appended, the context ended while it
	// was in flight, or a forwarding stream broke after it was sent. It is
	// not a failure. Resolve with CommandApplied and the command's ID.
	ErrAmbiguous = errors.New("consensus: outcome unknown, the command may still be applied; resolve it by command ID")
	// ErrNoLeader means no leader was known before the context ended. The
	// command was not sent, so it was not applied.
	ErrNoLeader = errors.New("consensus: panel has no leader")
	// ErrNotLeader is returned by operations only the leader may run
	// (membership changes); the error text names the leader when known.
	ErrNotLeader = errors.New("consensus: this node is not the panel's leader")
	// ErrRejected wraps an error the FSM returned for a committed command:
	// the command is in the log, and its effect is the FSM's refusal.
	ErrRejected = errors.New("consensus: the panel's rules rejected the command")
	// ErrTooLarge is returned for a command above Config.MaxCommandBytes.
	ErrTooLarge = errors.New("consensus: command too large")
	// ErrWitness is returned by a witness for what only a member holding the
	// panel data key can do: propose, or say which commands were applied.
	ErrWitness = errors.New("consensus: a witness cannot read or propose panel commands")
	// ErrUnreadable means a sealed command or snapshot failed to open with
	// the panel data key: another key, or corrupted.
	ErrUnreadable = errors.New("consensus: sealed panel data does not open with the panel data key")
	// ErrNotCaughtUp means AddMember added the peer as a non-voter but it
	// did not catch up before the context ended; it was not promoted.
	ErrNotCaughtUp = errors.New("consensus: new member did not catch up; left as non-voter")
	// ErrProtocol means a forwarding peer sent a malformed message.
	ErrProtocol = errors.New("consensus: malformed panel forwarding message")
	// ErrBadPeersFile means a recovery peers file is malformed.
	ErrBadPeersFile = errors.New("consensus: bad peers file")
)
