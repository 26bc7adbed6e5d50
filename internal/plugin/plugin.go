// Package plugin is kubectl scim, the kubectl plugin of scim-operator: it creates, lists and revokes
// the identity providers' SCIM bearer tokens (stored hashed, printed once) and reports who has what
// access, through which role and binding. cmd/kubectl-scim is its program.
package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

const (
	// DefaultNamespace is the operator's namespace as config/default installs it.
	DefaultNamespace = "scim-operator-system"
	// DefaultSecret is the token Secret as config/default names it (the manager's --scim-token-secret).
	DefaultSecret = "scim-operator-scim-tokens"
	// ReportAPIVersion is the apiVersion of what -o json|yaml prints. The reports are computed by the
	// plugin, not served by the API server; their fields change only with a new version.
	ReportAPIVersion = "kubectl-scim.identity.scim-operator.io/v1alpha1"
)

// Run runs kubectl scim with args (without the program name) and returns the exit code: 0, or 1
// after writing the error to streams.ErrOut.
func Run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	cmd := newCommand(streams)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(streams.ErrOut, "error: %v\n", err)
		return 1
	}
	return 0
}

// options are what every command shares: where the cluster is and how to print.
type options struct {
	streams genericiooptions.IOStreams
	config  *genericclioptions.ConfigFlags
	// secret is the name of the token Secret, in the namespace of config.
	secret string
}

func newCommand(streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{streams: streams, config: genericclioptions.NewConfigFlags(true)}
	namespace := DefaultNamespace
	o.config.Namespace = &namespace
	cmd := &cobra.Command{
		Use:   "kubectl-scim",
		Short: "Manage scim-operator's SCIM tokens and report who has access through which role",
		Long: "kubectl scim creates, lists and revokes the identity providers' SCIM bearer tokens " +
			"(stored as SHA-256 hashes, printed once) and reports a user's or a role's access: " +
			"the roles, the ClusterRoles and Roles they grant, and the bindings that hold the user.",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl scim"},
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	o.config.AddFlags(cmd.PersistentFlags())
	cmd.PersistentFlags().Lookup("namespace").Usage = "The operator's namespace, which holds the token Secret"
	cmd.AddCommand(newTokenCommand(o), newAccessCommand(o))
	return cmd
}

var scheme = runtime.NewScheme()

func init() {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// client returns a client of the cluster the flags name.
func (o *options) client() (client.Client, error) {
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	// A report reads one object per member or role: let the API server's priority and fairness,
	// not a client-side limit of 5 requests a second, pace it (as ctrl.GetConfig does).
	if cfg.QPS == 0 {
		cfg.QPS = -1
	}
	return client.New(cfg, client.Options{Scheme: scheme})
}

// namespace is the operator's namespace: -n, else DefaultNamespace (not the kubeconfig context's
// namespace, which is where the user works, not where the operator runs).
func (o *options) namespace() string { return *o.config.Namespace }

// outputFlag is -o of the read commands: empty for the human table, else json, yaml or kyaml.
type outputFlag struct{ format string }

func (f *outputFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.format, "output", "o", "", "Output format. One of: (json, yaml, kyaml). Default: a table.")
}

// validate rejects an unknown format before any request is made.
func (f *outputFlag) validate() error {
	if f.format == "" {
		return nil
	}
	_, err := genericclioptions.NewJSONYamlPrintFlags().ToPrinter(f.format)
	return err
}

// print writes report to w in the chosen format, or as human does for the default.
func (f *outputFlag) print(w io.Writer, report any, human func(w io.Writer)) error {
	if f.format == "" {
		human(w)
		return nil
	}
	printer, err := genericclioptions.NewJSONYamlPrintFlags().ToPrinter(f.format)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(report)
	if err != nil {
		return err
	}
	// The reports are not API objects: printed as raw JSON, they need no scheme.
	return printer.PrintObj(&runtime.Unknown{Raw: raw}, w)
}

// block writes one block of tab-separated lines to w, its columns aligned as kubectl aligns them
// and apart from other blocks.
func block(w io.Writer, lines func(w io.Writer)) {
	tw := printers.GetNewTabWriter(w)
	lines(tw)
	_ = tw.Flush() // a write error to the terminal has nowhere to go
}
