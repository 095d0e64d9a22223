package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"

	"nrmnet/consensus"
	"nrmnet/consensus/panel"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// Where a node keeps its combined panels. One directory per panel under the
// data directory (Raft's log and snapshots in raft/, the decision state in
// state/), and the key that encrypts them at rest in the keys directory,
// apart from the data. Every panel's members also share a data key there,
// which seals what the panel records (so a witness, which has none, reads
// nothing, and one can be added to any panel without exposing its history).
const (
	panelsDirName    = "panels"
	panelKeyFile     = "panel.key"         // 32 random bytes, this node's own
	panelDataKeyFile = "panel-%s.data.key" // 32 bytes shared by the panel's members
)

// panelDirOf is a panel's directory on a node (node.PanelHostConfig.Dir).
func panelDirOf(dataDir string, id v1.PanelID) string {
	return filepath.Join(dataDir, panelsDirName, string(id))
}

// ensurePanelKey returns the node's panel encryption key, creating it (0600)
// on first use.
func ensurePanelKey(keysDir string) ([]byte, error) {
	path := filepath.Join(keysDir, panelKeyFile)
	k, err := readKey32(path)
	if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create panel key: %w", err)
	}
	if _, err := f.Write(k); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write panel key: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return k, f.Close()
}

// panelDataKey returns the panel's shared data key, or nil if this node
// holds none (a witness never does; a member must).
func panelDataKey(keysDir string, id v1.PanelID) ([]byte, error) {
	k, err := readKey32(filepath.Join(keysDir, fmt.Sprintf(panelDataKeyFile, id)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return k, err
}

func readKey32(path string) ([]byte, error) {
	k, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%s holds %d bytes, want 32", path, len(k))
	}
	return k, nil
}

// nodePeerID is the node's libp2p peer ID, from its authority key.
func nodePeerID(keysDir string) (peer.ID, error) {
	id, err := storage.LoadAuthorityKey(filepath.Join(keysDir, storage.AuthorityKeyFile))
	if err != nil {
		return "", fmt.Errorf("authority key: %w", err)
	}
	k, err := crypto.UnmarshalEd25519PrivateKey(id)
	if err != nil {
		return "", fmt.Errorf("authority key: %w", err)
	}
	return peer.IDFromPrivateKey(k)
}

func newPanelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "panel",
		Short: "Look after this node's combined panels (status, membership, keys, recovery)",
		Long: `A combined panel keeps its decisions in a Raft group of its members' nodes.
status, reconcile, add and remove talk to a running node's API. data-key makes a new
panel's shared data key, once, on one member (copy it to the others). recover works
offline, on a stopped node, and is only for a panel that has lost its majority for good
(read docs/recover-panel.md first).`,
	}
	cmd.AddCommand(newPanelStatusCommand(), newPanelReconcileCommand(), newPanelAddCommand(), newPanelRemoveCommand(),
		newPanelRecoverCommand(), newPanelDataKeyCommand())
	return cmd
}

type apiPanelStatus struct {
	Panel         string `json:"panel"`
	Self          string `json:"self"`
	State         string `json:"state"`
	Leader        string `json:"leader"`
	Term          uint64 `json:"term"`
	LastIndex     uint64 `json:"last_index"`
	CommitIndex   uint64 `json:"commit_index"`
	AppliedIndex  uint64 `json:"applied_index"`
	LeaderChanges uint64 `json:"leader_changes"`
	Peers         []struct {
		ID           string `json:"id"`
		NonVoter     bool   `json:"non_voter"`
		Reachable    bool   `json:"reachable"`
		LastIndex    uint64 `json:"last_index"`
		AppliedIndex uint64 `json:"applied_index"`
		Lag          uint64 `json:"lag"`
	} `json:"peers"`
	Unrecorded int `json:"unrecorded_decisions"`
	Refused    int `json:"refused_decisions"`
	Problems   []struct {
		Decision string `json:"decision"`
		Case     string `json:"case"`
		Reason   string `json:"reason"`
		Refused  bool   `json:"refused"`
	} `json:"problems"`
}

func newPanelStatusCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "status PANEL",
		Short: "Show a panel's Raft state as the node sees it (leader, indexes, each member's lag)",
		Example: `  nrmnet panel status islington-camden
  nrmnet panel status islington-camden --json`,
		Args: cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			path := "/v1/panels/" + pathEscape(args[0]) + "/status"
			if o.json {
				return c.call(cmd.Context(), "GET", path, nil, nil, nil, nil, cmd.OutOrStdout())
			}
			var st apiPanelStatus
			if err := c.call(cmd.Context(), "GET", path, nil, nil, nil, &st, nil); err != nil {
				return err
			}
			printPanelStatus(cmd.OutOrStdout(), st)
			return nil
		}),
	}
	o.register(cmd)
	return cmd
}

func printPanelStatus(out io.Writer, st apiPanelStatus) {
	leader := st.Leader
	if leader == "" {
		leader = "none known"
	}
	fmt.Fprintf(out, "Panel %s: this node is %s (%s)\n", st.Panel, st.State, st.Self)
	fmt.Fprintf(out, "Leader: %s, term %d, %d leader changes since start\n", leader, st.Term, st.LeaderChanges)
	fmt.Fprintf(out, "Log: last %d, committed %d, applied %d\n", st.LastIndex, st.CommitIndex, st.AppliedIndex)
	if st.Unrecorded > 0 {
		fmt.Fprintf(out, "Decisions not yet on this authority's cases: %d (%d refused by the case's workflow, not retried until 'nrmnet panel reconcile %s' or a restart; the others are retried)\n",
			st.Unrecorded, st.Refused, st.Panel)
		for _, p := range st.Problems {
			what := "retried"
			if p.Refused {
				what = "refused"
			}
			fmt.Fprintf(out, "  decision %s on case %s (%s): %s\n", p.Decision, p.Case, what, p.Reason)
		}
	}
	if len(st.Peers) == 0 {
		if st.State != "Leader" {
			fmt.Fprintln(out, "(members' progress is shown on the leader)")
		}
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tVOTER\tREACHABLE\tLAST\tAPPLIED\tLAG")
	for _, p := range st.Peers {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%d\t%d\t%d\n", p.ID, !p.NonVoter, p.Reachable, p.LastIndex, p.AppliedIndex, p.Lag)
	}
	_ = tw.Flush()
}

type apiPanelReconcile struct {
	Panel   string `json:"panel"`
	Queued  bool   `json:"queued"`
	Message string `json:"message"`
}

func newPanelReconcileCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:   "reconcile PANEL",
		Short: "Record again the panel's decisions this authority's cases are missing, without a restart",
		Long: `A decision the case's workflow refused (the case was not in a state to take it)
is not retried by itself. Correct the case, then run this: the node compares
every decision of the panel with this authority's cases and records what is
missing, as a restart would. The work runs after the command returns;
'nrmnet panel status PANEL' shows the outcome. NRM coordinator or administrator.`,
		Example: `  nrmnet panel reconcile islington-camden`,
		Args:    cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if !v1.PanelID(args[0]).Valid() {
				return fmt.Errorf("%q is not a panel ID (e.g. islington-camden)", args[0])
			}
			path := "/v1/panels/" + pathEscape(args[0]) + "/reconcile"
			if o.json {
				return c.call(cmd.Context(), "POST", path, nil, nil, nil, nil, cmd.OutOrStdout())
			}
			var res apiPanelReconcile
			if err := c.call(cmd.Context(), "POST", path, nil, nil, nil, &res, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Reconciliation of panel %s queued: the node will compare each of its decisions with this authority's cases and record what is missing.\n", args[0])
			fmt.Fprintf(out, "It runs in the background. 'nrmnet panel status %s' shows the outcome: a decision still refused is listed there with its reason.\n", args[0])
			return nil
		}),
	}
	o.register(cmd)
	return cmd
}

func newPanelAddCommand() *cobra.Command {
	var o clientOptions
	var nonVoter bool
	cmd := &cobra.Command{
		Use:   "add PANEL PEER_ID",
		Short: "Add a node to a panel's Raft group (run against the leader; the new node runs the panel with join set)",
		Example: `  nrmnet panel add islington-camden 12D3KooWCADwYtwmDNWuTJTJ7HHH8W69stAkrkxqKzvPQMYAfDts
  nrmnet panel add islington-camden 12D3KooW... --non-voter`,
		Args: cobra.ExactArgs(2),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if _, err := peer.Decode(args[1]); err != nil {
				return fmt.Errorf("%q is not a libp2p peer ID (12D3KooW...): %w", args[1], err)
			}
			body := map[string]any{"peer": args[1]}
			if nonVoter {
				body["non_voter"] = true
			}
			err := c.call(cmd.Context(), "POST", "/v1/panels/"+pathEscape(args[0])+"/members", nil, nil, body, nil, nil)
			if isAPIError(err, "not_allowed_now") {
				return fmt.Errorf("%w\nrun this against the panel's leader (nrmnet panel status shows it)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Added %s to panel %s\n", args[1], args[0])
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().BoolVar(&nonVoter, "non-voter", false, "receive the log without voting")
	return cmd
}

func newPanelRemoveCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "remove PANEL PEER_ID",
		Short:   "Remove a node from a panel's Raft group (run against the leader)",
		Example: `  nrmnet panel remove islington-camden 12D3KooWCADwYtwmDNWuTJTJ7HHH8W69stAkrkxqKzvPQMYAfDts`,
		Args:    cobra.ExactArgs(2),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if _, err := peer.Decode(args[1]); err != nil {
				return fmt.Errorf("%q is not a libp2p peer ID (12D3KooW...): %w", args[1], err)
			}
			err := c.call(cmd.Context(), "POST", "/v1/panels/"+pathEscape(args[0])+"/members/"+pathEscape(args[1])+"/remove", nil, nil, nil, nil, nil)
			if isAPIError(err, "not_allowed_now") {
				return fmt.Errorf("%w\nrun this against the panel's leader (nrmnet panel status shows it)", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed %s from panel %s\n", args[1], args[0])
			return nil
		}),
	}
	o.register(cmd)
	return cmd
}

func newPanelRecoverCommand() *cobra.Command {
	var dir, peersFile string
	var yes bool
	cmd := &cobra.Command{
		Use:   "recover PANEL --peers FILE",
		Short: "Rewrite a panel's membership on a stopped node after the panel lost its majority for good",
		Long: `Recovery is for a panel whose majority is gone for good: never for a temporary
outage. Follow docs/recover-panel.md: agree the survivors, stop the node, back
up its panel directory, then run this on every survivor with the same peers
file, and start the nodes again. The node replays its log into the panel's
state, takes a snapshot and records the new membership.`,
		Example: `  nrmnet panel recover islington-camden --peers /root/islington-camden-peers.json --dir /var/lib/nrmnet --yes`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, sc, err := panelOfNode(dir, args[0])
			if err != nil {
				return err
			}
			peers, err := consensus.ReadPeersFile(peersFile, id)
			if err != nil {
				return err
			}
			pdir := panelDirOf(sc.DataDir, id)
			if _, err := os.Stat(filepath.Join(pdir, "raft")); err != nil {
				return fmt.Errorf("this node holds no state for panel %s (%s): %w", id, pdir, err)
			}
			self, err := nodePeerID(sc.KeysDir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Panel %s on this node (%s), directory %s\nNew membership:\n", id, self, pdir)
			for _, m := range peers {
				role := "voter"
				if m.NonVoter {
					role = "non-voter"
				}
				fmt.Fprintf(out, "  %s (%s)\n", m.ID, role)
			}
			if !yes {
				return errors.New("nothing changed: add --yes once the survivors are agreed, every survivor is stopped and its panel directory is backed up")
			}
			return recoverPanel(cmd, id, self, peers, pdir, sc.KeysDir)
		},
	}
	nodeDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&peersFile, "peers", "", "the peers file (JSON: panel and members), the same on every survivor (required)")
	cmd.Flags().BoolVar(&yes, "yes", false, "really rewrite the membership")
	_ = cmd.MarkFlagRequired("peers")
	return cmd
}

// recoverPanel opens the panel's state and runs consensus.Recover with the
// node's panel configuration; the node must be stopped (the stores are
// locked while it runs).
func recoverPanel(cmd *cobra.Command, id v1.PanelID, self peer.ID, peers []consensus.Member, pdir, keysDir string) (err error) {
	key, err := readKey32(filepath.Join(keysDir, panelKeyFile))
	if err != nil {
		return fmt.Errorf("panel key: %w", err)
	}
	dataKey, err := panelDataKey(keysDir, id)
	if err != nil {
		return fmt.Errorf("panel data key: %w", err)
	}
	if dataKey == nil {
		return missingDataKey(id, keysDir) // a witness cannot be recovered (consensus.Recover)
	}
	logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	fc := panel.DefaultConfig()
	fc.Panel, fc.Dir, fc.EncryptionKey, fc.Logger = id, filepath.Join(pdir, "state"), key, logger
	fsm, err := panel.Open(fc)
	if err != nil {
		return fmt.Errorf("open panel state (is the node stopped?): %w", err)
	}
	defer func() { err = errors.Join(err, fsm.Close()) }()
	cc := consensus.DefaultConfig()
	cc.Panel, cc.Self, cc.Members = id, self, peers
	cc.Dir, cc.EncryptionKey, cc.DataKey = filepath.Join(pdir, "raft"), key, dataKey
	cc.FSM, cc.FSMPersistsState, cc.Logger = fsm, true, logger
	if err := consensus.Recover(cc, peers); err != nil {
		return fmt.Errorf("recover panel %s: %w", id, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Panel %s recovered on this node. Start the node, then check 'nrmnet panel status %s' on every survivor.\n", id, id)
	return nil
}

// panelOfNode checks a PANEL argument and loads the storage settings of the
// node in dir, for the panel commands that work on a node's own files.
func panelOfNode(dir, arg string) (v1.PanelID, storage.Config, error) {
	id := v1.PanelID(arg)
	if !id.Valid() {
		return "", storage.Config{}, fmt.Errorf("%q is not a panel ID (e.g. islington-camden)", arg)
	}
	cfg, err := loadNodeConfig(dir, os.LookupEnv)
	if err != nil {
		return "", storage.Config{}, err
	}
	return id, cfg.storeConfig(dir), nil
}

func newPanelDataKeyCommand() *cobra.Command {
	var dir string
	var show bool
	cmd := &cobra.Command{
		Use:   "data-key PANEL",
		Short: "Make a new panel's shared data key, once, on one of its members",
		Long: `Every member of a combined panel holds the same data key, which seals what the panel
records before it leaves the member: its witness, which has no key, keeps only
ciphertext. Run this once, on one member, before the panel first starts; then copy
the file it names, by the route you use for other keys, into the same place on every
other member (never onto the witness), owner-only (0600). It refuses to replace a key
that exists: a second key would split the panel. With --show it makes nothing and prints
the ID of the key this node holds (an HMAC of it, not the key): every member must show
the same ID.`,
		Example: `  nrmnet panel data-key islington-camden --dir /var/lib/nrmnet
  nrmnet panel data-key islington-camden --show --dir /var/lib/nrmnet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, sc, err := panelOfNode(dir, args[0])
			if err != nil {
				return err
			}
			keysDir := sc.KeysDir
			path := filepath.Join(keysDir, fmt.Sprintf(panelDataKeyFile, id))
			if show {
				k, err := panelDataKey(keysDir, id)
				if err != nil {
					return err
				}
				if k == nil {
					return missingDataKey(id, keysDir)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Panel %s's data key on this node (%s): ID %s\n", id, path, consensus.DataKeyID(k, id))
				return nil
			}
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("this node already holds panel %s's data key (%s): copy that file to the other members; "+
					"making another would split the panel", id, path)
			}
			if err := createPanelDataKey(id, keysDir); err != nil {
				return err
			}
			k, err := panelDataKey(keysDir, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Made panel %s's data key: %s (ID %s)\nCopy it to the same place on every other member of the panel (not its witness), owner-only (0600), "+
				"and check that 'nrmnet panel data-key %s --show' prints the same ID on each.\n", id, path, consensus.DataKeyID(k, id), id)
			return nil
		},
	}
	nodeDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&show, "show", false, "make nothing; print the ID of the data key this node holds")
	return cmd
}
