package controllers

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access/authorizer"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/scimserver"
)

// The operator's ServiceAccount in the suites, as config/default would name it.
var operatorSA = types.NamespacedName{Namespace: "scim-operator-system", Name: "scim-operator-controller-manager"}

// suiteOptions are the controllers' options in the suite: a small binding size to see splitting,
// and the default empty user prefix, under which a userName in Kubernetes' reserved system:
// namespace would name a reserved subject (the prefix itself is covered by the rbac unit tests).
var suiteOptions = Options{MaxSubjectsPerBinding: 3}

var (
	// controlPlane is etcd, kube-apiserver and kube-controller-manager; testEnv is its envtest part.
	controlPlane *controlplane.Local
	testEnv      *envtest.Environment
	// admin is a cluster-admin (system:masters): it stands for people and GitOps tools.
	admin client.Client
	// operator authenticates as the operator's ServiceAccount, under its generated RBAC; it stands
	// for the SCIM server's writes.
	operator client.Client
	// operatorConfig authenticates as the operator's ServiceAccount.
	operatorConfig *rest.Config
	scheme         = runtime.NewScheme()
	suiteCtx       context.Context
	suiteCancel    context.CancelFunc
	repoRoot       string
)

func TestControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("the envtest suite needs the local control plane")
	}
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	suiteCtx, suiteCancel = context.WithCancel(context.Background())

	// The API server consults the authorization webhook before RBAC, as config/authorization sets
	// it up: the suite's SubjectAccessReviews go through the whole authorizer chain.
	local, cfg, operatorCfg, err := startControlPlane(suiteCtx, controlplane.WithAuthorizationWebhook(suiteOptions.RBACUserPrefix))
	Expect(err).NotTo(HaveOccurred())
	controlPlane, testEnv = local, local.Env
	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	operatorConfig = operatorCfg
	operator, err = client.New(operatorCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	_, err = startManager(suiteCtx, operatorCfg, suiteOptions, serving{webhook: local.AuthorizationWebhook}, func(err error) {
		defer GinkgoRecover()
		Fail(fmt.Sprintf("the manager failed: %v", err))
	})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if suiteCancel != nil {
		suiteCancel()
	}
	Expect(controlPlane.Stop()).To(Succeed())
})

func init() {
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := identityv1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
}

// startControlPlane starts etcd, kube-apiserver and kube-controller-manager with the CRDs, installs
// the operator's RBAC (config/rbac/role.yaml bound to operatorSA) and the admission policies
// (config/policy). It returns the control plane, an admin config and a config that authenticates
// as the operator. opts are controlplane.Start's.
func startControlPlane(ctx context.Context, opts ...controlplane.Option) (_ *controlplane.Local, admin, operator *rest.Config, err error) {
	if repoRoot, err = controlplane.RepoRoot(); err != nil {
		return nil, nil, nil, err
	}
	local, cfg, err := controlplane.Start(ctx, repoRoot, "", opts...)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() {
		if err != nil {
			_ = local.Stop()
		}
	}()
	env := local.Env
	username, err := controlplane.InstallOperatorRBAC(ctx, cfg, repoRoot, operatorSA)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := controlplane.InstallPolicies(ctx, cfg, repoRoot); err != nil {
		return nil, nil, nil, err
	}
	user, err := env.AddUser(envtest.User{Name: username, Groups: []string{
		"system:serviceaccounts", "system:serviceaccounts:" + operatorSA.Namespace,
	}}, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	operatorCfg := user.Config()
	operatorCfg.QPS = -1 // as ctrl.GetConfig: the API server's priority and fairness limits the operator
	return local, cfg, operatorCfg, nil
}

// serving is what startManager serves besides the controllers.
type serving struct {
	// webhook is where the API server expects the authorization webhook; nil serves none.
	webhook *controlplane.AuthorizationWebhook
	// scimTokens is the token Secret of a SCIM server (plain HTTP on loopback, provider generic);
	// nil serves none.
	scimTokens *types.NamespacedName
}

// startManager runs a manager with the controllers as the operator until ctx ends, and what extra
// asks it to serve; it returns the SCIM server's base URL, if any. failed reports an error of the
// manager.
func startManager(ctx context.Context, cfg *rest.Config, opts Options, extra serving, failed func(error)) (string, error) {
	byObject := CacheByObject()
	if extra.scimTokens != nil {
		maps.Copy(byObject, scimserver.CacheByObject(*extra.scimTokens))
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ByObject: byObject},
		Controller:             config.Controller{SkipNameValidation: new(true)},
	})
	if err != nil {
		return "", err
	}
	if err := Setup(mgr, opts); err != nil {
		return "", err
	}
	if extra.webhook != nil {
		o := extra.webhook.Options()
		o.UserPrefix = opts.RBACUserPrefix
		if _, err := authorizer.SetupWithManager(ctx, mgr, o); err != nil {
			return "", err
		}
	}
	var srv *scimserver.Server
	if extra.scimTokens != nil {
		srv, err = scimserver.SetupWithManager(ctx, mgr, scimserver.Options{Addr: "127.0.0.1:0", Providers: []string{"generic"}, TokenSecret: *extra.scimTokens})
		if err != nil {
			return "", err
		}
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			failed(err)
		}
	}()
	if srv == nil {
		return "", nil
	}
	addr, err := srv.Addr(ctx)
	if err != nil {
		return "", err
	}
	return "http://" + addr.String() + "/provisioning/generic/v2", nil
}

var nameSeq atomic.Int64

// unique returns a name unique in the suite run, starting with prefix.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1)) }

// configPath returns a path below config/ of the checkout.
func configPath(parts ...string) string {
	return filepath.Join(append([]string{repoRoot, "config"}, parts...)...)
}
