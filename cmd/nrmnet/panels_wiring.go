package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
	"nrmnet/node"
	"nrmnet/node/web"
	"nrmnet/node/workflow"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
)

// panelsConfig is the node's part in its combined panels (config.yaml
// "panels"). Which panels a node sits on is the roster's to say: every panel
// its roster entry lists. A node whose entry also has the witness role is
// that panel's witness.
type panelsConfig struct {
	// Raft are the panels' Raft timings.
	Raft consensus.Timeouts `yaml:"raft"`
	// Join lists panels this node joins as a new member of a running group
	// (the leader adds it with nrmnet panel add) instead of bootstrapping.
	Join []string `yaml:"join"`
	// RetryInterval is how often a concluded decision that could not be
	// recorded on this authority's case is tried again.
	RetryInterval time.Duration `yaml:"retry_interval"`
}

func defaultPanelsConfig() panelsConfig {
	return panelsConfig{Raft: consensus.DefaultTimeouts(), RetryInterval: node.DefaultPanelsConfig().RetryInterval}
}

// validate reports every invalid panels key.
func (c panelsConfig) validate() []error {
	var errs []error
	for i, j := range c.Join {
		if !v1.PanelID(j).Valid() {
			errs = append(errs, fmt.Errorf("panels.join[%d]: %q is not a panel id", i, j))
		}
	}
	if c.RetryInterval <= 0 {
		errs = append(errs, fmt.Errorf("panels.retry_interval: %v, want a positive duration such as 30s", c.RetryInterval))
	}
	t := c.Raft
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"heartbeat", t.Heartbeat}, {"election", t.Election}, {"leader_lease", t.LeaderLease}, {"commit", t.Commit}, {"rpc", t.RPC}, {"forward", t.Forward}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("panels.raft.%s: %v, want a positive duration", d.name, d.v))
		}
	}
	if t.LeaderLease > t.Heartbeat {
		errs = append(errs, fmt.Errorf("panels.raft.leader_lease: %v is longer than panels.raft.heartbeat %v", t.LeaderLease, t.Heartbeat))
	}
	return errs
}

// panelStatusRefresh is how often the panels' Raft status is read for the
// heartbeat and the coordinator view (on the leader it asks each member).
const panelStatusRefresh = 5 * time.Second

// panelDeps are what the node's panels need from the rest of the node.
type panelDeps struct {
	DataDir, KeysDir string
	Config           panelsConfig
	Host             *federation.Host
	Node             *node.Node
	Logger           *slog.Logger
}

// panelParts are the node's running combined panels: the node's Panels
// (what the API and pages act through), one Raft group per panel it sits on
// (as member or witness), the roster observer that cuts revoked members off,
// and the status kept for heartbeats. Close stops them in order.
type panelParts struct {
	Panels *node.Panels
	hosts  []*node.PanelHost
	host   *federation.Host
	log    *slog.Logger

	mu         sync.Mutex // guards closed and states
	closed     bool
	states     []panelState
	stopRoster func()
	stop       chan struct{}
	done       chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// panelState is one panel's Raft status as last read here.
type panelState struct {
	gossip.PanelState
	Witness bool
	// Lag is the largest lag of a member behind the leader; known on the
	// leader only.
	Lag *uint64
}

// startPanels starts every panel this node's roster entry lists. Every
// member must hold the panel's data key, so a witness (which must not) can
// join any panel without seeing its history in the clear. On error whatever
// started is closed again.
func startPanels(d panelDeps) (_ *panelParts, err error) {
	log := d.Logger.With("component", "panels")
	pc := node.DefaultPanelsConfig()
	pc.Node, pc.RetryInterval, pc.Logger = d.Node, d.Config.RetryInterval, log
	ps, err := node.NewPanels(pc)
	if err != nil {
		return nil, err
	}
	p := &panelParts{Panels: ps, host: d.Host, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	defer func() {
		if err != nil {
			close(p.done) // the refresh loop never started
			_ = p.Close()
		}
	}()
	self, ok := d.Host.Member(d.Host.ID())
	if !ok {
		return nil, fmt.Errorf("panels: this node (%s) is not on the roster", d.Host.ID())
	}
	r := d.Host.Roster()
	var key []byte
	if len(self.Panels) > 0 {
		if key, err = ensurePanelKey(d.KeysDir); err != nil {
			return nil, fmt.Errorf("panels: %w", err)
		}
	}
	cc := consensus.DefaultConfig()
	cc.Timeouts = d.Config.Raft
	for _, id := range self.Panels {
		var members []consensus.Member
		for _, m := range r.Members {
			if !slices.Contains(m.Panels, id) {
				continue
			}
			pid, err := m.ID()
			if err != nil {
				return nil, fmt.Errorf("panel %s: roster member %s: %w", id, m.Authority, err)
			}
			members = append(members, consensus.Member{ID: pid})
		}
		hc := node.PanelHostConfig{
			Panel: id, Host: d.Host.Libp2p(), Members: members, Join: slices.Contains(d.Config.Join, string(id)),
			Admit: func(q peer.ID) bool {
				m, ok := d.Host.Member(q)
				return ok && slices.Contains(m.Panels, id)
			},
			AuthorityOf: func(q peer.ID) (v1.AuthorityCode, bool) {
				m, ok := d.Host.Member(q)
				return v1.AuthorityCode(m.Authority), ok
			},
			Dir: panelDirOf(d.DataDir, id), EncryptionKey: key, Consensus: &cc,
			Logger: log, // consensus names the panel in its messages
		}
		dataKey, err := panelDataKey(d.KeysDir, id)
		if err != nil {
			return nil, fmt.Errorf("panel %s data key: %w", id, err)
		}
		var h *node.PanelHost
		if self.HasRole(roster.RoleWitness) {
			if dataKey != nil {
				return nil, fmt.Errorf("panel %s: this node is the panel's witness but holds its data key (%s); remove it: a witness must not be able to read the panel",
					id, filepath.Join(d.KeysDir, fmt.Sprintf(panelDataKeyFile, id)))
			}
			h, err = node.StartPanelWitness(hc)
		} else {
			if dataKey == nil {
				return nil, missingDataKey(id, d.KeysDir)
			}
			hc.DataKey = dataKey
			h, err = node.StartPanel(ps, hc)
		}
		if err != nil {
			return nil, err
		}
		p.hosts = append(p.hosts, h)
		log.Info("panel started", "panel", string(id), "witness", h.Witness(), "members", len(members))
	}
	p.stopRoster = d.Host.RosterUpdates(p.rosterChanged)
	p.refresh()
	go p.refreshLoop()
	return p, nil
}

// rosterChanged cuts the panel streams of every peer the new roster revokes
// or no longer lists for a panel (the panels' Admit already refuses new
// ones).
func (p *panelParts) rosterChanged(u federation.RosterUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || u.PreviousSerial == 0 {
		return
	}
	for _, h := range p.hosts {
		id := h.Panel().ID()
		cut := slices.Clone(u.Revoked)
		for _, m := range u.Roster.Members {
			if slices.Contains(m.Panels, id) {
				continue
			}
			if q, err := m.ID(); err == nil {
				cut = append(cut, q)
			}
		}
		for _, q := range cut {
			if k := h.Panel().Revoke(q); k > 0 {
				p.log.Info("panel streams cut: the roster no longer lists the peer for the panel", "panel", string(id), "peer", q.String(), "streams", k)
			}
		}
	}
}

func (p *panelParts) refreshLoop() {
	defer close(p.done)
	t := time.NewTicker(panelStatusRefresh)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.refresh()
		}
	}
}

// refresh reads each panel's Raft status, bounded, for heartbeats.
func (p *panelParts) refresh() {
	var states []panelState
	for _, h := range p.hosts {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := h.Panel().Status(ctx)
		cancel()
		if err != nil && st.Panel == "" {
			continue
		}
		s := panelState{PanelState: gossip.PanelState{Panel: st.Panel, State: st.State, Term: st.Term, AppliedIndex: st.AppliedIndex}, Witness: st.Witness}
		if st.Leader != "" {
			if m, ok := p.host.Member(st.Leader); ok {
				s.Leader = v1.AuthorityCode(m.Authority)
			}
		}
		if len(st.Peers) > 0 {
			var lag uint64
			for _, q := range st.Peers {
				lag = max(lag, q.Lag)
			}
			s.Lag = &lag
		}
		states = append(states, s)
	}
	p.mu.Lock()
	p.states = states
	p.mu.Unlock()
}

// States are the panels' Raft states as last read (every few seconds).
func (p *panelParts) States() []panelState {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.states)
}

// Heartbeat is the panels' part of this node's signed heartbeat.
func (p *panelParts) Heartbeat() []gossip.PanelState {
	var out []gossip.PanelState
	for _, s := range p.States() {
		out = append(out, s.PanelState)
	}
	return out
}

// Close stops the roster observer, stops recording decisions, then shuts
// each panel's Raft group and state down. Call it after HTTP has stopped
// and before the federation host closes. Idempotent; nil-safe.
func (p *panelParts) Close() error {
	if p == nil {
		return nil
	}
	p.closeOnce.Do(func() {
		if p.stopRoster != nil {
			p.stopRoster()
		}
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		close(p.stop)
		<-p.done
		errs := []error{p.Panels.Close()}
		for _, h := range p.hosts {
			if err := h.Close(); err != nil {
				errs = append(errs, fmt.Errorf("panel %s: %w", h.Panel().ID(), err))
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// missingDataKey is the error of a panel member that holds no data key.
func missingDataKey(id v1.PanelID, keysDir string) error {
	return fmt.Errorf("panel %s: this member holds no shared data key (%s). Every member of a panel holds the same one: "+
		"copy it from a member that has it, or, for a new panel, run 'nrmnet panel data-key %s' on one member and copy the file "+
		"to every other member (never to the panel's witness)", id, filepath.Join(keysDir, fmt.Sprintf(panelDataKeyFile, id)), id)
}

// createPanelDataKey writes a new shared data key for panel id into each of
// the members' keys directories (0600). It refuses to overwrite one.
func createPanelDataKey(id v1.PanelID, keysDirs ...string) error {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	for _, dir := range keysDirs {
		path := filepath.Join(dir, fmt.Sprintf(panelDataKeyFile, id))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("create panel %s data key: %w", id, err)
		}
		if _, err := f.Write(k); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// panelReaders are the roles that may list the cases before a panel: those
// node.Panels lets read a panel case.
var panelReaders = []node.Role{node.RoleSocialWorker, node.RoleNRMCoordinator, node.RolePanelChair, node.RolePanelMember, node.RoleAdvocate}

// panelStatusViewers may see a panel's Raft status, as in node.Panels.PanelStatus.
var panelStatusViewers = []node.Role{node.RoleNRMCoordinator, node.RolePanelChair, node.RolePanelMember, node.RoleRegionalCoordinator, node.RoleAdministrator}

// webPanels lets the panel pages use the node's panels.
type webPanels struct {
	parts *panelParts
	self  v1.AuthorityCode
}

// Panels lists the panels this node is a member of (not those it only
// witnesses: it cannot read them), with their case references, and their
// Raft status for the roles that may see it.
func (a webPanels) Panels(ctx context.Context, who web.Principal) ([]web.PanelSummary, error) {
	nw := asNode(who, a.self)
	if !slices.Contains(panelReaders, nw.Role) {
		return nil, fmt.Errorf("%w: role %s may not list panel cases", node.ErrForbidden, who.Role)
	}
	states := a.parts.States()
	var out []web.PanelSummary
	for _, h := range a.parts.hosts {
		if h.Witness() {
			continue
		}
		id := h.Panel().ID()
		refs, err := h.State().Cases()
		if err != nil {
			return nil, fmt.Errorf("%w: panel %s: %w", node.ErrUnavailable, id, err)
		}
		ps := web.PanelSummary{ID: id, Cases: refs}
		for _, s := range states {
			if s.Panel == id && slices.Contains(panelStatusViewers, nw.Role) {
				ps.Status = &web.PanelRaftStatus{State: s.State, Leader: authority.Code(s.Leader), Term: s.Term, Lag: s.Lag}
			}
		}
		out = append(out, ps)
	}
	return out, nil
}

func (a webPanels) PanelCase(ctx context.Context, who web.Principal, id v1.PanelID, ref v1.CaseID) (panel.PanelCase, error) {
	return a.parts.Panels.PanelCase(ctx, asNode(who, a.self), id, ref)
}

func (a webPanels) CastPanelVote(ctx context.Context, who web.Principal, id v1.PanelID, ref v1.CaseID, v panel.CastVote) (node.PanelOutcome, error) {
	return a.parts.Panels.CastPanelVote(ctx, asNode(who, a.self), id, ref, v)
}

func (a webPanels) ConcludePanelDecision(ctx context.Context, who web.Principal, id v1.PanelID, ref v1.CaseID, c panel.ConcludeDecision) (node.PanelOutcome, error) {
	return a.parts.Panels.ConcludePanelDecision(ctx, asNode(who, a.self), id, ref, c)
}

// createDevnetPanelKeys gives each devnet panel's members (not its witness)
// the panel's shared data key, when the devnet is created.
func createDevnetPanelKeys(dir string, specs []*devnetSpec) error {
	members := map[v1.PanelID][]string{}
	var ids []v1.PanelID
	for _, s := range specs {
		if slices.Contains(s.member.Roles, roster.RoleWitness) {
			continue
		}
		keys := resolve(filepath.Join(dir, s.dir), defaultNodeConfig(s.member.Code).KeysDir)
		for _, p := range s.member.Panels {
			if _, ok := members[p]; !ok {
				ids = append(ids, p)
			}
			members[p] = append(members[p], keys)
		}
	}
	for _, id := range ids {
		if err := createPanelDataKey(id, members[id]...); err != nil {
			return err
		}
	}
	return nil
}

// devnetPanelSeed is the pending panel decision a new devnet starts with:
// one of Islington's cases before the Islington–Camden panel, a quorate
// meeting chaired from Camden, RG proposed, and every vote cast but
// Islington's panel member's, so the panel page shows a live decision.
var devnetPanelSeed = struct {
	Lead, Chair authority.Code
}{"ISL", "CMD"}

// devnetPanelUser is a devnet user's ID (addDevnetUsers: one per role).
func devnetPanelUser(code authority.Code, role node.Role) string {
	return strings.ToLower(string(code)) + "." + strings.ReplaceAll(string(role), "_", "-")
}

// seedDevnetPanel records, through the nodes' Panels as the people would,
// the pending decision of devnetPanelSeed. It returns lines for the
// operator; a failure is logged and reported, not fatal. It runs once, when
// the devnet is created.
func seedDevnetPanel(ctx context.Context, nodes []*runningNode, log *slog.Logger) []string {
	var lead, chair *runningNode
	for _, n := range nodes {
		switch n.Authority {
		case devnetPanelSeed.Lead:
			lead = n
		case devnetPanelSeed.Chair:
			chair = n
		}
	}
	if lead == nil || chair == nil || !slices.Contains(lead.panels.Panels.PanelIDs(), devnetPanel) || !slices.Contains(chair.panels.Panels.PanelIDs(), devnetPanel) {
		return nil
	}
	fail := func(what string, err error) []string {
		log.Warn("devnet: seed the panel decision", "step", what, "err", err)
		return []string{fmt.Sprintf("  panel decision not seeded (%s): %v", what, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ref, err := devnetPanelCase(ctx, lead)
	if err != nil {
		return fail("case", err)
	}
	who := func(n *runningNode, role node.Role) node.Principal {
		return node.Principal{ID: devnetPanelUser(n.Authority, role), Role: role, Authority: n.Authority}
	}
	// The police and health representatives sit for Camden.
	admin := who(chair, node.RoleAdministrator)
	police := node.Principal{ID: strings.ToLower(string(chair.Authority)) + ".police-representative", Role: node.RolePanelMember, Authority: chair.Authority}
	health := node.Principal{ID: strings.ToLower(string(chair.Authority)) + ".health-representative", Role: node.RolePanelMember, Authority: chair.Authority}
	for _, p := range []node.Principal{police, health} {
		if _, _, err := chair.app.AddUser(ctx, admin, node.NewUser{ID: p.ID, Name: "Devnet " + strings.TrimPrefix(p.ID, strings.ToLower(string(chair.Authority))+".") + " (panel member)", Role: p.Role}); err != nil {
			return fail("users", err)
		}
	}
	step := func(what string, out node.PanelOutcome, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if !out.Accepted() {
			return fmt.Errorf("%s: %s %s", what, out.Code, out.Message)
		}
		return nil
	}
	lp, cp := lead.panels.Panels, chair.panels.Panels
	out, err := lp.OpenPanelCase(ctx, devnetWorker(lead.Authority), devnetPanel, node.PanelCaseOpening{Case: ref, Touches: []v1.AuthorityCode{chair.Authority}})
	if err := step("open", out, err); err != nil {
		return fail("open", err)
	}
	attendance := []v1.Attendee{
		{MemberID: devnetPanelUser(chair.Authority, node.RolePanelChair), Capacity: v1.CapacityAdviser, Chair: true},
		{MemberID: devnetPanelUser(lead.Authority, node.RolePanelMember), Capacity: v1.CapacityLocalAuthority, Authority: lead.Authority},
		{MemberID: devnetPanelUser(chair.Authority, node.RolePanelMember), Capacity: v1.CapacityLocalAuthority, Authority: chair.Authority},
		{MemberID: police.ID, Capacity: v1.CapacityPolice},
		{MemberID: health.ID, Capacity: v1.CapacityHealth},
		{MemberID: devnetPanelUser(lead.Authority, node.RoleAdvocate), Capacity: v1.CapacityAdvocate},
	}
	chairP := who(chair, node.RolePanelChair)
	out, err = cp.RecordPanelMeeting(ctx, chairP, devnetPanel, ref, node.PanelMeeting{HeldAt: time.Now().Add(-10 * time.Minute), Attendance: attendance})
	if err := step("meeting", out, err); err != nil {
		return fail("meeting", err)
	}
	meeting := out.Subject
	out, err = lp.RecordPanelChildViews(ctx, who(lead, node.RoleAdvocate), devnetPanel, ref,
		"Wants to stay at the same school and keep seeing her older sister; does not want the police to visit at home. (Synthetic devnet text.)")
	if err := step("child's views", out, err); err != nil {
		return fail("child's views", err)
	}
	out, err = cp.ProposePanelDecision(ctx, chairP, devnetPanel, ref, node.PanelProposal{Meeting: meeting, Stages: []v1.DecisionStage{v1.StageRG}})
	if err := step("propose", out, err); err != nil {
		return fail("propose", err)
	}
	proposal := out.Subject
	for _, voter := range []node.Principal{who(chair, node.RolePanelMember), police, health} {
		out, err = cp.CastPanelVote(ctx, voter, devnetPanel, ref, panel.CastVote{Proposal: proposal, Stage: v1.StageRG, Choice: v1.VotePositive})
		if err := step("vote by "+voter.ID, out, err); err != nil {
			return fail("votes", err)
		}
	}
	return []string{fmt.Sprintf("Seeded a pending panel decision (RG) on %s's case %s: vote as %s, then conclude as %s, at http://%s/panels/%s/cases/%s",
		lead.Authority, ref, devnetPanelUser(lead.Authority, node.RolePanelMember), chairP.ID, lead.HTTPAddr(), devnetPanel, ref)}
}

// devnetPanelCase refers a new synthetic child at n and takes the case
// through the scope check, ready for a reasonable grounds decision.
func devnetPanelCase(ctx context.Context, n *runningNode) (v1.CaseID, error) {
	now := time.Now().UTC()
	g := synthetic.New(11, synthetic.WithAuthority(n.Authority), synthetic.WithClock(now),
		synthetic.WithPeriod(now.Add(-48*time.Hour), now.Add(-time.Hour)))
	c := g.Case()
	ref, err := devnetRefer(ctx, n, c.Identity, c)
	if err != nil {
		return "", err
	}
	sw := devnetWorker(n.Authority)
	rec, err := n.app.Case(ctx, sw, ref, node.Read{Purpose: "take the case to the panel"})
	if err != nil {
		return "", err
	}
	cur := rec.Case
	for _, ev := range []workflow.Event{workflow.StartScopeCheck{}, workflow.RecordScope{InScope: true, Reason: "aged under 18, in scope (devnet)"}} {
		r, err := n.app.Apply(ctx, sw, node.Change{Case: cur.ID, Revision: cur.Revision, Event: ev})
		if err != nil {
			return "", fmt.Errorf("%s: %w", ev.Kind(), err)
		}
		cur = r.Case
	}
	return ref, nil
}
