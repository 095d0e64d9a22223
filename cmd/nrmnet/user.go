package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"nrmnet/node"
	v1 "nrmnet/schemas/v1"
	"nrmnet/storage"
)

// apiUser is a user as the API shows it.
type apiUser struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Authority string     `json:"authority"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at"`
	RevokedBy string     `json:"revoked_by"`
}

const roleList = "social_worker, nrm_coordinator, panel_member, panel_chair, advocate, regional_coordinator, auditor, administrator"

func newUserCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Add, list and revoke the people who may use a node (administrators)",
		Long: `user manages the node's users through its API. Each user has one role:

  social_worker, nrm_coordinator   create and work cases
  panel_member, panel_chair        read cases; the chair records decisions
  advocate                         the ICTG or independent advocate: reads and adds the child's views
  regional_coordinator             counts only, never a case
  auditor                          the audit log, never case content
  administrator                    users, never case content

The commands need an administrator's token in NRMNET_TOKEN (nrmnet init prints the first).`,
	}
	cmd.AddCommand(newUserAddCommand(), newUserListCommand(), newUserRevokeCommand())
	return cmd
}

func newUserAddCommand() *cobra.Command {
	var o clientOptions
	var id, name, role string
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a user and print their token (shown once)",
		Example: `  export NRMNET_SERVER=http://127.0.0.1:8080 NRMNET_TOKEN=nrmnet_...   # an administrator's token
  nrmnet user add --id a.khan --name "Aisha Khan" --role social_worker`,
		Args: cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var res struct {
				User  apiUser `json:"user"`
				Token string  `json:"token"`
			}
			body := map[string]string{"id": id, "name": name, "role": role}
			if err := c.call(cmd.Context(), "POST", "/v1/users", nil, nil, body, &res, nil); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if o.json {
				return printJSON(out, res)
			}
			fmt.Fprintf(out, "Added %s (%s), %s at %s.\n", res.User.ID, res.User.Name, res.User.Role, res.User.Authority)
			fmt.Fprintf(out, "Token (shown once; the node keeps only its hash, so it cannot be shown again):\n\n  %s\n\n", res.Token)
			fmt.Fprintln(out, "Give it to the user over a secure channel. They use it as NRMNET_TOKEN, or to sign in.")
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&id, "id", "", "login name: a-z, 0-9, '.', '_' and '-' (required)")
	cmd.Flags().StringVar(&name, "name", "", "the person's name (required)")
	cmd.Flags().StringVar(&role, "role", "", "one of "+roleList+" (required)")
	for _, f := range []string{"id", "name", "role"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func newUserListCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List users, revoked ones included",
		Example: `  nrmnet user list`,
		Args:    cobra.NoArgs,
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, _ []string) error {
			var res struct {
				Users []apiUser `json:"users"`
			}
			if err := c.call(cmd.Context(), "GET", "/v1/users", nil, nil, nil, &res, nil); err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tSTATUS")
			for _, u := range res.Users {
				status := "active"
				if u.RevokedAt != nil {
					status = "revoked " + u.RevokedAt.Format(time.DateOnly) + " by " + u.RevokedBy
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, oneLine(u.Name), u.Role, u.CreatedAt.Format(time.DateOnly), status)
			}
			return tw.Flush()
		}),
	}
	o.register(cmd)
	return cmd
}

func newUserRevokeCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{
		Use:     "revoke USER_ID",
		Short:   "Revoke a user's token for good (their ID is never reused)",
		Example: `  nrmnet user revoke a.khan`,
		Args:    cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			var res struct {
				User apiUser `json:"user"`
			}
			if err := c.call(cmd.Context(), "POST", "/v1/users/"+pathEscape(args[0])+"/revoke", nil, nil, nil, &res, nil); err != nil {
				return err
			}
			if o.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked %s (%s): their token no longer works.\n", res.User.ID, res.User.Name)
			return nil
		}),
	}
	o.register(cmd)
	return cmd
}

// oneLine keeps a table cell on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// addFirstAdministrator creates a new node's first administrator in s and
// returns them with their token (for `nrmnet init`).
func addFirstAdministrator(ctx context.Context, s *storage.Store, a v1.AuthorityCode, id, name string) (storage.User, string, error) {
	cfg := node.DefaultConfig()
	cfg.Store, cfg.Authority = s, a
	n, err := node.New(cfg)
	if err != nil {
		return storage.User{}, "", err
	}
	u, token, err := n.AddFirstAdministrator(ctx, id, name)
	if err != nil {
		return storage.User{}, "", fmt.Errorf("first administrator: %w", err)
	}
	return u, token, nil
}

func printFirstAdministrator(out io.Writer, u storage.User, token string) {
	fmt.Fprintf(out, "\nFirst administrator: %s (%s)\n", u.ID, u.Name)
	fmt.Fprintf(out, "Token, shown this once (the node keeps only its hash):\n\n  %s\n\n", token)
	fmt.Fprintln(out, "Keep it in a password manager. To add users once the node runs:")
	fmt.Fprintln(out, "  export NRMNET_TOKEN=<the token>   # and NRMNET_SERVER if not http://127.0.0.1:8080")
	fmt.Fprintln(out, "  nrmnet user add --id a.khan --name \"Aisha Khan\" --role social_worker")
}
