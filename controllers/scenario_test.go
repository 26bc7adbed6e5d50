package controllers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver"
)

// The scenario of design.md end to end: GitOps declares what a role grants, an identity provider
// decides who is in it through the SCIM server, the controllers turn that into RBAC, and the rules
// hold. The SCIM server runs as the operator's ServiceAccount, under its generated RBAC, with the
// admission policies installed — as it does in a cluster.
var _ = Describe("Scenario: GitOps declares a role, SCIM fills it, RBAC follows", Ordered, func() {
	const token = "scenario-token"
	var (
		scim      *httptest.Server
		role      *identityv1alpha1.ScimRole
		ns        *corev1.Namespace
		ids       = map[string]string{} // userName → SCIM id
		userNames = []string{"alice@example.com", "bob@example.com", "carol@example.com"}
	)

	// request sends a SCIM request as the generic provider and returns the status and decoded body.
	request := func(method, path, body string) (int, map[string]any) {
		GinkgoHelper()
		req, err := http.NewRequest(method, scim.URL+"/provisioning/generic/v2"+path, strings.NewReader(body))
		Expect(err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		Expect(err).NotTo(HaveOccurred())
		var out map[string]any
		if len(bytes.TrimSpace(raw)) > 0 {
			Expect(json.Unmarshal(raw, &out)).To(Succeed(), "body: %s", raw)
		}
		return resp.StatusCode, out
	}
	patchActive := func(id string, active bool) map[string]any {
		GinkgoHelper()
		code, body := request("PATCH", "/Users/"+id, fmt.Sprintf(
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%v}}]}`, active))
		Expect(code).To(Equal(http.StatusOK), "body: %v", body)
		return body
	}
	// allowed asks the API server whether userName may list pods in the scenario's namespace.
	allowed := func(userName string) func(Gomega) bool {
		return func(g Gomega) bool {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               suiteOptions.RBACUserPrefix + userName,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns.Name, Verb: "list", Resource: "pods"},
			}}
			g.Expect(admin.Create(suiteCtx, sar)).To(Succeed())
			return sar.Status.Allowed
		}
	}
	user := func(userName string) *identityv1alpha1.ScimUser {
		GinkgoHelper()
		u := &identityv1alpha1.ScimUser{}
		Expect(admin.Get(suiteCtx, client.ObjectKey{Name: ids[userName]}, u)).To(Succeed())
		return u
	}

	BeforeAll(func() {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "scim-operator-scim-tokens", Namespace: operatorSA.Namespace},
			StringData: map[string]string{"generic": token}}
		Expect(admin.Create(suiteCtx, secret)).To(Succeed())
		tokens := types.NamespacedName{Namespace: secret.Namespace, Name: secret.Name}
		mgr, err := ctrl.NewManager(operatorConfig, ctrl.Options{
			Scheme:                 scheme,
			Metrics:                metricsserver.Options{BindAddress: "0"},
			HealthProbeBindAddress: "0",
			Cache:                  cache.Options{ByObject: scimserver.CacheByObject(tokens)},
		})
		Expect(err).NotTo(HaveOccurred())
		srv, err := scimserver.SetupWithManager(suiteCtx, mgr, scimserver.Options{Providers: []string{"generic"}, TokenSecret: tokens})
		Expect(err).NotTo(HaveOccurred())
		go func() {
			defer GinkgoRecover()
			Expect(mgr.Start(suiteCtx)).To(Succeed())
		}()
		Expect(mgr.GetCache().WaitForCacheSync(suiteCtx)).To(BeTrue())
		scim = httptest.NewServer(srv.Handler())
		DeferCleanup(scim.Close)

		ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: unique("scenario")}}
		Expect(admin.Create(suiteCtx, ns)).To(Succeed())
	})

	It("GitOps declares a role with access", func() {
		role = &identityv1alpha1.ScimRole{
			ObjectMeta: metav1.ObjectMeta{Name: unique("platform")},
			Spec: identityv1alpha1.ScimRoleSpec{DisplayName: unique("Platform Team"), Access: &identityv1alpha1.Access{
				ClusterRoles: []string{"view"},
				Namespaced:   []identityv1alpha1.NamespacedAccess{{Namespace: ns.Name, ClusterRole: "edit"}},
			}},
		}
		Expect(admin.Create(suiteCtx, role)).To(Succeed())
	})

	It("SCIM creates users and puts them in the role; bindings appear and grant access", func() {
		var members []string
		for _, name := range userNames {
			code, body := request("POST", "/Users", fmt.Sprintf(
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"G","familyName":"F"},"active":true}`, name))
			Expect(code).To(Equal(http.StatusCreated), "body: %v", body)
			ids[name] = body["id"].(string)
			members = append(members, fmt.Sprintf(`{"value":%q,"display":%q}`, ids[name], name))
		}
		Eventually(func() int {
			code, _ := request("PATCH", "/Groups/"+role.Name, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[`+strings.Join(members, ",")+`]}]}`)
			return code
		}).Should(Equal(http.StatusOK), "the SCIM server's cache must see the GitOps role")

		want := []string{}
		for _, n := range userNames {
			want = append(want, suiteOptions.RBACUserPrefix+n)
		}
		Eventually(func(g Gomega) {
			crbs, rbs := bindingsOf(suiteCtx, g, role.Name)
			g.Expect(crbs).To(HaveLen(1))
			g.Expect(rbs).To(HaveLen(1))
			g.Expect(subjectNames(crbs[0].Subjects)).To(ConsistOf(want))
			g.Expect(subjectNames(rbs[0].Subjects)).To(ConsistOf(want))
		}).Should(Succeed())
		for _, n := range userNames {
			Eventually(allowed(n)).Should(BeTrue(), n)
			Expect(user(n).Labels).To(HaveKeyWithValue(identityv1alpha1.LabelManagedBy, "generic"))
		}
		Eventually(func(g Gomega) {
			r := &identityv1alpha1.ScimRole{}
			g.Expect(admin.Get(suiteCtx, client.ObjectKeyFromObject(role), r)).To(Succeed())
			g.Expect(r.Status.Conditions).To(ContainElement(haveCondition(metav1.ConditionTrue, identityv1alpha1.ReasonBindingsApplied, r.Generation)))
			g.Expect(r.Status.ActiveMemberCount).To(BeNumerically("==", 3))
		}).Should(Succeed())
	})

	It("SCIM suspends alice: she loses the marking and her access", func() {
		body := patchActive(ids["alice@example.com"], false)
		Expect(body["active"]).To(BeFalse())
		Eventually(allowed("alice@example.com")).Should(BeFalse())
		Eventually(func(g Gomega) {
			u := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(suiteCtx, client.ObjectKey{Name: ids["alice@example.com"]}, u)).To(Succeed())
			g.Expect(u.Labels).NotTo(HaveKey(identityv1alpha1.LabelManagedBy))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionExternallyManaged).Reason).To(Equal(identityv1alpha1.ReasonSuspended))
			g.Expect(conditionOf(u.Status.Conditions, identityv1alpha1.ConditionSuspended).Reason).To(Equal(identityv1alpha1.ReasonSuspendedByProvider))
		}).Should(Succeed())
		Expect(allowed("bob@example.com")(Default)).To(BeTrue(), "the others keep their access")
	})

	It("an admin suspends bob: he stays suspended and unmarked after a SCIM active: true", func() {
		bob := user("bob@example.com")
		Expect(adminWrite(suiteCtx, bob, func() { bob.Spec.Active = new(false) })).To(Succeed())
		Eventually(func(g Gomega) {
			u := &identityv1alpha1.ScimUser{}
			g.Expect(admin.Get(suiteCtx, client.ObjectKeyFromObject(bob), u)).To(Succeed())
			g.Expect(u.Annotations).To(HaveKeyWithValue(identityv1alpha1.AnnotationSuspendedBy, identityv1alpha1.SuspendedByAdmin))
		}).Should(Succeed())
		Eventually(allowed("bob@example.com")).Should(BeFalse())

		Expect(patchActive(bob.Name, true)).To(HaveKeyWithValue("active", false), "the response shows the admin suspension")
		u := user("bob@example.com")
		Expect(u.IsActive()).To(BeFalse())
		Expect(u.Labels).NotTo(HaveKey(identityv1alpha1.LabelManagedBy))
		Consistently(allowed("bob@example.com"), "2s").Should(BeFalse())
	})

	It("denies a kubectl edit of a managed user's userName", func() {
		carol := user("carol@example.com")
		err := adminWrite(suiteCtx, carol, func() { carol.Spec.UserName = "mallory@example.com" })
		Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("managed by provider generic"))
		Expect(user("carol@example.com").Spec.UserName).To(Equal("carol@example.com"))
	})

	It("repairs a hand-edited binding", func() {
		var crb rbacv1.ClusterRoleBinding
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(suiteCtx, g, role.Name)
			g.Expect(crbs).To(HaveLen(1))
			crb = crbs[0]
		}).Should(Succeed())
		crb.Subjects = append(crb.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "intruder"})
		Expect(admin.Update(suiteCtx, &crb)).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, _ := bindingsOf(suiteCtx, g, role.Name)
			g.Expect(crbs).To(HaveLen(1))
			g.Expect(subjectNames(crbs[0].Subjects)).To(Equal([]string{suiteOptions.RBACUserPrefix + "carol@example.com"}))
		}).Should(Succeed())
	})

	It("deleting the role removes its bindings", func() {
		Expect(admin.Delete(suiteCtx, role)).To(Succeed())
		Eventually(func(g Gomega) {
			crbs, rbs := bindingsOf(suiteCtx, g, role.Name)
			g.Expect(crbs).To(BeEmpty())
			g.Expect(rbs).To(BeEmpty())
		}).Should(Succeed())
		Eventually(allowed("carol@example.com")).Should(BeFalse())
	})
})
