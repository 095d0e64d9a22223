// Package consensus runs the Raft groups of a node's combined panels: one
// Panel per panel area the node serves, several per node, each with its own
// log, snapshots, libp2p protocols and FSM.
//
// A Panel is hashicorp/raft on the node's libp2p host (package transport),
// with its log and stable state in an encrypted Badger store and its
// snapshots encrypted at rest (package raftstore). The FSM is the caller's:
// the panel's decision rules live in package panel, which implements FSM.
//
// Writes go through Propose. A follower forwards the command to the leader
// over /nrmnet/panel/<panel>/propose/1, so any member can propose. An error
// that matches ErrAmbiguous means the command may or may not have been
// committed (leadership was lost, the deadline passed, the stream broke after
// the command was sent): the caller must not assume failure, and resolves the
// outcome with CommandApplied using the command's ID. Every other error means
// the command was not applied.
//
// Reads that must be current call Sync first (or CommandApplied, which does):
// the leader confirms it is still leader (VerifyLeader) after committing in
// its term (Barrier), and a follower waits until it has applied the leader's
// commit index (the read-index protocol).
//
// A panel of two authorities loses quorum on any single failure, so it runs
// with a witness: a third voting node that keeps the log but cannot read it.
// Members seal command payloads and FSM snapshots with the panel data key
// (AES-256-GCM); the witness is configured without it and runs WitnessFSM.
//
// Recover rewrites the membership of a panel that lost quorum for good; the
// runbook is docs/recover-panel.md. DESIGN.md gives the reasons.
package consensus
