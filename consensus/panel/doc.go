// Package panel is a combined panel's replicated state machine: the commands
// a panel's Raft log carries, the command processor that applies the NRM
// decision rules to them, and FSM, a raft.FSM whose state lives in Badger.
//
// A command is a versioned envelope (schemas' canonical CBOR, kind
// "panel_command") holding a header (command ID, panel, case reference,
// issuing authority, acting person and role, and the time the person acted)
// and one body: open a case, record a meeting, record the child's wishes and
// feelings, propose a decision, vote, conclude, request reconsideration,
// record SCA assurance, close. Build one with NewCommand and Encode; Decode
// validates and names the field at fault.
//
// FSM.Apply decodes an entry and hands it to the processor, which decides
// from the stored case and the command alone (no clock, no local
// configuration), so every member reaches the same verdict. The answer is a
// Result, accepted or rejected with a stable Code; a rejection does not stop
// the state machine. Every command is remembered by its ID with its result:
// applying it again changes nothing and returns the first result, and
// CommandResult answers "was command X applied, and how" for a client whose
// Apply timed out or lost leadership. The applied index is written in the same
// Badger transaction as the state, so a restart does not apply twice.
//
// Wiring, for one panel:
//
//	cfg := panel.DefaultConfig()
//	cfg.Panel = "islington-camden"
//	cfg.Dir = filepath.Join(panelDir, "state")
//	cfg.EncryptionKey = key
//	cfg.Observer = func(d panel.ConcludedDecision) { /* hand to the node */ }
//	fsm, err := panel.Open(cfg)
//	...
//	conf.NoSnapshotRestoreOnStart = true // the state is already on disk
//	r, err := raft.NewRaft(conf, fsm, logs, stable, snaps, transport)
//	...
//	data, err := panel.Encode(panel.NewCommand(header, &panel.CastVote{...}))
//	res := r.Apply(data, timeout).Response().(panel.Result)
//
// DESIGN.md gives the rules and the reasons, with references to DOMAIN.md.
package panel
