package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/scimtest"
)

// leaderElection are the flags of a replica as config/manager runs it: with leader election, the
// Lease in the operator's namespace.
var leaderElection = []string{"--leader-elect=true", "--leader-election-namespace=" + controlplane.OperatorNamespace}

// TestAPIServerStops kills kube-apiserver in the middle of an initial sync and starts it again,
// then hangs it (SIGSTOP): SCIM answers 503 with Retry-After meanwhile, never another 5xx, /readyz
// fails, a write is answered within --scim-write-timeout while the API server hangs, and once it is
// back the same manager process serves again; every acknowledged write is stored exactly once.
//
// The manager runs without leader election, as `make dev` runs it: a leader that cannot renew its
// Lease for the renew deadline (10 s) exits, as every controller-runtime manager does.
func TestAPIServerStops(t *testing.T) {
	survives(t, func(e *env, m *manager, p *scimtest.IdP, groups []string) {
		outage(t, e, m, p, groups, controlplane.APIServer)
		hang(t, e, m, p, groups[0])
	})
}

// TestEtcdRestarts kills etcd in the middle of an initial sync and starts it again on its data: the
// same as when the API server stops.
func TestEtcdRestarts(t *testing.T) {
	survives(t, func(e *env, m *manager, p *scimtest.IdP, groups []string) {
		outage(t, e, m, p, groups, controlplane.Etcd)
	})
}

// survives runs a manager with two groups that grant view, runs fault against them, and checks
// that the manager is still the same process, every answer a retry explains, and the stored state
// and the bindings the acknowledged ones.
func survives(t *testing.T, fault func(e *env, m *manager, p *scimtest.IdP, groups []string)) {
	e := startEnv(t)
	m := e.startManager(t, "a")
	p := scimtest.NewIdP(m.scim)
	groups := []string{createGroup(t, p, "Engineering"), createGroup(t, p, "Sales")}
	e.grantView(t, groups...)

	fault(e, m, p, groups)
	if m.exited() {
		t.Fatalf("the manager exited: %v", m.proc.Err())
	}
	report(t, p)
	converged := time.Now()
	verify(t, e, m, p, time.Minute)
	t.Logf("bindings matched the acknowledged state %s after the traffic stopped", since(converged))
}

// minOutage is the least time a killed component stays down.
const minOutage = 5 * time.Second

// outage runs an initial sync of 4 clients against m, kills c in the middle of it, waits until
// /readyz fails and the clients have been answered 503, restarts c and waits until m is ready and
// acknowledges writes again.
func outage(t *testing.T, e *env, m *manager, p *scimtest.IdP, groups []string, c controlplane.Component) {
	t.Helper()
	stop := scimtest.Traffic(4, p.InitialSync(groups))
	defer stop()
	waitAcked(t, p, 20)
	unavailable := p.Count("503")
	killed := time.Now()
	if err := e.local.Kill(c); err != nil {
		t.Fatal(err)
	}
	scimtest.Eventually(t, 30*time.Second, "/readyz fails", func() (bool, string) {
		code, body := scimtest.Readyz(m.probes)
		return code != http.StatusOK && strings.Contains(body, "[-]api-server"), body
	})
	notReady := since(killed)
	// Down for a few seconds at least, the clients retrying meanwhile.
	scimtest.Eventually(t, time.Minute, "the clients are answered 503", func() (bool, string) {
		return p.Count("503") >= unavailable+4 && time.Since(killed) > minOutage, fmt.Sprint(p.Count("503"))
	})
	down := since(killed)
	restarted := time.Now()
	if err := e.local.Restart(c); err != nil {
		t.Fatal(err)
	}
	up := since(restarted)
	m.waitReady(t, 2*time.Minute)
	ready := since(restarted)
	acked := p.Acked()
	waitAcked(t, p, acked+20)
	t.Logf("%s killed: /readyz failed after %s; down %s with %d answers 503; restarted in %s, the manager ready %s after the restart, writing again %s after it",
		c, notReady, down, p.Count("503")-unavailable, up, ready, since(restarted))
}

// hang stops kube-apiserver with SIGSTOP — connections stay open, nothing answers — and checks
// that reads are served from the cache, that a create and a group PATCH are answered 503 with
// Retry-After within the write timeout (the default, 10 s) while it hangs, and that retried once it
// continues they apply exactly once.
func hang(t *testing.T, e *env, m *manager, p *scimtest.IdP, group string) {
	t.Helper()
	member := fmt.Sprintf("hang-member-%s@example.com", randomHex(4))
	memberID := p.CreateUser(0, member)
	// The read below is to come from the cache. After the outage the manager's informers re-list
	// on client-go's reflector backoff (up to 30 s, jittered to 60), and a create waits for them
	// only so long (store.Store.CacheWait, 2 s): wait until the manager has reconciled the user,
	// which it does from the informer the SCIM server reads.
	scimtest.Eventually(t, 2*time.Minute, "the manager's cache holds "+memberID, func() (bool, string) {
		u := &v1.ScimUser{}
		if err := e.admin.Get(context.Background(), client.ObjectKey{Name: memberID}, u); err != nil {
			return false, err.Error()
		}
		ready := apimeta.FindStatusCondition(u.Status.Conditions, v1.ConditionReady)
		return ready != nil && ready.ObservedGeneration == u.Generation, fmt.Sprint(u.Status.Conditions)
	})
	hung := fmt.Sprintf("hang-create-%s@example.com", randomHex(4))
	addMember := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + memberID + `"}]}]}`

	if err := e.local.Pause(controlplane.APIServer); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	type answer struct {
		resp    scimtest.Response
		elapsed time.Duration
	}
	var (
		wg                   sync.WaitGroup
		read, create, patchG answer
	)
	for a, req := range map[*answer][3]string{
		&read:   {http.MethodGet, "/Users/" + memberID, ""},
		&create: {http.MethodPost, "/Users", scimtest.UserBody(hung)},
		&patchG: {http.MethodPatch, "/Groups/" + group, addMember},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			a.resp = m.scim.Do(req[0], req[1], req[2])
			a.elapsed = since(start)
		}()
	}
	answered := make(chan struct{})
	go func() { wg.Wait(); close(answered) }()
	// Without the write timeout a write waits for client-go's own give-up (56 s were seen): hold
	// the API server well below that, and well above the timeout.
	hold := 40 * time.Second
	select {
	case <-answered:
	case <-time.After(hold):
	}
	code, readyz := scimtest.Readyz(m.probes)
	allAnswered := false
	select {
	case <-answered:
		allAnswered = true
	default:
	}
	stalled := since(paused)
	if err := e.local.Resume(controlplane.APIServer); err != nil {
		t.Fatal(err)
	}
	<-answered
	if !allAnswered {
		t.Errorf("requests not answered while the API server hung for %s: read after %s, create after %s, PATCH after %s", hold, read.elapsed, create.elapsed, patchG.elapsed)
	}
	if code == http.StatusOK || !strings.Contains(readyz, "[-]api-server") {
		t.Errorf("/readyz while the API server hangs: %d %s", code, readyz)
	}
	if read.resp.Status != http.StatusOK {
		t.Errorf("a read from the cache while the API server hangs: %s", read.resp)
	}
	for what, a := range map[string]answer{"create": create, "group PATCH": patchG} {
		if a.resp.Status != http.StatusServiceUnavailable || a.resp.Header.Get("Retry-After") == "" || !strings.Contains(a.resp.Body, "may have been applied") {
			t.Errorf("%s while the API server hangs: %s (headers %v), want 503 with Retry-After saying it may have been applied", what, a.resp, a.resp.Header)
		}
	}
	t.Logf("kube-apiserver hung (SIGSTOP) for %s: read answered %d in %s, create %d in %s, group PATCH %d in %s",
		stalled, read.resp.Status, read.elapsed, create.resp.Status, create.elapsed, patchG.resp.Status, patchG.elapsed)

	// Retried once the API server continues, both apply exactly once (verify checks): the create
	// is taken (409) if the API server applied the first attempt after all, and is found by its
	// userName; the PATCH is applied again, without a second member.
	m.waitReady(t, time.Minute)
	taken := p.Count("409")
	if p.RetryCreate(0, hung, true) == "" {
		t.Fatalf("retrying the create of %s failed", hung)
	}
	p.SetMember(0, group, memberID, true)
	t.Logf("after the hang: the retried create was %s", map[bool]string{true: "taken: the API server had applied the first attempt", false: "applied: the first attempt had not been"}[p.Count("409") > taken])
	// Whichever it was, the create has now been applied: retried once more, as after an answer
	// lost on the way back, it is taken and found, not applied twice.
	id := p.ID(hung)
	taken = p.Count("409")
	if again := p.RetryCreate(0, hung, true); again != id || p.Count("409") != taken+1 {
		t.Errorf("a create retried after it was applied: id %s (first %s), %d answers 409 (want %d)", again, id, p.Count("409"), taken+1)
	}
}

// TestManagerKilledDuringInitialSync kills the manager (SIGKILL) while 8 clients create users and
// add them to groups, and starts it again: every write that was acknowledged is stored exactly
// once (the clients retry what was not, as IdPs do), and the bindings converge to exactly the
// acknowledged members.
func TestManagerKilledDuringInitialSync(t *testing.T) {
	e := startEnv(t)
	m := e.startManager(t, "a", leaderElection...)
	p := scimtest.NewIdP(m.scim)
	var groups []string
	for i := range 4 {
		groups = append(groups, createGroup(t, p, fmt.Sprintf("Team %d", i)))
	}
	e.grantView(t, groups...)

	stop := scimtest.Traffic(8, p.InitialSync(groups))
	defer stop()
	waitAcked(t, p, 80)
	atKill := p.Acked()
	killed := time.Now()
	if err := m.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	restarted := since(killed)
	waitAcked(t, p, atKill+80)
	stop()
	stopped := time.Now()
	t.Logf("manager killed after %d acknowledged writes; serving again %s after the kill", atKill, restarted)
	report(t, p)
	converged := verify(t, e, m, p, 2*time.Minute)
	t.Logf("%d users, bindings matched the acknowledged state %s after the kill (%s after the traffic stopped)",
		p.Users(), converged.Sub(killed).Round(10*time.Millisecond), converged.Sub(stopped).Round(10*time.Millisecond))
}

// TestLeaderKilledDuringChurn runs two replicas with leader election and kills the leader
// (SIGKILL: its Lease is not released) while 8 clients, spread over both, add and remove members
// and suspend and reactivate users: no acknowledged membership is lost, and once the other
// replica has taken over and synced, every binding names exactly the active members.
func TestLeaderKilledDuringChurn(t *testing.T) {
	e := startEnv(t)
	a := e.startManager(t, "a", leaderElection...)
	b := e.startManager(t, "b", leaderElection...)
	p := scimtest.NewIdP(a.scim, b.scim)
	var groups []string
	for i := range 3 {
		groups = append(groups, createGroup(t, p, fmt.Sprintf("Team %d", i)))
	}
	e.grantView(t, groups...)
	for c := range 8 {
		for k := range 4 {
			id := p.CreateUser(c, fmt.Sprintf("c%d-u%d@example.com", c, k))
			p.SetMember(c, groups[(c+k)%len(groups)], id, true)
		}
	}
	var leader, survivor *manager
	scimtest.Eventually(t, time.Minute, "a replica leads", func() (bool, string) {
		switch {
		case a.acquiredLease():
			leader, survivor = a, b
		case b.acquiredLease():
			leader, survivor = b, a
		}
		return leader != nil, ""
	})
	verify(t, e, leader, p, time.Minute)

	stop := scimtest.Traffic(8, p.Churn(groups))
	defer stop()
	acked := p.Acked()
	waitAcked(t, p, acked+60)
	killed := time.Now()
	if err := leader.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	// The churn goes on, on the survivor, until it has taken over and acknowledged more.
	scimtest.Eventually(t, time.Minute, survivor.name+" takes the Lease", func() (bool, string) {
		return survivor.acquiredLease(), ""
	})
	takeover := since(killed)
	waitAcked(t, p, p.Acked()+40)
	stop()
	stopped := time.Now()
	report(t, p)
	converged := verify(t, e, survivor, p, 2*time.Minute)
	t.Logf("leader %s killed: %s took the Lease after %s; the churn stopped %s after the kill; the bindings matched the acknowledged state %s after the kill (%s after the churn stopped)",
		leader.name, survivor.name, takeover, stopped.Sub(killed).Round(10*time.Millisecond),
		converged.Sub(killed).Round(10*time.Millisecond), converged.Sub(stopped).Round(10*time.Millisecond))
}

// acquiredLease reports whether the manager has become the leader: its log says that its
// controllers (which run on the leader only) have started their workers.
func (m *manager) acquiredLease() bool {
	data, err := os.ReadFile(m.log)
	return err == nil && strings.Contains(string(data), `"msg":"Starting workers"`)
}

// waitAcked waits until n writes have been acknowledged.
func waitAcked(t *testing.T, p *scimtest.IdP, n int64) {
	t.Helper()
	scimtest.Eventually(t, 2*time.Minute, fmt.Sprintf("%d writes acknowledged", n), func() (bool, string) {
		return p.Acked() >= n, fmt.Sprint(p.Acked())
	})
}
