package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/scimtest"
)

// idp plays the identity provider: clients that send SCIM writes, each retried until it is
// acknowledged — after Retry-After on 503 and 429, at once on another replica when the connection
// fails — as Okta and Entra ID retry, and the model of what they were told. Every write is
// idempotent (a PATCH adds, removes or sets; a create that was applied before its answer got lost
// is taken on the retry, 409, and found by its userName), so at the end the model is exactly what
// must be stored.
type idp struct {
	// targets are the managers' SCIM clients; client i starts on targets[i % len].
	targets []*scimtest.Client

	mu sync.Mutex
	// users are the acknowledged users by userName; members the acknowledged members by group id.
	users   map[string]*modelUser
	members map[string]map[string]bool
	// answers counts the answers by status ("transport" for a failed connection).
	answers map[string]int
	// unexpected are the answers no retry explains: a 5xx other than 503, a 409 for a first
	// create, any other status the request was not meant to get.
	unexpected []string
	// noRetryAfter counts 503 and 429 answers without Retry-After; taken counts the retried
	// creates that found their user created by an earlier attempt.
	noRetryAfter, taken int
	// acked counts acknowledged writes.
	acked atomic.Int64
}

type modelUser struct {
	id     string
	active bool
}

func newIdP(targets ...*scimtest.Client) *idp {
	return &idp{targets: targets, users: map[string]*modelUser{}, members: map[string]map[string]bool{}, answers: map[string]int{}}
}

// maxRetryWait caps the wait a Retry-After asks for, so that the tests stay short.
const maxRetryWait = time.Second

// send sends the request from client c until its status is one of ok, retrying what a retry may
// cure. It returns the last answer and whether an earlier attempt may have been applied (a 503 or
// a lost connection). A status that is neither ok nor retried is recorded as unexpected unless
// it is a 409 after an uncertain attempt, which the caller resolves.
func (p *idp) send(c int, method, path, body string, ok ...int) (scimtest.Response, bool) {
	return p.sendAfter(c, false, method, path, body, ok...)
}

// sendAfter is send after an attempt whose outcome is uncertain when uncertain is true.
func (p *idp) sendAfter(c int, uncertain bool, method, path, body string, ok ...int) (scimtest.Response, bool) {
	failovers := 0
	for {
		resp := p.targets[(c+failovers)%len(p.targets)].Do(method, path, body)
		status := strconv.Itoa(resp.Status)
		if resp.Err != nil {
			status = "transport"
		}
		p.mu.Lock()
		p.answers[status]++
		p.mu.Unlock()
		switch {
		case resp.Err != nil:
			uncertain = true
			failovers++ // to the next replica, if there is one
			time.Sleep(200 * time.Millisecond)
			continue
		case slices.Contains(ok, resp.Status):
			p.acked.Add(1)
			return resp, uncertain
		case resp.Status == http.StatusServiceUnavailable || resp.Status == http.StatusTooManyRequests:
			uncertain = uncertain || resp.Status == http.StatusServiceUnavailable
			wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
			if err != nil {
				p.mu.Lock()
				p.noRetryAfter++
				p.mu.Unlock()
			}
			time.Sleep(min(time.Duration(wait)*time.Second, maxRetryWait))
			continue
		case resp.Status == http.StatusConflict && uncertain:
			return resp, uncertain
		}
		p.unexpect("%s %s: %s", method, path, resp)
		return resp, uncertain
	}
}

func (p *idp) unexpect(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unexpected = append(p.unexpected, fmt.Sprintf(format, args...))
}

// userBody is the body of a create of userName.
func userBody(userName string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"Given","familyName":%q}}`, userName, userName)
}

// createUser creates userName from client c and returns its id ("" if refused).
func (p *idp) createUser(c int, userName string) string { return p.retryCreate(c, userName, false) }

// retryCreate is createUser after an attempt whose outcome is uncertain when uncertain is true.
func (p *idp) retryCreate(c int, userName string, uncertain bool) string {
	resp, _ := p.sendAfter(c, uncertain, http.MethodPost, "/Users", userBody(userName), http.StatusCreated)
	id := resp.ID()
	if resp.Status == http.StatusConflict {
		// An attempt whose answer was lost created it: as an IdP does, find it by userName.
		found, _ := p.send(c, http.MethodGet, "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName)), "", http.StatusOK)
		var list struct {
			Resources []struct {
				ID string `json:"id"`
			} `json:"Resources"`
		}
		if err := json.Unmarshal([]byte(found.Body), &list); err != nil || len(list.Resources) != 1 {
			p.unexpect("%s was taken on a retry, but a filter finds %s", userName, found)
			return ""
		}
		id = list.Resources[0].ID
		p.mu.Lock()
		p.taken++
		p.mu.Unlock()
	}
	if id == "" {
		return ""
	}
	p.mu.Lock()
	p.users[userName] = &modelUser{id: id, active: true}
	p.mu.Unlock()
	return id
}

// createGroup creates a group from client 0 and returns its id.
func (p *idp) createGroup(t *testing.T, displayName string) string {
	t.Helper()
	resp, _ := p.send(0, http.MethodPost, "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q}`, displayName), http.StatusCreated)
	if resp.ID() == "" {
		t.Fatalf("create group %s: %s", displayName, resp)
	}
	p.mu.Lock()
	p.members[resp.ID()] = map[string]bool{}
	p.mu.Unlock()
	return resp.ID()
}

// setMember adds user id to group or removes it, from client c.
func (p *idp) setMember(c int, group, id string, member bool) {
	op := fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, id)
	if !member {
		op = fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, id)
	}
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
	if resp, _ := p.send(c, http.MethodPatch, "/Groups/"+group, body, http.StatusOK, http.StatusNoContent); resp.Err != nil || resp.Status >= 300 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if member {
		p.members[group][id] = true
	} else {
		delete(p.members[group], id)
	}
}

// setActive suspends (false) or reactivates user userName, from client c.
func (p *idp) setActive(c int, userName string, active bool) {
	p.mu.Lock()
	id := p.users[userName].id
	p.mu.Unlock()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, active)
	if resp, _ := p.send(c, http.MethodPatch, "/Users/"+id, body, http.StatusOK, http.StatusNoContent); resp.Err != nil || resp.Status >= 300 {
		return
	}
	p.mu.Lock()
	p.users[userName].active = active
	p.mu.Unlock()
}

// traffic runs clients concurrently, each calling step with its number and a counter until stop
// is called; stop waits until every client has finished the write it was retrying.
func traffic(clients int, step func(c, n int)) (stop func()) {
	var (
		wg      sync.WaitGroup
		stopped atomic.Bool
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stopped.Load(); n++ {
				step(c, n)
			}
		}()
	}
	return func() {
		stopped.Store(true)
		wg.Wait()
	}
}

// initialSync is an IdP's first push: client c creates its users one after the other and adds
// each to one of the groups.
func (p *idp) initialSync(groups []string) func(c, n int) {
	return func(c, n int) {
		if id := p.createUser(c, fmt.Sprintf("c%d-u%04d@example.com", c, n)); id != "" {
			p.setMember(c, groups[(c+n)%len(groups)], id, true)
		}
	}
}

// churn changes what client c owns — the users whose userName starts with c<c>- — at random:
// adds one to a group, removes one, suspends or reactivates one. Clients own disjoint users, so
// their writes commute and the model's order is the servers'.
func (p *idp) churn(groups []string) func(c, n int) {
	return func(c, n int) {
		prefix := fmt.Sprintf("c%d-", c)
		p.mu.Lock()
		var own []string
		for name := range p.users {
			if strings.HasPrefix(name, prefix) {
				own = append(own, name)
			}
		}
		p.mu.Unlock()
		sort.Strings(own)
		name := own[rand.IntN(len(own))]
		group := groups[rand.IntN(len(groups))]
		p.mu.Lock()
		id := p.users[name].id
		member, active := p.members[group][id], p.users[name].active
		p.mu.Unlock()
		switch rand.IntN(3) {
		case 0, 1:
			p.setMember(c, group, id, !member)
		default:
			p.setActive(c, name, !active)
		}
	}
}

// report logs the answers and fails the test for unexpected ones and 503s without Retry-After.
func (p *idp) report(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	t.Logf("IdP: %d writes acknowledged; answers %v; %d retried creates found their user created by an earlier attempt", p.acked.Load(), p.answers, p.taken)
	for _, u := range p.unexpected {
		t.Errorf("unexpected answer: %s", u)
	}
	if p.noRetryAfter > 0 {
		t.Errorf("%d answers 503 or 429 without Retry-After", p.noRetryAfter)
	}
	for status := range p.answers {
		if strings.HasPrefix(status, "5") && status != "503" {
			t.Errorf("%d answers %s: a fault of the API server must be a 503", p.answers[status], status)
		}
	}
}

// verify checks what is stored against the model: every acknowledged user exactly once, with the
// active it was last given, and no other; every group with exactly its acknowledged members, none
// twice (read through SCIM, from m); and, once the controllers have caught up, every group's
// bindings naming exactly its active members. It returns when the bindings matched.
func (p *idp) verify(t *testing.T, e *env, m *manager, timeout time.Duration) time.Time {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx := context.Background()
	var users identityv1alpha1.ScimUserList
	if err := e.admin.List(ctx, &users); err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]string{}
	byID := map[string]*identityv1alpha1.ScimUser{}
	for i := range users.Items {
		u := &users.Items[i]
		key := identityv1alpha1.IdentityKey(u.Spec.UserName)
		byKey[key] = append(byKey[key], u.Name)
		byID[u.Name] = u
	}
	for key, ids := range byKey {
		if len(ids) > 1 {
			t.Errorf("userName %s is stored %d times: %v", key, len(ids), ids)
		}
	}
	if len(users.Items) != len(p.users) {
		t.Errorf("%d ScimUsers stored, %d acknowledged", len(users.Items), len(p.users))
	}
	for name, want := range p.users {
		u := byID[want.id]
		switch {
		case u == nil:
			t.Errorf("acknowledged user %s (%s) is not stored", name, want.id)
		case u.Spec.UserName != name || u.Spec.IsActive() != want.active:
			t.Errorf("user %s: stored userName %s, active %t; acknowledged active %t", want.id, u.Spec.UserName, u.Spec.IsActive(), want.active)
		}
	}
	userName := map[string]string{}
	for name, u := range p.users {
		userName[u.id] = name
	}
	expected := map[string][]string{}
	for group, members := range p.members {
		expected[group] = []string{}
		resp := m.scim.Do(http.MethodGet, "/Groups/"+group, "")
		var doc struct {
			Members []struct {
				Value string `json:"value"`
			} `json:"members"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil || resp.Status != http.StatusOK {
			t.Fatalf("GET /Groups/%s: %s", group, resp)
		}
		var stored []string
		for _, v := range doc.Members {
			stored = append(stored, v.Value)
		}
		sort.Strings(stored)
		if len(slices.Compact(slices.Clone(stored))) != len(stored) {
			t.Errorf("group %s lists a member twice: %v", group, stored)
		}
		var want []string
		for id := range members {
			want = append(want, id)
			if u := byID[id]; u != nil && u.Spec.IsActive() {
				expected[group] = append(expected[group], userPrefix+userName[id])
			}
		}
		sort.Strings(want)
		sort.Strings(expected[group])
		if !slices.Equal(stored, want) {
			t.Errorf("group %s: members %v, acknowledged %v", group, stored, want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	var last string
	scimtest.Eventually(t, timeout, "the bindings name exactly the groups' active members", func() (bool, string) {
		for group, want := range expected {
			got, err := subjects(ctx, e.admin, group)
			if err != nil {
				return false, err.Error()
			}
			if !slices.Equal(got, want) {
				last = fmt.Sprintf("group %s: subjects %v, want %v", group, got, want)
				return false, last
			}
		}
		return true, ""
	})
	return time.Now()
}

// subjects returns the sorted User subjects of the ClusterRoleBindings of group.
func subjects(ctx context.Context, c client.Client, group string) ([]string, error) {
	var list rbacv1.ClusterRoleBindingList
	if err := c.List(ctx, &list, client.MatchingLabels{identityv1alpha1.LabelRole: group}); err != nil {
		return nil, err
	}
	var names []string
	for _, b := range list.Items {
		for _, s := range b.Subjects {
			names = append(names, s.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}
