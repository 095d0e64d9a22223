package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"nrmnet/federation"
	"nrmnet/federation/gossip"
	"nrmnet/federation/roster"
	"nrmnet/node"
	"nrmnet/node/matchkeys"
	"nrmnet/node/web"
	"nrmnet/schemas/authority"
	"nrmnet/schemas/synthetic"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// devnetManifestFile records a devnet's layout; its presence means the
// devnet was created completely and is resumed, never re-seeded.
const devnetManifestFile = "devnet.yaml"

// devnetPanel is the combined panel of the demo: Islington and Camden, with
// Hackney's node as the third member (the witness) so that the panel's Raft
// group survives one node down.
const devnetPanel v1.PanelID = "islington-camden"

// devnetMember is one authority of the demo federation.
type devnetMember struct {
	Code   authority.Code
	Roles  []roster.Role
	Panels []v1.PanelID
}

// devnetRegions are the demo's two regions: inner London boroughs and the
// Kent and Medway end of a county line, with Brighton and Hove. A county-lines
// case from Islington or Hackney typically crosses into Kent and Medway.
// Hackney and Kent are their regions' bridges: every node holds both
// regions' rosters, and alerts and hand-overs cross between them.
var devnetRegions = devnetLayout{
	{"London", []devnetMember{
		{Code: "ISL", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "CMD", Roles: []roster.Role{roster.RoleAuthority}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "HCK", Roles: []roster.Role{roster.RoleAuthority, roster.RoleWitness, roster.RoleBridge}, Panels: []v1.PanelID{devnetPanel}},
		{Code: "LBH", Roles: []roster.Role{roster.RoleAuthority}},
	}},
	{"South East", []devnetMember{
		{Code: "KEN", Roles: []roster.Role{roster.RoleAuthority, roster.RoleBridge}},
		{Code: "MDW", Roles: []roster.Role{roster.RoleAuthority}},
		{Code: "BNH", Roles: []roster.Role{roster.RoleAuthority}},
	}},
}

// devnetLayout is the regions and members of a devnet.
type devnetLayout []struct {
	Name    string
	Members []devnetMember
}

// devnetManifest is devnet.yaml.
type devnetManifest struct {
	Created time.Time       `yaml:"created"`
	Seed    int64           `yaml:"seed"`
	Regions []devnetRegion  `yaml:"regions"`
	Nodes   []devnetNodeRef `yaml:"nodes"`
}

type devnetRegion struct {
	Name       string   `yaml:"name"`
	AnchorKeys []string `yaml:"anchor_keys"` // files, relative to the devnet directory
}

type devnetNodeRef struct {
	Authority authority.Code `yaml:"authority"`
	Region    string         `yaml:"region"`
	Dir       string         `yaml:"dir"`
}

// devnetCasesPerAuthority keeps start-up quick while giving every list and
// count something to show.
const devnetCasesPerAuthority = 30

// devnetBacklog is how long the seeded cases have waited without progress.
const devnetBacklog = 7 * 24 * time.Hour

func newDevnetCommand() *cobra.Command {
	var (
		dir      string
		httpAddr string
	)
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run a demonstration federation of seven authorities on this machine",
		Long: `devnet runs a whole demonstration federation in one process, on loopback:
seven authorities in two regions under their real codes (Islington, Camden,
Hackney and Lambeth in London; Kent, Medway and Brighton and Hove in the South
East), each a real node with its own encrypted store and a real libp2p host
admitted by its region's signed roster. Islington and Camden share a combined
panel, with Hackney's node as its witness.

On first start it creates, under --dir, two trust-anchor keys per region, a
roster signed by both, a node directory per authority, and synthetic cases
(never real data). Later starts resume from the directory: same identities,
same cases, nothing re-seeded.

It serves an index at --http and each node's pages on the following ports,
prints the URLs and a bearer token per role (one demo user per role and
authority), and runs until Ctrl-C. Logs (JSON) go to devnet.log in --dir.
The pages open without sign-in in the devnet, since everything in it is
synthetic; signing in with a token acts as that user.`,
		Example: `  go run ./cmd/nrmnet devnet
  nrmnet devnet --dir /tmp/nrmnet-demo --http 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, port, err := splitHostPort(httpAddr)
			if err != nil {
				return fmt.Errorf("--http: %w", err)
			}
			ctx := contextOf(cmd)
			out := cmd.OutOrStdout()
			logFile, err := openDevnetLog(dir)
			if err != nil {
				return err
			}
			defer logFile.Close()
			log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelInfo}))

			m, created, err := ensureDevnet(ctx, dir, out, log)
			if err != nil {
				return err
			}
			start := time.Now()
			nodes, err := startDevnet(ctx, dir, m, host, port+1, devnetStartOptions(log))
			if err != nil {
				return err
			}
			defer func() {
				fmt.Fprintln(out, "\nStopping the nodes...")
				if err := stopDevnet(nodes); err != nil {
					fmt.Fprintln(out, "  not cleanly:", err)
				} else {
					fmt.Fprintf(out, "Stopped. Start again with the same command to resume from %s\n", absDir(dir))
				}
			}()
			index, err := serveDevnetIndex(net.JoinHostPort(host, strconv.Itoa(port)), nodes, log)
			if err != nil {
				return err
			}
			defer index.Close()

			if created {
				fmt.Fprintf(out, "Created the devnet in %s\n", absDir(dir))
				for _, line := range raiseDevnetAlerts(ctx, nodes, log) {
					fmt.Fprintln(out, line)
				}
				for _, line := range seedDevnetRelocation(ctx, nodes, log) {
					fmt.Fprintln(out, line)
				}
				for _, line := range seedDevnetPanel(ctx, nodes, log) {
					fmt.Fprintln(out, line)
				}
			} else {
				fmt.Fprintf(out, "Resumed the devnet from %s\n", absDir(dir))
			}
			fmt.Fprintf(out, "%d nodes started in %s (real libp2p on loopback; logs in %s)\n\n",
				len(nodes), time.Since(start).Round(time.Millisecond), filepath.Join(absDir(dir), "devnet.log"))
			fmt.Fprintf(out, "Dashboard: http://%s/\n\n", net.JoinHostPort(host, strconv.Itoa(port)))
			for _, n := range nodes {
				a, _ := authority.Lookup(n.Authority)
				fmt.Fprintf(out, "  %-3s %-18s %-11s http://%s/federation\n", n.Authority, a.Name, n.Region, n.HTTPAddr())
			}
			fmt.Fprintln(out, "\nThe pages open without sign-in in the devnet (synthetic data only); sign in at /signin with a")
			fmt.Fprintln(out, "token below to act as that role. The JSON API at /v1 always needs a token:")
			if tokens, err := readDevnetTokens(dir); err == nil && len(tokens) > 0 {
				first := tokens[0].Authority
				for _, t := range tokens {
					if t.Authority == first {
						fmt.Fprintf(out, "  %-21s %s\n", t.Role, t.Token)
					}
				}
				fmt.Fprintf(out, "  (%s's users; every authority's are in %s)\n", first, filepath.Join(absDir(dir), devnetTokensFile))
				for _, t := range tokens {
					if t.Authority == first && t.Role == node.RoleSocialWorker {
						fmt.Fprintf(out, "  e.g. curl -H 'Authorization: Bearer %s' http://%s/v1/overdue\n", t.Token, nodes[0].HTTPAddr())
						break
					}
				}
			}
			fmt.Fprintln(out, "Press Ctrl-C to stop.")

			select {
			case <-ctx.Done():
			case err := <-index.failed:
				return fmt.Errorf("dashboard index: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "./devnet-data", "directory holding the devnet's nodes, keys and rosters")
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:8080", "address of the dashboard index; the nodes take the following ports")
	return cmd
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535-16 {
		return "", 0, fmt.Errorf("%q: the port must be a number from 1 to %d", addr, 65535-16)
	}
	return host, port, nil
}

func openDevnetLog(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, "devnet.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
}

// ensureDevnet loads the devnet in dir, or creates it if dir holds none.
func ensureDevnet(ctx context.Context, dir string, out io.Writer, log *slog.Logger) (*devnetManifest, bool, error) {
	path := filepath.Join(dir, devnetManifestFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var m devnetManifest
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&m); err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if err := renewDevnetRosters(dir, &m, log); err != nil {
			return nil, false, err
		}
		return &m, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		if e.Name() != "devnet.log" {
			return nil, false, fmt.Errorf("%s holds %s but no %s: an earlier creation was interrupted, or the directory is not a devnet; remove it or choose another --dir", absDir(dir), e.Name(), devnetManifestFile)
		}
	}
	fmt.Fprintf(out, "Creating a devnet in %s (first start)...\n", absDir(dir))
	m, err := createDevnet(ctx, dir, time.Now().UTC(), devnetRegions, devnetCasesPerAuthority, log)
	if err != nil {
		return nil, false, fmt.Errorf("create devnet: %w", err)
	}
	return m, true, nil
}

// devnetSpec is one node to create.
type devnetSpec struct {
	member devnetMember
	region string
	dir    string
	port   int
	key    ed25519.PrivateKey
}

// createDevnet makes the whole devnet: anchor keys, node directories with
// their keys, signed rosters, and synthetic cases; it writes the manifest
// last, so that a devnet is only ever resumed once complete.
func createDevnet(ctx context.Context, dir string, now time.Time, layout devnetLayout, casesPer int, log *slog.Logger) (*devnetManifest, error) {
	m := &devnetManifest{Created: now, Seed: now.UnixNano() & 0x7fffffff}
	var specs []*devnetSpec
	for _, region := range layout {
		slug := strings.ToLower(strings.ReplaceAll(region.Name, " ", "-"))
		r := devnetRegion{Name: region.Name}
		for i := 1; i <= 2; i++ {
			file := filepath.Join("anchors", fmt.Sprintf("%s-anchor-%d.key", slug, i))
			if err := os.MkdirAll(filepath.Join(dir, "anchors"), 0o700); err != nil {
				return nil, err
			}
			if _, err := roster.GenerateAnchorKeyFile(filepath.Join(dir, file)); err != nil {
				return nil, err
			}
			r.AnchorKeys = append(r.AnchorKeys, file)
		}
		m.Regions = append(m.Regions, r)
		for _, mem := range region.Members {
			specs = append(specs, &devnetSpec{member: mem, region: region.Name, dir: strings.ToLower(string(mem.Code))})
			m.Nodes = append(m.Nodes, devnetNodeRef{Authority: mem.Code, Region: region.Name, Dir: strings.ToLower(string(mem.Code))})
		}
	}
	var tokens []devnetToken
	ports, err := freeTCPPorts(len(specs))
	if err != nil {
		return nil, err
	}
	for i, s := range specs {
		s.port = ports[i]
		nodeDir := filepath.Join(dir, s.dir)
		cfg := defaultNodeConfig(s.member.Code)
		cfg.Region = s.region
		cfg.Federation.Listen = []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", s.port)}
		cfg.Federation.Threshold = 2
		// Seven nodes share one machine: small memtables and caches.
		cfg.Storage.MemTableMiB, cfg.Storage.BlockCacheMiB, cfg.Storage.IndexCacheMiB = 8, 8, 4
		anchors, err := devnetAnchors(dir, m, s.region)
		if err != nil {
			return nil, err
		}
		for _, k := range anchors {
			cfg.Federation.Anchors = append(cfg.Federation.Anchors, roster.FormatAnchorKey(k.Public().(ed25519.PublicKey)))
		}
		for _, r := range m.Regions {
			if r.Name == s.region {
				continue
			}
			keys, err := devnetAnchors(dir, m, r.Name)
			if err != nil {
				return nil, err
			}
			oc := otherRegionConfig{Region: r.Name, RosterFile: devnetRosterFile(r.Name, s.region), Threshold: 2}
			for _, k := range keys {
				oc.Anchors = append(oc.Anchors, roster.FormatAnchorKey(k.Public().(ed25519.PublicKey)))
			}
			cfg.Federation.OtherRegions = append(cfg.Federation.OtherRegions, oc)
		}
		if err := os.MkdirAll(nodeDir, 0o750); err != nil {
			return nil, err
		}
		sc := cfg.storeConfig(nodeDir)
		if err := storage.CreateKeys(sc.KeysDir); err != nil {
			return nil, err
		}
		if s.key, err = storage.LoadAuthorityKey(filepath.Join(sc.KeysDir, storage.AuthorityKeyFile)); err != nil {
			return nil, err
		}
		if err := writeNodeConfig(filepath.Join(nodeDir, ConfigFile), cfg); err != nil {
			return nil, err
		}
		toks, err := seedDevnetNode(ctx, sc, m.Seed+int64(i), now, casesPer, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.member.Code, err)
		}
		tokens = append(tokens, toks...)
	}
	if err := writeDevnetTokens(dir, tokens); err != nil {
		return nil, err
	}
	if err := createDevnetPanelKeys(dir, specs); err != nil {
		return nil, err
	}
	for _, r := range m.Regions {
		ro := &roster.Roster{Region: r.Name, Serial: 1, IssuedAt: now.Add(-time.Minute).Truncate(time.Second), ExpiresAt: now.Add(365 * 24 * time.Hour).Truncate(time.Second)}
		for i, s := range specs {
			if s.region != r.Name {
				continue
			}
			ro.Members = append(ro.Members, devnetRosterMember(s, i))
		}
		if err := signDevnetRoster(dir, m, ro, specs); err != nil {
			return nil, err
		}
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	head := "# nrmnet devnet: synthetic demonstration data only. Delete the directory to start afresh.\n"
	if err := os.WriteFile(filepath.Join(dir, devnetManifestFile), append([]byte(head), b...), 0o640); err != nil {
		return nil, err
	}
	return m, nil
}

// devnetRosterMember is a spec's roster entry. Contact numbers are in
// Ofcom's ranges reserved for drama (020 7946 0xxx, 01632 960xxx), so
// nothing in the demo reaches a real service.
func devnetRosterMember(s *devnetSpec, i int) roster.Member {
	pid, _ := roster.PeerIDOf(s.key.Public().(ed25519.PublicKey))
	phone := func(n int) string {
		if s.region == "London" {
			return fmt.Sprintf("020 7946 0%03d", 100+10*i+n)
		}
		return fmt.Sprintf("01632 960%03d", 100+10*i+n)
	}
	domain := strings.ToLower(string(s.member.Code)) + ".devnet.invalid"
	return roster.Member{
		Authority: s.member.Code,
		PeerID:    pid,
		Addrs:     []string{fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", s.port)},
		Roles:     s.member.Roles,
		Panels:    s.member.Panels,
		Contacts: roster.Contacts{
			DutyDesk:       roster.Contact{Team: "Children's Services Contact Team", Phone: phone(1)},
			OutOfHours:     roster.Contact{Team: "Emergency Duty Team", Phone: phone(2)},
			NRMCoordinator: roster.Contact{Team: "Exploitation and Missing Team", Email: "nrm@" + domain},
		},
	}
}

// devnetAnchors reads a region's anchor keys.
func devnetAnchors(dir string, m *devnetManifest, region string) ([]ed25519.PrivateKey, error) {
	for _, r := range m.Regions {
		if r.Name != region {
			continue
		}
		var keys []ed25519.PrivateKey
		for _, f := range r.AnchorKeys {
			k, err := roster.ReadAnchorKeyFile(filepath.Join(dir, f))
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		return keys, nil
	}
	return nil, fmt.Errorf("no anchor keys for region %q in %s", region, devnetManifestFile)
}

// devnetRosterFile is where a node of region home keeps the roster of
// region: region.roster for its own, <region>.roster for another's.
func devnetRosterFile(region, home string) string {
	if region == home {
		return "region.roster"
	}
	return strings.ToLower(strings.ReplaceAll(region, " ", "-")) + ".roster"
}

// signDevnetRoster signs ro with both of its region's anchors and installs
// it in every node's directory: as its region's roster in its members', as
// another region's in the others'.
func signDevnetRoster(dir string, m *devnetManifest, ro *roster.Roster, specs []*devnetSpec) error {
	keys, err := devnetAnchors(dir, m, ro.Region)
	if err != nil {
		return err
	}
	signed, err := roster.Sign(ro, keys[0])
	if err != nil {
		return fmt.Errorf("roster %s: %w", ro.Region, err)
	}
	for _, k := range keys[1:] {
		if err := signed.AddSignature(k); err != nil {
			return err
		}
	}
	for _, s := range specs {
		if err := roster.SaveFile(filepath.Join(dir, s.dir, devnetRosterFile(ro.Region, s.region)), signed); err != nil {
			return err
		}
	}
	return nil
}

// renewDevnetRosters re-issues a region's roster under the next serial when
// it expires within 30 days, or when a member's libp2p port has been taken
// by another program since the last run (the member moves to a free port).
func renewDevnetRosters(dir string, m *devnetManifest, log *slog.Logger) error {
	now := time.Now().UTC()
	for _, r := range m.Regions {
		var (
			specs  []*devnetSpec
			signed *roster.SignedRoster
		)
		for _, ref := range m.Nodes {
			// Every node keeps the roster: as its own region's or another's.
			specs = append(specs, &devnetSpec{region: ref.Region, dir: ref.Dir})
			if ref.Region != r.Name {
				continue
			}
			if signed == nil {
				s, err := roster.LoadFile(filepath.Join(dir, ref.Dir, "region.roster"))
				if err != nil {
					return err
				}
				signed = s
			}
		}
		if signed == nil {
			continue
		}
		ro := signed.Unverified()
		renew := ro.ExpiresAt.Sub(now) < 30*24*time.Hour
		for i := range ro.Members {
			mem := &ro.Members[i]
			port := portOf(mem.Addrs)
			if port == 0 || portFree(port) {
				continue
			}
			fresh, err := freeTCPPorts(1)
			if err != nil {
				return err
			}
			log.Warn("devnet: libp2p port taken; moving the member", "authority", string(mem.Authority), "old_port", port, "new_port", fresh[0])
			addr := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", fresh[0])
			mem.Addrs = []string{addr}
			nodeDir := filepath.Join(dir, strings.ToLower(string(mem.Authority)))
			if err := setDevnetListen(nodeDir, addr); err != nil {
				return err
			}
			renew = true
		}
		if !renew {
			continue
		}
		ro.Serial++
		ro.IssuedAt = now.Add(-time.Minute).Truncate(time.Second)
		ro.ExpiresAt = now.Add(365 * 24 * time.Hour).Truncate(time.Second)
		if err := signDevnetRoster(dir, m, ro, specs); err != nil {
			return err
		}
		log.Info("devnet: roster re-issued", "region", r.Name, "serial", ro.Serial)
	}
	return nil
}

// setDevnetListen rewrites a devnet node's libp2p listen address.
func setDevnetListen(nodeDir, addr string) error {
	cfg, err := loadNodeConfig(nodeDir, func(string) (string, bool) { return "", false })
	if err != nil {
		return err
	}
	cfg.Federation.Listen = []string{addr}
	path := filepath.Join(nodeDir, ConfigFile)
	if err := os.Rename(path, path+".old"); err != nil {
		return err
	}
	if err := writeNodeConfig(path, cfg); err != nil {
		return err
	}
	return os.Remove(path + ".old")
}

func portOf(addrs []string) int {
	for _, a := range addrs {
		if i := strings.Index(a, "/tcp/"); i >= 0 {
			p, _ := strconv.Atoi(strings.SplitN(a[i+5:], "/", 2)[0])
			return p
		}
	}
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// freeTCPPorts asks the kernel for n distinct free loopback ports. Another
// program could take one before the node binds it; the node then fails to
// start with an error naming the address, and the next start moves it.
func freeTCPPorts(n int) ([]int, error) {
	var (
		ports []int
		ls    []net.Listener
	)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// seedDevnetNode stores synthetic cases in a new node's store, observed at
// now so that their clocks are live: some overdue, some due soon.
func seedDevnetNode(ctx context.Context, sc storage.Config, seed int64, now time.Time, n int, log *slog.Logger) (_ []devnetToken, err error) {
	sc.Logger = log.With("node", string(sc.Authority), "component", "store")
	s, err := storage.Open(sc)
	if err != nil {
		return nil, err
	}
	defer closeStore(s, &err)
	// The cases are drawn as they stood a week ago (referred in the two months before), with nothing done
	// since: deadlines that fell in that week are now overdue, as in a
	// real backlog.
	observed := now.Add(-devnetBacklog)
	g := synthetic.New(seed, synthetic.WithAuthority(sc.Authority), synthetic.WithClock(observed), synthetic.WithPeriod(observed.AddDate(0, -2, 0), observed))
	who := storage.Access{Actor: "devnet", Role: "administrator", Purpose: "seed synthetic demonstration cases"}
	for _, c := range g.Cases(n) {
		// The generator draws each case's whole history; this node stores
		// it as its first revision.
		c.Revision = 1
		if err := s.CreateCase(ctx, c, who); err != nil {
			return nil, err
		}
	}
	return addDevnetUsers(ctx, s, sc.Authority)
}

// devnetToken is one demo user's bearer token.
type devnetToken struct {
	Authority authority.Code
	Role      node.Role
	UserID    string
	Token     string
}

// addDevnetUsers adds an administrator, then one user for every other role,
// through the node (so the users and their audit entries are what a real
// node holds), and returns their tokens.
func addDevnetUsers(ctx context.Context, s *storage.Store, code authority.Code) ([]devnetToken, error) {
	cfg := node.DefaultConfig()
	cfg.Store, cfg.Authority = s, code
	app, err := node.New(cfg)
	if err != nil {
		return nil, err
	}
	a, _ := authority.Lookup(code)
	prefix := strings.ToLower(string(code)) + "."
	admin, token, err := app.AddFirstAdministrator(ctx, prefix+"administrator", "Devnet administrator ("+a.Name+")")
	if err != nil {
		return nil, fmt.Errorf("first administrator: %w", err)
	}
	tokens := []devnetToken{{code, node.RoleAdministrator, admin.ID, token}}
	who, err := app.Authenticate(token)
	if err != nil {
		return nil, err
	}
	for _, role := range node.Roles {
		if role == node.RoleAdministrator {
			continue
		}
		id := prefix + strings.ReplaceAll(string(role), "_", "-")
		u, tok, err := app.AddUser(ctx, who, node.NewUser{ID: id, Name: "Devnet " + strings.ReplaceAll(string(role), "_", " ") + " (" + a.Name + ")", Role: role})
		if err != nil {
			return nil, fmt.Errorf("user %s: %w", id, err)
		}
		tokens = append(tokens, devnetToken{code, role, u.ID, tok})
	}
	return tokens, nil
}

// devnetTokensFile keeps the demo users' tokens (the nodes keep only their
// hashes), so that every start can print them again. Synthetic users of a
// demo only: a real node never writes a token down.
const devnetTokensFile = "tokens.txt"

func writeDevnetTokens(dir string, tokens []devnetToken) error {
	var b strings.Builder
	b.WriteString("# nrmnet devnet bearer tokens (demo users only). authority role user token\n")
	for _, t := range tokens {
		fmt.Fprintf(&b, "%s %s %s %s\n", t.Authority, t.Role, t.UserID, t.Token)
	}
	return os.WriteFile(filepath.Join(dir, devnetTokensFile), []byte(b.String()), 0o600)
}

func readDevnetTokens(dir string) ([]devnetToken, error) {
	b, err := os.ReadFile(filepath.Join(dir, devnetTokensFile))
	if err != nil {
		return nil, err
	}
	var out []devnetToken
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, devnetToken{authority.Code(f[0]), node.Role(f[1]), f[2], f[3]})
	}
	return out, nil
}

// startDevnet starts every node in parallel, HTTP on consecutive ports from
// firstPort. If one fails, those started are stopped.
func startDevnet(ctx context.Context, dir string, m *devnetManifest, host string, firstPort int, opts startOptions) ([]*runningNode, error) {
	nodes := make([]*runningNode, len(m.Nodes))
	errs := make([]error, len(m.Nodes))
	var wg sync.WaitGroup
	for i, ref := range m.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodeDir := filepath.Join(dir, ref.Dir)
			cfg, err := loadNodeConfig(nodeDir, func(string) (string, bool) { return "", false })
			if err != nil {
				errs[i] = err
				return
			}
			port := 0 // any free port
			if firstPort > 0 {
				port = firstPort + i
			}
			cfg.HTTP.Listen = net.JoinHostPort(host, strconv.Itoa(port))
			cfg.HTTP.ShutdownTimeout = 2 * time.Second
			nodes[i], errs[i] = startNode(ctx, nodeDir, cfg, opts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		var started []*runningNode
		for _, n := range nodes {
			if n != nil {
				started = append(started, n)
			}
		}
		_ = stopDevnet(started)
		return nil, err
	}
	return nodes, nil
}

// devnetStartOptions are the options every devnet node starts with: open
// case lists (synthetic data) and quick redials on loopback.
func devnetStartOptions(log *slog.Logger) startOptions {
	return startOptions{
		Logger:          log,
		DemoPrincipal:   &web.Principal{UserID: "devnet-worker", Role: "social_worker"},
		RefreshInterval: 3 * time.Second,
		Federation: func(c *federation.Config) {
			c.DialBackoffMin = 200 * time.Millisecond
			c.DialBackoffMax = 2 * time.Second
			c.ReconnectInterval = 2 * time.Second
			c.DialTimeout = 3 * time.Second
		},
		Gossip: func(c *gossip.Config) {
			c.HeartbeatInterval = 2 * time.Second
			c.DownAfter = 7 * time.Second
		},
	}
}

// stopDevnet stops the nodes together.
func stopDevnet(nodes []*runningNode) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Close(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", n.Authority, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// devnetIndex serves the dashboard's index page: a link to every node.
type devnetIndex struct {
	srv    *http.Server
	failed chan error
	done   chan struct{}
}

var devnetIndexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>nrmnet devnet</title>
<style>
html{font-family:system-ui,Arial,sans-serif;line-height:1.45;color:#1b1b1b;background:#fff}
body{margin:0}header{background:#1d3557;color:#fff;padding:.75rem 1.5rem}main{padding:1rem 1.5rem}
a{color:#1d4f91}a:focus-visible{outline:3px solid transparent;background:#ffdd00;color:#0b0c0c;box-shadow:0 4px #0b0c0c}
table{border-collapse:collapse}th,td{text-align:left;padding:.4rem .75rem;border-bottom:1px solid #6f777b}
caption{text-align:left;font-weight:700;padding-bottom:.5rem}.note{background:#fff3cd;color:#3d2e00;padding:.5rem 1.5rem}
</style></head>
<body>
<header><p><strong>nrmnet</strong> demonstration federation</p></header>
<p class="note" role="note"><strong>Synthetic data only.</strong> Every node runs in this process on loopback with real libp2p.</p>
<main>
<h1>Devnet</h1>
{{range .}}
<table>
<caption>{{.Region}}</caption>
<thead><tr><th scope="col">Authority</th><th scope="col">Federation view</th><th scope="col">Case list</th></tr></thead>
<tbody>
{{range .Nodes}}<tr><th scope="row">{{.Name}} ({{.Code}})</th><td><a href="{{.URL}}/federation">{{.Name}}: federation</a></td><td><a href="{{.URL}}/cases">{{.Name}}: cases</a></td></tr>
{{end}}</tbody>
</table>
{{end}}
</main>
</body>
</html>
`))

type devnetIndexRegion struct {
	Region string
	Nodes  []struct{ Code, Name, URL string }
}

func serveDevnetIndex(addr string, nodes []*runningNode, log *slog.Logger) (*devnetIndex, error) {
	var regions []devnetIndexRegion
	for _, n := range nodes {
		if len(regions) == 0 || regions[len(regions)-1].Region != n.Region {
			regions = append(regions, devnetIndexRegion{Region: n.Region})
		}
		a, _ := authority.Lookup(n.Authority)
		r := &regions[len(regions)-1]
		r.Nodes = append(r.Nodes, struct{ Code, Name, URL string }{string(n.Authority), a.Name, "http://" + n.HTTPAddr()})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := devnetIndexPage.Execute(w, regions); err != nil {
			log.Warn("devnet index", "err", err)
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard index on %s: %w (choose another with --http)", addr, err)
	}
	ix := &devnetIndex{
		srv:    &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		failed: make(chan error, 1),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(ix.done)
		if err := ix.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			ix.failed <- err
		}
	}()
	return ix, nil
}

// Close stops the index server and waits for it.
func (ix *devnetIndex) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := ix.srv.Shutdown(ctx)
	<-ix.done
	return err
}

// devnetAlerts are the cross-border alerts a new devnet raises, each about
// a new synthetic case of its issuer's. Where Variant is set, the first
// target also holds the same child as it might have recorded them
// (synthetic.Variant), so private matching raises a live match task there.
var devnetAlerts = []struct {
	Issuer  authority.Code
	Type    v1.AlertType
	Targets []authority.Code
	Variant bool
}{
	{"ISL", v1.AlertCountyLines, []authority.Code{"KEN", "HCK"}, true},
	{"CMD", v1.AlertMissing, []authority.Code{"ISL"}, false},
	{"KEN", v1.AlertMayBeInArea, []authority.Code{"MDW"}, true},
}

// raiseDevnetAlerts raises devnetAlerts from those of their issuers that
// are running, through each issuer's node.CrossBorder, so that they carry
// match tokens; each is durable in the issuer's outbox until every target
// acknowledges it. Targets on no roster the issuer holds are left out. It
// returns a line per alert for the operator; a failure is logged and
// reported, not fatal. It runs once, when the devnet is created.
func raiseDevnetAlerts(ctx context.Context, nodes []*runningNode, log *slog.Logger) []string {
	byCode := map[authority.Code]*runningNode{}
	for _, n := range nodes {
		byCode[n.Authority] = n
	}
	var lines []string
	fail := func(issuer authority.Code, err error) {
		log.Warn("devnet: raise alert", "issuer", string(issuer), "err", err)
		lines = append(lines, fmt.Sprintf("  alert from %s not raised: %v", issuer, err))
	}
	for i, a := range devnetAlerts {
		n, ok := byCode[a.Issuer]
		if !ok {
			continue
		}
		var targets []authority.Code
		for _, t := range a.Targets {
			if _, ok := n.host.Lookup(t); ok {
				targets = append(targets, t)
			}
		}
		if len(targets) == 0 {
			continue
		}
		base, variant, err := devnetAlertChild(int64(i)+1, a.Issuer, time.Now().UTC())
		if err != nil {
			fail(a.Issuer, err)
			continue
		}
		issued, err := devnetRefer(ctx, n, base.Identity, base)
		if err != nil {
			fail(a.Issuer, fmt.Errorf("case: %w", err))
			continue
		}
		matchNote := ""
		if t, ok := byCode[targets[0]]; ok && a.Variant {
			// The variant is stored before the alert is raised, so the
			// target's matching finds it when the alert arrives.
			if _, err := devnetRefer(ctx, t, variant, base); err != nil {
				fail(a.Issuer, fmt.Errorf("variant on %s: %w", t.Authority, err))
				continue
			}
			matchNote = fmt.Sprintf("; %s holds a variant of the child, so a match task appears there", t.Authority)
		}
		raised, err := n.alerts.RaiseAlert(ctx, devnetWorker(a.Issuer), node.NewAlert{
			Case: issued, Type: a.Type, Urgency: v1.UrgencyHigh, TargetAuthorities: targets,
			Contact: v1.ContactDutyDesk, LegalBasis: v1.BasisSafeguardingChildren,
		})
		if err != nil {
			fail(a.Issuer, err)
			continue
		}
		lines = append(lines, fmt.Sprintf("Raised a %s alert from %s to %s (%s) about case %s%s",
			strings.ReplaceAll(string(a.Type), "_", " "), a.Issuer, joinAuthorityCodes(targets), raised.Alert.ID, issued, matchNote))
	}
	return lines
}

// devnetWorker is the devnet's social worker at an authority (addDevnetUsers
// adds one per role).
func devnetWorker(code authority.Code) node.Principal {
	return node.Principal{
		ID: strings.ToLower(string(code)) + ".social-worker", Role: node.RoleSocialWorker, Authority: code,
	}
}

// devnetAlertChild draws a synthetic child whose variant shares an identity
// key with the original and passes the alert's age and sex narrowing, as
// about four in five variants do.
func devnetAlertChild(seed int64, issuer authority.Code, now time.Time) (*v1.Case, v1.ChildIdentity, error) {
	d, err := matchkeys.New(matchkeys.DefaultConfig())
	if err != nil {
		return nil, v1.ChildIdentity{}, err
	}
	// Referred within the last two days, so that its clocks are running.
	g := synthetic.New(seed, synthetic.WithAuthority(issuer), synthetic.WithClock(now), synthetic.WithPeriod(now.Add(-48*time.Hour), now.Add(-time.Hour)))
	for range 100 {
		c := g.Case()
		v := g.Variant(c)
		band, sex := matchkeys.AlertFields(c.Identity, now)
		if sharesMatchKey(d, c.Identity, v) && d.Candidate(v, now, band, sex) {
			return c, v, nil
		}
	}
	return nil, v1.ChildIdentity{}, errors.New("no synthetic child with a matching variant in 100 draws")
}

func sharesMatchKey(d *matchkeys.Deriver, a, b v1.ChildIdentity) bool {
	for _, x := range d.Keys(a) {
		for _, y := range d.Keys(b) {
			if bytes.Equal(x.Bytes, y.Bytes) {
				return true
			}
		}
	}
	return false
}

// devnetRefer records a referral of the child id on n, with the referral
// and safeguarding of from, by n's devnet social worker.
func devnetRefer(ctx context.Context, n *runningNode, id v1.ChildIdentity, from *v1.Case) (v1.CaseID, error) {
	r, err := n.app.CreateReferral(ctx, devnetWorker(n.Authority), node.NewReferral{
		Identity: id, Referral: from.Referral, Safeguarding: from.Safeguarding, Risk: v1.RAGAmber,
		RiskReason: "synthetic devnet case",
	})
	if err != nil {
		return "", err
	}
	return r.Case.ID, nil
}

func joinAuthorityCodes(cs []authority.Code) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
