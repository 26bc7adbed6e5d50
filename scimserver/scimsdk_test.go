package scimserver_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/strongdm/scimsdk"
	"github.com/strongdm/scimsdk/models"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// These specs drive the server with StrongDM's own Go client, github.com/strongdm/scimsdk v1.0.12,
// pointed at the generic provider, and follow the flows of its smoke tests (test/smoke in its
// repository): what the client sends is what StrongDM's server must accept, and what the smoke tests
// assert about the answers is what StrongDM's server returns.

// sdkExchange is one HTTP exchange of the SDK with the server, as sdkRecorder saw it.
type sdkExchange struct {
	method, path string
	query        url.Values
	contentType  string
	body         []byte
	status       int
}

// sdkRecorder wraps http.DefaultTransport, which the SDK's http.Client{} uses, to record what the
// SDK sends and which status it gets back: the SDK itself hides both.
type sdkRecorder struct {
	next      http.RoundTripper
	mu        sync.Mutex
	exchanges []sdkExchange
}

// RoundTrip records the request and the status of its response.
func (rec *sdkRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	ex := sdkExchange{method: req.Method, path: req.URL.Path, query: req.URL.Query(), contentType: req.Header.Get("Content-Type")}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		ex.body = body
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := rec.next.RoundTrip(req)
	if resp != nil {
		ex.status = resp.StatusCode
	}
	rec.mu.Lock()
	rec.exchanges = append(rec.exchanges, ex)
	rec.mu.Unlock()
	return resp, err
}

// last returns the last recorded exchange.
func (rec *sdkRecorder) last() sdkExchange {
	GinkgoHelper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	Expect(rec.exchanges).NotTo(BeEmpty(), "the SDK sent no request")
	return rec.exchanges[len(rec.exchanges)-1]
}

// since returns the exchanges recorded after the first n.
func (rec *sdkRecorder) since(n int) []sdkExchange {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]sdkExchange(nil), rec.exchanges[n:]...)
}

// count returns the number of exchanges recorded so far.
func (rec *sdkRecorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.exchanges)
}

// sdkClient returns StrongDM's client for the suite's server as the generic provider.
func sdkClient() scimsdk.Client {
	return scimsdk.NewClient(tokens["generic"], &scimsdk.ClientOptions{APIUrl: server.URL + "/provisioning/generic/v2"})
}

// sdkCreateUser creates a user through the SDK as its smoke tests do.
func sdkCreateUser(c scimsdk.Client, userName, given, family string) *models.User {
	GinkgoHelper()
	u, err := c.Users().Create(ctx, models.CreateUser{UserName: userName, GivenName: given, FamilyName: family, Active: true})
	Expect(err).NotTo(HaveOccurred())
	return u
}

// expectSmokeUser asserts what StrongDM's smoke tests assert about every user the server returns
// after a create, find or replace with only userName, givenName, familyName and active.
func expectSmokeUser(u *models.User) {
	GinkgoHelper()
	Expect(u).NotTo(BeNil())
	Expect(u.DisplayName).NotTo(BeEmpty(), "displayName")
	Expect(u.Emails).NotTo(BeEmpty(), "emails (derived from userName)")
	Expect(u.Groups).To(BeEmpty(), "groups")
	Expect(u.UserType).NotTo(BeEmpty(), "userType")
	Expect(u.Name).NotTo(BeNil())
	Expect(u.Name.FamilyName).NotTo(BeEmpty(), "name.familyName")
	Expect(u.Name.Formatted).NotTo(BeEmpty(), "name.formatted")
	Expect(u.Name.GivenName).NotTo(BeEmpty(), "name.givenName")
	Expect(u.Active).To(BeTrue(), "active")
}

// expectSmokeGroup asserts what the smoke tests assert about every group the server returns.
func expectSmokeGroup(g *models.Group) {
	GinkgoHelper()
	Expect(g).NotTo(BeNil())
	Expect(g.ID).To(MatchRegexp(`^r-[0-9a-f]{16}$`))
	Expect(g.DisplayName).NotTo(BeEmpty())
	Expect(g.Meta).NotTo(BeNil())
	Expect(g.Meta.Location).To(Equal("Groups/"+g.ID), "meta.location is relative, as StrongDM's")
	Expect(g.Meta.ResourceType).To(Equal("Group"))
	for _, m := range g.Members {
		Expect(m.ID).NotTo(BeEmpty(), "member value")
		Expect(m.Email).NotTo(BeEmpty(), "member display")
	}
}

// sdkPages returns the SDK's paging options for a filtered listing in pages of size (0: the SDK's
// default, 5). Offset must be 1, as the SDK's own default and tests set it: the SDK sends an Offset of
// 0 as startIndex=1 but computes the next page's startIndex from 0, so the second page would start
// one item early and repeat the first page's last item.
func sdkPages(size int, filter string) *models.PaginationOptions {
	return &models.PaginationOptions{PageSize: size, Offset: 1, Filter: filter}
}

// sdkCollect runs an SDK iterator to its end and returns what it yielded. It fails instead of
// looping forever when the iterator does not stop.
func sdkCollect[T any](it models.Iterator[T], id func(*T) string) []string {
	GinkgoHelper()
	var ids []string
	for it.Next() {
		Expect(it.Err()).NotTo(HaveOccurred())
		v := it.Value()
		Expect(v).NotTo(BeNil())
		ids = append(ids, id(v))
		Expect(len(ids)).To(BeNumerically("<", 10000), "the iterator does not stop")
	}
	Expect(it.Err()).NotTo(HaveOccurred())
	return ids
}

// expectMarkedBy asserts obj's marking.
func expectMarkedBy(obj client.Object, provider string) {
	GinkgoHelper()
	if provider == "" {
		Expect(obj.GetLabels()).NotTo(HaveKey(v1.LabelManagedBy))
		return
	}
	Expect(obj.GetLabels()).To(HaveKeyWithValue(v1.LabelManagedBy, provider))
}

// expectNoObject asserts that the API server no longer holds obj named id.
func expectNoObject(id string, obj client.Object) {
	GinkgoHelper()
	err := k8sClient.Get(ctx, client.ObjectKey{Name: id}, obj)
	Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%s still exists (err %v)", id, err)
}

var _ = Describe("StrongDM's Go client (scimsdk v1.0.12)", Label(conformanceLabel, suiteScimsdk), func() {
	var (
		rec *sdkRecorder
		c   scimsdk.Client
	)

	BeforeEach(func() {
		rec = &sdkRecorder{next: http.DefaultTransport}
		http.DefaultTransport = rec
		DeferCleanup(func() { http.DefaultTransport = rec.next })
		c = sdkClient()
	})

	It("creates and finds a user from userName, givenName, familyName and active alone, as the smoke test asserts", func() {
		name := unique("sdk.create") + "@example.test"
		u := sdkCreateUser(c, name, "test", "name")
		expectSmokeUser(u)
		Expect(u.ID).To(MatchRegexp(`^a-[0-9a-f]{16}$`))
		Expect(u.UserName).To(Equal(name))
		Expect(u.DisplayName).To(Equal("test name"))
		Expect(u.Name.Formatted).To(Equal("test name"))
		Expect(u.Emails).To(ConsistOf(models.UserEmail{Primary: true, Value: name}))
		Expect(u.UserType).To(Equal("user"))

		sent := rec.last()
		Expect(sent.method).To(Equal(http.MethodPost))
		Expect(sent.path).To(Equal("/provisioning/generic/v2/Users"))
		Expect(sent.contentType).To(BeEmpty(), "the SDK sends its JSON without a Content-Type")
		Expect(sent.status).To(Equal(http.StatusCreated))

		found, err := c.Users().Find(ctx, u.ID)
		Expect(err).NotTo(HaveOccurred())
		expectSmokeUser(found)
		Expect(found).To(Equal(u), "a client reads its own write")

		stored := getUser(u.ID)
		Expect(stored.Spec.UserName).To(Equal(name))
		Expect(stored.Spec.Name).To(Equal(&v1.Name{GivenName: "test", FamilyName: "name", Formatted: "test name"}))
		Expect(stored.Spec.DisplayName).To(Equal("test name"))
		Expect(stored.Spec.Emails).To(Equal([]v1.MultiValuedAttribute{{Value: name, Primary: new(true)}}))
		Expect(stored.Spec.UserType).To(Equal("user"))
		Expect(stored.Spec.Active).To(HaveValue(BeTrue()))
		expectMarkedBy(stored, "generic")
		Expect(stored.Annotations).NotTo(HaveKey(v1.AnnotationSuspendedBy))
	})

	It("suspends and reactivates a user with its PATCH; a PATCH that changes nothing is 204 and writes nothing", func() {
		u := sdkCreateUser(c, unique("sdk.patch")+"@example.test", "test", "name")
		before := getUser(u.ID)

		ok, err := c.Users().Update(ctx, u.ID, models.UpdateUser{Active: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		sent := rec.last()
		Expect(sent.method).To(Equal(http.MethodPatch))
		Expect(sent.contentType).To(BeEmpty())
		Expect(sent.body).To(MatchJSON(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`))
		Expect(sent.status).To(Equal(http.StatusNoContent), "the user is active already")
		Expect(writtenBySCIM(getUser(u.ID))).To(Equal(writtenBySCIM(before)), "a PATCH that changes nothing writes nothing")

		ok, err = c.Users().Update(ctx, u.ID, models.UpdateUser{Active: false})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(rec.last().status).To(Equal(http.StatusOK))
		found, err := c.Users().Find(ctx, u.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(found.Active).To(BeFalse())
		suspended := getUser(u.ID)
		Expect(suspended.Spec.Active).To(HaveValue(BeFalse()))
		Expect(suspended.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByProvider))
		expectMarkedBy(suspended, "")

		ok, err = c.Users().Update(ctx, u.ID, models.UpdateUser{Active: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		found, err = c.Users().Find(ctx, u.ID)
		Expect(err).NotTo(HaveOccurred())
		expectSmokeUser(found)
		active := getUser(u.ID)
		Expect(active.Spec.Active).To(HaveValue(BeTrue()))
		Expect(active.Annotations).NotTo(HaveKey(v1.AnnotationSuspendedBy))
		expectMarkedBy(active, "generic")
	})

	It("replaces a user with its PUT, userName included, and the answer is what the smoke test asserts", func() {
		u := sdkCreateUser(c, unique("sdk.put")+"@example.test", "test", "name")
		newName := unique("sdk.replaced") + "@example.test"

		replaced, err := c.Users().Replace(ctx, u.ID, models.ReplaceUser{UserName: newName, GivenName: "test replaced", FamilyName: "name replaced", Active: true})
		Expect(err).NotTo(HaveOccurred())
		sent := rec.last()
		Expect(sent.method).To(Equal(http.MethodPut))
		Expect(sent.status).To(Equal(http.StatusOK))
		Expect(sent.body).To(MatchJSON(fmt.Sprintf(`{"id":%q,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"test replaced","familyName":"name replaced"},"active":true}`, u.ID, newName)))
		Expect(replaced.ID).To(Equal(u.ID))
		Expect(replaced.UserName).To(Equal(newName))
		Expect(replaced.Name.GivenName).To(Equal("test replaced"))
		Expect(replaced.Name.FamilyName).To(Equal("name replaced"))
		// StrongDM's smoke test asserts these after Replace, and StrongDM documents the Replace
		// response as the Create response: derived displayName, name.formatted, emails, userType.
		expectSmokeUser(replaced)
		Expect(replaced.DisplayName).To(Equal("test replaced name replaced"))
		Expect(replaced.Name.Formatted).To(Equal("test replaced name replaced"))
		Expect(replaced.Emails).To(ConsistOf(models.UserEmail{Primary: true, Value: newName}))

		stored := getUser(u.ID)
		Expect(stored.Spec.UserName).To(Equal(newName))
		Expect(stored.Spec.Name.GivenName).To(Equal("test replaced"))
		Expect(stored.Spec.Name.FamilyName).To(Equal("name replaced"))
		expectMarkedBy(stored, "generic")

		// The old userName is free again; the new one is found by filter.
		it := c.Users().List(ctx, sdkPages(0, fmt.Sprintf("userName eq %q", newName)))
		Expect(sdkCollect(it, func(u *models.User) string { return u.ID })).To(Equal([]string{u.ID}))
	})

	It("suspends a user with its PUT and active false", func() {
		name := unique("sdk.putoff") + "@example.test"
		u := sdkCreateUser(c, name, "test", "name")
		replaced, err := c.Users().Replace(ctx, u.ID, models.ReplaceUser{UserName: name, GivenName: "test", FamilyName: "name", Active: false})
		Expect(err).NotTo(HaveOccurred())
		Expect(replaced.Active).To(BeFalse())
		stored := getUser(u.ID)
		Expect(stored.Spec.Active).To(HaveValue(BeFalse()))
		Expect(stored.Annotations).To(HaveKeyWithValue(v1.AnnotationSuspendedBy, v1.SuspendedByProvider))
		expectMarkedBy(stored, "")
	})

	It("iterates users page by page: each user exactly once, and the iterator stops", func() {
		prefix := unique("sdk.page") + "-"
		want := map[string]bool{}
		for i := range 7 {
			want[sdkCreateUser(c, fmt.Sprintf("%s%d@example.test", prefix, i), "page", strconv.Itoa(i)).ID] = true
		}

		n := rec.count()
		it := c.Users().List(ctx, sdkPages(3, fmt.Sprintf("userName sw %q", prefix)))
		got := sdkCollect(it, func(u *models.User) string { return u.ID })
		Expect(got).To(HaveLen(7))
		Expect(got).To(ConsistOf(sdkKeys(want)))
		// itemsPerPage is the number of users returned, so the SDK pages on until a page is empty.
		var starts []string
		for _, ex := range rec.since(n) {
			Expect(ex.method).To(Equal(http.MethodGet))
			Expect(ex.status).To(Equal(http.StatusOK))
			Expect(ex.query.Get("count")).To(Equal("3"))
			starts = append(starts, ex.query.Get("startIndex"))
		}
		Expect(starts).To(Equal([]string{"1", "4", "7", "8"}))

		// Without options the SDK asks for pages of 5 from startIndex 1 over all users.
		all := sdkCollect(c.Users().List(ctx, nil), func(u *models.User) string { return u.ID })
		users, _ := countObjects()
		Expect(all).To(HaveLen(users), "every user once")
		Expect(all).To(ContainElements(sdkKeys(want)))
		Expect(sdkDistinct(all)).To(HaveLen(len(all)), "no user twice")
	})

	It("finds, iterates and drives a group through the smoke test's flow", func() {
		user := sdkCreateUser(c, unique("sdk.member")+"@example.test", "test", "name")
		name := unique("sdk group ")

		group, err := c.Groups().Create(ctx, models.CreateGroupBody{DisplayName: name, Members: []models.GroupMember{{ID: user.ID, Email: user.UserName}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.last().status).To(Equal(http.StatusCreated))
		expectSmokeGroup(group)
		Expect(group.DisplayName).To(Equal(name))
		Expect(group.Members).To(ConsistOf(&models.GroupMember{ID: user.ID, Email: user.UserName}))
		role := getRole(group.ID)
		Expect(role.Spec.DisplayName).To(Equal(name))
		Expect(role.Spec.Members).To(Equal([]v1.Member{{Value: user.ID, Display: user.UserName}}))
		expectMarkedBy(role, "generic")
		expectMarkedBy(getUser(user.ID), "generic")

		found, err := c.Groups().Find(ctx, group.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(Equal(group))
		member, err := c.Users().Find(ctx, user.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(member.Groups).To(ConsistOf(HaveField("Value", group.ID)), "a user's groups are the roles it is in")

		byName := c.Groups().List(ctx, sdkPages(0, fmt.Sprintf("displayName eq %q", name)))
		Expect(sdkCollect(byName, func(g *models.Group) string { return g.ID })).To(Equal([]string{group.ID}))

		replacedName := unique("Replaced Display Name ")
		group, err = c.Groups().Replace(ctx, group.ID, models.ReplaceGroupBody{DisplayName: replacedName, Members: []models.GroupMember{}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rec.last().status).To(Equal(http.StatusOK), "PUT /Groups answers with the group")
		expectSmokeGroup(group)
		Expect(group.DisplayName).To(Equal(replacedName))
		Expect(group.Members).To(BeEmpty())
		Expect(getRole(group.ID).Spec.Members).To(BeEmpty())

		ok, err := c.Groups().UpdateAddMembers(ctx, group.ID, []models.GroupMember{{ID: user.ID, Email: user.UserName}})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		sent := rec.last()
		Expect(sent.contentType).To(BeEmpty())
		Expect(sent.body).To(MatchJSON(fmt.Sprintf(`{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q,"display":%q}]}]}`, user.ID, user.UserName)),
			"the SDK's group PATCH body has a capital Schemas")
		Expect(sent.status).To(Equal(http.StatusOK))
		group, err = c.Groups().Find(ctx, group.ID)
		Expect(err).NotTo(HaveOccurred())
		expectSmokeGroup(group)
		Expect(group.Members).To(ConsistOf(&models.GroupMember{ID: user.ID, Email: user.UserName}))
		Expect(getRole(group.ID).Spec.Members).To(Equal([]v1.Member{{Value: user.ID, Display: user.UserName}}))

		ok, err = c.Groups().UpdateRemoveMemberByID(ctx, group.ID, user.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(rec.last().body).To(MatchJSON(fmt.Sprintf(`{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, user.ID)))
		Expect(rec.last().status).To(Equal(http.StatusOK))
		group, err = c.Groups().Find(ctx, group.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(group.Members).To(BeEmpty())
		Expect(getRole(group.ID).Spec.Members).To(BeEmpty())

		ok, err = c.Groups().UpdateRemoveMemberByID(ctx, group.ID, user.ID)
		Expect(err).NotTo(HaveOccurred(), "removing a member that is not in the role is ignored")
		Expect(ok).To(BeTrue())
		Expect(rec.last().status).To(Equal(http.StatusNoContent))

		newName := unique("New Group Name ")
		ok, err = c.Groups().UpdateReplaceName(ctx, group.ID, models.UpdateGroupReplaceName{DisplayName: newName})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(rec.last().body).To(MatchJSON(fmt.Sprintf(`{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"displayName":%q}}]}`, newName)))
		group, err = c.Groups().Find(ctx, group.ID)
		Expect(err).NotTo(HaveOccurred())
		expectSmokeGroup(group)
		Expect(group.DisplayName).To(Equal(newName))
		Expect(getRole(group.ID).Spec.DisplayName).To(Equal(newName))

		second := sdkCreateUser(c, unique("sdk.second")+"@example.test", "second test", "second name")
		expectSmokeUser(second)
		ok, err = c.Groups().UpdateReplaceMembers(ctx, group.ID, []models.GroupMember{{ID: second.ID, Email: second.UserName}})
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(rec.last().body).To(MatchJSON(fmt.Sprintf(`{"Schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[{"value":%q,"display":%q}]}]}`, second.ID, second.UserName)))
		group, err = c.Groups().Find(ctx, group.ID)
		Expect(err).NotTo(HaveOccurred())
		expectSmokeGroup(group)
		Expect(group.DisplayName).To(Equal(newName))
		Expect(group.Members).To(HaveLen(1))
		Expect(group.Members[0].ID).To(Equal(second.ID))
		Expect(group.Members[0].Email).To(Equal(second.UserName), "member display is the display the client sent")
		role = getRole(group.ID)
		Expect(role.Spec.Members).To(Equal([]v1.Member{{Value: second.ID, Display: second.UserName}}))
		expectMarkedBy(role, "generic")
		expectMarkedBy(getUser(second.ID), "generic")

		ok, err = c.Groups().Delete(ctx, group.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(rec.last().status).To(Equal(http.StatusNoContent))
		_, err = c.Groups().Find(ctx, group.ID)
		Expect(err).To(MatchError(ContainSubstring("not found")))
		expectNoObject(group.ID, &v1.ScimRole{})

		all := sdkCollect(c.Groups().List(ctx, nil), func(g *models.Group) string {
			expectSmokeGroup(g)
			return g.ID
		})
		Expect(all).NotTo(ContainElement(group.ID), "a deleted group is not listed")
		_, roles := countObjects()
		Expect(all).To(HaveLen(roles))

		for _, id := range []string{user.ID, second.ID} {
			ok, err = c.Users().Delete(ctx, id)
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue())
			expectNoObject(id, &v1.ScimUser{})
		}
	})

	It("iterates groups page by page, each exactly once", func() {
		prefix := unique("sdk-groups-") + "-"
		want := map[string]bool{}
		for i := range 5 {
			g, err := c.Groups().Create(ctx, models.CreateGroupBody{DisplayName: fmt.Sprintf("%s%d", prefix, i)})
			Expect(err).NotTo(HaveOccurred())
			want[g.ID] = true
		}
		it := c.Groups().List(ctx, sdkPages(2, fmt.Sprintf("displayName sw %q", prefix)))
		got := sdkCollect(it, func(g *models.Group) string { return g.ID })
		Expect(got).To(HaveLen(5))
		Expect(got).To(ConsistOf(sdkKeys(want)))
	})

	It("deletes a user: it leaves every role, and Find reports the server's not-found detail", func() {
		u := sdkCreateUser(c, unique("sdk.delete")+"@example.test", "test", "name")
		other := sdkCreateUser(c, unique("sdk.stays")+"@example.test", "test", "name")
		g, err := c.Groups().Create(ctx, models.CreateGroupBody{DisplayName: unique("sdk delete "),
			Members: []models.GroupMember{{ID: u.ID, Email: u.UserName}, {ID: other.ID, Email: other.UserName}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Members).To(HaveLen(2))

		ok, err := c.Users().Delete(ctx, u.ID)
		Expect(err).NotTo(HaveOccurred())
		Expect(ok).To(BeTrue())
		Expect(rec.last().status).To(Equal(http.StatusNoContent))
		expectNoObject(u.ID, &v1.ScimUser{})
		Expect(getRole(g.ID).Spec.Members).To(Equal([]v1.Member{{Value: other.ID, Display: other.UserName}}))

		_, err = c.Users().Find(ctx, u.ID)
		Expect(err).To(MatchError(ContainSubstring("not found")))
		Expect(rec.last().status).To(Equal(http.StatusNotFound))
		_, err = c.Users().Delete(ctx, u.ID)
		Expect(err).To(MatchError(ContainSubstring("not found")))
	})

	It("marks a user it adds to a group, and refuses to add a user that does not exist", func() {
		// A user declared in YAML carries no marking until a SCIM request uses it (rule 1).
		declared := &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: unique("sdk-declared-")}, Spec: v1.ScimUserSpec{UserName: unique("declared") + "@example.test"}}
		Expect(k8sClient.Create(ctx, declared)).To(Succeed())
		expectMarkedBy(getUser(declared.Name), "")

		g, err := c.Groups().Create(ctx, models.CreateGroupBody{DisplayName: unique("sdk marks ")})
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Groups().UpdateAddMembers(ctx, g.ID, []models.GroupMember{{ID: declared.Name, Email: declared.Spec.UserName}})
		Expect(err).NotTo(HaveOccurred())
		Expect(getRole(g.ID).Spec.Members).To(Equal([]v1.Member{{Value: declared.Name, Display: declared.Spec.UserName}}))
		expectMarkedBy(getUser(declared.Name), "generic")

		before := writtenBySCIM(getRole(g.ID))
		_, err = c.Groups().UpdateAddMembers(ctx, g.ID, []models.GroupMember{{ID: "a-00000000000000ff", Email: "nobody@example.test"}})
		Expect(err).To(MatchError(ContainSubstring("not found")), "StrongDM: a PATCH adding unknown user ids is 404")
		Expect(rec.last().status).To(Equal(http.StatusNotFound))
		Expect(writtenBySCIM(getRole(g.ID))).To(Equal(before))
	})
})

// sdkKeys returns the keys of m.
func sdkKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// sdkDistinct returns the distinct values of list.
func sdkDistinct(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
