package panel_test

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"nrmnet/consensus/panel"
	v1 "nrmnet/schemas/v1"
)

// A lead authority opens a case on its panel. In a node the encoded command
// goes to the panel's Raft group (consensus Propose); here it is applied to
// an in-memory state machine directly, as Raft would after commit.
func Example() {
	cfg := panel.DefaultConfig()
	cfg.Panel = "islington-camden"
	cfg.InMemory, cfg.Plaintext = true, true // tests only: production is on disk, encrypted
	fsm, err := panel.Open(cfg)
	if err != nil {
		panic(err)
	}
	defer fsm.Close()

	open := panel.NewCommand(panel.Header{
		ID:        "6b1f3c2a9d8e4f5a6b7c8d9e0f1a2b3c",
		Panel:     "islington-camden",
		Case:      "ISL-3f9a0c1b2d4e5f60",
		Authority: "ISL",
		Actor:     panel.Actor{PersonID: "sw-isl-17", Role: panel.RoleSocialWorker},
		At:        time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC),
	}, &panel.OpenCase{Lead: "ISL", LeadSocialWorker: "sw-isl-17", Touches: []v1.AuthorityCode{"CMD"}, Rules: panel.DefaultRuleset()})
	data, err := panel.Encode(open)
	if err != nil {
		panic(err)
	}
	first := fsm.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data}).(panel.Result)
	retry := fsm.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: data}).(panel.Result)
	fmt.Println(first.Code, retry.Code, retry.Duplicate)

	pc, _ := fsm.Case("ISL-3f9a0c1b2d4e5f60")
	fmt.Println(pc.Lead, pc.RG.Status, pc.CG.Status)
	// Output:
	// accepted accepted true
	// ISL pending pending
}
