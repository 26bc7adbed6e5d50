package scimserver_test

import (
	"net/http/httptest"
	"os"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The specs of the conformance suites also run against a server that is already running: `make
// conformance` (hack/conformance.sh) starts a fresh `make dev` environment and runs each suite
// against it, as a label filter, with
//
//	SCIM_CONFORMANCE_URL         the server's base URL (http://127.0.0.1:18080), without /provisioning
//	SCIM_CONFORMANCE_TOKEN       its bearer token, the same for every provider
//	SCIM_CONFORMANCE_KUBECONFIG  an admin kubeconfig of its API server, to check what is stored
//
// The specs are the same in both runs; only their server differs. A spec of a conformance suite
// therefore talks to the server only through server.URL and tokens, and to the API server only
// through k8sClient.

// The conformance suites, as labels: each spec of a suite carries conformanceLabel and its suite's.
const (
	conformanceLabel = "conformance"
	// suiteScimsdk is StrongDM's client against generic; suiteOkta and suiteEntra Okta's and
	// Microsoft Entra ID's documented requests against okta and azure; suiteRFCClients JumpCloud's
	// and OneLogin's against generic.
	suiteScimsdk    = "scimsdk"
	suiteOkta       = "okta"
	suiteEntra      = "entra"
	suiteRFCClients = "rfc-clients"
)

// conformance is the running server to test, from the environment; URL is empty for the suite's
// own envtest server.
var conformance = struct{ URL, Token, Kubeconfig string }{
	URL:        strings.TrimSuffix(os.Getenv("SCIM_CONFORMANCE_URL"), "/"),
	Token:      os.Getenv("SCIM_CONFORMANCE_TOKEN"),
	Kubeconfig: os.Getenv("SCIM_CONFORMANCE_KUBECONFIG"),
}

// setUpConformance points the suite at the running server instead of starting a control plane.
func setUpConformance() {
	GinkgoHelper()
	Expect(conformance.Token).NotTo(BeEmpty(), "SCIM_CONFORMANCE_TOKEN is required with SCIM_CONFORMANCE_URL")
	Expect(conformance.Kubeconfig).NotTo(BeEmpty(), "SCIM_CONFORMANCE_KUBECONFIG is required with SCIM_CONFORMANCE_URL")
	// Other specs start instances of their own; without a filter their set-up would run too.
	Expect(GinkgoLabelFilter()).To(ContainSubstring(conformanceLabel),
		"against SCIM_CONFORMANCE_URL, run conformance suites only: -ginkgo.label-filter='%s && <suite>'", conformanceLabel)
	restCfg, err := clientcmd.BuildConfigFromFlags("", conformance.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(restCfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	for provider := range tokens {
		tokens[provider] = conformance.Token
	}
	server = &httptest.Server{URL: conformance.URL}
}

// Against a running server, a spec outside the conformance suites is skipped, whatever the filter.
var _ = BeforeEach(func() {
	if conformance.URL != "" && !slices.Contains(CurrentSpecReport().Labels(), conformanceLabel) {
		Skip("not a conformance spec: it needs the suite's own server")
	}
})
