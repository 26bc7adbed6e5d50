package scimserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver"
)

// fresh is the user as rendered for this request: excludedAttributes of an attribute these users
// do not have takes the path that renders and projects, not the render cache.
func fresh(base, id string) map[string]any {
	GinkgoHelper()
	return call(base, "generic", "GET", "/Users/"+id+"?excludedAttributes=nickName", "").expectStatus(http.StatusOK).body
}

// A GET without attributes or excludedAttributes is served from the render cache (the full
// representation encoded once per version of the user and of its groups): it must answer exactly
// what rendering the user afresh answers, and never a version older than the cache holds.
var _ = Describe("The render cache of GET by id", func() {
	displayNamePatch := func(name string) string {
		return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":%q}]}`, name)
	}

	It("serves a PATCH's result at once on the replica that wrote it, and as soon as its cache has it on another", func() {
		a, b := server.URL, startInstance()
		defer b.Close()
		id := call(a, "generic", "POST", "/Users", userBody(unique("rc-user")+"@example.test", "Ada", "Lovelace")).expectStatus(http.StatusCreated).str("id")
		// Both replicas render and keep the first version.
		first := call(a, "generic", "GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Eventually(func() int { return call(b.URL, "generic", "GET", "/Users/"+id, "").StatusCode }).Should(Equal(http.StatusOK))
		Expect(first.body).To(Equal(fresh(a, id)))

		for i := range 3 {
			name := fmt.Sprintf("Ada %d", i)
			patched := call(a, "generic", "PATCH", "/Users/"+id, displayNamePatch(name)).expectStatus(http.StatusOK)
			got := call(a, "generic", "GET", "/Users/"+id, "").expectStatus(http.StatusOK)
			Expect(got.body["displayName"]).To(Equal(name), "the writing replica served an older version")
			Expect(got.Header.Get("ETag")).To(Equal(patched.Header.Get("ETag")))
			Expect(got.body).To(Equal(fresh(a, id)))
			Eventually(func() any { return call(b.URL, "generic", "GET", "/Users/"+id, "").body["displayName"] }).Should(Equal(name))
			Expect(call(b.URL, "generic", "GET", "/Users/"+id, "").body).To(Equal(fresh(b.URL, id)))
		}
	})

	It("renders a user ahead of its first GET once the informer has it, and again after a change", func() {
		b := startInstanceWith(operatorCfg, func(o *scimserver.Options) { o.PrerenderDelay = 50 * time.Millisecond })
		defer b.Close()
		renders := func(cause string) float64 {
			return metricValue("scim_user_renders_total", map[string]string{"cause": cause})
		}
		// The new instance renders the users its informer lists at start first; once they are
		// done, what is rendered ahead is this spec's user.
		last := -1.0
		Eventually(func() bool {
			now := renders("ahead")
			settled := now == last
			last = now
			return settled
		}).WithPolling(300 * time.Millisecond).WithTimeout(30 * time.Second).Should(BeTrue())
		ahead := last
		id := call(b.URL, "generic", "POST", "/Users", userBody(unique("rc-ahead")+"@example.test", "Grace", "Hopper")).expectStatus(http.StatusCreated).str("id")
		Eventually(func() float64 { return renders("ahead") }).Should(BeNumerically(">", ahead))
		onRequest := renders("request")
		got := call(b.URL, "generic", "GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(renders("request")).To(Equal(onRequest), "the first GET rendered the user")
		Expect(got.body).To(Equal(fresh(b.URL, id)))

		ahead = renders("ahead")
		patched := call(b.URL, "generic", "PATCH", "/Users/"+id, displayNamePatch("Amazing Grace")).expectStatus(http.StatusOK)
		Eventually(func() float64 { return renders("ahead") }).Should(BeNumerically(">", ahead))
		onRequest = renders("request")
		got = call(b.URL, "generic", "GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(renders("request")).To(Equal(onRequest), "the GET after the PATCH rendered the user")
		Expect(got.body["displayName"]).To(Equal("Amazing Grace"))
		Expect(got.Header.Get("ETag")).To(Equal(patched.Header.Get("ETag")))
	})

	It("answers an equality filter with the users as GET renders them, from the render cache", func() {
		userName := unique("Rc-Eq") + "@Example.test"
		externalID := unique("ext-rc-eq")
		id := scim("POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"externalId":%q,"displayName":"Eq Tester","active":true}`,
			userName, externalID)).expectStatus(http.StatusCreated).str("id")
		gid := createGroup(unique("RcEqGroup"))
		scim("PATCH", "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id)).
			expectStatus(http.StatusOK)
		requests := func() float64 { return metricValue("scim_user_renders_total", map[string]string{"cause": "request"}) }

		// The suite's instance renders on reads only: the first lookup renders the user, the GET
		// after it does not.
		before := requests()
		lookup := scim("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", strings.ToLower(userName))), "").expectStatus(http.StatusOK)
		Expect(lookup.body["Resources"]).To(HaveLen(1))
		Expect(requests()).To(Equal(before+1), "the lookup did not render the user into the render cache")
		Expect(scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body).To(Equal(lookup.body["Resources"].([]any)[0]))
		Expect(requests()).To(Equal(before+1), "the GET after the lookup rendered the user again")

		// Each answer is the one rendering afresh gives (excludedAttributes of an attribute these
		// users do not have takes that path).
		for _, f := range []struct {
			filter string
			found  int
		}{
			{fmt.Sprintf("userName eq %q", userName), 1},
			{fmt.Sprintf("userName eq %q", strings.ToUpper(userName)), 1},
			{fmt.Sprintf("externalId eq %q", externalID), 1},
			{fmt.Sprintf("externalId eq %q", strings.ToUpper(externalID)), 0},
			{fmt.Sprintf("id eq %q", id), 1},
			{`id eq "a-nobody"`, 0},
			{`displayName eq "eq tester"`, -1}, // every user of the suite of that name
			{`userName eq "nobody@example.test"`, 0},
		} {
			for _, paging := range []string{"", "&count=0", "&startIndex=2"} {
				path := "/Users?filter=" + url.QueryEscape(f.filter) + paging
				got := scim("GET", path, "").expectStatus(http.StatusOK)
				Expect(got.body).To(Equal(scim("GET", path+"&excludedAttributes=nickName", "").expectStatus(http.StatusOK).body), path)
				if f.found >= 0 {
					Expect(got.body["totalResults"]).To(BeNumerically("==", f.found), path)
				}
			}
		}
		// A search (POST /Users/.search) takes the same path.
		search := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":%q}`, fmt.Sprintf("externalId eq %q", externalID))
		Expect(scim("POST", "/Users/.search", search).expectStatus(http.StatusOK).body["Resources"]).To(Equal(lookup.body["Resources"]))
	})

	It("answers If-None-Match with 304 for the cached version only", func() {
		id := createUser(unique("rc-etag") + "@example.test")
		etag := scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).Header.Get("ETag")
		Expect(etag).NotTo(BeEmpty())
		scim("GET", "/Users/"+id, "", "If-None-Match", etag).expectStatus(http.StatusNotModified)
		scim("PATCH", "/Users/"+id, displayNamePatch("Changed")).expectStatus(http.StatusOK)
		got := scim("GET", "/Users/"+id, "", "If-None-Match", etag).expectStatus(http.StatusOK)
		Expect(got.Header.Get("ETag")).NotTo(Equal(etag))
		Expect(got.body["displayName"]).To(Equal("Changed"))
	})

	It("follows the user's groups: joining, a renamed group and leaving, on the replica that wrote them", func() {
		id := createUser(unique("rc-member") + "@example.test")
		gid := createGroup(unique("RcGroup"))
		Expect(scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body["groups"]).To(BeEmpty())

		scim("PATCH", "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id)).
			expectStatus(http.StatusOK)
		groups := func() any { return scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body["groups"] }
		Expect(groups()).To(ConsistOf(HaveKeyWithValue("value", gid)))

		renamed := unique("RcRenamed")
		scim("PATCH", "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":%q}]}`, renamed)).
			expectStatus(http.StatusOK)
		Expect(groups()).To(ConsistOf(And(HaveKeyWithValue("value", gid), HaveKeyWithValue("display", renamed))))

		scim("PATCH", "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":%q}]}`, fmt.Sprintf("members[value eq %q]", id))).
			expectStatus(http.StatusOK)
		Expect(groups()).To(BeEmpty())
		Expect(scim("GET", "/Users/"+id, "").body).To(Equal(fresh(server.URL, id)))
	})

	It("follows the user's groups changed without SCIM (a role declared with kubectl, renamed, deleted)", func() {
		id := createUser(unique("rc-declared") + "@example.test")
		groups := func() any { return scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body["groups"] }
		// Rendered and kept: what follows is served from the render cache, which must follow roles
		// changed without a SCIM write (store/membershipclock_test.go shows the lookups it skips).
		Expect(groups()).To(BeEmpty())

		role := &v1.ScimRole{}
		role.Name = unique("rc-declared-role")
		role.Spec.DisplayName = unique("RcDeclared")
		role.Spec.Members = []v1.Member{{Value: id}}
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		Eventually(groups).Should(ConsistOf(And(HaveKeyWithValue("value", role.Name), HaveKeyWithValue("display", role.Spec.DisplayName))))

		renamed := unique("RcDeclaredRenamed")
		Eventually(func() error {
			r := &v1.ScimRole{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(role), r); err != nil {
				return err
			}
			r.Spec.DisplayName = renamed
			return k8sClient.Update(ctx, r)
		}).Should(Succeed())
		Eventually(groups).Should(ConsistOf(HaveKeyWithValue("display", renamed)))

		Expect(k8sClient.Delete(ctx, role)).To(Succeed())
		Eventually(groups).Should(BeEmpty())
		Expect(scim("GET", "/Users/"+id, "").body).To(Equal(fresh(server.URL, id)))
	})

	It("follows a write made without SCIM (kubectl), and a user deleted and created again under the same id", func() {
		userName := unique("rc-kubectl") + "@example.test"
		id := createUser(userName)
		scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		u := getUser(id)
		u.Spec.Title = "Edited with kubectl"
		Expect(k8sClient.Update(ctx, u)).To(Succeed())
		Eventually(func() any { return scim("GET", "/Users/"+id, "").body["title"] }).Should(Equal("Edited with kubectl"))

		scim("DELETE", "/Users/"+id, "").expectStatus(http.StatusNoContent)
		Eventually(func() error { return k8sClient.Get(ctx, client.ObjectKey{Name: id}, &v1.ScimUser{}) }).ShouldNot(Succeed())
		again := scim("POST", "/Users", userBody(userName, "Second", "Life")).expectStatus(http.StatusCreated)
		Expect(again.str("id")).To(Equal(id), "ids derive from userName")
		got := scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK)
		Expect(got.body["title"]).To(BeNil())
		Expect(got.body["name"]).To(HaveKeyWithValue("givenName", "Second"))
		Expect(got.body).To(Equal(fresh(server.URL, id)))
	})
})

// The cache holds ScimUsers and ScimRoles without managedFields (store.TransformCached):
// meta.lastModified, which their times give, must still follow every write, and writes of cached
// objects must leave the stored managedFields as they are.
var _ = Describe("Users cached without managedFields", func() {
	It("keep meta.lastModified and the stored managedFields across writes", func() {
		id := createUser(unique("rc-lastmod") + "@example.test")
		created := scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body["meta"].(map[string]any)
		Expect(created["lastModified"]).To(Equal(created["created"]))
		// lastModified has a resolution of a second.
		time.Sleep(1100 * time.Millisecond)
		patched := scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Later"}]}`).
			expectStatus(http.StatusOK).body["meta"].(map[string]any)
		Expect(patched["lastModified"]).NotTo(Equal(created["lastModified"]))
		got := scim("GET", "/Users/"+id, "").expectStatus(http.StatusOK).body["meta"].(map[string]any)
		Expect(got["lastModified"]).To(Equal(patched["lastModified"]), "the cached user's lastModified")
		Expect(fresh(server.URL, id)["meta"]).To(Equal(got))

		stored := getUser(id)
		Expect(stored.ManagedFields).NotTo(BeEmpty(), "an Update of a cached user keeps the stored managedFields")
	})
})
