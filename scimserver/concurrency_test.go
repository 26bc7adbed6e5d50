package scimserver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/scimserver"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

var _ = Describe("Two replicas writing at once", Ordered, func() {
	var second *httptest.Server
	BeforeAll(func() { second = startInstance() })
	AfterAll(func() { second.Close() })

	// raceCreates sends 8 POSTs of /Users at once, alternating between the two replicas, the i-th
	// with the userName nameOf(i), and returns how many were created; every other must be a 409.
	raceCreates := func(nameOf func(i int) string) int {
		GinkgoHelper()
		var wg sync.WaitGroup
		codes := make(chan int, 8)
		for i := 0; i < 8; i++ {
			base := []string{server.URL, second.URL}[i%2]
			userName := nameOf(i)
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				codes <- call(base, "generic", "POST", "/Users", userBody(userName, "R", "R")).StatusCode
			}()
		}
		wg.Wait()
		close(codes)
		created := 0
		for c := range codes {
			Expect(c).To(BeElementOf(http.StatusCreated, http.StatusConflict))
			if c == http.StatusCreated {
				created++
			}
		}
		return created
	}

	It("create no duplicate userName", func() {
		for round := 0; round < 5; round++ {
			name := unique("race") + "@example.test"
			Expect(raceCreates(func(int) string { return name })).To(Equal(1), "round %d: exactly one create wins", round)
			list := &v1.ScimUserList{}
			Expect(k8sClient.List(ctx, list)).To(Succeed())
			n := 0
			for _, u := range list.Items {
				if v1.IdentityKey(u.Spec.UserName) == v1.IdentityKey(name) {
					n++
				}
			}
			Expect(n).To(Equal(1))
		}
	})

	It("create no two look-alike userNames", func() {
		for round := 0; round < 3; round++ {
			name := unique("sam") + "@example.test"
			variants := []string{name, longS(name), "\uff33" + name[1:], strings.ToUpper(name)}
			Expect(raceCreates(func(i int) string { return variants[i%len(variants)] })).To(Equal(1),
				"round %d: exactly one of the look-alikes is created", round)
		}
	})

	It("create no duplicate role displayName", func() {
		name := unique("RaceRole")
		defer func() {
			list := &v1.ScimRoleList{}
			Expect(k8sClient.List(ctx, list)).To(Succeed())
			n := 0
			for _, r := range list.Items {
				if v1.IdentityKey(r.Spec.DisplayName) == v1.IdentityKey(name) {
					n++
				}
			}
			Expect(n).To(Equal(1), "roles named %s", name)
		}()
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for i := 0; i < 6; i++ {
			base := []string{server.URL, second.URL}[i%2]
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				r := call(base, "generic", "POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q}`, name))
				mu.Lock()
				defer mu.Unlock()
				if r.StatusCode == http.StatusCreated {
					created++
				}
			}()
		}
		wg.Wait()
		Expect(created).To(Equal(1))
	})

	// memberStorm sends 60 member PATCHes of one group at once, spread over bases: 20 adds of 10
	// new members each and 40 single removes by members[value eq], as an IdP pushing a big group
	// in parallel does. Every request must succeed (a 409 stops an Okta job) and the group must end
	// with exactly what the requests asked for.
	memberStorm := func(bases ...string) {
		GinkgoHelper()
		var old, added []string
		for i := 0; i < 40; i++ {
			old = append(old, createUser(unique("storm-old")))
		}
		for i := 0; i < 200; i++ {
			added = append(added, createUser(unique("storm-new")))
		}
		group := createGroup(unique("storm"), old...)
		var wg sync.WaitGroup
		codes := make(chan string, 60)
		send := func(i int, op string) {
			defer GinkgoRecover()
			defer wg.Done()
			r := call(bases[i%len(bases)], "generic", "PATCH", "/Groups/"+group, groupPatch(op))
			codes <- fmt.Sprintf("%d %s", r.StatusCode, r.raw)
		}
		for i := 0; i < 20; i++ {
			var values []string
			for _, id := range added[i*10 : i*10+10] {
				values = append(values, fmt.Sprintf(`{"value":%q}`, id))
			}
			wg.Add(1)
			go send(i, `{"op":"add","path":"members","value":[`+strings.Join(values, ",")+`]}`)
		}
		for i, id := range old {
			wg.Add(1)
			go send(i, fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, id))
		}
		wg.Wait()
		close(codes)
		for c := range codes {
			Expect(c).To(Or(HavePrefix("200 "), HavePrefix("204 ")), "every member PATCH succeeds")
		}
		Expect(getRole(group).MemberIDs()).To(ConsistOf(added), "the group holds exactly what the requests asked for")
	}

	It("let 60 concurrent member PATCHes of one group on one replica all succeed, losing none", func() {
		memberStorm(server.URL)
	})

	It("let 60 concurrent member PATCHes of one group across two replicas all succeed, losing none", func() {
		memberStorm(server.URL, second.URL)
	})

	It("do not undo each other: a remove on one replica then an add on the other", func() {
		a := createUser(unique("flip"))
		group := createGroup(unique("flip"), a)
		for i := 0; i < 5; i++ {
			call(server.URL, "generic", "PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, a))).expectStatus(http.StatusOK)
			call(second.URL, "generic", "PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, a))).expectStatus(http.StatusOK)
			Expect(getRole(group).Spec.Members).To(ConsistOf(HaveField("Value", a)), "round %d", i)
		}
	})

	It("honour an ETag that the other replica handed out", func() {
		id := createUser(unique("etag-replica"))
		r := call(second.URL, "generic", "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"one"}]}`).expectStatus(http.StatusOK)
		call(server.URL, "generic", "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"two"}]}`,
			"If-Match", r.Header.Get("ETag")).expectStatus(http.StatusOK)
	})

	It("lose no member when PATCHes race on both replicas", func() {
		const n = 24
		ids := make([]string, n)
		for i := range ids {
			ids[i] = createUser(unique("member") + "@example.test")
		}
		group := createGroup(unique("busy"))
		var wg sync.WaitGroup
		for i, id := range ids {
			base := []string{server.URL, second.URL}[i%2]
			wg.Add(1)
			go func() {
				defer GinkgoRecover()
				defer wg.Done()
				call(base, "generic", "PATCH", "/Groups/"+group,
					groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, id))).expectStatus(http.StatusOK)
			}()
		}
		wg.Wait()
		got := []string{}
		for _, m := range getRole(group).Spec.Members {
			got = append(got, m.Value)
		}
		Expect(got).To(ConsistOf(ids))

		// And removals racing with additions.
		extra := createUser(unique("extra"))
		wg.Add(2)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			call(second.URL, "generic", "PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, ids[0]))).expectStatus(http.StatusOK)
		}()
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			call(server.URL, "generic", "PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, extra))).expectStatus(http.StatusOK)
		}()
		wg.Wait()
		got = got[:0]
		for _, m := range getRole(group).Spec.Members {
			got = append(got, m.Value)
		}
		Expect(got).To(ConsistOf(append(ids[1:], extra)))
	})
})

var _ = Describe("An unreachable API server", func() {
	It("yields 503 with Retry-After, for reads and writes", func() {
		dead := rest.CopyConfig(cfg)
		dead.Host = "https://127.0.0.1:1"
		c, err := client.New(dead, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		st := &store.Store{Client: c, Live: c}
		// Tokens still come from the live API server, so that authentication succeeds.
		srv, err := scimserver.New(scimserver.Options{Providers: []string{"generic"},
			TokenSecret: types.NamespacedName{Namespace: tokenNamespace, Name: tokenName}}, st, k8sClient, logf.Log)
		Expect(err).NotTo(HaveOccurred())
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()

		for _, req := range []struct{ method, path, body string }{
			{"GET", "/Users/a-0000000000000001", ""},
			{"GET", "/Users", ""},
			{"POST", "/Users", userBody("unreachable", "A", "B")},
			{"PATCH", "/Groups/r-0000000000000001", groupPatch(`{"op":"add","path":"members","value":[{"value":"a-1"}]}`)},
			{"DELETE", "/Users/a-0000000000000001", ""},
		} {
			r := call(ts.URL, "generic", req.method, req.path, req.body).expectError(http.StatusServiceUnavailable, "")
			Expect(r.Header.Get("Retry-After")).NotTo(BeEmpty(), "%s %s", req.method, req.path)
		}
	})
})
