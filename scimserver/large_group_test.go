package scimserver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver"
)

// Groups beyond the inline threshold keep their members in ScimRoleMembers shards
// (docs/design.md, "Groups of 100,000 members"). The instance here keeps 10 members in a role and
// 25 in a shard, so that a few PATCHes take a group through several shards.
var _ = Describe("Large groups", Ordered, func() {
	const inline, perShard = 10, 25
	var base string
	var ts *httptest.Server
	large := func(method, path, body string, headers ...string) *response {
		GinkgoHelper()
		return call(base, "okta", method, path, body, headers...)
	}
	// shardsOf reads the role's shards from the API server.
	shardsOf := func(id string) []v1.ScimRoleMembers {
		GinkgoHelper()
		list := &v1.ScimRoleMembersList{}
		Expect(k8sClient.List(ctx, list, client.MatchingLabels{v1.LabelRole: id})).To(Succeed())
		return list.Items
	}
	// stored returns every member id of the role and its shards, as stored.
	stored := func(id string) []string {
		GinkgoHelper()
		return v1.RoleMemberIDs(getRole(id), shardsOf(id))
	}
	// served returns the member ids GET /Groups/{id} returns.
	served := func(id string) []string {
		GinkgoHelper()
		var out []string
		for _, m := range large("GET", "/Groups/"+id, "").expectStatus(http.StatusOK).body["members"].([]any) {
			out = append(out, m.(map[string]any)["value"].(string))
		}
		return out
	}
	// addMembers is Okta's PATCH adding members.
	// https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/#update-a-specific-group-membership
	addMembers := func(id string, users []string) *response {
		GinkgoHelper()
		var values []string
		for _, u := range users {
			values = append(values, fmt.Sprintf(`{"value":%q,"display":"%s@example.test"}`, u, u))
		}
		return large("PATCH", "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+
			`{"op":"add","path":"members","value":[`+strings.Join(values, ",")+`]}]}`)
	}
	var users []string

	BeforeAll(func() {
		ts = startInstanceWith(operatorCfg, func(o *scimserver.Options) { o.InlineMembers, o.MembersPerShard = inline, perShard })
		base = ts.URL
		for range 80 {
			users = append(users, createUser(unique("member")+"@example.test"))
		}
	})
	AfterAll(func() { ts.Close() })

	It("fills a group through several shards by PATCHes of members, each writing bounded objects", func() {
		id := createGroup(unique("Everyone"))
		var versions []string
		for i := 0; i < len(users); i += 10 {
			r := addMembers(id, users[i:i+10])
			Expect(r.StatusCode).To(BeElementOf(http.StatusOK, http.StatusNoContent), "body: %s", r.raw)
			versions = append(versions, r.Header.Get("ETag"))
		}
		Expect(versions).To(HaveLen(8))
		for i := 1; i < len(versions); i++ {
			Expect(versions[i]).NotTo(Equal(versions[i-1]), "every PATCH gives the group a new version, also one that writes a shard only")
		}
		Expect(served(id)).To(ConsistOf(users))
		Expect(stored(id)).To(ConsistOf(users))
		Expect(getRole(id).Spec.Members).To(HaveLen(inline))
		shards := shardsOf(id)
		Expect(len(shards)).To(BeNumerically(">=", 3))
		for _, sh := range shards {
			Expect(len(sh.Spec.Members)).To(BeNumerically("<=", perShard))
			Expect(sh.Spec.Role).To(Equal(id))
			Expect(sh.OwnerReferences).To(ConsistOf(HaveField("UID", getRole(id).UID)))
		}
		r := large("GET", "/Groups/"+id, "").expectStatus(http.StatusOK)
		Expect(r.Header.Get("ETag")).To(Equal(versions[len(versions)-1]))
		Expect(large("GET", "/Groups/"+id+"?excludedAttributes=members", "").expectStatus(http.StatusOK).body).NotTo(HaveKey("members"))

		By("a user in a shard lists the group, and a filter on members finds it")
		last := users[len(users)-1]
		Expect(large("GET", "/Users/"+last, "").expectStatus(http.StatusOK).body["groups"]).To(ConsistOf(HaveKeyWithValue("value", id)))
		found := large("GET", "/Groups?filter="+escapeQuery(fmt.Sprintf(`members.value eq "%s"`, last)), "").expectStatus(http.StatusOK)
		Expect(found.listedResources()).To(ConsistOf(HaveKeyWithValue("id", id)))

		By("a member added again changes nothing: 204")
		large("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q,"display":"%s@example.test"}]}`, last, last))).
			expectStatus(http.StatusNoContent)

		By("If-Match is the group's version, shards included")
		stale := versions[0]
		large("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, last)), "If-Match", stale).
			expectError(http.StatusPreconditionFailed, "")
		Expect(stored(id)).To(ContainElement(last))
	})

	It("removes members from the middle shard by filter and by value, writing only that shard", func() {
		id := createGroup(unique("Everyone"))
		for i := 0; i < 60; i += 10 {
			addMembers(id, users[i:i+10])
		}
		shards := shardsOf(id)
		Expect(len(shards)).To(BeNumerically(">=", 2))
		middle := shards[0]
		gone := middle.Spec.Members[3].Value
		other := middle.Spec.Members[4].Value
		roleVersion := getRole(id).ResourceVersion
		untouched := map[string]string{}
		for _, sh := range shards[1:] {
			untouched[sh.Name] = sh.ResourceVersion
		}
		// Okta removes a member with a value filter; Entra ID with the value (accepted from every
		// provider, see package patch).
		// https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups#update-group-remove-members
		large("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, gone))).
			expectStatus(http.StatusNoContent)
		large("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members","value":[{"value":%q}]}`, other))).
			expectStatus(http.StatusNoContent)
		Expect(stored(id)).NotTo(ContainElements(gone))
		Expect(stored(id)).NotTo(ContainElements(other))
		Expect(stored(id)).To(HaveLen(58))
		Expect(served(id)).To(ConsistOf(stored(id)))
		Expect(getRole(id).ResourceVersion).To(Equal(roleVersion), "the role is not written")
		for _, sh := range shardsOf(id) {
			if rv, ok := untouched[sh.Name]; ok {
				Expect(sh.ResourceVersion).To(Equal(rv), "shard %s is not written", sh.Name)
			}
		}
	})

	It("replaces the members with PUT and replace: shards shrink, then go", func() {
		id := createGroup(unique("Everyone"))
		for i := 0; i < 80; i += 10 {
			addMembers(id, users[i:i+10])
		}
		name := getRole(id).Spec.DisplayName
		put := func(members []string) *response {
			var ms []string
			for _, m := range members {
				ms = append(ms, fmt.Sprintf(`{"value":%q}`, m))
			}
			return large("PUT", "/Groups/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[%s]}`,
				name, strings.Join(ms, ",")))
		}
		r := put(users[40:70]).expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(HaveLen(30))
		Expect(stored(id)).To(ConsistOf(users[40:70]))
		Expect(len(shardsOf(id))).To(BeNumerically("<=", 2), "emptied shards are deleted")
		for _, sh := range shardsOf(id) {
			Expect(sh.Spec.Members).NotTo(BeEmpty())
		}

		var values []string
		for _, u := range users[:5] {
			values = append(values, fmt.Sprintf(`{"value":%q}`, u))
		}
		large("PATCH", "/Groups/"+id, groupPatch(`{"op":"replace","path":"members","value":[`+strings.Join(values, ",")+`]}`)).
			expectStatus(http.StatusOK)
		Expect(stored(id)).To(ConsistOf(users[:5]))
		Expect(shardsOf(id)).To(BeEmpty(), "members that fit the role leave no shard")
		Expect(getRole(id).Spec.Members).To(HaveLen(5))
	})

	It("lets concurrent member PATCHes of a sharded group all through", func() {
		id := createGroup(unique("Everyone"))
		addMembers(id, users[:40])
		// 8 adds of 5 new members and 10 single removes at once, as an IdP pushes in parallel.
		var wg sync.WaitGroup
		statuses := make(chan int, 18)
		for i := range 8 {
			wg.Go(func() {
				defer GinkgoRecover()
				statuses <- addMembers(id, users[40+5*i:45+5*i]).StatusCode
			})
		}
		for _, u := range users[10:20] {
			wg.Go(func() {
				defer GinkgoRecover()
				statuses <- large("PATCH", "/Groups/"+id, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, u))).StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		for status := range statuses {
			Expect(status).To(BeElementOf(http.StatusOK, http.StatusNoContent))
		}
		want := append(slices.Clone(users[:10]), users[20:80]...)
		Expect(stored(id)).To(ConsistOf(want))
		Expect(served(id)).To(ConsistOf(want))
	})

	It("creates a large group at once, and a deleted user leaves the shard it was in", func() {
		var ms []string
		for _, u := range users[:40] {
			ms = append(ms, fmt.Sprintf(`{"value":%q}`, u))
		}
		r := large("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[%s]}`,
			unique("Everyone"), strings.Join(ms, ","))).expectStatus(http.StatusCreated)
		id := r.str("id")
		Expect(r.body["members"]).To(HaveLen(40))
		Expect(shardsOf(id)).NotTo(BeEmpty())

		leaving := shardsOf(id)[0].Spec.Members[0].Value
		large("DELETE", "/Users/"+leaving, "").expectStatus(http.StatusNoContent)
		Expect(stored(id)).To(HaveLen(39))
		Expect(stored(id)).NotTo(ContainElement(leaving))
	})
})
