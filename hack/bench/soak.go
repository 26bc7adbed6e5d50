package main

// The soak (-soak DURATION): mixed traffic from several identity-provider clients against two
// replicas for a given time at a given rate, while a model records what each client was told.
// At the end every ScimUser, ScimRole and binding is checked against the model.
//
// The model is exact under concurrency because of who may write what: each client owns its users
// (it alone creates, changes, suspends, reactivates and deletes them, and adds or removes them as
// members), while the groups are shared by all clients, so concurrent member PATCHes of one group
// arrive from both replicas at once. A group's members are then the union of what each client was
// told about its own users, whatever the order the server applied them in. A client sends its
// writes and reads to one replica, so a read checks read-your-writes strictly; the other replica
// serves the other clients' writes to the same groups.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// soakOptions are the soak's flags.
type soakOptions struct {
	duration time.Duration
	// rate is the requests per second of all clients together.
	rate    float64
	clients int
	// users is the most users one client keeps at once; groups the number of shared groups.
	users, groups int
	// checkTimeout bounds the wait for the cluster to reflect the model at the end.
	checkTimeout time.Duration
}

// soakOps are the operations of the mix, each with its weight.
var soakOps = []struct {
	name   string
	weight int
}{
	{"POST /Users", 12},
	{"GET /Users/{id}", 20},
	{"GET /Users?filter=userName eq", 10},
	{"GET /Groups/{id}?excludedAttributes=members", 5},
	{"PATCH /Users replace title", 10},
	{"PATCH /Users active false (suspend)", 6},
	{"PATCH /Users active true (reactivate)", 6},
	{"DELETE /Users/{id}", 5},
	{"PATCH /Groups add member", 16},
	{"PATCH /Groups remove member", 10},
}

// soakUser is what a client was told about one of its users.
type soakUser struct {
	id, userName, title string
	active              bool
	// groups are the shared groups' indexes the user is a member of.
	groups map[int]bool
	// uncertain is set when a write's outcome is unknown (the client gave up retrying): the
	// user is then left out of the checks, and counted.
	uncertain bool
}

// soakClient is one identity provider client: its users, the replica it talks to, its random
// choices.
type soakClient struct {
	n       int
	c       *scimClient
	replica string
	rng     *rand.Rand
	users   []*soakUser
	deleted []*soakUser
	created int
}

// soakError classifies a failed request: "server" (a 5xx other than 503, an unexpected 4xx, a
// read that contradicts the model, a network error) is the server's fault; "unavailable" is a 503
// or 429 still answered after every retry.
type soakError struct {
	cause, op, detail string
}

// soakRun is the soak's results.
type soakRun struct {
	o       soakOptions
	results map[string]*recorder
	mu      sync.Mutex
	errors  []soakError
	// memory holds each replica's memory, sampled at the start, every tenth of the traffic's time
	// and at its end.
	memory []memorySample
	// gcBeforeSamples is set when each sample follows a forced collection (-pprof).
	gcBeforeSamples bool
	groups          []string
	// uncertain counts users left out of the checks.
	uncertain int
	// mismatches are the differences the final check found between the cluster and the model.
	mismatches []string
	checked    struct{ users, roles, bindings int }
	converged  time.Duration
	wall       time.Duration
}

func (s *soakRun) fail(cause, op, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors = append(s.errors, soakError{cause, op, detail})
}

// memorySample is every replica's memory at one moment of the soak.
type memorySample struct {
	at       time.Duration
	replicas []memory
}

// sampleMemory records every replica's memory, at since the traffic started.
func (s *soakRun) sampleMemory(ctx context.Context, e *env, at time.Duration) error {
	m := memorySample{at: at}
	for _, r := range e.replicas {
		mem, err := e.memoryOf(ctx, r)
		if err != nil {
			return err
		}
		m.replicas = append(m.replicas, mem)
	}
	s.memory = append(s.memory, m)
	return nil
}

// runSoak starts a control plane and two replicas with leader election and runs the soak.
func runSoak(ctx context.Context, so soakOptions, eo envOptions) (report string, ok bool, err error) {
	start := time.Now()
	eo.managerArgs = append(eo.managerArgs, "--leader-elect=true", "--leader-election-namespace="+"scim-operator-system")
	logf("soak: starting the control plane and two replicas")
	e, err := startEnv(ctx, eo)
	if err != nil {
		return "", false, err
	}
	defer e.stop()
	second, err := e.startReplica(eo, "manager-2")
	if err != nil {
		return "", false, err
	}
	if err := e.waitReplica(ctx, second); err != nil {
		return "", false, err
	}
	s := &soakRun{o: so, results: map[string]*recorder{}, gcBeforeSamples: eo.pprof}
	for _, op := range soakOps {
		s.results[op.name] = newRecorder(op.name)
	}
	// The shared groups, declared by GitOps to grant view, created through the first replica.
	c0 := newSCIMClient(e.replicas[0].scim, e.token, 1, 30)
	for g := range so.groups {
		body := fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Soak Group %03d","members":[]}`, g)
		resp, _, err := c0.do(ctx, http.MethodPost, "/Groups", body, http.StatusCreated)
		if err != nil {
			return "", false, err
		}
		id, err := idOf(resp)
		if err != nil {
			return "", false, err
		}
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"access":{"clusterRoles":["view"]}}}`))
		if err := e.admin.Patch(ctx, &v1.ScimRole{ObjectMeta: metav1.ObjectMeta{Name: id}}, patch); err != nil {
			return "", false, err
		}
		s.groups = append(s.groups, id)
	}
	if err := s.sampleMemory(ctx, e, 0); err != nil {
		return "", false, err
	}

	logf("soak: %d clients, %.0f requests/s, for %s, against %d replicas", so.clients, so.rate, so.duration, len(e.replicas))
	limiter := rate.NewLimiter(rate.Limit(so.rate), so.clients)
	clients := make([]*soakClient, so.clients)
	for n := range clients {
		r := e.replicas[n%len(e.replicas)]
		clients[n] = &soakClient{n: n, c: newSCIMClient(r.scim, e.token, 1, 30), replica: r.name, rng: rand.New(rand.NewPCG(uint64(n), 7))}
	}
	trafficCtx, cancel := context.WithTimeout(ctx, so.duration)
	var wg sync.WaitGroup
	for _, sc := range clients {
		wg.Go(func() {
			for limiter.Wait(trafficCtx) == nil {
				s.step(ctx, sc)
			}
		})
	}
	trafficStart := time.Now()
	var sampleErr error
	sampler := make(chan struct{})
	go func() {
		defer close(sampler)
		tick := time.NewTicker(so.duration / 10)
		defer tick.Stop()
		for {
			select {
			case <-trafficCtx.Done():
				return
			case <-tick.C:
				if err := s.sampleMemory(ctx, e, time.Since(trafficStart)); err != nil && sampleErr == nil {
					sampleErr = err
				}
			}
		}
	}()
	wg.Wait()
	cancel()
	<-sampler
	if ctx.Err() != nil {
		return "", false, ctx.Err()
	}
	last := time.Now()
	if sampleErr != nil {
		return "", false, sampleErr
	}
	if err := s.sampleMemory(ctx, e, time.Since(trafficStart)); err != nil {
		return "", false, err
	}
	logf("soak: traffic over; checking every ScimUser, ScimRole and binding against the model")
	if err := s.check(ctx, e, clients); err != nil {
		return "", false, err
	}
	s.converged = time.Since(last)
	s.wall = time.Since(start)
	var b strings.Builder
	s.render(&b)
	return b.String(), s.ok(), nil
}

// step makes one request of the mix, chosen at random among those that make sense for the
// client's users now, and records it in the model.
func (s *soakRun) step(ctx context.Context, sc *soakClient) {
	total := 0
	for _, op := range soakOps {
		total += op.weight
	}
	pick := sc.rng.IntN(total)
	name := ""
	for _, op := range soakOps {
		if pick < op.weight {
			name = op.name
			break
		}
		pick -= op.weight
	}
	if len(sc.users) == 0 || (name == "POST /Users" && len(sc.users) < s.o.users) {
		name = "POST /Users"
	} else if name == "POST /Users" {
		name = "GET /Users/{id}"
	}
	var target *soakUser
	if len(sc.users) > 0 {
		target = sc.users[sc.rng.IntN(len(sc.users))]
	}
	t0 := time.Now()
	retries, err := s.do(ctx, sc, name, target)
	if ctx.Err() != nil {
		return
	}
	s.results[name].add(time.Since(t0), outcome{items: 1, retries: retries, err: err})
}

// do sends the request name (about target, for those that need a user) and checks and records
// its answer.
func (s *soakRun) do(ctx context.Context, sc *soakClient, name string, target *soakUser) (int, error) {
	const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`
	failed := func(err error) error {
		var se *statusError
		cause := "server"
		if errors.As(err, &se) && (se.status == http.StatusServiceUnavailable || se.status == http.StatusTooManyRequests) {
			cause = "unavailable"
		}
		s.fail(cause, name, err.Error())
		return err
	}
	// A write whose outcome is unknown leaves the user out of the checks.
	unknown := func(err error) error {
		if target != nil {
			target.uncertain = true
		}
		return failed(err)
	}
	switch name {
	case "POST /Users":
		sc.created++
		userName := fmt.Sprintf("soak.c%02d.u%05d@example.com", sc.n, sc.created)
		body, _ := json.Marshal(map[string]any{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName,
			"name": map[string]any{"givenName": "Soak", "familyName": fmt.Sprint(sc.created)}, "title": "t0", "active": true,
			"emails": []map[string]any{{"value": userName, "type": "work", "primary": true}},
		})
		resp, retries, err := sc.c.do(ctx, http.MethodPost, "/Users", body, http.StatusCreated)
		if err != nil {
			// Unknown whether it was stored: a user by that name must then be found exactly once.
			sc.deleted = append(sc.deleted, &soakUser{userName: userName, uncertain: true})
			return retries, failed(err)
		}
		id, err := idOf(resp)
		if err != nil {
			return retries, failed(err)
		}
		sc.users = append(sc.users, &soakUser{id: id, userName: userName, title: "t0", active: true, groups: map[int]bool{}})
		return retries, nil
	case "GET /Users/{id}":
		resp, retries, err := sc.c.do(ctx, http.MethodGet, "/Users/"+target.id, nil, http.StatusOK)
		if err != nil {
			return retries, failed(err)
		}
		var got struct {
			UserName string `json:"userName"`
			Title    string `json:"title"`
			Active   bool   `json:"active"`
			Groups   []struct {
				Value string `json:"value"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(resp, &got); err != nil {
			return retries, failed(err)
		}
		if !target.uncertain && (got.UserName != target.userName || got.Title != target.title || got.Active != target.active) {
			return retries, failed(fmt.Errorf("GET %s on %s: userName %q title %q active %t, the client was told %q %q %t",
				target.id, sc.replica, got.UserName, got.Title, got.Active, target.userName, target.title, target.active))
		}
		return retries, nil
	case "GET /Users?filter=userName eq":
		path := "/Users?filter=" + url.QueryEscape(fmt.Sprintf("userName eq %q", target.userName))
		resp, retries, err := sc.c.do(ctx, http.MethodGet, path, nil, http.StatusOK)
		if err != nil {
			return retries, failed(err)
		}
		var list listResponse
		if err := json.Unmarshal(resp, &list); err != nil {
			return retries, failed(err)
		}
		if list.TotalResults != 1 {
			return retries, failed(fmt.Errorf("filter userName eq %q on %s: %d results, want 1", target.userName, sc.replica, list.TotalResults))
		}
		return retries, nil
	case "GET /Groups/{id}?excludedAttributes=members":
		g := s.groups[sc.rng.IntN(len(s.groups))]
		_, retries, err := sc.c.do(ctx, http.MethodGet, "/Groups/"+g+"?excludedAttributes=members", nil, http.StatusOK)
		if err != nil {
			return retries, failed(err)
		}
		return retries, nil
	case "PATCH /Users replace title":
		title := fmt.Sprintf("t%d", sc.rng.IntN(1_000_000))
		body := fmt.Appendf(nil, patchOp, fmt.Sprintf(`{"op":"replace","path":"title","value":%q}`, title))
		_, retries, err := sc.c.do(ctx, http.MethodPatch, "/Users/"+target.id, body, http.StatusOK, http.StatusNoContent)
		if err != nil {
			return retries, unknown(err)
		}
		target.title = title
		return retries, nil
	case "PATCH /Users active false (suspend)", "PATCH /Users active true (reactivate)":
		active := strings.HasSuffix(name, "(reactivate)")
		body := fmt.Appendf(nil, patchOp, fmt.Sprintf(`{"op":"replace","value":{"active":%t}}`, active))
		_, retries, err := sc.c.do(ctx, http.MethodPatch, "/Users/"+target.id, body, http.StatusOK, http.StatusNoContent)
		if err != nil {
			return retries, unknown(err)
		}
		target.active = active
		return retries, nil
	case "DELETE /Users/{id}":
		_, retries, err := sc.c.do(ctx, http.MethodDelete, "/Users/"+target.id, nil, http.StatusNoContent)
		if err != nil {
			return retries, unknown(err)
		}
		sc.users = slices.DeleteFunc(sc.users, func(u *soakUser) bool { return u == target })
		sc.deleted = append(sc.deleted, target)
		return retries, nil
	case "PATCH /Groups add member", "PATCH /Groups remove member":
		g := sc.rng.IntN(len(s.groups))
		add := strings.HasSuffix(name, "add member")
		if !add {
			// Remove from a group the user is in, when there is one.
			for k := range target.groups {
				g = k
				break
			}
		}
		var op string
		if add {
			op = fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q}]}`, target.id)
		} else {
			op = fmt.Sprintf(`{"op":"remove","path":%q}`, fmt.Sprintf("members[value eq %q]", target.id))
		}
		_, retries, err := sc.c.do(ctx, http.MethodPatch, "/Groups/"+s.groups[g], fmt.Appendf(nil, patchOp, op), http.StatusOK, http.StatusNoContent)
		if err != nil {
			return retries, unknown(err)
		}
		if add {
			target.groups[g] = true
		} else {
			delete(target.groups, g)
		}
		return retries, nil
	}
	return 0, fmt.Errorf("unknown operation %s", name)
}

// check waits until the cluster reflects the model — every ScimUser, every ScimRole's members,
// every binding's subjects, every ScimUser Ready — or the check timeout, and records what still
// differs then.
func (s *soakRun) check(ctx context.Context, e *env, clients []*soakClient) error {
	var mismatches []string
	err := wait.PollUntilContextTimeout(ctx, time.Second, s.o.checkTimeout, true, func(ctx context.Context) (bool, error) {
		var err error
		mismatches, err = s.compare(ctx, e, clients)
		return len(mismatches) == 0, err
	})
	if err != nil && !wait.Interrupted(err) {
		return err
	}
	s.mismatches = mismatches
	for _, sc := range clients {
		for _, u := range append(slices.Clone(sc.users), sc.deleted...) {
			if u.uncertain {
				s.uncertain++
			}
		}
	}
	return nil
}

// compare lists what in the cluster differs from the model.
func (s *soakRun) compare(ctx context.Context, e *env, clients []*soakClient) ([]string, error) {
	var users v1.ScimUserList
	if err := e.admin.List(ctx, &users); err != nil {
		return nil, err
	}
	var roles v1.ScimRoleList
	if err := e.admin.List(ctx, &roles); err != nil {
		return nil, err
	}
	var bindings rbacv1.ClusterRoleBindingList
	if err := e.admin.List(ctx, &bindings, client.HasLabels{v1.LabelRole}); err != nil {
		return nil, err
	}
	var diff []string
	differ := func(format string, args ...any) {
		diff = append(diff, fmt.Sprintf(format, args...))
	}
	stored := map[string]*v1.ScimUser{}
	byUserName := map[string]int{}
	for i := range users.Items {
		u := &users.Items[i]
		stored[u.Name] = u
		byUserName[u.Spec.UserName]++
	}
	// The model: users, and each group's members and subjects.
	members := make([]map[string]bool, len(s.groups))
	subjects := make([]map[string]bool, len(s.groups))
	for g := range s.groups {
		members[g], subjects[g] = map[string]bool{}, map[string]bool{}
	}
	uncertainMember := map[string]bool{}
	s.checked.users = 0
	for _, sc := range clients {
		for _, u := range sc.users {
			if u.uncertain {
				uncertainMember[u.id] = true
				continue
			}
			s.checked.users++
			su := stored[u.id]
			switch {
			case su == nil:
				differ("user %s (%s) acknowledged but not stored", u.id, u.userName)
				continue
			case su.Spec.UserName != u.userName || su.Spec.Title != u.title || su.Spec.IsActive() != u.active:
				differ("user %s stored as %q %q active %t, the client was told %q %q %t", u.id, su.Spec.UserName, su.Spec.Title, su.Spec.IsActive(), u.userName, u.title, u.active)
			case byUserName[u.userName] != 1:
				differ("userName %s stored %d times", u.userName, byUserName[u.userName])
			}
			if ready := apimeta.FindStatusCondition(su.Status.Conditions, v1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue || su.Status.ObservedGeneration != su.Generation {
				differ("user %s not Ready for generation %d", u.id, su.Generation)
			}
			for g := range u.groups {
				members[g][u.id] = true
				if u.active {
					subjects[g][userPrefix+u.userName] = true
				}
			}
		}
		for _, u := range sc.deleted {
			if u.uncertain {
				if n := byUserName[u.userName]; n > 1 {
					differ("userName %s (a create of unknown outcome) stored %d times", u.userName, n)
				}
				if u.id != "" {
					uncertainMember[u.id] = true
				}
				continue
			}
			s.checked.users++
			if su := stored[u.id]; su != nil {
				differ("user %s (%s) deleted but still stored (deleting: %t)", u.id, u.userName, su.DeletionTimestamp != nil)
			}
		}
	}
	index := map[string]int{}
	for g, id := range s.groups {
		index[id] = g
	}
	s.checked.roles = 0
	for i := range roles.Items {
		r := &roles.Items[i]
		g, ok := index[r.Name]
		if !ok {
			continue
		}
		s.checked.roles++
		got := map[string]bool{}
		for _, id := range r.MemberIDs() {
			if got[id] {
				differ("role %s lists %s twice", r.Name, id)
			}
			got[id] = true
		}
		for id := range got {
			if !members[g][id] && !uncertainMember[id] {
				differ("role %s lists %s, which the clients were told is not a member", r.Name, id)
			}
		}
		for id := range members[g] {
			if !got[id] {
				differ("role %s lost acknowledged member %s", r.Name, id)
			}
		}
	}
	bound := make([]map[string]bool, len(s.groups))
	for g := range bound {
		bound[g] = map[string]bool{}
	}
	s.checked.bindings = 0
	for _, b := range bindings.Items {
		g, ok := index[b.Labels[v1.LabelRole]]
		if !ok {
			continue
		}
		s.checked.bindings++
		for _, sub := range b.Subjects {
			bound[g][sub.Name] = true
		}
	}
	uncertainSubject := map[string]bool{}
	for _, sc := range clients {
		for _, u := range append(slices.Clone(sc.users), sc.deleted...) {
			if u.uncertain {
				uncertainSubject[userPrefix+u.userName] = true
			}
		}
	}
	for g, id := range s.groups {
		for sub := range bound[g] {
			if !subjects[g][sub] && !uncertainSubject[sub] {
				differ("a binding of role %s names %s, not an active acknowledged member", id, sub)
			}
		}
		for sub := range subjects[g] {
			if !bound[g][sub] {
				differ("no binding of role %s names active member %s", id, sub)
			}
		}
	}
	sort.Strings(diff)
	return diff, nil
}

// render writes the soak's report as Markdown.
func (s *soakRun) render(b *strings.Builder) {
	o := s.o
	served, failedRequests := 0, 0
	for _, rec := range s.results {
		served += rec.r.ops()
		failedRequests += rec.r.errors
	}
	fmt.Fprintf(b, "### Soak: %s of mixed traffic, %d clients, %.0f requests/s, two replicas\n\n", o.duration, o.clients, o.rate)
	fmt.Fprintf(b, "Each client owns up to %d users and sends to one replica (half the clients to each); %d groups are shared by all, "+
		"granting `view`. The run took %s.\n\n", o.users, len(s.groups), s.wall.Round(time.Second))
	b.WriteString("| request | served | errors | retries (429/503) | p50 | p99 |\n|---|---:|---:|---:|---:|---:|\n")
	for _, op := range soakOps {
		r := s.results[op.name].finish(time.Now())
		fmt.Fprintf(b, "| %s | %d | %d | %d | %s | %s |\n", op.name, r.ops(), r.errors, r.retries, ms(r.percentile(0.5)), ms(r.percentile(0.99)))
	}
	fmt.Fprintf(b, "| **all** | %d | %d | | | |\n\n", served, failedRequests)
	causes := map[string]int{}
	for _, e := range s.errors {
		causes[e.cause]++
	}
	fmt.Fprintf(b, "Errors by cause: the server's fault %d, unavailable after every retry %d. Users whose last write had an unknown outcome, left out of the checks: %d.\n\n",
		causes["server"], causes["unavailable"], s.uncertain)
	for i, e := range s.errors {
		if i == 5 {
			fmt.Fprintf(b, "- … and %d more\n", len(s.errors)-5)
			break
		}
		fmt.Fprintf(b, "- %s, %s: %s\n", e.cause, e.op, truncate(e.detail, 300))
	}
	if len(s.errors) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "Checked against the model after the traffic: %d users, %d roles, %d bindings — ", s.checked.users, s.checked.roles, s.checked.bindings)
	if len(s.mismatches) == 0 {
		fmt.Fprintf(b, "all as the clients were told, %s after the last response (every binding, every ScimUser Ready).\n\n", s.converged.Round(time.Millisecond))
	} else {
		fmt.Fprintf(b, "**%d differences** after %s:\n\n", len(s.mismatches), s.converged.Round(time.Second))
		for i, m := range s.mismatches {
			if i == 20 {
				fmt.Fprintf(b, "- … and %d more\n", len(s.mismatches)-20)
				break
			}
			fmt.Fprintf(b, "- %s\n", m)
		}
		b.WriteString("\n")
	}
	b.WriteString("Memory of each replica (RSS · Go heap in use), at the start, every tenth of the traffic's time and at its end")
	if s.gcBeforeSamples {
		b.WriteString(", each after a forced collection (`/debug/pprof/heap?gc=1`), so the heap is what is live")
	}
	b.WriteString(":\n\n| after |")
	for i := range s.memory[0].replicas {
		fmt.Fprintf(b, " replica %d |", i+1)
	}
	b.WriteString("\n|---:|" + strings.Repeat("---:|", len(s.memory[0].replicas)) + "\n")
	for _, m := range s.memory {
		fmt.Fprintf(b, "| %s |", m.at.Round(time.Second))
		for _, r := range m.replicas {
			fmt.Fprintf(b, " %d · %d MiB |", r.rss/mib, r.heapInuse/mib)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// ok reports whether the soak found nothing wrong: no error of the server's, no difference.
func (s *soakRun) ok() bool {
	for _, e := range s.errors {
		if e.cause == "server" {
			return false
		}
	}
	return len(s.mismatches) == 0
}
