package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/apis/apiserver/load"
	"k8s.io/apiserver/pkg/apis/apiserver/validation"
	authorizationcel "k8s.io/apiserver/pkg/authorization/cel"
)

// TestAuthorizationConfig validates what the local API server runs with — the sample with its
// kubeconfig and prefix replaced — as kube-apiserver validates --authorization-config, and checks
// the settings docs/authorization.md promises.
func TestAuthorizationConfig(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "webhook.kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for prefix, condition := range map[string]string{
		"corp:": `request.user.startsWith("corp:")`,
		"":      NoUserPrefixCondition,
	} {
		checkAuthorizationConfig(t, root, kubeconfig, prefix, condition)
	}
}

func checkAuthorizationConfig(t *testing.T, root, kubeconfig, prefix, condition string) {
	t.Helper()
	data, err := AuthorizationConfig(root, kubeconfig, prefix)
	if err != nil {
		t.Fatal(err)
	}
	config, err := load.LoadFromData(data)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, data)
	}
	known := sets.New("Node", "RBAC", "Webhook", "ABAC", "AlwaysAllow", "AlwaysDeny")
	if errs := validation.ValidateAuthorizationConfiguration(authorizationcel.NewDefaultCompiler(), field.NewPath(""), config, known, sets.New("Webhook")); len(errs) > 0 {
		t.Fatalf("invalid: %v\n%s", errs.ToAggregate(), data)
	}

	var order []string
	for _, a := range config.Authorizers {
		order = append(order, a.Name)
		if a.Name != webhookAuthorizerName {
			continue
		}
		w := a.Webhook
		if w.FailurePolicy != "NoOpinion" || w.CacheAuthorizedRequests || w.CacheUnauthorizedRequests ||
			w.SubjectAccessReviewVersion != "v1" || *w.ConnectionInfo.KubeConfigFile != kubeconfig {
			t.Errorf("webhook: %+v", w)
		}
		if len(w.MatchConditions) != 1 || w.MatchConditions[0].Expression != condition {
			t.Errorf("match conditions: %+v", w.MatchConditions)
		}
	}
	if got := strings.Join(order, ","); got != "node,scim-operator,rbac" {
		t.Errorf("authorizers %s, want the webhook before RBAC", got)
	}
}
