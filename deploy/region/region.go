// Package region prepares the node directories of one region for a
// container deployment (deploy/compose.yaml): for each authority a node made
// by `nrmnet init`, its keys moved out of the node directory so that they are
// mounted apart from the data, a roster made with `nrmnet roster create` and
// signed with `nrmnet roster sign` by a threshold of newly made trust
// anchors, and a config.yaml that joins the region.
//
// It drives the nrmnet binary for every step an operator takes by hand, so
// that what it prepares is what the documented commands produce; the only
// thing it computes itself is each node's libp2p peer ID, from the authority
// key init wrote (no command prints it yet).
//
// The anchor private keys are written beside the nodes because this is a
// demonstration region on one machine; a real region keeps them offline, one
// per anchor holder (see docs/install.md).
package region

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"nrmnet/federation/roster"
	"nrmnet/schemas/authority"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Paths inside the container image (deploy/Dockerfile) where a node's
// directory and its keys are mounted.
const (
	ContainerNodeDir = "/var/lib/nrmnet"
	ContainerKeysDir = "/var/lib/nrmnet-keys"
)

// Files and directories Prepare writes under Config.Dir.
const (
	RosterFile      = "region.roster" // the signed roster, also copied into each node directory
	DescriptionFile = "region.yaml"   // what `nrmnet roster create --from` read
	TokensFile      = "tokens.yaml"   // first administrators' tokens, mode 0600
	anchorsDir      = "anchors"
)

// Member is one authority of the region and how its node is reached.
type Member struct {
	Code authority.Code
	// Host is the node's DNS name on the region's network (the compose
	// service name).
	Host   string
	Roles  []roster.Role
	Panels []v1.PanelID
}

// Config says which region to prepare and where.
type Config struct {
	// Dir receives one directory per member (<CODE>/node, <CODE>/keys), the
	// anchors, the roster and the tokens. It must not exist or be empty.
	Dir string
	// Binary is the nrmnet executable that runs init and the roster commands.
	Binary string
	// Region is the roster's region; every authority member must be in it.
	Region  string
	Members []Member
	// Anchors is how many trust-anchor keys to make; all of them sign the
	// roster. Threshold is how many signatures each node requires.
	Anchors   int
	Threshold int
	// P2PPort is the libp2p port (TCP and QUIC) every node listens on;
	// HTTPPort the port of its pages, API, /metrics and health endpoints.
	P2PPort  int
	HTTPPort int
	// ValidFor is the roster's lifetime.
	ValidFor time.Duration
	// UID and GID, if not -1, become the owner of every file written, so
	// that the container's non-root user can use them (needs root).
	UID, GID int
}

// TriBorough is the combined panel of Hammersmith and Fulham, Kensington and
// Chelsea, and Westminster, the three boroughs that have long shared
// children's services.
//
// The panel has no witness; its members share a data key all the same
// (keys/panel-<P>.data.key), which Prepare makes on the first member with
// 'nrmnet panel data-key' and copies to the others. Each member also makes
// its own panel storage key in its keys directory when it first starts,
// which is why the keys mount is writable.
const TriBorough v1.PanelID = "tri-borough"

// DefaultConfig is the region deploy/compose.yaml runs: five London
// authorities, three of which sit on one combined panel.
func DefaultConfig() Config {
	auth := []roster.Role{roster.RoleAuthority}
	return Config{
		Binary: "nrmnet",
		Region: "London",
		Members: []Member{
			{Code: "HMF", Host: "hmf", Roles: auth, Panels: []v1.PanelID{TriBorough}},
			{Code: "KEC", Host: "kec", Roles: auth, Panels: []v1.PanelID{TriBorough}},
			{Code: "WSM", Host: "wsm", Roles: auth, Panels: []v1.PanelID{TriBorough}},
			{Code: "ISL", Host: "isl", Roles: auth},
			{Code: "CMD", Host: "cmd", Roles: auth},
		},
		Anchors:   2,
		Threshold: 2,
		P2PPort:   4001,
		HTTPPort:  8080,
		ValidFor:  90 * 24 * time.Hour,
		UID:       -1,
		GID:       -1,
	}
}

// Sentinel errors.
var (
	// ErrInvalidConfig: Config.Validate failed.
	ErrInvalidConfig = errors.New("invalid region config")
	// ErrCommand: an nrmnet command Prepare ran failed; its output follows.
	ErrCommand = errors.New("nrmnet command failed")
)

// Validate reports every problem with c.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...))
	}
	if c.Dir == "" {
		bad("Dir is required")
	}
	if c.Binary == "" {
		bad("Binary is required")
	}
	if !slices.Contains(authority.Regions(), c.Region) {
		bad("Region %q is not one of %s", c.Region, strings.Join(authority.Regions(), ", "))
	}
	if len(c.Members) < 2 || len(c.Members) > roster.MaxMembers {
		bad("%d members, want 2 to %d", len(c.Members), roster.MaxMembers)
	}
	seen := map[authority.Code]bool{}
	hosts := map[string]bool{}
	for i, m := range c.Members {
		a, ok := authority.Lookup(m.Code)
		switch {
		case !ok:
			bad("Members[%d]: %q is not the code of a listed authority", i, m.Code)
		case seen[m.Code]:
			bad("Members[%d]: %s is listed twice", i, m.Code)
		case a.Region != c.Region && slices.Contains(m.Roles, roster.RoleAuthority):
			bad("Members[%d]: %s is in %s, not %s", i, m.Code, a.Region, c.Region)
		}
		seen[m.Code] = true
		if m.Host == "" || strings.ContainsAny(m.Host, "/ ") || hosts[m.Host] {
			bad("Members[%d]: Host %q must be a distinct DNS name", i, m.Host)
		}
		hosts[m.Host] = true
		if len(m.Roles) == 0 {
			bad("Members[%d]: at least one role is required", i)
		}
		for _, p := range m.Panels {
			if !p.Valid() {
				bad("Members[%d]: panel %q is not a valid panel ID", i, p)
			}
		}
	}
	if c.Anchors < 1 || c.Threshold < 1 || c.Threshold > c.Anchors {
		bad("Threshold %d of %d anchors: want 1 <= Threshold <= Anchors", c.Threshold, c.Anchors)
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"P2PPort", c.P2PPort}, {"HTTPPort", c.HTTPPort}} {
		if p.v < 1 || p.v > 65535 {
			bad("%s %d is not a port", p.name, p.v)
		}
	}
	if c.ValidFor < time.Hour {
		bad("ValidFor %s is shorter than an hour", c.ValidFor)
	}
	return errors.Join(errs...)
}

// Node is one prepared node.
type Node struct {
	Code   authority.Code
	Host   string
	PeerID string
	// NodeDir and KeysDir are on the machine Prepare ran on; they are
	// mounted at ContainerNodeDir and ContainerKeysDir.
	NodeDir string
	KeysDir string
	// AdminToken is the first administrator's token, as init printed it.
	AdminToken string
}

// Prepared is a region ready for `docker compose up`.
type Prepared struct {
	Region  string
	Roster  string   // path of the signed roster
	Anchors []string // the anchors' public keys, "ed25519:..."
	Nodes   []Node
}

// Node returns the prepared node of code.
func (p *Prepared) Node(code authority.Code) (Node, bool) {
	i := slices.IndexFunc(p.Nodes, func(n Node) bool { return n.Code == code })
	if i < 0 {
		return Node{}, false
	}
	return p.Nodes[i], true
}

// Prepare makes cfg's region under cfg.Dir. On error the directory may hold
// a partial region; delete it before trying again.
func Prepare(ctx context.Context, cfg Config) (*Prepared, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(cfg.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s is not empty; a region is prepared once", ErrInvalidConfig, cfg.Dir)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, anchorsDir), 0o700); err != nil {
		return nil, err
	}
	runEnv := func(env []string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, cfg.Binary, args...)
		cmd.Env = append(append(os.Environ(), "NRMNET_DIR="), env...)
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%w: nrmnet %s: %w\n%s", ErrCommand, strings.Join(args, " "), err, stderr.Bytes())
		}
		return out.Bytes(), nil
	}
	run := func(args ...string) ([]byte, error) { return runEnv(nil, args...) }
	p := &Prepared{Region: cfg.Region, Roster: filepath.Join(cfg.Dir, RosterFile)}

	for _, m := range cfg.Members {
		n, err := initNode(cfg.Dir, m, run)
		if err != nil {
			return nil, err
		}
		p.Nodes = append(p.Nodes, n)
	}

	if err := sharePanelDataKeys(cfg.Members, p.Nodes, runEnv); err != nil {
		return nil, err
	}

	var anchorKeys []string
	for i := 1; i <= cfg.Anchors; i++ {
		key := filepath.Join(cfg.Dir, anchorsDir, fmt.Sprintf("anchor-%d.key", i))
		if _, err := run("roster", "anchor-key", "--out", key); err != nil {
			return nil, err
		}
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			return nil, err
		}
		anchorKeys = append(anchorKeys, key)
		p.Anchors = append(p.Anchors, strings.TrimSpace(string(pub)))
	}

	desc := filepath.Join(cfg.Dir, DescriptionFile)
	if err := writeDescription(desc, cfg, p.Nodes); err != nil {
		return nil, err
	}
	if _, err := run("roster", "create", "--from", desc, "--out", p.Roster); err != nil {
		return nil, err
	}
	for _, key := range anchorKeys {
		if _, err := run("roster", "sign", "--key", key, p.Roster); err != nil {
			return nil, err
		}
	}
	verify := []string{"roster", "verify", "--threshold", fmt.Sprint(cfg.Threshold)}
	for _, a := range p.Anchors {
		verify = append(verify, "--anchor", a)
	}
	if _, err := run(append(verify, p.Roster)...); err != nil {
		return nil, err
	}
	signed, err := os.ReadFile(p.Roster)
	if err != nil {
		return nil, err
	}
	for _, n := range p.Nodes {
		if err := os.WriteFile(filepath.Join(n.NodeDir, RosterFile), signed, 0o640); err != nil {
			return nil, err
		}
		if err := writeNodeConfig(filepath.Join(n.NodeDir, "config.yaml"), cfg, p.Anchors); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Code, err)
		}
	}
	if err := writeTokens(filepath.Join(cfg.Dir, TokensFile), p.Nodes); err != nil {
		return nil, err
	}
	if cfg.UID >= 0 || cfg.GID >= 0 {
		for _, n := range p.Nodes {
			if err := chownTree(filepath.Dir(n.NodeDir), cfg.UID, cfg.GID); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// initNode runs `nrmnet init` for m and moves the keys out of the node
// directory, so that they can be mounted, backed up and protected apart
// from the data.
func initNode(dir string, m Member, run func(...string) ([]byte, error)) (Node, error) {
	base := filepath.Join(dir, string(m.Code))
	n := Node{Code: m.Code, Host: m.Host, NodeDir: filepath.Join(base, "node"), KeysDir: filepath.Join(base, "keys")}
	out, err := run("init", "--dir", n.NodeDir, "--authority", string(m.Code))
	if err != nil {
		return Node{}, err
	}
	if n.AdminToken, err = firstToken(out); err != nil {
		return Node{}, fmt.Errorf("%s: %w", m.Code, err)
	}
	if err := os.Rename(filepath.Join(n.NodeDir, "keys"), n.KeysDir); err != nil {
		return Node{}, fmt.Errorf("%s: moving the keys out of the node directory: %w", m.Code, err)
	}
	key, err := storage.LoadAuthorityKey(filepath.Join(n.KeysDir, storage.AuthorityKeyFile))
	if err != nil {
		return Node{}, fmt.Errorf("%s: %w", m.Code, err)
	}
	if n.PeerID, err = roster.PeerIDOf(key.Public().(ed25519.PublicKey)); err != nil {
		return Node{}, fmt.Errorf("%s: %w", m.Code, err)
	}
	return n, nil
}

// sharePanelDataKeys gives every panel's members (not its witness) the
// panel's shared data key, as an operator would: 'nrmnet panel data-key' on
// the panel's first member, then the file copied, owner-only, to the others,
// then 'nrmnet panel data-key --show' on each to check they show one ID.
func sharePanelDataKeys(members []Member, nodes []Node, runEnv func(env []string, args ...string) ([]byte, error)) error {
	holders := map[v1.PanelID][]Node{}
	var panels []v1.PanelID
	for i, m := range members {
		if slices.Contains(m.Roles, roster.RoleWitness) {
			continue
		}
		for _, id := range m.Panels {
			if _, ok := holders[id]; !ok {
				panels = append(panels, id)
			}
			holders[id] = append(holders[id], nodes[i])
		}
	}
	for _, id := range panels {
		first, name := holders[id][0], "panel-"+string(id)+".data.key"
		// The keys are already out of the node directory: say where.
		if _, err := runEnv([]string{"NRMNET_KEYS_DIR=" + first.KeysDir}, "panel", "data-key", string(id), "--dir", first.NodeDir); err != nil {
			return err
		}
		key, err := os.ReadFile(filepath.Join(first.KeysDir, name))
		if err != nil {
			return fmt.Errorf("panel %s: %w", id, err)
		}
		for _, n := range holders[id][1:] {
			if err := writeNew(filepath.Join(n.KeysDir, name), key); err != nil {
				return fmt.Errorf("panel %s: %s: %w", id, n.Code, err)
			}
		}
		// And check, as the runbook says, that every member shows one ID.
		var firstID string
		for _, n := range holders[id] {
			out, err := runEnv([]string{"NRMNET_KEYS_DIR=" + n.KeysDir}, "panel", "data-key", string(id), "--show", "--dir", n.NodeDir)
			if err != nil {
				return err
			}
			keyID := strings.TrimSpace(string(out))
			if i := strings.LastIndex(keyID, " ID "); i >= 0 {
				keyID = keyID[i+len(" ID "):]
			}
			if firstID == "" {
				firstID = keyID
			} else if keyID != firstID {
				return fmt.Errorf("panel %s: %s shows data key %s, %s shows %s", id, n.Code, keyID, first.Code, firstID)
			}
		}
	}
	return nil
}

// writeNew writes b to a new owner-only file at path, synced.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// firstToken finds the token init prints on the line after "Token, shown
// this once".
func firstToken(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	next := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Token, shown this once"):
			next = true
		case next && line != "":
			return line, nil
		}
	}
	return "", errors.New("init printed no administrator token")
}

// description is the file `nrmnet roster create --from` reads.
type description struct {
	Region   string          `yaml:"region"`
	Serial   uint64          `yaml:"serial"`
	ValidFor string          `yaml:"valid_for"`
	Members  []roster.Member `yaml:"members"`
}

// writeDescription writes the roster description. Contact numbers are in
// Ofcom's range reserved for drama (020 7946 0xxx), so nothing reaches a
// real service; a real region lists its teams' own.
func writeDescription(path string, cfg Config, nodes []Node) error {
	d := description{Region: cfg.Region, Serial: 1, ValidFor: cfg.ValidFor.String()}
	for i, n := range nodes {
		m := cfg.Members[i]
		phone := func(k int) string { return fmt.Sprintf("020 7946 0%03d", 500+10*i+k) }
		d.Members = append(d.Members, roster.Member{
			Authority: n.Code,
			PeerID:    n.PeerID,
			Addrs: []string{
				fmt.Sprintf("/dns4/%s/tcp/%d", n.Host, cfg.P2PPort),
				fmt.Sprintf("/dns4/%s/udp/%d/quic-v1", n.Host, cfg.P2PPort),
			},
			Roles:  m.Roles,
			Panels: m.Panels,
			Contacts: roster.Contacts{
				DutyDesk:       roster.Contact{Team: "Children's Services Contact Team", Phone: phone(1)},
				OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: phone(2)},
				NRMCoordinator: roster.Contact{Team: "Exploitation and Missing Team", Email: "nrm@" + n.Host + ".example.invalid"},
			},
		})
	}
	b, err := yaml.Marshal(d)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// writeNodeConfig rewrites the config.yaml init wrote: keys mounted apart,
// the region's federation settings, and HTTP on every interface of the
// container (the compose file publishes it on the host's loopback only).
func writeNodeConfig(path string, cfg Config, anchors []string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c map[string]any
	if err := yaml.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	section := func(name string) map[string]any {
		s, ok := c[name].(map[string]any)
		if !ok {
			s = map[string]any{}
			c[name] = s
		}
		return s
	}
	c["keys_dir"] = ContainerKeysDir
	fed := section("federation")
	fed["listen"] = []string{
		fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", cfg.P2PPort),
		fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", cfg.P2PPort),
	}
	fed["roster_file"] = RosterFile
	fed["anchors"] = anchors
	fed["threshold"] = cfg.Threshold
	section("http")["listen"] = fmt.Sprintf("0.0.0.0:%d", cfg.HTTPPort)
	out, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	head := "# nrmnet node configuration for a container (deploy/compose.yaml), written by\n" +
		"# deploy/region from the file `nrmnet init` wrote. Paths are relative to\n" +
		"# " + ContainerNodeDir + "; the keys are mounted at " + ContainerKeysDir + ".\n"
	return os.WriteFile(path, append([]byte(head), out...), 0o640)
}

// writeTokens writes the administrators' tokens, readable by the owner only.
func writeTokens(path string, nodes []Node) error {
	var b strings.Builder
	b.WriteString("# First administrators' tokens, as `nrmnet init` printed them. Secret.\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "%s: %s\n", n.Code, n.AdminToken)
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func chownTree(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
