package panel

import (
	"errors"
	"fmt"

	"nrmnet/schemas"
	v1 "nrmnet/schemas/v1"
)

// Errors returned by the package. Match them with errors.Is.
var (
	// ErrRejected is wrapped by Result.Err for a command the rules refused.
	ErrRejected = errors.New("panel: command rejected")
	// ErrClosed is returned by every method of a closed FSM.
	ErrClosed = errors.New("panel: state machine is closed")
	// ErrFailed is returned once the state machine could not persist a
	// command: it applies nothing more until it is reopened, when Raft
	// replays the log from the last durable applied index.
	ErrFailed = errors.New("panel: state machine failed to persist and has stopped applying")
	// ErrNotFound is returned by queries for a case, decision or command the
	// panel does not hold.
	ErrNotFound = errors.New("panel: not found")
	// ErrInvalidConfig wraps the problems Config.Validate finds.
	ErrInvalidConfig = errors.New("panel: invalid config")
	// ErrCorruptState is returned when stored state or a snapshot does not
	// decode or fails its checksum.
	ErrCorruptState = errors.New("panel: corrupt state")
)

// Code is the stable outcome code of an applied command. Codes never change
// meaning; a client may branch on them.
type Code string

// CodeAccepted: the command was applied.
const CodeAccepted Code = "accepted"

// Rejection codes. A rejected command changes nothing but is remembered by its
// ID, so a retry gets the same answer.
const (
	CodeMalformed               Code = "malformed"                   // the log entry is not a valid command
	CodeIDReused                Code = "command_id_reused"           // another command was applied under this ID
	CodeWrongPanel              Code = "wrong_panel"                 // the command names another panel
	CodeUnknownCase             Code = "unknown_case"                // the case was never opened on this panel
	CodeCaseExists              Code = "case_exists"                 // the case is already open
	CodeCaseClosed              Code = "case_closed"                 // the case was closed
	CodeNotLeadAuthority        Code = "not_lead_authority"          // only the lead authority may do this
	CodeAuthorityNotOnCase      Code = "authority_not_on_case"       // the issuing authority is not one the case touches
	CodeRoleNotAllowed          Code = "role_not_allowed"            // the actor's role may not do this
	CodeLimitReached            Code = "limit_reached"               // the case holds as many of these as allowed
	CodeMeetingExists           Code = "meeting_exists"              // a meeting with this ID is recorded
	CodeUnknownMeeting          Code = "unknown_meeting"             // no such meeting on the case
	CodeTimeOrder               Code = "time_order"                  // the times in the commands are out of order
	CodeNotChair                Code = "not_chair"                   // the actor is not the meeting's chair
	CodeChairIsLeadSocialWorker Code = "chair_is_lead_social_worker" // the chair is the child's lead social worker
	CodeMissingVotingPartner    Code = "missing_voting_partner"      // a statutory safeguarding partner is absent
	CodeGuardianAbsent          Code = "guardian_absent"             // neither the ICTG nor an advocate is present
	CodeProposalExists          Code = "proposal_exists"             // a proposal with this ID exists
	CodeProposalOpen            Code = "proposal_open"               // another proposal is still being voted on
	CodeStageOutOfOrder         Code = "stage_out_of_order"          // the stage may not be decided now
	CodeCombinedNotAllowed      Code = "combined_not_allowed"        // the ruleset does not allow RG and CG together
	CodeUnknownProposal         Code = "unknown_proposal"            // no such proposal on the case
	CodeProposalConcluded       Code = "proposal_concluded"          // the proposal was concluded
	CodeStageNotProposed        Code = "stage_not_proposed"          // the proposal does not include this stage
	CodeNotPresent              Code = "not_present"                 // the voter did not attend the meeting
	CodeNotVotingMember         Code = "not_voting_member"           // the voter attends in a capacity that does not vote
	CodeAlreadyVoted            Code = "already_voted"               // the voter has voted on this stage
	CodeVotesMissing            Code = "votes_missing"               // a voting member present has not voted
	CodeTieNeedsCastingVote     Code = "tie_needs_casting_vote"      // the stage is tied: the chair must decide
	CodeCastingVoteNotNeeded    Code = "casting_vote_not_needed"     // a casting vote was given for an untied stage
	CodeInconsistentOutcomes    Code = "inconsistent_outcomes"       // CG positive with RG negative at one meeting
	CodeChildViewsMissing       Code = "child_views_missing"         // no record of the child's wishes and feelings
	CodeUnknownDecision         Code = "unknown_decision"            // no such decision on the case
	CodeNotNegative             Code = "not_negative"                // no stage of the decision stands negative
	CodeWindowClosed            Code = "window_closed"               // the reconsideration window has passed
	CodeReconsiderationExists   Code = "reconsideration_exists"      // the decision is already being reconsidered
	CodeAssuranceTransition     Code = "assurance_transition"        // the assurance status cannot move that way
	CodeNotDecided              Code = "not_decided"                 // closing as decided before any decision
	CodeInvalidRecord           Code = "invalid_record"              // the decision record would not validate
)

// Result is what applying a command returns (raft's ApplyFuture.Response)
// and what the panel remembers under the command's ID.
type Result struct {
	Command v1.ID  `cbor:"command,omitempty"` // empty only for a malformed entry
	Op      Op     `cbor:"op,omitempty"`
	Index   uint64 `cbor:"index"` // the log index the command was first applied at
	Code    Code   `cbor:"code"`
	Message string `cbor:"message,omitempty"` // for a person; no case content
	// Duplicate is true when this entry repeated a command ID applied
	// before; the result is that first application's. It is never stored.
	Duplicate bool `cbor:"duplicate,omitempty"`
}

// Accepted reports whether the command was applied.
func (r Result) Accepted() bool { return r.Code == CodeAccepted }

// Err returns nil for an accepted command, else an error wrapping ErrRejected
// (and ErrFailed for a state machine that could not persist).
func (r Result) Err() error {
	switch r.Code {
	case CodeAccepted:
		return nil
	case codeFailed:
		return fmt.Errorf("%w: %s", ErrFailed, r.Message)
	}
	return &RejectedError{Code: r.Code, Message: r.Message}
}

// codeFailed is returned, never stored, when the state machine cannot persist.
const codeFailed Code = "state_machine_failed"

// RejectedError is a rejection as an error; it matches ErrRejected.
type RejectedError struct {
	Code    Code
	Message string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("panel: command rejected (%s): %s", e.Code, e.Message)
}

// Is makes every RejectedError match ErrRejected.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }

func reject(code Code, format string, args ...any) Result {
	return Result{Code: code, Message: clipText(fmt.Sprintf(format, args...), maxRejectMessage)}
}

// EncodeResponse encodes a Result that Apply returned, canonically, so the
// Raft runtime can hand it back to a proposer on another node (it implements
// consensus.ResponseEncoder). DecodeResult reverses it.
func (f *FSM) EncodeResponse(resp any) ([]byte, error) {
	r, ok := resp.(Result)
	if !ok {
		return nil, fmt.Errorf("panel: encode response: %T is not a panel Result", resp)
	}
	return schemas.Marshal(r)
}

// DecodeResult decodes a Result encoded by EncodeResponse. It accepts only
// canonical CBOR with the known fields, a command ID of the right form (or
// none, for a malformed entry) and a code; every error wraps a schemas
// sentinel.
func DecodeResult(data []byte) (Result, error) {
	var r Result
	if err := schemas.Unmarshal(data, &r); err != nil {
		return Result{}, fmt.Errorf("panel result: %w", err)
	}
	ch := schemas.NewChecker()
	if r.Command != "" {
		checkID(ch, "command", r.Command)
	}
	if r.Op != "" {
		ch.Check(knownOp(r.Op), "op", "%q is not a panel operation", clip(string(r.Op)))
	}
	ch.Text("code", string(r.Code), true, 64, false)
	ch.Text("message", r.Message, false, maxResultMessage, true)
	if err := ch.Err(); err != nil {
		return Result{}, fmt.Errorf("panel result: %w", err)
	}
	return r, nil
}

// maxRejectMessage is where a rejection's message is cut, in characters.
const maxRejectMessage = 1000

// maxResultMessage bounds a result's message, in characters.
const maxResultMessage = 4000

// CommandApplied reports whether the command with this ID has been applied
// to this member's state (accepted or rejected) and at which log index: what
// the consensus runtime asks to resolve an ambiguous proposal. The verdict
// itself is CommandResult's.
func (f *FSM) CommandApplied(id v1.ID) (index uint64, applied bool, err error) {
	r, err := f.CommandResult(id)
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return r.Index, true, nil
}
