// Command bench is `make bench`: it measures the operator at enterprise scale against a fresh
// local control plane and manager, run as `make dev` runs them, and prints the results as
// Markdown tables, which it also writes into docs/performance.md between the generated-part
// markers. Every comparison is measured in the same run as its baseline:
//
//   - the initial sync of an identity provider (Okta, Entra ID): users created by concurrent
//     clients, groups created empty and filled by PATCH `add members` in batches; ops/s and p50/p99
//     per operation, and the time until every binding is correct and every ScimUser is Ready;
//   - the ceiling: as many ScimUsers created directly through client-go at the same concurrency;
//   - reads (GET by id, `filter=userName eq`, list pages walked to the end) against the operator
//     and against an in-memory SCIM server built on github.com/elimity-com/scim holding the same
//     users;
//   - the manager's RSS and Go heap after the sync;
//   - revocation: a user in many roles suspended through SCIM, and a burst of suspensions, timed
//     to the last binding without them; with -revocation-test also the controllers' benchmark.
//
// -series runs 1,000, 10,000 and 50,000 users (groups a tenth of that), each on a fresh control
// plane.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scim-operator/scim-operator/internal/controlplane"
)

// keepDirs keeps each environment's directory (-keep).
var keepDirs bool

// profiles serves the managers' profiles (-pprof).
var profiles bool

// managerEnv are the -manager-env variables, space-separated.
var managerEnv string

// options are the bench's flags.
type options struct {
	users, groups, clients, batch int
	perUser, largest              float64
	provider                      string
	readDuration                  time.Duration
	revocationRoles, revocations  int
	burst                         int
	convergeTimeout               time.Duration
	maxRetries                    int
	// rounds is the number of turns that compared measurements take.
	rounds int
	// compareUsers is the number of users the creates compared with the ceiling make each way.
	compareUsers int
	// largeGroup, when not 0, runs only the large group (largegroup.go) of that many members.
	largeGroup int
}

func main() {
	var o options
	flag.IntVar(&o.users, "users", 10000, "Users of the tenant.")
	flag.IntVar(&o.groups, "groups", 1000, "Groups of the tenant.")
	flag.IntVar(&o.clients, "clients", 16, "Concurrent clients (SCIM and client-go).")
	flag.IntVar(&o.batch, "batch", 100, "Members added by one PATCH.")
	flag.Float64Var(&o.perUser, "groups-per-user", 5, "Groups a user is in, on average.")
	flag.Float64Var(&o.largest, "largest-group", 0.2, "The largest group's share of all users (at most 20,000 members, the CRD's limit).")
	flag.StringVar(&o.provider, "provider", "okta", "The SCIM provider the clients use.")
	flag.DurationVar(&o.readDuration, "read-duration", 10*time.Second, "How long each read is measured, on each server.")
	flag.IntVar(&o.revocationRoles, "revocation-roles", 1000, "Roles the revoked user is in (at most -groups).")
	flag.IntVar(&o.revocations, "revocations", 5, "Times that user is suspended.")
	flag.IntVar(&o.burst, "revocation-burst", 100, "Users suspended at once.")
	flag.DurationVar(&o.convergeTimeout, "converge-timeout", 15*time.Minute, "How long to wait for the cluster to reflect the sync.")
	flag.IntVar(&o.maxRetries, "max-retries", 10, "Retries of one request answered 429 or 503 (after its Retry-After).")
	flag.IntVar(&o.rounds, "rounds", 5, "Turns that a measurement and its baseline take, so that the shared machine's other load falls on both alike.")
	flag.IntVar(&o.compareUsers, "compare-users", 0, "Users created each way (SCIM, client-go) to compare creates with their ceiling (default: -users, and at least 1,000 a round; -series: at most 10,000).")
	flag.IntVar(&o.largeGroup, "large-group", 0, "Instead, fill one group with this many members by PATCHes of -batch, one at a time (largegroup.go).")
	series := flag.Bool("series", false, "Run 1,000, 10,000 and 50,000 users (groups: a tenth), each on a fresh control plane.")
	revocationTest := flag.Bool("revocation-test", false, "Also run the controllers' BenchmarkRevocation (go test) and report its lines.")
	binDir := flag.String("bin-dir", "bin", "Directory with etcd, kube-apiserver and kube-controller-manager.")
	manager := flag.String("manager", "", "The manager binary (default: built from the checkout into a temporary directory).")
	managerArgs := flag.String("manager-args", "", "Further flags of the manager, space-separated.")
	flag.StringVar(&managerEnv, "manager-env", "", "Further environment variables of the manager (NAME=value), space-separated, e.g. GOMEMLIMIT=460MiB.")
	out := flag.String("out", "", "Write the tables into this Markdown file (e.g. docs/performance.md), between the markers of the defaults' part or the series' (added at its end when missing).")
	var so soakOptions
	flag.DurationVar(&so.duration, "soak", 0, "Instead of the measurements: run the soak for this long (mixed traffic against two replicas, checked against a model of what each client was told).")
	flag.Float64Var(&so.rate, "soak-rate", 40, "The soak's requests per second, all clients together.")
	flag.IntVar(&so.clients, "soak-clients", 8, "The soak's clients, half on each replica.")
	flag.IntVar(&so.users, "soak-users", 100, "The most users one soak client keeps at once.")
	flag.IntVar(&so.groups, "soak-groups", 20, "The groups all soak clients share.")
	flag.DurationVar(&so.checkTimeout, "soak-check-timeout", 2*time.Minute, "How long the soak waits for the cluster to match its model at the end.")
	flag.BoolVar(&profiles, "pprof", false, "Serve each manager's Go profiles on a loopback port (logged), for go tool pprof, and write an admin kubeconfig for the API server's (kubectl get --raw /debug/pprof/...).")
	floorOf := flag.String("cache-floor", "", "Internal: measure the manager's cache alone against the cluster of this kubeconfig (floor.go).")
	keep := flag.Bool("keep", false, "Keep each environment's directory (the manager's log, kubeconfigs) and print where it is.")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	keepDirs = *keep

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *floorOf != "" {
		if err := cacheFloor(ctx, *floorOf); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cache floor:", err)
			os.Exit(1)
		}
		return
	}
	if so.duration > 0 {
		if err := soak(ctx, so, *binDir, *manager, strings.Fields(*managerArgs), o.provider, *out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, o, *series, *revocationTest, *binDir, *manager, strings.Fields(*managerArgs), *out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// soak runs the soak (-soak) and prints its report, also into out's soak part; it fails when the
// server was at fault or the cluster differs from the model.
func soak(ctx context.Context, so soakOptions, binDir, manager string, managerArgs []string, provider, out string) error {
	loadBefore := loadAverage()
	root, binDir, manager, cleanup, err := prepare(ctx, binDir, manager)
	if err != nil {
		return err
	}
	defer cleanup()
	report, ok, err := runSoak(ctx, so, envOptions{root: root, binDir: binDir, manager: manager, provider: provider, managerArgs: managerArgs, managerEnv: strings.Fields(managerEnv), pprof: profiles})
	if err != nil {
		return err
	}
	command := strings.Join(append([]string{"hack/bench"}, os.Args[1:]...), " ")
	report = fmt.Sprintf("Measured by `%s` on %s.\n\n", command, time.Now().UTC().Format("2006-01-02 15:04 MST")) +
		strings.Replace(machine(loadBefore), loadAfter, loadAverage(), 1) + "\n" + report
	fmt.Println(report)
	if out != "" {
		if err := writeDoc(out, "soak", report); err != nil {
			return err
		}
		logf("wrote %s", out)
	}
	if !ok {
		return errors.New("the soak found errors of the server's or differences from its model (see the report)")
	}
	return nil
}

// prepare finds the checkout and builds the manager unless one is given; cleanup removes the build.
func prepare(ctx context.Context, binDir, manager string) (root, bin, mgr string, cleanup func(), err error) {
	cleanup = func() {}
	if root, err = controlplane.RepoRoot(); err != nil {
		return
	}
	bin, _ = filepath.Abs(binDir)
	if manager == "" {
		var dir string
		if dir, err = os.MkdirTemp("", "scim-bench-manager-"); err != nil {
			return
		}
		cleanup = func() { _ = os.RemoveAll(dir) }
		manager = filepath.Join(dir, "manager")
		logf("building the manager into %s", manager)
		build := exec.CommandContext(ctx, "go", "build", "-o", manager, ".")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err = build.Run(); err != nil {
			cleanup()
			err = fmt.Errorf("build the manager: %w", err)
			return
		}
	}
	mgr, _ = filepath.Abs(manager)
	return
}

func run(ctx context.Context, o options, series, revocationTest bool, binDir, manager string, managerArgs []string, out string) error {
	loadBefore := loadAverage()
	root, binDir, manager, cleanup, err := prepare(ctx, binDir, manager)
	if err != nil {
		return err
	}
	defer cleanup()
	if o.largeGroup > 0 {
		report, err := largeGroup(ctx, o.largeGroup, o.batch, o, envOptions{root: root, binDir: binDir, manager: manager, provider: o.provider, managerArgs: managerArgs, managerEnv: strings.Fields(managerEnv), pprof: profiles}, loadBefore)
		if err != nil {
			return err
		}
		report = strings.Replace(report, loadAfter, loadAverage(), 1)
		fmt.Println(report)
		if out != "" {
			return writeDoc(out, "large-group", report)
		}
		return nil
	}
	sizes := []options{o}
	if series {
		sizes = nil
		for _, n := range []int{1000, 10000, 50000} {
			s := o
			s.users, s.groups = n, n/10
			if s.compareUsers == 0 {
				s.compareUsers = min(defaultCompareUsers(s), 10000)
			}
			sizes = append(sizes, s)
		}
	}
	command := strings.Join(append([]string{"hack/bench"}, os.Args[1:]...), " ")
	var runs []*runResult
	var b strings.Builder
	fmt.Fprintf(&b, "Measured by `make bench` (`%s`) on %s.\n\n", command, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString(machine(loadBefore) + "\n")
	for _, s := range sizes {
		r, err := runSize(ctx, s, envOptions{root: root, binDir: binDir, manager: manager, provider: s.provider, managerArgs: managerArgs, managerEnv: strings.Fields(managerEnv), pprof: profiles})
		if err != nil {
			return fmt.Errorf("%d users: %w", s.users, err)
		}
		runs = append(runs, r)
		var section strings.Builder
		r.render(&section)
		fmt.Fprintln(os.Stderr, section.String())
	}
	if len(runs) > 1 {
		b.WriteString("### Series\n\n")
		renderSeries(&b, runs)
	}
	for _, r := range runs {
		r.render(&b)
	}
	if revocationTest {
		lines, err := revocationBenchmark(ctx, root, binDir)
		if err != nil {
			return err
		}
		b.WriteString("### Revocation: `go test ./controllers/ -run '^$' -bench Revocation -benchtime 1x`\n\n```\n" + lines + "```\n\n")
	}
	b.WriteString("### Targets\n\n")
	renderTargets(&b, targets(runs))
	// The load at the end, once everything is measured.
	report := strings.Replace(b.String(), loadAfter, loadAverage(), 1)
	fmt.Println(report)
	if out != "" {
		part := "defaults"
		if series {
			part = "series"
		}
		if err := writeDoc(out, part, report); err != nil {
			return err
		}
		logf("wrote %s", out)
	}
	return nil
}

// minCreatesPerTurn is the fewest creates one turn of the comparison with the ceiling makes each
// way by default. Shorter turns measure their own start and end more than the rate: at 1,000
// users and 4 rounds (250 creates a turn, under a second at 16 clients) one run measured 0.74x
// where the same tenant with 1,000 creates a turn measured 0.94x (docs/performance.md).
const minCreatesPerTurn = 1000

// defaultCompareUsers is the users created each way to compare creates with their ceiling when
// -compare-users is not given: as many as the tenant has, and at least minCreatesPerTurn a turn.
func defaultCompareUsers(o options) int { return max(o.users, o.rounds*minCreatesPerTurn) }

// runSize runs every measurement of one size on a fresh environment.
func runSize(ctx context.Context, o options, eo envOptions) (*runResult, error) {
	start := time.Now()
	if o.compareUsers == 0 {
		o.compareUsers = defaultCompareUsers(o)
	}
	logf("%d users, %d groups: starting the control plane and the manager", o.users, o.groups)
	e, err := startEnv(ctx, eo)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	r := &runResult{o: o, tenant: newTenant(o.users, o.groups, o.perUser, o.largest)}
	r.batches = len(r.tenant.batches(o.batch))
	c := newSCIMClient(e.scim, e.token, o.clients, o.maxRetries)

	logf("initial sync: %d users, %d groups, %d memberships (largest group %d) in %d PATCHes",
		o.users, o.groups, r.tenant.memberships(), r.tenant.largestGroup(), r.batches)
	if r.sync, err = initialSync(ctx, e, c, r.tenant, o); err != nil {
		return nil, err
	}
	logf("converged %s after the last SCIM response", r.sync.converged.Round(time.Millisecond))
	if r.mem, err = e.memory(ctx); err != nil {
		return nil, err
	}
	logf("the cache alone: the manager's cache options in a process of their own")
	if r.floor, err = e.measureFloor(ctx); err != nil {
		return nil, err
	}

	logf("reads: the operator and the in-memory baseline, in turns")
	base, stopBase, err := memoryBaseline(r.tenant)
	if err != nil {
		return nil, err
	}
	mc := newSCIMClient(base, e.token, o.clients, o.maxRetries)
	r.reads, r.memoryReads, err = measureReads(ctx, c, mc, r.tenant, o.clients, o.readDuration, o.rounds)
	stopBase()
	if err != nil {
		return nil, err
	}

	logf("revocation")
	if r.revocation, err = revocation(ctx, e, c, r.tenant, o); err != nil {
		return nil, err
	}
	logf("creates: %d users through SCIM and %d ScimUsers through client-go, in turns", o.compareUsers, o.compareUsers)
	if r.scimCreates, r.ceiling, err = createComparison(ctx, e, c, o); err != nil {
		return nil, err
	}
	logf("status writes: the %d users created through client-go, once each", o.compareUsers)
	if r.statusCeiling = statusCeiling(ctx, e, o); r.statusCeiling.check() != nil {
		return nil, r.statusCeiling.check()
	}
	select {
	case <-e.manager.Exited():
		return nil, fmt.Errorf("the manager exited during the bench: %v (log: %s)", e.manager.Err(), e.log.Name())
	default:
	}
	r.wall = time.Since(start)
	return r, nil
}

// revocationBenchmark runs the controllers' BenchmarkRevocation once and returns its result lines.
func revocationBenchmark(ctx context.Context, root, binDir string) (string, error) {
	logf("go test ./controllers/ -run '^$' -bench Revocation -benchtime 1x")
	cmd := exec.CommandContext(ctx, "go", "test", "./controllers/", "-run", "^$", "-bench", "Revocation", "-benchtime", "1x", "-timeout", "30m")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUBEBUILDER_ASSETS="+binDir)
	cmd.Stderr = os.Stderr
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	var lines strings.Builder
	scanner := bufio.NewScanner(outPipe)
	for scanner.Scan() {
		line := scanner.Text()
		fmt.Fprintln(os.Stderr, line)
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "cpu:") {
			lines.WriteString(line + "\n")
		}
	}
	if err := cmd.Wait(); err != nil {
		return "", errors.Join(fmt.Errorf("the revocation benchmark failed"), err)
	}
	return lines.String(), nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
