package scimserver_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// The specs of okta_test.go, entra_test.go and microsoft_collection_test.go send what identity
// providers send, as their documentation shows it, to the okta and azure providers, and check the
// answers and what is stored. Each body is the documented one with its names made unique
// (userName, displayName, externalId) so that specs do not collide; the page it comes from is cited
// above it. This file holds what they share.

const (
	idpListResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	idpEnterpriseURN   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	idpCoreUserURN     = "urn:ietf:params:scim:schemas:core:2.0:User"
)

// idpGUID returns a random GUID, as Entra ID uses for its probes and externalIds.
func idpGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// escapeQuery percent-encodes a query parameter value with %20 for spaces, as Okta sends it.
func escapeQuery(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// listedResources returns the Resources of a ListResponse.
func (r *response) listedResources() []map[string]any {
	GinkgoHelper()
	Expect(r.body).To(HaveKeyWithValue("schemas", ConsistOf(idpListResponseURN)), "body: %s", r.raw)
	return r.objects("Resources")
}

// expectListOf asserts a ListResponse's counts and returns its resources.
func (r *response) expectListOf(total, startIndex, items int) []map[string]any {
	GinkgoHelper()
	r.expectStatus(http.StatusOK)
	res := r.listedResources()
	Expect(r.body).To(HaveKeyWithValue("totalResults", BeNumerically("==", total)), "body: %s", r.raw)
	Expect(r.body).To(HaveKeyWithValue("startIndex", BeNumerically("==", startIndex)))
	Expect(r.body).To(HaveKeyWithValue("itemsPerPage", BeNumerically("==", items)))
	Expect(res).To(HaveLen(items))
	return res
}

// expectStatusIn asserts a status among codes, showing the body on failure.
func (r *response) expectStatusIn(codes ...int) *response {
	GinkgoHelper()
	Expect(r.StatusCode).To(BeElementOf(codes), "body: %s", r.raw)
	return r
}

// expectSuspendedByProvider asserts rule 4 on a stored user: suspended, by its provider, unmarked.
func expectSuspendedByProvider(id string) {
	GinkgoHelper()
	u := getUser(id)
	Expect(u.Spec.Active).To(HaveValue(BeFalse()))
	Expect(u.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByProvider))
	expectMarkedBy(u, "")
}

// expectActiveMarked asserts a stored user is active, carries no suspension and is marked by provider.
func expectActiveMarked(id, provider string) {
	GinkgoHelper()
	u := getUser(id)
	Expect(u.Spec.Active).To(HaveValue(BeTrue()))
	Expect(u.Annotations).NotTo(HaveKey(v1.AnnotationSuspendedBy))
	expectMarkedBy(u, provider)
}

// storedMemberIDs returns the member ids of a stored role.
func storedMemberIDs(id string) []string {
	GinkgoHelper()
	var ids []string
	for _, m := range getRole(id).Spec.Members {
		ids = append(ids, m.Value)
	}
	return ids
}

// writtenBySCIM returns what a SCIM write changes in a stored object: its spec, as its generation
// counts it, its labels and its annotations. Unlike the resourceVersion, it leaves out the status,
// which the controllers write when they run, as they do under make conformance.
func writtenBySCIM(obj client.Object) []any {
	return []any{obj.GetGeneration(), obj.GetLabels(), obj.GetAnnotations()}
}

// expectListed waits until the list at path (a query) holds a resource with id, as the server's
// cache catches up with an object declared with kubectl a moment before; an IdP finds groups
// declared in Git long after they were applied.
func expectListed(provider, path, id string) {
	GinkgoHelper()
	Eventually(func() []string {
		var ids []string
		for _, res := range call(server.URL, provider, "GET", path, "").expectStatus(http.StatusOK).listedResources() {
			ids = append(ids, fmt.Sprint(res["id"]))
		}
		return ids
	}).Should(ContainElement(id), "GET %s", path)
}

// declareRole creates a ScimRole as GitOps declares one, granting clusterRole, and returns its name
// (its SCIM id). The name looks like a server-generated id, as StrongDM's smoke tests
// (scimsdk_test.go) require of every group they list.
func declareRole(displayName, clusterRole string) string {
	GinkgoHelper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	role := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("r-%x", b)},
		Spec: v1.ScimRoleSpec{DisplayName: displayName, Access: &v1.Access{ClusterRoles: []string{clusterRole}}}}
	Expect(k8sClient.Create(ctx, role)).To(Succeed())
	return role.Name
}
