package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"nrmnet/federation/roster"
	"nrmnet/schemas"
	"nrmnet/schemas/authority"
)

// newRosterCommand is `nrmnet roster`: the tools a region's trust anchors and
// its nodes' operators use to make, sign, check and read the region's signed
// membership list.
func newRosterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "roster",
		Short: "Create, sign, verify and show a region's signed roster",
		Long: `A region's roster lists the nodes that may join its federation: each
authority's code, libp2p peer ID, addresses, roles, panels and alert contact
teams, under a serial number. Nodes admit only peers on a roster signed by at
least a threshold of the region's trust anchors, whose public keys each node
has in its own configuration. A newer serial replaces an older one; leaving a
member out of a newer roster revokes it.

The usual round: an anchor holder creates the roster from a description file
(or from the previous roster), each anchor holder checks it with "show" and
signs it on their own machine, and operators check the result with "verify"
before installing it.`,
		Example: `  nrmnet roster anchor-key --out london-anchor-1.key
  nrmnet roster create --from london.yaml --out london.roster
  nrmnet roster sign --key london-anchor-1.key london.roster
  nrmnet roster verify --anchors-file london-anchors.txt --threshold 2 london.roster
  nrmnet roster show london.roster`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newRosterAnchorKeyCommand(),
		newRosterCreateCommand(),
		newRosterSignCommand(),
		newRosterVerifyCommand(),
		newRosterShowCommand(),
	)
	return cmd
}

func newRosterAnchorKeyCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "anchor-key --out FILE",
		Short: "Generate a trust-anchor signing key",
		Long: `anchor-key generates a new ed25519 trust-anchor key. The private key is
written to FILE (PKCS #8 PEM, readable by its owner only; an existing file is
never overwritten) and the public key to FILE.pub, one line in the form
"ed25519:...", which is what nodes list among their trust anchors.

Keep the private key off any node, ideally on an offline machine: whoever holds
a threshold of anchor keys decides who joins the region.`,
		Example: `  nrmnet roster anchor-key --out london-anchor-1.key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, err := roster.GenerateAnchorKeyFile(out)
			if err != nil {
				return fmt.Errorf("anchor key: %w", err)
			}
			text := roster.FormatAnchorKey(pub)
			pubFile := out + ".pub"
			if err := os.WriteFile(pubFile, []byte(text+"\n"), 0o644); err != nil {
				return fmt.Errorf("anchor key: public key: %w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "private key: %s (mode 0600; keep it offline)\n", out)
			fmt.Fprintf(w, "public key:  %s\n", pubFile)
			fmt.Fprintln(w, text)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "file to write the private key to (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// rosterDescription is the YAML or JSON file `roster create` reads. Member
// fields are those of roster.Member.
type rosterDescription struct {
	Region   string          `yaml:"region"`
	Serial   uint64          `yaml:"serial"`
	ValidFor string          `yaml:"valid_for"` // a Go duration, e.g. "2160h"
	Members  []roster.Member `yaml:"members"`
}

func newRosterCreateCommand() *cobra.Command {
	var (
		from, previous, out, region, validFor string
		serial                                uint64
		remove                                []string
	)
	cmd := &cobra.Command{
		Use:   "create --out FILE [--from DESCRIPTION] [--previous ROSTER]",
		Short: "Create an unsigned roster from a description or a previous roster",
		Long: `create writes a new, unsigned roster. Its members come from a previous roster
(--previous, whose signatures are not needed), then from a YAML or JSON
description (--from), whose members are added or replace those of the same
authority, less any authority given to --remove. Members are sorted by
authority code. The serial is --serial, else the description's, else the
previous roster's plus one. The roster is issued now and is valid for
--valid-for (else the description's valid_for, else 90 days).

A description looks like this:

  region: London
  serial: 7
  valid_for: 2160h
  members:
    - authority: ISL
      peer_id: 12D3KooW...
      addrs: [/dns4/nrmnet.islington.gov.uk/tcp/4001, /dns4/nrmnet.islington.gov.uk/udp/4001/quic-v1]
      roles: [authority]
      panels: [islington-camden]
      contacts:
        duty_desk: {team: Children's Services Contact Team, phone: 020 7527 7400}
        out_of_hours: {team: Emergency Duty Team, phone: 020 7226 0992}
        nrm_coordinator: {team: Exploitation and Missing Team, email: nrm@islington.gov.uk}

Roles are authority, witness, coordinator and bridge; only witness and
coordinator nodes may be from another region. A bridge keeps connections to
the bridges of the other regions its node holds (federation.other_regions),
so that national alerts cross regions: name one or two per region. Contacts are teams, never people, and all
three are required for the authority role. Every invalid field is reported.`,
		Example: `  nrmnet roster create --from london.yaml --out london-7.roster
  nrmnet roster create --previous london-6.roster --remove HCK --out london-7.roster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" && previous == "" {
				return errors.New("roster create: give --from, --previous, or both")
			}
			now := time.Now().UTC().Truncate(time.Second)
			r := &roster.Roster{}
			if previous != "" {
				s, err := roster.LoadFile(previous)
				if err != nil {
					return fmt.Errorf("roster create: %w", err)
				}
				prev := s.Unverified()
				r.Region, r.Serial, r.Members = prev.Region, prev.Serial+1, prev.Members
			}
			lifetime := 90 * 24 * time.Hour
			if from != "" {
				d, err := readRosterDescription(from)
				if err != nil {
					return fmt.Errorf("roster create: %w", err)
				}
				if d.Region != "" {
					r.Region = d.Region
				}
				if d.Serial != 0 {
					r.Serial = d.Serial
				}
				if d.ValidFor != "" {
					if lifetime, err = time.ParseDuration(d.ValidFor); err != nil {
						return fmt.Errorf("roster create: %s: valid_for: %w", from, err)
					}
				}
				for _, m := range d.Members {
					if i := slices.IndexFunc(r.Members, func(x roster.Member) bool { return x.Authority == m.Authority }); i >= 0 {
						r.Members[i] = m
					} else {
						r.Members = append(r.Members, m)
					}
				}
			}
			for _, code := range remove {
				i := slices.IndexFunc(r.Members, func(x roster.Member) bool { return string(x.Authority) == code })
				if i < 0 {
					return fmt.Errorf("roster create: --remove %s: no such member", code)
				}
				r.Members = slices.Delete(r.Members, i, i+1)
			}
			if region != "" {
				r.Region = region
			}
			if serial != 0 {
				r.Serial = serial
			}
			if validFor != "" {
				var err error
				if lifetime, err = time.ParseDuration(validFor); err != nil {
					return fmt.Errorf("roster create: --valid-for: %w", err)
				}
			}
			slices.SortFunc(r.Members, func(a, b roster.Member) int { return strings.Compare(string(a.Authority), string(b.Authority)) })
			r.IssuedAt, r.ExpiresAt = now, now.Add(lifetime)
			if err := r.Validate(now); err != nil {
				return fmt.Errorf("roster create: the roster is not valid:\n%w", err)
			}
			s, err := roster.NewUnsigned(r)
			if err != nil {
				return fmt.Errorf("roster create: %w", err)
			}
			if err := roster.SaveFile(out, s); err != nil {
				return fmt.Errorf("roster create: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %s serial %d, %d members, valid until %s, unsigned\n",
				out, r.Region, r.Serial, len(r.Members), r.ExpiresAt.Format(time.RFC3339))
			fmt.Fprintf(cmd.OutOrStdout(), "content %s\n", schemas.CID(s.Body))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "YAML or JSON description of the roster")
	f.StringVar(&previous, "previous", "", "roster file to start from")
	f.StringSliceVar(&remove, "remove", nil, "authority code to leave out (repeatable)")
	f.StringVar(&region, "region", "", "region, e.g. London (overrides the description)")
	f.Uint64Var(&serial, "serial", 0, "serial number (overrides the description and --previous)")
	f.StringVar(&validFor, "valid-for", "", "how long the roster is valid, e.g. 2160h (overrides the description)")
	f.StringVar(&out, "out", "", "file to write the unsigned roster to (required)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func readRosterDescription(path string) (*rosterDescription, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var d rosterDescription
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty description", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

func newRosterSignCommand() *cobra.Command {
	var key, out string
	cmd := &cobra.Command{
		Use:   "sign --key ANCHOR-KEY ROSTER",
		Short: "Add a trust anchor's signature to a roster",
		Long: `sign adds the signature of the anchor whose private key is in ANCHOR-KEY to
ROSTER, which may be unsigned or already signed by other anchors. It refuses
an invalid or expired roster. It writes the result back to ROSTER, or to
--out.

Read the roster with "nrmnet roster show" first: your signature says that
these nodes, and only these, belong to the region. Anchors signing the same
roster see the same content ID.`,
		Example: `  nrmnet roster show london-7.roster
  nrmnet roster sign --key london-anchor-1.key london-7.roster`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, err := roster.ReadAnchorKeyFile(key)
			if err != nil {
				return fmt.Errorf("roster sign: %w", err)
			}
			s, err := roster.LoadFile(args[0])
			if err != nil {
				return fmt.Errorf("roster sign: %w", err)
			}
			r := s.Unverified()
			if err := r.Validate(time.Now()); err != nil {
				return fmt.Errorf("roster sign: refusing to sign: the roster is not valid:\n%w", err)
			}
			if err := s.AddSignature(priv); err != nil {
				return fmt.Errorf("roster sign: %w", err)
			}
			if out == "" {
				out = args[0]
			}
			if err := roster.SaveFile(out, s); err != nil {
				return fmt.Errorf("roster sign: %w", err)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "signed %s serial %d (%d members, content %s)\n", r.Region, r.Serial, len(r.Members), schemas.CID(s.Body))
			fmt.Fprintf(w, "by %s; %d signature(s) now; wrote %s\n", roster.FormatAnchorKey(priv.Public().(ed25519.PublicKey)), len(s.Signatures), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "anchor private key file (required)")
	cmd.Flags().StringVar(&out, "out", "", "file to write the signed roster to (default: in place)")
	_ = cmd.MarkFlagRequired("key")
	return cmd
}

// rosterAnchorFlags are the ways to give the trust anchors on the command line.
type rosterAnchorFlags struct {
	anchors []string
	file    string
}

func (a *rosterAnchorFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&a.anchors, "anchor", nil, `trust anchor public key, "ed25519:..." (repeatable)`)
	cmd.Flags().StringVar(&a.file, "anchors-file", "", "file of trust anchor public keys, one per line (# comments)")
}

func (a *rosterAnchorFlags) keys() ([]ed25519.PublicKey, error) {
	texts := slices.Clone(a.anchors)
	if a.file != "" {
		f, err := os.Open(a.file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			t := strings.TrimSpace(sc.Text())
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			texts = append(texts, t)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", a.file, err)
		}
	}
	out := make([]ed25519.PublicKey, 0, len(texts))
	for _, t := range texts {
		k, err := roster.ParseAnchorKey(t)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func newRosterVerifyCommand() *cobra.Command {
	var (
		anchors   rosterAnchorFlags
		threshold int
		at        string
	)
	cmd := &cobra.Command{
		Use:   "verify --anchor KEY... --threshold N ROSTER",
		Short: "Check a roster as a node would: signatures, threshold, every field",
		Long: `verify checks ROSTER exactly as a node configured with these trust anchors
and threshold would before admitting its members: at least N distinct anchors
signed it validly, every field is valid, and it has not expired (now, or at
--at). It prints OK with a summary, or the reason the roster would be refused,
and then exits with an error.`,
		Example: `  nrmnet roster verify --anchors-file london-anchors.txt --threshold 2 london-7.roster
  nrmnet roster verify --anchor ed25519:3q2b... --anchor ed25519:8Fx0... --threshold 2 london-7.roster`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := anchors.keys()
			if err != nil {
				return fmt.Errorf("roster verify: %w", err)
			}
			when := time.Now()
			if at != "" {
				if when, err = time.Parse(time.RFC3339, at); err != nil {
					return fmt.Errorf("roster verify: --at: %w", err)
				}
			}
			if err := roster.CheckTrust(keys, threshold); err != nil {
				return fmt.Errorf("roster verify: %w", err)
			}
			b, err := roster.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("roster verify: %w", err)
			}
			w := cmd.OutOrStdout()
			r, err := roster.Verify(b, keys, threshold, when)
			if err != nil {
				fmt.Fprintf(w, "NOT VALID: %v\n", err)
				return fmt.Errorf("roster verify: %s is not valid", args[0])
			}
			s, _ := roster.DecodeSignedRoster(b)
			signed := 0
			for _, st := range s.Check(keys) {
				if st.Anchor && st.Valid {
					signed++
				}
			}
			fmt.Fprintf(w, "OK: %s serial %d, %d members, signed by %d of %d anchors (threshold %d), expires %s\n",
				r.Region, r.Serial, len(r.Members), signed, len(keys), threshold, r.ExpiresAt.Format(time.RFC3339))
			return nil
		},
	}
	anchors.register(cmd)
	cmd.Flags().IntVar(&threshold, "threshold", 2, "how many distinct anchors must have signed")
	cmd.Flags().StringVar(&at, "at", "", "check as of this time (RFC 3339) instead of now")
	return cmd
}

func newRosterShowCommand() *cobra.Command {
	var anchors rosterAnchorFlags
	cmd := &cobra.Command{
		Use:   "show ROSTER",
		Short: "Print a roster as tables, with its signatures and any problems",
		Long: `show prints ROSTER for a person: its region, serial, validity and content ID,
a table of members, a table of alert contacts, and its signatures, each marked
valid or invalid (and, with --anchor or --anchors-file, whether it is one of
those anchors). It shows a roster whatever its state and lists its problems at
the end; it does not decide whether to trust it: use verify for that.`,
		Example: `  nrmnet roster show london-7.roster
  nrmnet roster show --anchors-file london-anchors.txt london-7.roster`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := anchors.keys()
			if err != nil {
				return fmt.Errorf("roster show: %w", err)
			}
			s, err := roster.LoadFile(args[0])
			if err != nil {
				return fmt.Errorf("roster show: %w", err)
			}
			showRoster(cmd.OutOrStdout(), s, keys, len(anchors.anchors) > 0 || anchors.file != "", time.Now())
			return nil
		},
	}
	anchors.register(cmd)
	return cmd
}

func showRoster(out io.Writer, s *roster.SignedRoster, anchors []ed25519.PublicKey, markAnchors bool, now time.Time) {
	r := s.Unverified()
	status := "valid"
	if !r.ExpiresAt.After(now) {
		status = "EXPIRED"
	}
	fmt.Fprintf(out, "Region:   %s\n", r.Region)
	fmt.Fprintf(out, "Serial:   %d\n", r.Serial)
	fmt.Fprintf(out, "Issued:   %s\n", r.IssuedAt.Format(time.RFC3339))
	fmt.Fprintf(out, "Expires:  %s (%s)\n", r.ExpiresAt.Format(time.RFC3339), status)
	fmt.Fprintf(out, "Content:  %s\n", schemas.CID(s.Body))
	fmt.Fprintf(out, "Members:  %d\n\n", len(r.Members))

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AUTHORITY\tNAME\tROLES\tPANELS\tPEER ID\tADDRESSES")
	for _, m := range r.Members {
		name := "?"
		if a, ok := authority.Lookup(m.Authority); ok {
			name = a.Name
		}
		roles := make([]string, len(m.Roles))
		for i, x := range m.Roles {
			roles[i] = string(x)
		}
		panels := make([]string, len(m.Panels))
		for i, p := range m.Panels {
			panels[i] = string(p)
		}
		addrs := "-"
		if len(m.Addrs) > 0 {
			addrs = strings.Join(m.Addrs, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Authority, name, strings.Join(roles, ","), orDash(strings.Join(panels, ",")), m.PeerID, addrs)
	}
	tw.Flush()

	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AUTHORITY\tROUTE\tTEAM\tPHONE\tEMAIL")
	for _, m := range r.Members {
		for _, route := range []struct {
			name string
			c    roster.Contact
		}{{"duty_desk", m.Contacts.DutyDesk}, {"out_of_hours", m.Contacts.OutOfHours}, {"nrm_coordinator", m.Contacts.NRMCoordinator}} {
			if route.c.IsZero() {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Authority, route.name, route.c.Team, orDash(route.c.Phone), orDash(route.c.Email))
		}
	}
	tw.Flush()

	fmt.Fprintf(out, "\nSignatures: %d\n", len(s.Signatures))
	for _, st := range s.Check(anchors) {
		verdict := "valid"
		if !st.Valid {
			verdict = "INVALID"
		}
		if markAnchors {
			if st.Anchor {
				verdict += ", anchor"
			} else {
				verdict += ", not one of the anchors given"
			}
		}
		fmt.Fprintf(out, "  %s  %s\n", roster.FormatAnchorKey(st.Key), verdict)
	}
	if err := r.Validate(now); err != nil {
		fmt.Fprintf(out, "\nProblems:\n")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(out, "  %s\n", line)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
