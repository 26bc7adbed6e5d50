package scimserver_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// Rule 1 marks the users a Group write adds. An IdP filling a group of thousands adds users it
// created, marked already: marking them again would be a write per member for nothing.
var _ = Describe("Marking the members a group PATCH adds", func() {
	It("writes only the users whose marking changes", func() {
		instance, log := startCountedInstance()
		defer instance.Close()

		// Created through SCIM by the generic provider: marked by it.
		var created []string
		for range 3 {
			created = append(created, call(instance.URL, "generic", "POST", "/Users", userBody(unique("mark-scim")+"@example.test", "G", "F")).
				expectStatus(http.StatusCreated).str("id"))
		}
		// Declared in YAML: unmarked.
		declared := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("a-mark-declared-")}, Spec: v1.ScimUserSpec{UserName: unique("mark-declared") + "@example.test"}}
		Expect(k8sClient.Create(ctx, declared)).To(Succeed())
		gid := call(instance.URL, "generic", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+unique("Marking")+`"}`).
			expectStatus(http.StatusCreated).str("id")

		var values []string
		for _, id := range append(created, declared.Name) {
			values = append(values, fmt.Sprintf(`{"value":%q}`, id))
		}
		add := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[` + strings.Join(values, ",") + `]}]}`
		before := len(log.scimObjectRequests())
		// The declared user may not be in this replica's cache yet: the PATCH is retried until it is.
		Eventually(func() int { return call(instance.URL, "generic", "PATCH", "/Groups/"+gid, add).StatusCode }).Should(Equal(http.StatusOK))

		userWrites := map[string]int{}
		for _, r := range log.scimObjectRequests()[before:] {
			method, path, _ := strings.Cut(r, " ")
			if method == http.MethodGet || !strings.Contains(path, "/scimusers/") {
				continue
			}
			name := strings.TrimPrefix(path[strings.LastIndex(path, "/scimusers/"):], "/scimusers/")
			name, _, _ = strings.Cut(name, "?")
			userWrites[name]++
		}
		Expect(userWrites).To(Equal(map[string]int{declared.Name: 1}), "only the unmarked user is written, once")
		Expect(getUser(declared.Name).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))
		for _, id := range created {
			Expect(getUser(id).Labels).To(HaveKeyWithValue(v1.LabelManagedBy, "generic"))
		}
	})
})
