package scimserver_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver"
)

// randomToken returns a token no other text of the suite can hold by chance.
func randomToken(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

var _ = Describe("Secrets stay secret", Ordered, func() {
	var (
		logs logLines
		base string
		// right is a token of generic under its own key; the wrong ones are sent in every way a
		// client might, one of them holding right as a prefix.
		right string
		wrong []string
		// seen is every response of the session: status, headers and body.
		seen []string
	)
	const key = "generic.secrets-test"

	BeforeAll(func() {
		right = randomToken("right-")
		wrong = []string{randomToken("wrong-"), randomToken("wrong-"), right + "x", randomToken("wrong-")}
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tokenNamespace, Name: tokenName}, secret)).To(Succeed())
		before := secret.DeepCopy()
		secret.Data[key] = []byte(right)
		Expect(k8sClient.Patch(ctx, secret, client.MergeFrom(before))).To(Succeed())
		DeferCleanup(func() {
			s := &corev1.Secret{}
			Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: tokenNamespace, Name: tokenName}, s)).To(Succeed())
			delete(s.Data, key)
			Expect(k8sClient.Update(ctx, s)).To(Succeed())
		})
		// Tight limits, so that the session meets each 429 too.
		srv := startInstanceLogged(operatorCfg, logs.logger(), func(o *scimserver.Options) {
			o.AuthFailureRate, o.AuthFailureBurst = 1e-6, 3
			o.TokenRate, o.TokenBurst = 1e-6, 40
		})
		DeferCleanup(srv.Close)
		base = srv.URL
	})

	// send calls the instance as provider with the Authorization header authorization ("" for
	// none), and keeps the response.
	send := func(provider, authorization, method, path, body string) *response {
		GinkgoHelper()
		r := call(base, provider, method, path, body, "Authorization", authorization)
		seen = append(seen, fmt.Sprintf("%s\n%s\n%s", r.Status, headerText(r.Header), r.raw))
		return r
	}

	It("runs a SCIM session with right and wrong tokens", func() {
		bearer := "Bearer " + right
		Eventually(func() int { return send("generic", bearer, "GET", "/Users?count=1", "").StatusCode }).Should(Equal(http.StatusOK))
		userName := unique("secrets") + "@example.test"
		id := send("generic", bearer, "POST", "/Users", userBody(userName, "Sec", "Ret")).expectStatus(http.StatusCreated).str("id")
		send("generic", bearer, "GET", "/Users?filter="+escapeQuery(fmt.Sprintf("userName eq %q", userName)), "").expectStatus(http.StatusOK)
		send("generic", bearer, "PATCH", "/Users/"+id, groupPatch(`{"op":"replace","path":"title","value":"t"}`)).expectStatus(http.StatusOK)
		send("generic", bearer, "POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"secrets\""}`).expectStatus(http.StatusOK)
		gid := send("generic", bearer, "POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q}]}`,
			unique("secrets-group"), id)).expectStatus(http.StatusCreated).str("id")
		send("generic", bearer, "PATCH", "/Groups/"+gid, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, id))).expectStatusIn(http.StatusOK, http.StatusNoContent)
		send("generic", bearer, "GET", "/Users/a-0000000000000000", "").expectError(http.StatusNotFound, "")
		send("generic", bearer, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`).expectError(http.StatusBadRequest, "")

		// Wrong tokens, as a bearer token, another scheme, and the right one on another provider,
		// until the address is throttled.
		for _, w := range wrong {
			send("generic", "Bearer "+w, "GET", "/Users", "")
		}
		send("generic", "Basic "+right, "GET", "/Users", "").expectError(http.StatusTooManyRequests, "")
		send("okta", bearer, "GET", "/Users", "").expectError(http.StatusTooManyRequests, "")
		send("generic", "", "DELETE", "/Users/"+id, "").expectError(http.StatusTooManyRequests, "")
		Expect(seen).To(ContainElement(HavePrefix("401")), "wrong tokens were refused before the address was throttled")

		// The right token goes on, through to its own limit.
		send("generic", bearer, "DELETE", "/Groups/"+gid, "").expectStatus(http.StatusNoContent)
		send("generic", bearer, "DELETE", "/Users/"+id, "").expectStatus(http.StatusNoContent)
		code := 0
		for range 100 {
			if code = send("generic", bearer, "GET", "/ServiceProviderConfig", "").StatusCode; code != http.StatusOK {
				break
			}
		}
		Expect(code).To(Equal(http.StatusTooManyRequests), "the token's burst is 40")
		Expect(seen[len(seen)-1]).To(ContainSubstring(key), "the 429 names the token's key")
	})

	It("shows no token in any log line, response, metric, event or object", func() {
		secrets := append([]string{right}, wrong...)
		for _, t := range tokens {
			secrets = append(secrets, t)
		}
		outputs := map[string][]string{"log line": logs.matching(), "response": seen}

		families, err := metrics.Registry.Gather()
		Expect(err).NotTo(HaveOccurred())
		for _, f := range families {
			outputs["metric"] = append(outputs["metric"], f.String())
		}
		Expect(strings.Join(outputs["metric"], "\n")).To(ContainSubstring("scim_throttled_total"))

		core := &corev1.EventList{}
		Expect(k8sClient.List(ctx, core)).To(Succeed())
		events := &eventsv1.EventList{}
		Expect(k8sClient.List(ctx, events)).To(Succeed())
		users := &v1.ScimUserList{}
		Expect(k8sClient.List(ctx, users)).To(Succeed())
		roles := &v1.ScimRoleList{}
		Expect(k8sClient.List(ctx, roles)).To(Succeed())
		for what, list := range map[string]any{"event": core, "events.k8s.io event": events, "ScimUser": users, "ScimRole": roles} {
			raw, err := json.Marshal(list)
			Expect(err).NotTo(HaveOccurred())
			outputs[what] = []string{string(raw)}
		}

		Expect(outputs["log line"]).NotTo(BeEmpty())
		Expect(logs.matching(`"SCIM write"`)).NotTo(BeEmpty(), "the session was logged")
		for what, texts := range outputs {
			for _, text := range texts {
				for _, s := range secrets {
					Expect(text).NotTo(ContainSubstring(s), "a %s holds a token", what)
				}
			}
		}
	})
})

var _ = Describe("The operator's access to Secrets", func() {
	It("reads the token Secret, in its namespace, and no other Secret", func() {
		operator, err := client.New(operatorCfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		// allowed asks the API server, as the operator's ServiceAccount, whether it may.
		allowed := func(verb, namespace, name string) bool {
			GinkgoHelper()
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: "secrets", Namespace: namespace, Name: name}}}
			Expect(operator.Create(ctx, review)).To(Succeed())
			return review.Status.Allowed
		}
		for _, verb := range []string{"get", "list", "watch"} {
			Expect(allowed(verb, tokenNamespace, tokenName)).To(BeTrue(), "%s the token Secret", verb)
			Expect(allowed(verb, tokenNamespace, "scim-operator-scim-tls")).To(BeFalse(), "%s another Secret of its namespace", verb)
			Expect(allowed(verb, "default", tokenName)).To(BeFalse(), "%s a Secret of that name elsewhere", verb)
		}
		for _, verb := range []string{"list", "watch"} {
			Expect(allowed(verb, tokenNamespace, "")).To(BeFalse(), "%s every Secret of its namespace", verb)
			Expect(allowed(verb, "", "")).To(BeFalse(), "%s every Secret", verb)
		}
		for _, verb := range []string{"create", "update", "patch", "delete"} {
			Expect(allowed(verb, tokenNamespace, tokenName)).To(BeFalse(), "%s the token Secret", verb)
		}

		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: tokenNamespace, Name: unique("not-the-tokens")}}
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		DeferCleanup(k8sClient.Delete, ctx, other)
		err = operator.Get(ctx, client.ObjectKeyFromObject(other), &corev1.Secret{})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "read another Secret: %v", err)
		Expect(operator.Get(ctx, types.NamespacedName{Namespace: tokenNamespace, Name: tokenName}, &corev1.Secret{})).To(Succeed())
		Expect(operator.List(ctx, &corev1.SecretList{}, client.InNamespace(tokenNamespace),
			client.MatchingFields{"metadata.name": tokenName})).To(Succeed(), "the cache's list of the one Secret")

		// The cache asks for that one Secret alone.
		byObject := scimserver.CacheByObject(types.NamespacedName{Namespace: tokenNamespace, Name: tokenName})
		secrets := 0
		for obj, c := range byObject {
			if _, ok := obj.(*corev1.Secret); !ok {
				continue // ScimUsers and ScimRoles, cached without managedFields
			}
			secrets++
			Expect(c.Namespaces).To(HaveLen(1))
			Expect(c.Namespaces).To(HaveKey(tokenNamespace))
			Expect(c.Field.String()).To(Equal("metadata.name=" + tokenName))
		}
		Expect(secrets).To(Equal(1))
	})
})
