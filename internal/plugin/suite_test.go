package plugin_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/plugin"
)

// The suite runs kubectl scim (plugin.Run, as the binary does) with --kubeconfig against the local
// control plane, where the operator's controllers run as its ServiceAccount so that roles get their
// bindings. The user prefix is oidc:, as a production install has it.

// userPrefix is the controllers' --rbac-user-prefix in the suite.
const userPrefix = "oidc:"

var (
	controlPlane *controlplane.Local
	// admin is a cluster-admin client; kubeconfig is a kubeconfig file of another cluster-admin,
	// which kubectl scim runs with.
	admin      client.Client
	kubeconfig string
	scheme     = runtime.NewScheme()
	suiteCtx   context.Context
	cancel     context.CancelFunc
)

func TestPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("the envtest suite needs the local control plane")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl scim suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	suiteCtx, cancel = context.WithCancel(context.Background())
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(identityv1alpha1.AddToScheme(scheme)).To(Succeed())

	root, err := controlplane.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	local, cfg, err := controlplane.Start(suiteCtx, root, "")
	Expect(err).NotTo(HaveOccurred())
	controlPlane = local
	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	sa := types.NamespacedName{Namespace: plugin.DefaultNamespace, Name: "scim-operator-controller-manager"}
	operatorCfg, err := local.OperatorConfig(suiteCtx, cfg, root, sa)
	Expect(err).NotTo(HaveOccurred())
	mgr, err := ctrl.NewManager(operatorCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ByObject: controllers.CacheByObject()},
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{RBACUserPrefix: userPrefix})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(suiteCtx)).To(Succeed())
	}()

	// kubectl scim authenticates as a cluster admin of its own, through a kubeconfig file.
	person, err := local.Env.AddUser(envtest.User{Name: "platform-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	raw, err := person.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, raw, 0o600)).To(Succeed())
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	Expect(controlPlane.Stop()).To(Succeed())
})

// result is what one run of kubectl scim wrote and returned.
type result struct {
	stdout, stderr string
	code           int
}

// kubectlScim runs `kubectl scim args...` with the suite's kubeconfig.
func kubectlScim(args ...string) result {
	var stdout, stderr bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(""), Out: &stdout, ErrOut: &stderr}
	code := plugin.Run(suiteCtx, append([]string{"--kubeconfig", kubeconfig}, args...), streams)
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// succeeds asserts that the run exited 0, showing stderr otherwise.
func (r result) succeeds() result {
	GinkgoHelper()
	Expect(r.code).To(Equal(0), "stderr: %s", r.stderr)
	return r
}

// fails asserts that the run exited non-zero with an error on stderr and nothing on stdout.
func (r result) fails(message string) result {
	GinkgoHelper()
	Expect(r.code).NotTo(Equal(0), "stdout: %s", r.stdout)
	Expect(r.stdout).To(BeEmpty())
	Expect(r.stderr).To(HavePrefix("error: "))
	Expect(r.stderr).To(ContainSubstring(message))
	return r
}

var nameSeq atomic.Int64

// unique returns a name unique in the suite run, starting with prefix.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1)) }
