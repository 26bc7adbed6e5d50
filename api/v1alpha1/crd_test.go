package v1alpha1_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

var seq int

func uniqueName(prefix string) string {
	seq++
	return fmt.Sprintf("%s-%d", prefix, seq)
}

// unstructuredOf builds an object of kind with the given spec, so that tests can send shapes the Go
// types cannot express (missing required fields, wrong types).
func unstructuredOf(kind string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: v1.GroupVersion.Group, Version: v1.GroupVersion.Version, Kind: kind})
	u.SetName(uniqueName("obj"))
	return u
}

// values returns n distinct values of a multi-valued attribute.
func values(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"value": fmt.Sprintf("v%d", i), "type": "work"}
	}
	return out
}

// expectInvalid asserts that creating obj fails as Invalid with a message that contains each of want.
func expectInvalid(obj client.Object, want ...string) {
	err := k8sClient.Create(ctx, obj)
	Expect(err).To(HaveOccurred(), "the API server accepted an invalid object")
	Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
	for _, w := range want {
		Expect(err.Error()).To(ContainSubstring(w))
	}
}

var _ = Describe("ScimUser CRD", func() {
	It("accepts a complete user and round-trips every field", func() {
		u := &v1.ScimUser{
			ObjectMeta: metav1.ObjectMeta{Name: "a-0123456789abcdef"},
			Spec: v1.ScimUserSpec{
				UserName:   "alice@example.com",
				ExternalID: "00u1",
				Name: &v1.Name{Formatted: "Ms. Alice B. Liddell III", FamilyName: "Liddell", GivenName: "Alice",
					MiddleName: "B.", HonorificPrefix: "Ms.", HonorificSuffix: "III"},
				DisplayName: "Alice Liddell", NickName: "Al", ProfileURL: "https://example.com/alice", Title: "Engineer",
				UserType: "user", PreferredLanguage: "en-GB", Locale: "en-GB", Timezone: "Europe/London",
				Emails:           []v1.MultiValuedAttribute{{Value: "alice@example.com", Type: "work", Primary: new(true)}},
				PhoneNumbers:     []v1.MultiValuedAttribute{{Value: "+44 1234", Type: "mobile"}},
				IMs:              []v1.MultiValuedAttribute{{Value: "alice", Type: "xmpp"}},
				Photos:           []v1.MultiValuedAttribute{{Value: "https://example.com/a.png", Type: "photo"}},
				Addresses:        []v1.Address{{StreetAddress: "1 Rabbit Hole", Locality: "Oxford", Country: "GB", Type: "work", Primary: new(true)}},
				Entitlements:     []v1.MultiValuedAttribute{{Value: "e1", Display: "E1"}},
				Roles:            []v1.MultiValuedAttribute{{Value: "dev"}},
				X509Certificates: []v1.MultiValuedAttribute{{Value: "MIIB"}},
				Enterprise: &v1.EnterpriseUser{EmployeeNumber: "42", CostCenter: "cc", Organization: "org",
					Division: "div", Department: "dept", Manager: &v1.Manager{Value: "a-1", DisplayName: "Boss"}},
			},
		}
		want := u.Spec.DeepCopy()
		want.Active = ptr.To(true)
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		got := &v1.ScimUser{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got)).To(Succeed())
		Expect(got.Spec).To(Equal(*want))
	})

	It("defaults spec.active to true", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("a")}, Spec: v1.ScimUserSpec{UserName: "defaulted"}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		Expect(u.Spec.Active).To(Equal(ptr.To(true)))
		Expect(u.IsActive()).To(BeTrue())
	})

	It("keeps an explicit active: false", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("a")}, Spec: v1.ScimUserSpec{UserName: "off", Active: ptr.To(false)}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		Expect(u.IsActive()).To(BeFalse())
	})

	DescribeTable("rejects invalid users",
		func(spec map[string]any, want string) {
			expectInvalid(unstructuredOf("ScimUser", spec), want)
		},
		Entry("missing userName", map[string]any{"displayName": "x"}, "spec.userName: Required value"),
		Entry("empty userName", map[string]any{"userName": ""}, "spec.userName"),
		Entry("blank userName", map[string]any{"userName": "  \t"}, "userName must not be blank"),
		Entry("userName with leading white space", map[string]any{"userName": " alice"}, "userName must not begin or end with white space"),
		Entry("userName with trailing white space", map[string]any{"userName": "alice\t"}, "userName must not begin or end with white space"),
		Entry("userName with a trailing no-break space", map[string]any{"userName": "alice\u00a0"}, "userName must not begin or end with white space"),
		Entry("active of the wrong type", map[string]any{"userName": "x", "active": "yes"}, "spec.active"),
		Entry("emails not a list", map[string]any{"userName": "x", "emails": "a@b"}, "spec.emails"),
		Entry("unknown field inside name is pruned, wrong type is not", map[string]any{"userName": "x", "name": "Alice"}, "spec.name"),
		Entry("more than 256 emails", map[string]any{"userName": "x", "emails": values(257)}, "spec.emails: Too many: 257"),
		Entry("more than 256 addresses", map[string]any{"userName": "x", "addresses": values(257)}, "spec.addresses: Too many: 257"),
	)

	It("has a status subresource: status is not written through the main resource", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("a")}, Spec: v1.ScimUserSpec{UserName: "status-test"}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		u.Status.Subject = "oidc:status-test"
		Expect(k8sClient.Update(ctx, u)).To(Succeed())
		got := &v1.ScimUser{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got)).To(Succeed())
		Expect(got.Status.Subject).To(BeEmpty(), "status written through the main resource")

		got.Status.Subject = "oidc:status-test"
		got.Status.ObservedGeneration = got.Generation
		Expect(k8sClient.Status().Update(ctx, got)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got)).To(Succeed())
		Expect(got.Status.Subject).To(Equal("oidc:status-test"))
		Expect(got.Generation).To(Equal(int64(1)), "a status write must not bump the generation")
	})

	It("prunes status.roles, which an earlier manager wrote and the status no longer has", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("a")}, Spec: v1.ScimUserSpec{UserName: "roles-test"}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		patch := client.RawPatch(types.MergePatchType, []byte(`{"status":{"subject":"oidc:roles-test","roles":[{"value":"r-1","display":"Role"}]}}`))
		Expect(k8sClient.Status().Patch(ctx, u, patch)).To(Succeed())
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(v1.GroupVersion.WithKind("ScimUser"))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(u), got)).To(Succeed())
		Expect(got.Object["status"]).To(Equal(map[string]any{"subject": "oidc:roles-test"}))
	})

	It("keeps status.conditions a map keyed by type", func() {
		u := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("a")}, Spec: v1.ScimUserSpec{UserName: "cond-test"}}
		Expect(k8sClient.Create(ctx, u)).To(Succeed())
		c := metav1.Condition{Type: v1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1.ReasonBindingsApplied, LastTransitionTime: metav1.Now()}
		u.Status.Conditions = []metav1.Condition{c, c}
		err := k8sClient.Status().Update(ctx, u)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "duplicate condition types were accepted: %v", err)
		Expect(err.Error()).To(ContainSubstring("Duplicate value"))
	})
})

var _ = Describe("ScimRole CRD", func() {
	It("accepts a role with members and access", func() {
		r := &v1.ScimRole{
			ObjectMeta: metav1.ObjectMeta{Name: "r-0123456789abcdef"},
			Spec: v1.ScimRoleSpec{
				DisplayName: "Platform", ExternalID: "g1",
				Members: []v1.Member{{Value: "a-0123456789abcdef", Display: "alice"}},
				Access: &v1.Access{
					ClusterRoles: []string{"view", "system:aggregate-to-view"},
					Namespaced: []v1.NamespacedAccess{
						{Namespace: "team-a", ClusterRole: "edit"},
						{Namespace: "team-b", Role: "deployer"},
					},
				},
			},
		}
		want := r.Spec.DeepCopy()
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		got := &v1.ScimRole{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(r), got)).To(Succeed())
		Expect(got.Spec).To(Equal(*want))
	})

	It("accepts a displayName with surrounding white space: the SCIM uniqueness key trims it", func() {
		r := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("r")}, Spec: v1.ScimRoleSpec{DisplayName: " Admins "}}
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		Expect(r.Spec.DisplayName).To(Equal(" Admins "))
	})

	DescribeTable("rejects invalid roles",
		func(spec map[string]any, want string) {
			expectInvalid(unstructuredOf("ScimRole", spec), want)
		},
		Entry("missing displayName", map[string]any{"members": []any{}}, "spec.displayName: Required value"),
		Entry("empty displayName", map[string]any{"displayName": ""}, "spec.displayName"),
		Entry("blank displayName", map[string]any{"displayName": " "}, "displayName must not be blank"),
		Entry("namespaced entry naming both role and clusterRole",
			map[string]any{"displayName": "x", "access": map[string]any{"namespaced": []any{
				map[string]any{"namespace": "ns", "role": "r", "clusterRole": "c"}}}},
			"exactly one of role or clusterRole must be set"),
		Entry("namespaced entry naming neither role nor clusterRole",
			map[string]any{"displayName": "x", "access": map[string]any{"namespaced": []any{
				map[string]any{"namespace": "ns"}}}},
			"exactly one of role or clusterRole must be set"),
		Entry("namespaced entry without namespace",
			map[string]any{"displayName": "x", "access": map[string]any{"namespaced": []any{
				map[string]any{"clusterRole": "edit"}}}},
			"namespace: Required value"),
		Entry("bad namespace name",
			map[string]any{"displayName": "x", "access": map[string]any{"namespaced": []any{
				map[string]any{"namespace": "Team_A", "clusterRole": "edit"}}}},
			"spec.access.namespaced[0].namespace"),
		Entry("namespace name too long",
			map[string]any{"displayName": "x", "access": map[string]any{"namespaced": []any{
				map[string]any{"namespace": fmt.Sprintf("%064d", 0), "clusterRole": "edit"}}}},
			"spec.access.namespaced[0].namespace"),
		Entry("empty clusterRole name",
			map[string]any{"displayName": "x", "access": map[string]any{"clusterRoles": []any{""}}},
			"spec.access.clusterRoles[0]"),
		Entry("clusterRole name with a slash",
			map[string]any{"displayName": "x", "access": map[string]any{"clusterRoles": []any{"a/b"}}},
			"spec.access.clusterRoles[0]"),
		Entry("duplicate clusterRole",
			map[string]any{"displayName": "x", "access": map[string]any{"clusterRoles": []any{"view", "view"}}},
			"Duplicate value"),
		Entry("member without value",
			map[string]any{"displayName": "x", "members": []any{map[string]any{"display": "d"}}},
			"value: Required value"),
		Entry("duplicate member",
			map[string]any{"displayName": "x", "members": []any{map[string]any{"value": "a-1"}, map[string]any{"value": "a-1"}}},
			"Duplicate value"),
	)

	It("has a status subresource", func() {
		r := &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("r")}, Spec: v1.ScimRoleSpec{DisplayName: "status-role"}}
		Expect(k8sClient.Create(ctx, r)).To(Succeed())
		r.Status.MemberCount = 5
		Expect(k8sClient.Update(ctx, r)).To(Succeed())
		got := &v1.ScimRole{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(r), got)).To(Succeed())
		Expect(got.Status.MemberCount).To(BeZero())
		got.Status.MemberCount = 5
		Expect(k8sClient.Status().Update(ctx, got)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(r), got)).To(Succeed())
		Expect(got.Status.MemberCount).To(Equal(int32(5)))
	})
})

var _ = Describe("ScimRoleMembers CRD", func() {
	members := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"value": fmt.Sprintf("a-%016x", i)}
		}
		return out
	}

	It("holds at most MaxMembersPerShard members and needs a role", func() {
		ok := unstructuredOf("ScimRoleMembers", map[string]any{"role": "r-1", "members": members(v1.MaxMembersPerShard)})
		Expect(k8sClient.Create(ctx, ok)).To(Succeed())
		expectInvalid(unstructuredOf("ScimRoleMembers", map[string]any{"role": "r-1", "members": members(v1.MaxMembersPerShard + 1)}), "spec.members")
		expectInvalid(unstructuredOf("ScimRoleMembers", map[string]any{"members": members(1)}), "spec.role")
	})

	It("keeps its role", func() {
		shard := unstructuredOf("ScimRoleMembers", map[string]any{"role": "r-1"})
		Expect(k8sClient.Create(ctx, shard)).To(Succeed())
		Expect(unstructured.SetNestedField(shard.Object, "r-2", "spec", "role")).To(Succeed())
		err := k8sClient.Update(ctx, shard)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("role is immutable"))
	})
})
