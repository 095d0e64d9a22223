package rpc_test

import (
	"context"
	"crypto/ed25519"
	"log"

	"nrmnet/federation"
	"nrmnet/federation/rpc"
	v1 "nrmnet/schemas/v1"
)

// node stands for the authority's node, which implements the callbacks.
type node interface {
	rpc.CaseSource
	rpc.CaseSink
	rpc.Auditor
}

// Example shows how a node wires the service: its federation host, its node
// key, a Badger store of its own, and itself as the callbacks. The observer
// is how offers and rejections reach people.
func Example() {
	var (
		host *federation.Host   // started by the node
		key  ed25519.PrivateKey // the node key behind host's peer ID
		n    node
	)
	if host == nil {
		return // the sketch needs a running node
	}
	store, err := rpc.OpenBadgerStore(rpc.BadgerConfig{Dir: "/var/lib/nrmnet/relocation"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	cfg := rpc.DefaultConfig()
	cfg.Authority, cfg.Identity, cfg.Store = "ISL", key, store
	cfg.Cases, cfg.Intake, cfg.Audit = n, n, n
	cfg.Observer = func(h rpc.Handover) {
		if h.Side == rpc.SideOrigin && h.State == rpc.StateRejected {
			log.Printf("relocation %s rejected by %s: raise a task", h.ID(), h.Peer())
		}
	}
	r, err := rpc.New(host, cfg) // resumes every unfinished hand-over
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	var req v1.RelocationRequest // built by the node from the case: a summary, no identity
	if _, err := r.Request(context.Background(), "user-17", req); err != nil {
		log.Print(err)
	}
}
