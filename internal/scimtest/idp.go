package scimtest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// IdP plays the identity provider: clients that send SCIM writes, each retried until it is
// acknowledged — after Retry-After on 503 and 429, at once on another replica when the connection
// fails — as Okta and Entra ID retry, and the model of what they were told. Every write is
// idempotent (a PATCH adds, removes or sets; a create that was applied before its answer got lost
// is taken on the retry, 409, and found by its userName), so at the end the model is exactly what
// must be stored.
type IdP struct {
	// targets are the managers' SCIM clients; client i starts on targets[i % len].
	targets []*Client

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

// NewIdP returns an IdP whose clients send to targets.
func NewIdP(targets ...*Client) *IdP {
	return &IdP{targets: targets, users: map[string]*modelUser{}, members: map[string]map[string]bool{}, answers: map[string]int{}}
}

// maxRetryWait caps the wait a Retry-After asks for, so that the tests stay short.
const maxRetryWait = time.Second

// Send sends the request from client c until its status is one of ok, retrying what a retry may
// cure. It returns the last answer and whether an earlier attempt may have been applied (a 503 or
// a lost connection). A status that is neither ok nor retried is recorded as unexpected unless
// it is a 409 after an uncertain attempt, which the caller resolves.
func (p *IdP) Send(c int, method, path, body string, ok ...int) (Response, bool) {
	return p.SendAfter(c, false, method, path, body, ok...)
}

// SendAfter is Send after an attempt whose outcome is uncertain when uncertain is true.
func (p *IdP) SendAfter(c int, uncertain bool, method, path, body string, ok ...int) (Response, bool) {
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

func (p *IdP) unexpect(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unexpected = append(p.unexpected, fmt.Sprintf(format, args...))
}

// UserBody is the body of a create of userName.
func UserBody(userName string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"Given","familyName":%q}}`, userName, userName)
}

// CreateUser creates userName from client c and returns its id ("" if refused).
func (p *IdP) CreateUser(c int, userName string) string { return p.RetryCreate(c, userName, false) }

// RetryCreate is CreateUser after an attempt whose outcome is uncertain when uncertain is true.
func (p *IdP) RetryCreate(c int, userName string, uncertain bool) string {
	resp, _ := p.SendAfter(c, uncertain, http.MethodPost, "/Users", UserBody(userName), http.StatusCreated)
	id := resp.ID()
	if resp.Status == http.StatusConflict {
		// An attempt whose answer was lost created it: as an IdP does, find it by userName.
		found, _ := p.Send(c, http.MethodGet, "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", userName)), "", http.StatusOK)
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

// CreateGroup creates a group from client 0 and returns its id.
func (p *IdP) CreateGroup(displayName string) (string, error) {
	resp, _ := p.Send(0, http.MethodPost, "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q}`, displayName), http.StatusCreated)
	if resp.ID() == "" {
		return "", fmt.Errorf("create group %s: %s", displayName, resp)
	}
	p.mu.Lock()
	p.members[resp.ID()] = map[string]bool{}
	p.mu.Unlock()
	return resp.ID(), nil
}

// ID is the id of the acknowledged user userName, or "".
func (p *IdP) ID(userName string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.users[userName]; u != nil {
		return u.id
	}
	return ""
}

// Users is the number of acknowledged users.
func (p *IdP) Users() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.users)
}

// Acked is the number of acknowledged requests.
func (p *IdP) Acked() int64 { return p.acked.Load() }

// Count is the number of answers with status ("transport": a failed connection).
func (p *IdP) Count(status string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answers[status]
}

// SetMember adds user id to group or removes it, from client c.
func (p *IdP) SetMember(c int, group, id string, member bool) {
	op := fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, id)
	if !member {
		op = fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, id)
	}
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
	if resp, _ := p.Send(c, http.MethodPatch, "/Groups/"+group, body, http.StatusOK, http.StatusNoContent); resp.Err != nil || resp.Status >= 300 {
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

// SetActive suspends (false) or reactivates user userName, from client c.
func (p *IdP) SetActive(c int, userName string, active bool) {
	p.mu.Lock()
	id := p.users[userName].id
	p.mu.Unlock()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%t}}]}`, active)
	if resp, _ := p.Send(c, http.MethodPatch, "/Users/"+id, body, http.StatusOK, http.StatusNoContent); resp.Err != nil || resp.Status >= 300 {
		return
	}
	p.mu.Lock()
	p.users[userName].active = active
	p.mu.Unlock()
}

// Traffic runs clients concurrently, each calling step with its number and a counter until stop
// is called; stop waits until every client has finished the write it was retrying.
func Traffic(clients int, step func(c, n int)) (stop func()) {
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

// InitialSync is an IdP's first push: client c creates its users one after the other and adds
// each to one of the groups.
func (p *IdP) InitialSync(groups []string) func(c, n int) {
	return func(c, n int) {
		if id := p.CreateUser(c, fmt.Sprintf("c%d-u%04d@example.com", c, n)); id != "" {
			p.SetMember(c, groups[(c+n)%len(groups)], id, true)
		}
	}
}

// Churn changes what client c owns — the users whose userName starts with c<c>- — at random:
// adds one to a group, removes one, suspends or reactivates one. Clients own disjoint users, so
// their writes commute and the model's order is the servers'.
func (p *IdP) Churn(groups []string) func(c, n int) {
	return func(c, n int) {
		own := p.own(c)
		if len(own) == 0 {
			p.CreateUser(c, fmt.Sprintf("c%d-n%06d@example.com", c, n))
			return
		}
		if rand.IntN(3) < 2 {
			p.toggleMember(c, own[rand.IntN(len(own))], groups[rand.IntN(len(groups))])
		} else {
			p.toggleActive(c, own[rand.IntN(len(own))])
		}
	}
}

// own lists the acknowledged users of client c, in order.
func (p *IdP) own(c int) []string {
	prefix := fmt.Sprintf("c%d-", c)
	p.mu.Lock()
	defer p.mu.Unlock()
	var own []string
	for name := range p.users {
		if strings.HasPrefix(name, prefix) {
			own = append(own, name)
		}
	}
	sort.Strings(own)
	return own
}

// toggleMember adds userName to group when the model says it is not a member, else removes it.
func (p *IdP) toggleMember(c int, userName, group string) {
	p.mu.Lock()
	id := p.users[userName].id
	member := p.members[group][id]
	p.mu.Unlock()
	p.SetMember(c, group, id, !member)
}

// toggleActive suspends userName when the model says it is active, else reactivates it.
func (p *IdP) toggleActive(c int, userName string) {
	p.mu.Lock()
	active := p.users[userName].active
	p.mu.Unlock()
	p.SetActive(c, userName, !active)
}

// Summary describes the answers the clients got.
func (p *IdP) Summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d requests acknowledged; answers %v; %d retried creates found their user created by an earlier attempt", p.acked.Load(), p.answers, p.taken)
}

// Problems are the answers that are the server's fault: unexpected ones, 503 and 429 without
// Retry-After, and 5xx other than 503.
func (p *IdP) Problems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	problems := slices.Clone(p.unexpected)
	if p.noRetryAfter > 0 {
		problems = append(problems, fmt.Sprintf("%d answers 503 or 429 without Retry-After", p.noRetryAfter))
	}
	for status, n := range p.answers {
		if strings.HasPrefix(status, "5") && status != "503" {
			problems = append(problems, fmt.Sprintf("%d answers %s: a fault of the API server must be a 503", n, status))
		}
	}
	sort.Strings(problems)
	return problems
}

// Check compares what is stored with the model: every acknowledged user exactly once, with the
// active it was last given, and no other ScimUser; every group with exactly its acknowledged
// members, none twice (read through SCIM, from via). It returns the differences.
func (p *IdP) Check(ctx context.Context, admin client.Client, via *Client) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var users identityv1alpha1.ScimUserList
	if err := admin.List(ctx, &users); err != nil {
		return nil, err
	}
	var diffs []string
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
			diffs = append(diffs, fmt.Sprintf("userName %s is stored %d times: %v", key, len(ids), ids))
		}
	}
	if len(users.Items) != len(p.users) {
		diffs = append(diffs, fmt.Sprintf("%d ScimUsers stored, %d acknowledged", len(users.Items), len(p.users)))
	}
	for name, want := range p.users {
		u := byID[want.id]
		switch {
		case u == nil:
			diffs = append(diffs, fmt.Sprintf("acknowledged user %s (%s) is not stored", name, want.id))
		case u.Spec.UserName != name || u.Spec.IsActive() != want.active:
			diffs = append(diffs, fmt.Sprintf("user %s: stored userName %s, active %t; acknowledged active %t", want.id, u.Spec.UserName, u.Spec.IsActive(), want.active))
		}
	}
	for group, members := range p.members {
		resp := via.Do(http.MethodGet, "/Groups/"+group, "")
		var doc struct {
			Members []struct {
				Value string `json:"value"`
			} `json:"members"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil || resp.Status != http.StatusOK {
			return diffs, fmt.Errorf("GET /Groups/%s: %s", group, resp)
		}
		var stored []string
		for _, v := range doc.Members {
			stored = append(stored, v.Value)
		}
		sort.Strings(stored)
		if len(slices.Compact(slices.Clone(stored))) != len(stored) {
			diffs = append(diffs, fmt.Sprintf("group %s lists a member twice: %v", group, stored))
		}
		want := slices.Sorted(maps.Keys(members))
		if !slices.Equal(stored, want) {
			diffs = append(diffs, fmt.Sprintf("group %s: members %v, acknowledged %v", group, stored, want))
		}
	}
	return diffs, nil
}

// BindingsMatch reports whether every group's ClusterRoleBindings name exactly its acknowledged
// active members, as userPrefix + userName; when not, it says where they differ.
func (p *IdP) BindingsMatch(ctx context.Context, admin client.Client, userPrefix string) (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	userName := map[string]string{}
	for name, u := range p.users {
		if u.active {
			userName[u.id] = name
		}
	}
	for group, members := range p.members {
		want := []string{}
		for id := range members {
			if name, ok := userName[id]; ok {
				want = append(want, userPrefix+name)
			}
		}
		sort.Strings(want)
		got, err := subjects(ctx, admin, group)
		if err != nil {
			return false, err.Error()
		}
		if !slices.Equal(got, want) {
			return false, fmt.Sprintf("group %s: subjects %v, want %v", group, got, want)
		}
	}
	return true, ""
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
