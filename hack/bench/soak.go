package main

// The soak (-soak DURATION): mixed SCIM traffic from several clients at a given rate against two
// replicas with leader election, while an IdP model (internal/scimtest.IdP) keeps what each
// client was told; at the end every ScimUser, every group's members and every binding is checked
// against it, and the answers are reported by cause, with each manager's memory at the start and
// the end.

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/scimtest"
)

// soakOptions are the soak's flags.
type soakOptions struct {
	duration      time.Duration
	clients       int
	rate          float64
	users, groups int
}

// soak holds the soak's flags; a zero duration runs the measurements instead.
var soak *soakOptions

// soakFlags registers the soak's flags.
func soakFlags() *soakOptions {
	o := &soakOptions{}
	flag.DurationVar(&o.duration, "soak", 0, "Run the soak for this long instead of the measurements: mixed traffic against two replicas, checked against a model of what each client was told.")
	flag.IntVar(&o.clients, "soak-clients", 8, "The soak's concurrent clients.")
	flag.Float64Var(&o.rate, "soak-rate", 50, "The soak's requests per second, all clients together.")
	flag.IntVar(&o.users, "soak-users", 200, "Users the soak's clients create before the mixed traffic.")
	flag.IntVar(&o.groups, "soak-groups", 10, "Groups of the soak, each granting ClusterRole view.")
	return o
}

// replicaFlags run a manager as config/manager does: with leader election in its namespace.
var replicaFlags = []string{"--leader-elect=true", "--leader-election-namespace=" + controlplane.OperatorNamespace}

func runSoak(ctx context.Context, o *soakOptions, eo envOptions) error {
	eo.managerArgs = append(slices.Clone(eo.managerArgs), replicaFlags...)
	logf("soak: starting the control plane and two replicas")
	e, err := startEnv(ctx, eo)
	if err != nil {
		return err
	}
	defer e.stop()
	b, err := e.startReplica(ctx, eo)
	if err != nil {
		return err
	}
	defer func() { _ = b.manager.Stop() }()
	replicas := []*env{e, b}
	var clients []*scimtest.Client
	for _, r := range replicas {
		clients = append(clients, &scimtest.Client{Base: r.scim, Token: e.token, HTTP: &http.Client{Timeout: time.Minute}})
	}
	p := scimtest.NewIdP(clients...)

	var groups []string
	for i := range o.groups {
		g, err := p.CreateGroup(fmt.Sprintf("Soak %d", i))
		if err != nil {
			return err
		}
		groups = append(groups, g)
		if err := grantView(ctx, e, g); err != nil {
			return err
		}
	}
	logf("soak: %d clients create %d users", o.clients, o.users)
	stop := scimtest.Traffic(o.clients, p.InitialSync(groups))
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		return p.Users() >= o.users, nil
	})
	stop()
	if err != nil {
		return err
	}
	start, err := memories(ctx, replicas)
	if err != nil {
		return err
	}

	logf("soak: mixed traffic for %s at %.0f requests/s", o.duration, o.rate)
	limiter := rate.NewLimiter(rate.Limit(o.rate), 1)
	mixed := p.Mixed(groups)
	began, acked := time.Now(), p.Acked()
	stop = scimtest.Traffic(o.clients, func(c, n int) {
		if limiter.Wait(ctx) == nil {
			mixed(c, n)
		}
	})
	progress := time.NewTicker(time.Minute)
	deadline := time.After(o.duration)
	for done := false; !done; {
		select {
		case <-progress.C:
			logf("soak: %s: %s", time.Since(began).Round(time.Second), p.Summary())
		case <-deadline:
			done = true
		case <-ctx.Done():
			done = true
		}
	}
	progress.Stop()
	stop()
	ran, served := time.Since(began), p.Acked()-acked

	stopped := time.Now()
	var last string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		var ok bool
		ok, last = p.BindingsMatch(ctx, e.admin, userPrefix)
		return ok, nil
	})
	converged := time.Since(stopped)
	bindings := "exact"
	if err != nil {
		bindings = "NOT exact after 5 minutes: " + last
	}
	diffs, err := p.Check(ctx, e.admin, clients[0])
	if err != nil {
		return err
	}
	end, err := memories(ctx, replicas)
	if err != nil {
		return err
	}

	problems := p.Problems()
	var r strings.Builder
	fmt.Fprintf(&r, "### Soak: %s, %d clients at %.0f requests/s, two replicas\n\n", ran.Round(time.Second), o.clients, o.rate)
	fmt.Fprintf(&r, "- requests acknowledged in the mixed traffic: %d (%.1f/s); %d users and %d groups at the end\n", served, float64(served)/ran.Seconds(), p.Users(), len(groups))
	fmt.Fprintf(&r, "- every answer, initial sync included: %s\n", p.Summary())
	fmt.Fprintf(&r, "- the server's fault (5xx other than 503, 503/429 without Retry-After, unexpected answers): %d\n", len(problems))
	for _, problem := range problems {
		fmt.Fprintf(&r, "  - %s\n", problem)
	}
	fmt.Fprintf(&r, "- stored state against the model: %d differences\n", len(diffs))
	for _, d := range diffs {
		fmt.Fprintf(&r, "  - %s\n", d)
	}
	fmt.Fprintf(&r, "- bindings: %s, %s after the traffic stopped\n", bindings, converged.Round(10*time.Millisecond))
	r.WriteString("\n| replica | RSS at start | RSS at end | Go heap in use at start | at end |\n|---|---|---|---|---|\n")
	for i := range replicas {
		fmt.Fprintf(&r, "| %c | %s | %s | %s | %s |\n", 'a'+i, inMiB(start[i].rss), inMiB(end[i].rss), inMiB(start[i].heapInuse), inMiB(end[i].heapInuse))
	}
	fmt.Println(r.String())
	if len(problems) > 0 || len(diffs) > 0 || bindings != "exact" {
		return fmt.Errorf("the soak found %d answers that are the server's fault, %d differences from the model, bindings %s", len(problems), len(diffs), bindings)
	}
	return nil
}

// startReplica starts a second manager beside e's, as the same ServiceAccount with the same
// flags, and returns e with it in place of e's manager (its SCIM URL, metrics and log).
func (e *env) startReplica(ctx context.Context, eo envOptions) (*env, error) {
	r := *e
	scimAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	if r.log, err = os.Create(filepath.Join(e.dir, "manager-b.log")); err != nil {
		return nil, err
	}
	args, err := limitFlags(eo.manager)
	if err != nil {
		return nil, err
	}
	r.manager, err = controlplane.StartManager(controlplane.ManagerOptions{
		Binary: eo.manager, Kubeconfig: filepath.Join(e.dir, "operator.kubeconfig"), SCIMAddr: scimAddr, MetricsAddr: metricsAddr,
		Providers: []string{eo.provider}, UserPrefix: userPrefix, Args: append(args, eo.managerArgs...), Stdout: r.log, Stderr: r.log,
	})
	if err != nil {
		return nil, err
	}
	r.scim = "http://" + scimAddr + "/provisioning/" + eo.provider + "/v2"
	r.metricsURL = "https://" + metricsAddr + "/metrics"
	return &r, r.waitReady(ctx)
}

// grantView makes group grant ClusterRole view, as GitOps declares a role's access.
func grantView(ctx context.Context, e *env, group string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		role := &identityv1alpha1.ScimRole{}
		if err := e.admin.Get(ctx, types.NamespacedName{Name: group}, role); err != nil {
			return err
		}
		role.Spec.Access = &identityv1alpha1.Access{ClusterRoles: []string{"view"}}
		return e.admin.Update(ctx, role)
	})
}

// memories returns each replica's memory.
func memories(ctx context.Context, replicas []*env) ([]memory, error) {
	var out []memory
	for _, r := range replicas {
		m, err := r.memory(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// inMiB renders a size in MiB.
func inMiB(bytes int64) string { return fmt.Sprintf("%.0f MiB", float64(bytes)/mib) }
