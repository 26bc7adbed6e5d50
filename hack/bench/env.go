package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/controlplane"
)

// userPrefix is the manager's --rbac-user-prefix, as make dev runs it.
const userPrefix = "oidc:"

var scheme = runtime.NewScheme()

func init() {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// env is a fresh local control plane with the manager binary running against it as the operator's
// ServiceAccount, exactly as `make dev` runs them.
type env struct {
	local   *controlplane.Local
	manager *controlplane.ManagerProcess
	// admin is a cluster-admin's client (GitOps, the convergence checks); operator writes as the
	// operator's ServiceAccount (the ceiling).
	admin, operator client.Client
	adminCfg        *rest.Config
	// scim is the provider's base URL; token its bearer token.
	scim, token string
	// metricsURL and metricsToken read the manager's metrics.
	metricsURL, metricsToken string
	dir                      string
	log                      *os.File
	// operatorKubeconfig authenticates as the operator's ServiceAccount, for more replicas.
	operatorKubeconfig string
	// replicas are the manager processes running, the first one e.manager.
	replicas []*replica
	// shared is true when the manager shares bindings between roles (--rbac-shared-bindings).
	shared bool
}

// bindingsFor is the number of bindings that name a user in roles roles of the bench (all of them
// grant view): one when the manager shares bindings.
func (e *env) bindingsFor(roles int) int {
	if e.shared {
		return 1
	}
	return roles
}

// replica is one manager process of the environment.
type replica struct {
	name             string
	process          *controlplane.ManagerProcess
	scim, metricsURL string
	log              *os.File
	// pprofAddr serves the replica's profiles (-pprof); empty without.
	pprofAddr string
	// heapProfiles counts the heap profiles memoryOf wrote.
	heapProfiles int
}

// startReplica runs one more manager process, as `make dev` does, with the further flags of o
// and its own SCIM and metrics addresses, logging to name.log.
func (e *env) startReplica(o envOptions, name string, extraArgs ...string) (*replica, error) {
	scimAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	r := &replica{name: name}
	if r.log, err = os.Create(filepath.Join(e.dir, name+".log")); err != nil {
		return nil, err
	}
	args, err := limitFlags(o.manager)
	if err != nil {
		return nil, err
	}
	args = append(append(args, o.managerArgs...), extraArgs...)
	pprofAddr := ""
	if o.pprof {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args = append(args, "--pprof-bind-address="+addr)
		pprofAddr = addr
		logf("%s: profiles at http://%s/debug/pprof/", name, addr)
	}
	r.process, err = controlplane.StartManager(controlplane.ManagerOptions{
		Binary: o.manager, Kubeconfig: e.operatorKubeconfig, SCIMAddr: scimAddr, MetricsAddr: metricsAddr,
		Providers: []string{o.provider}, UserPrefix: userPrefix, Args: args, Env: o.managerEnv, Stdout: r.log, Stderr: r.log,
	})
	if err != nil {
		_ = r.log.Close()
		return nil, err
	}
	r.scim = "http://" + scimAddr + "/provisioning/" + o.provider + "/v2"
	r.metricsURL = "https://" + metricsAddr + "/metrics"
	r.pprofAddr = pprofAddr
	e.replicas = append(e.replicas, r)
	return r, nil
}

// envOptions say how to start the environment.
type envOptions struct {
	root, binDir, manager, provider string
	// managerArgs are further flags of the manager, managerEnv further environment variables.
	managerArgs, managerEnv []string
	// pprof serves each manager's profiles on a loopback port of its own (logged), and writes an
	// admin kubeconfig for the API server's (logged).
	pprof bool
}

func startEnv(ctx context.Context, o envOptions) (_ *env, err error) {
	dir, err := os.MkdirTemp("", "scim-bench-")
	if err != nil {
		return nil, err
	}
	e := &env{dir: dir, token: randomHex(24), shared: slices.ContainsFunc(o.managerArgs, func(a string) bool {
		return a == "--rbac-shared-bindings" || a == "--rbac-shared-bindings=true"
	})}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	local, cfg, err := controlplane.Start(ctx, o.root, o.binDir)
	if err != nil {
		return nil, fmt.Errorf("start the control plane: %w", err)
	}
	e.local = local
	cfg.QPS = -1 // the bench's own reads must not be throttled on its side
	e.adminCfg = cfg
	if e.admin, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if o.pprof {
		// The API server serves its own profiles to a cluster admin: kubectl get --raw
		// '/debug/pprof/profile?seconds=10' with this kubeconfig.
		path := filepath.Join(dir, "admin.kubeconfig")
		if err := writeKubeconfig(path, cfg); err != nil {
			return nil, err
		}
		logf("kube-apiserver: profiles through kubectl --kubeconfig %s get --raw /debug/pprof/", path)
	}
	operatorKubeconfig := filepath.Join(dir, "operator.kubeconfig")
	providers := []string{o.provider}
	if err := local.InstallOperator(ctx, cfg, o.root, operatorKubeconfig, providers, e.token); err != nil {
		return nil, err
	}
	operatorCfg, err := clientcmd.BuildConfigFromFlags("", operatorKubeconfig)
	if err != nil {
		return nil, err
	}
	operatorCfg.QPS = -1 // as ctrl.GetConfig, which the manager uses
	if e.operator, err = client.New(operatorCfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}

	e.operatorKubeconfig = operatorKubeconfig
	first, err := e.startReplica(o, "manager")
	if err != nil {
		return nil, err
	}
	e.manager, e.log = first.process, first.log
	managerPid.Store(int64(e.manager.Pid()))
	count, err := apiServerRequests(cfg)
	if err != nil {
		return nil, err
	}
	apiRequests.Store(&count)
	e.scim, e.metricsURL = first.scim, first.metricsURL
	if e.metricsToken, err = controlplane.MetricsReaderToken(ctx, cfg, 2*time.Hour); err != nil {
		return nil, err
	}
	return e, e.waitReady(ctx)
}

// limitFlags returns generous values for the manager's per-token rate limits, when the binary has
// them: the bench measures the server, not the limits an operator sets against abuse.
func limitFlags(manager string) ([]string, error) {
	out, _ := exec.Command(manager, "-h").CombinedOutput() // -h exits with status 2
	if !bytes.Contains(out, []byte("-scim-")) {
		return nil, fmt.Errorf("%s -h does not list the manager's flags:\n%s", manager, truncate(string(out), 500))
	}
	generous := map[string]string{
		"scim-token-rate": "1000000", "scim-token-burst": "1000000", "scim-token-max-concurrent": "100000",
	}
	var args []string
	for flag, value := range generous {
		if bytes.Contains(out, []byte("-"+flag+" ")) {
			args = append(args, "--"+flag+"="+value)
		}
	}
	return args, nil
}

// waitReady waits until the first manager answers SCIM reads, or exits.
func (e *env) waitReady(ctx context.Context) error { return e.waitReplica(ctx, e.replicas[0]) }

// waitReplica waits until replica r answers SCIM reads, or exits.
func (e *env) waitReplica(ctx context.Context, r *replica) error {
	c := newSCIMClient(r.scim, e.token, 1, 0)
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		select {
		case <-r.process.Exited():
			return false, fmt.Errorf("the manager exited: %v (log: %s)", r.process.Err(), r.log.Name())
		default:
		}
		_, _, err := c.do(ctx, http.MethodGet, "/Users?count=1", nil, http.StatusOK)
		return err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("wait for the manager to serve SCIM (log: %s): %w", r.log.Name(), err)
	}
	return nil
}

// stop stops the manager and the control plane and removes the bench's files.
func (e *env) stop() {
	for _, r := range e.replicas {
		_ = r.process.Stop()
		_ = r.log.Close()
	}
	if e.local != nil {
		if err := e.local.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stop the control plane:", err)
		}
	}
	if keepDirs {
		logf("kept %s", e.dir)
		return
	}
	_ = os.RemoveAll(e.dir)
}

// memory is the manager's memory at one moment.
type memory struct {
	// rss and peakRSS are VmRSS and VmHWM of /proc/<pid>/status.
	rss, peakRSS int64
	// heapInuse and heapAlloc are go_memstats_heap_inuse_bytes and go_memstats_heap_alloc_bytes.
	heapInuse, heapAlloc int64
}

func (e *env) memory(ctx context.Context) (memory, error) {
	return e.memoryOf(ctx, e.replicas[0])
}

// memoryOf is the memory of replica r. With -pprof, a collection runs first (heap?gc=1), so that
// the heap in use is what is live, not what the next collection would free; the profile it
// answers is written beside the replica's log (<name>-heap-<n>.pb.gz, kept with -keep).
func (e *env) memoryOf(ctx context.Context, r *replica) (memory, error) {
	var m memory
	if r.pprofAddr != "" {
		resp, err := http.Get("http://" + r.pprofAddr + "/debug/pprof/heap?gc=1")
		if err != nil {
			return m, err
		}
		profile, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return m, err
		}
		r.heapProfiles++
		if err := os.WriteFile(filepath.Join(e.dir, fmt.Sprintf("%s-heap-%d.pb.gz", r.name, r.heapProfiles)), profile, 0o644); err != nil {
			return m, err
		}
	}
	var err error
	if m.rss, m.peakRSS, err = rssOf(fmt.Sprintf("/proc/%d/status", r.process.Pid())); err != nil {
		return m, err
	}
	metrics, err := e.metricsOf(ctx, r.metricsURL)
	if err != nil {
		return m, err
	}
	m.heapInuse, m.heapAlloc = int64(metrics["go_memstats_heap_inuse_bytes"]), int64(metrics["go_memstats_heap_alloc_bytes"])
	return m, nil
}

// metrics reads the manager's metrics endpoint as the metrics reader and returns the samples
// without labels.
func (e *env) metrics(ctx context.Context) (map[string]float64, error) {
	return e.metricsOf(ctx, e.metricsURL)
}

// metricsOf reads the metrics at url (a replica's) as the metrics reader.
func (e *env) metricsOf(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e.metricsToken)
	insecure := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // controller-runtime's self-signed metrics certificate on loopback
	resp, err := insecure.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	samples := map[string]float64{}
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			samples[name] = v
		}
	}
	return samples, scanner.Err()
}

// apiServerRequests returns a function that reads apiserver_request_total of the API server, as
// "VERB resource[/subresource]" → count (over every code, scope and version), for the requests
// of SCIM's and the controllers' kinds and the RBAC bindings.
func apiServerRequests(cfg *rest.Config) (func() map[string]float64, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	labelOf := func(labels, name string) string {
		_, rest, ok := strings.Cut(labels, name+`="`)
		if !ok {
			return ""
		}
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	return func() map[string]float64 {
		data, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
		if err != nil {
			return nil
		}
		counts := map[string]float64{}
		for line := range strings.Lines(string(data)) {
			labels, ok := strings.CutPrefix(line, "apiserver_request_total{")
			if !ok {
				continue
			}
			labels, value, _ := strings.Cut(labels, "} ")
			resource := labelOf(labels, "resource")
			switch resource {
			case "scimusers", "scimroles", "clusterrolebindings", "rolebindings", "events":
			default:
				continue
			}
			if sub := labelOf(labels, "subresource"); sub != "" {
				resource += "/" + sub
			}
			v, _ := strconv.ParseFloat(strings.TrimSpace(value), 64)
			counts[labelOf(labels, "verb")+" "+resource] += v
		}
		return counts
	}, nil
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeKubeconfig writes cfg, a client certificate's config, as a kubeconfig file at path.
func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "admin"}
	kc.CurrentContext = "bench"
	return clientcmd.WriteToFile(*kc, path)
}
