package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"nrmnet/schemas/authority"
)

func newFederationCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federation",
		Short: "Act on what this node trusts of the other members of its region",
		Long: `Commands that change how this node treats another member of the federation.
They talk to a running node's API and are for its administrator.`,
	}
	cmd.AddCommand(newFederationAcceptHistoryCommand())
	return cmd
}

// apiAcceptHistory is the answer of accept-audit-history.
type apiAcceptHistory struct {
	Member   string `json:"member"`
	Accepted bool   `json:"accepted"`
	Message  string `json:"message"`
}

func newFederationAcceptHistoryCommand() *cobra.Command {
	var o clientOptions
	var reason string
	cmd := &cobra.Command{
		Use:   "accept-history AUTHORITY --reason TEXT",
		Short: "Accept a member's new audit history after a checkpoint conflict",
		Long: `When another member's audit log no longer extends the checkpoint this node
verified, the coordinator view marks it "inconsistent with its earlier log" and the
node raises an alarm: its history was rewritten or forked. A member restored from a
backup looks the same. Once you have confirmed with that authority (not through this
federation) that it restored its node, and when, run this: the node forgets the
checkpoint it verified for the member, takes its next one on trust and proves its
growth from there as before. The reason (who confirmed it, and how) is audited.
Administrator only.`,
		Example: `  nrmnet federation accept-history CMD --reason "CMD restored from its 1 Dec backup; confirmed by phone with A. Khan, CMD IT"`,
		Args:    cobra.ExactArgs(1),
		RunE: o.withClient(func(cmd *cobra.Command, c *apiClient, args []string) error {
			if !authority.Known(authority.Code(args[0])) {
				return fmt.Errorf("%q is not an authority code (e.g. CMD)", args[0])
			}
			if reason == "" {
				return fmt.Errorf("--reason is required: say who confirmed the restore with %s, and how", args[0])
			}
			path := "/v1/federation/members/" + pathEscape(args[0]) + "/accept-audit-history"
			body := map[string]string{"reason": reason}
			if o.json {
				return c.call(cmd.Context(), "POST", path, nil, nil, body, nil, cmd.OutOrStdout())
			}
			var res apiAcceptHistory
			if err := c.call(cmd.Context(), "POST", path, nil, nil, body, &res, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Accepted the new audit history of %s: %s.\n", res.Member, res.Message)
			return nil
		}),
	}
	o.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "who confirmed the restore with the member's authority, and how (required; audited)")
	return cmd
}
