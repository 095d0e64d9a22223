package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/node"
	"nrmnet/node/api"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

const cliPanel v1.PanelID = "islington-camden"

func panelTimeouts() consensus.Timeouts {
	return consensus.Timeouts{Heartbeat: 300 * time.Millisecond, Election: 300 * time.Millisecond,
		LeaderLease: 150 * time.Millisecond, Commit: 5 * time.Millisecond, RPC: 2 * time.Second, Forward: 5 * time.Second}
}

// nodeHost starts a loopback libp2p host with the node's own identity (its
// authority key), as the running node would.
func nodeHost(t *testing.T, keysDir string) host.Host {
	t.Helper()
	id, err := storage.LoadAuthorityKey(filepath.Join(keysDir, storage.AuthorityKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypto.UnmarshalEd25519PrivateKey(id)
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// initNode makes a node directory with nrmnet init.
func initNode(t *testing.T) (dir string, sc storage.Config) {
	t.Helper()
	dir = t.TempDir()
	if out, err := runCLI(t, "init", "--dir", dir, "--authority", "ISL"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	cfg, err := loadNodeConfig(dir, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return dir, cfg.storeConfig(dir)
}

func ghostPeer(t *testing.T) peer.ID {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// makePanelDataKey runs 'nrmnet panel data-key' on the node in dir and
// returns the key it made, after checking it refuses a bad panel ID and a
// second key, and that the file is 32 bytes, owner-only.
func makePanelDataKey(t *testing.T, dir, keysDir string) []byte {
	t.Helper()
	if out, err := runCLI(t, "panel", "data-key", "Not A Panel", "--dir", dir); err == nil || !strings.Contains(err.Error(), "not a panel ID") {
		t.Fatalf("a bad panel ID: %v\n%s", err, out)
	}
	path := filepath.Join(keysDir, fmt.Sprintf(panelDataKeyFile, cliPanel))
	out, err := runCLI(t, "panel", "data-key", string(cliPanel), "--dir", dir)
	if err != nil || !strings.Contains(out, path) || !strings.Contains(out, "not its witness") {
		t.Fatalf("data-key: %v\n%s", err, out)
	}
	k, err := os.ReadFile(path)
	if err != nil || len(k) != 32 {
		t.Fatalf("the data key file: %d bytes, %v; want 32", len(k), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the data key file's mode: %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if out, err := runCLI(t, "panel", "data-key", string(cliPanel), "--dir", dir); err == nil || !strings.Contains(err.Error(), "already holds") {
		t.Fatalf("a second data key: %v\n%s", err, out)
	}
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, k) {
		t.Fatal("the refused second data-key changed the key")
	}
	keyID := consensus.DataKeyID(k, cliPanel)
	if !strings.Contains(out, "ID "+keyID) {
		t.Errorf("data-key output does not give the key's ID %s:\n%s", keyID, out)
	}
	if shown, err := runCLI(t, "panel", "data-key", string(cliPanel), "--show", "--dir", dir); err != nil || !strings.Contains(shown, "ID "+keyID) {
		t.Errorf("--show: %v\n%s; want ID %s", err, shown, keyID)
	}
	if shown, err := runCLI(t, "panel", "data-key", "north-lincs", "--show", "--dir", dir); err == nil || !strings.Contains(err.Error(), "holds no shared data key") {
		t.Errorf("--show without a key: %v\n%s", err, shown)
	}
	return k
}

// A panel of three whose two other members are gone for good has no leader;
// `nrmnet panel recover` on the stopped survivor, with a peers file naming it
// alone, lets it lead and record decisions again. Without --yes, or with
// another panel's peers file, nothing changes.
func TestPanelRecover(t *testing.T) {
	dir, sc := initNode(t)
	log := slog.New(slog.NewTextHandler(&cliLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	key, err := ensurePanelKey(sc.KeysDir)
	if err != nil {
		t.Fatal(err)
	}
	h := nodeHost(t, sc.KeysDir)
	self := h.ID()
	if id, err := nodePeerID(sc.KeysDir); err != nil || id != self {
		t.Fatalf("nodePeerID = %s, %v; want %s", id, err, self)
	}
	dataKey := makePanelDataKey(t, dir, sc.KeysDir)
	pdir := panelDirOf(sc.DataDir, cliPanel)
	start := func(members []consensus.Member) (*consensus.Panel, *panel.FSM) {
		fc := panel.DefaultConfig()
		fc.Panel, fc.Dir, fc.EncryptionKey, fc.Logger = cliPanel, filepath.Join(pdir, "state"), key, log
		fsm, err := panel.Open(fc)
		if err != nil {
			t.Fatal(err)
		}
		cc := consensus.DefaultConfig()
		cc.Panel, cc.Self, cc.Members, cc.Host = cliPanel, self, members, h
		cc.Dir, cc.EncryptionKey, cc.FSM, cc.FSMPersistsState = filepath.Join(pdir, "raft"), key, fsm, true
		cc.DataKey, cc.Timeouts, cc.Logger = dataKey, panelTimeouts(), log
		p, err := consensus.New(cc)
		if err != nil {
			t.Fatal(err)
		}
		return p, fsm
	}
	stop := func(p *consensus.Panel, fsm *panel.FSM) {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
		if err := fsm.Close(); err != nil {
			t.Error(err)
		}
	}
	// Bootstrapped with two members that never come: no majority.
	p, fsm := start([]consensus.Member{{ID: self}, {ID: ghostPeer(t)}, {ID: ghostPeer(t)}})
	time.Sleep(time.Second)
	if st, err := p.Status(context.Background()); err != nil || st.State == "Leader" {
		t.Fatalf("a panel without its majority leads: %+v %v", st, err)
	}
	stop(p, fsm)

	peers := filepath.Join(t.TempDir(), "peers.json")
	writeJSON := func(v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(peers, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON(map[string]any{"panel": "north-lincs", "members": []map[string]any{{"id": self.String()}}})
	if out, err := runCLI(t, "panel", "recover", string(cliPanel), "--dir", dir, "--peers", peers, "--yes"); err == nil || !strings.Contains(err.Error(), "panel") {
		t.Fatalf("another panel's peers file: %v\n%s", err, out)
	}
	writeJSON(map[string]any{"panel": cliPanel, "members": []map[string]any{{"id": self.String()}}})
	if out, err := runCLI(t, "panel", "recover", string(cliPanel), "--dir", dir, "--peers", peers); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("without --yes: %v\n%s", err, out)
	}
	out, err := runCLI(t, "panel", "recover", string(cliPanel), "--dir", dir, "--peers", peers, "--yes")
	if err != nil || !strings.Contains(out, "recovered") {
		t.Fatalf("recover: %v\n%s", err, out)
	}

	p, fsm = start([]consensus.Member{{ID: self}})
	defer stop(p, fsm)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-p.Ready():
	case <-ctx.Done():
		t.Fatal("the recovered panel has no leader")
	}
	cmd := panel.NewCommand(panel.Header{ID: v1.NewID(), Panel: cliPanel, Case: "ISL-3f9a0c1b2d4e5f60", Authority: "ISL",
		Actor: panel.Actor{PersonID: "sw-isl", Role: panel.RoleSocialWorker}, At: time.Now().UTC()},
		&panel.OpenCase{Lead: "ISL", LeadSocialWorker: "sw-isl", Touches: []v1.AuthorityCode{"CMD"}, Rules: panel.DefaultRuleset()})
	data, err := panel.Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Propose(ctx, data); err != nil {
		t.Fatalf("propose after recovery: %v", err)
	}
	if r, err := fsm.CommandResult(cmd.ID); err != nil || !r.Accepted() {
		t.Fatalf("command after recovery: %+v %v", r, err)
	}
}

// `nrmnet panel status|reconcile|add|remove` talk to a running node's API.
func TestPanelStatusAddRemove(t *testing.T) {
	_, sc := initNode(t)
	log := slog.New(slog.NewTextHandler(&cliLogWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := storage.Open(sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	nc := node.DefaultConfig()
	nc.Store, nc.Authority, nc.Logger = s, "ISL", log
	n, err := node.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	pc := node.DefaultPanelsConfig()
	pc.Node, pc.Logger = n, log
	panels, err := node.NewPanels(pc)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ensurePanelKey(sc.KeysDir)
	if err != nil {
		t.Fatal(err)
	}
	h := nodeHost(t, sc.KeysDir)
	cc := consensus.DefaultConfig()
	cc.Timeouts = panelTimeouts()
	ph, err := node.StartPanel(panels, node.PanelHostConfig{Panel: cliPanel, Host: h, Members: []consensus.Member{{ID: h.ID()}},
		Dir: panelDirOf(sc.DataDir, cliPanel), EncryptionKey: key, Consensus: &cc, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ph.Close(); _ = panels.Close() })
	<-ph.Panel().Ready()
	ac := api.DefaultConfig()
	ac.Node, ac.Panels, ac.Logger = n, panels, log
	a, err := api.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	t.Setenv(envServer, srv.URL)
	_, admin, err := n.AddFirstAdministrator(context.Background(), "admin2", "Test Administrator")
	if err != nil && !strings.Contains(err.Error(), "already") {
		t.Fatal(err)
	}
	if admin == "" {
		u, tok, err := s.CreateUser(context.Background(), storage.User{ID: "ops", Name: "Ops", Role: "administrator", Authority: "ISL"}, storage.Access{Actor: "node", Role: "node"})
		if err != nil {
			t.Fatal(err)
		}
		_, admin = u, tok
	}
	out := mustCLI(t, admin, "panel", "status", string(cliPanel))
	if !strings.Contains(out, "Leader") || !strings.Contains(out, h.ID().String()) {
		t.Fatalf("status:\n%s", out)
	}
	out = mustCLI(t, admin, "panel", "reconcile", string(cliPanel))
	if !strings.Contains(out, "Reconciliation of panel "+string(cliPanel)+" queued") ||
		!strings.Contains(out, "nrmnet panel status "+string(cliPanel)) {
		t.Fatalf("reconcile:\n%s", out)
	}
	if out, err := as(t, admin, "panel", "reconcile", "no-such-panel"); err == nil || !strings.Contains(err.Error(), "no-such-panel") {
		t.Fatalf("reconcile of an unknown panel: %v\n%s", err, out)
	}
	if out, err := as(t, admin, "panel", "reconcile", "../etc"); err == nil || !strings.Contains(err.Error(), "not a panel ID") {
		t.Fatalf("reconcile of a malformed panel ID: %v\n%s", err, out)
	}
	_, swTok, err := s.CreateUser(context.Background(), storage.User{ID: "sw", Name: "Social Worker", Role: "social_worker", Authority: "ISL"}, storage.Access{Actor: "node", Role: "node"})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := as(t, swTok, "panel", "reconcile", string(cliPanel)); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("reconcile by a social worker: %v\n%s", err, out)
	}
	if out, err := as(t, admin, "panel", "add", string(cliPanel), "not-a-peer"); err == nil {
		t.Fatalf("add with a bad peer ID: %s", out)
	}
	// A joining node that never answers: added as a non-voter, then removed.
	ghost := ghostPeer(t)
	if out, err := as(t, admin, "panel", "add", string(cliPanel), ghost.String(), "--non-voter"); err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	members, err := ph.Panel().Members(context.Background())
	if err != nil || len(members) != 2 {
		t.Fatalf("members after add: %v %v", members, err)
	}
	mustCLI(t, admin, "panel", "remove", string(cliPanel), ghost.String())
	if members, err := ph.Panel().Members(context.Background()); err != nil || len(members) != 1 {
		t.Fatalf("members after remove: %v %v", members, err)
	}
}
