package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "nrmnet",
		Short: "A node of the nrmnet federation of children's-services authorities",
		Long: `nrmnet lets local authorities make National Referral Mechanism decisions for
child victims of trafficking locally and together, without a central server.
Each authority runs one node that holds its cases encrypted on its own disk.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newInitCommand(),
		newRunCommand(),
		newDevnetCommand(),
		newAuditCommand(),
		newBackupCommand(),
		newRestoreCommand(),
		newRosterCommand(),
		newUserCommand(), newCaseCommand(), newReportCommand(), newBenchCommand(),
		newVersionCommand(), newHealthcheckCommand(),
		newPanelCommand(), newFederationCommand(),
	)
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of this binary",
		Example: "  nrmnet version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "nrmnet %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}
