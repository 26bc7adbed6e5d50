// Command kubectl-scim is the kubectl plugin of scim-operator: `kubectl scim token …` manages the
// SCIM bearer tokens, `kubectl scim access …` reports who has access through which role. Put it on
// PATH and kubectl finds it. The commands live in internal/plugin.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scim-operator/scim-operator/internal/plugin"
)

func main() {
	// The client logs nothing a user needs; without a logger controller-runtime complains.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := plugin.Run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
