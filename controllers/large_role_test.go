package controllers

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// TestLargeRole projects a role of 20,000 members with the default subject limit (1,000) into 20
// ClusterRoleBindings against the real API server, and revokes one member of it. It runs its own
// control plane and manager because the suite's use a tiny subject limit.
func TestLargeRole(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane")
	}
	const members = 20000
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	local, adminCfg, operatorCfg, err := startControlPlane(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = local.Stop() }()
	adminCfg.QPS = -1
	c, err := client.New(adminCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := startManager(ctx, operatorCfg, Options{}, serving{}, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	role := &identityv1alpha1.ScimRole{
		ObjectMeta: metav1.ObjectMeta{Name: "everyone"},
		Spec:       identityv1alpha1.ScimRoleSpec{DisplayName: "Everyone", Access: &identityv1alpha1.Access{ClusterRoles: []string{"view"}}},
	}
	users := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range users {
				// The finalizer as the SCIM server sets it on create, so the controller has none to add.
				u := &identityv1alpha1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("u-%05d", i), Finalizers: []string{identityv1alpha1.FinalizerAccess}},
					Spec: identityv1alpha1.ScimUserSpec{UserName: fmt.Sprintf("user-%05d@example.com", i)}}
				if err := c.Create(ctx, u); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range members {
		role.Spec.Members = append(role.Spec.Members, identityv1alpha1.Member{Value: fmt.Sprintf("u-%05d", i)})
		users <- i
	}
	close(users)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("created %d users in %s", members, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	if err := c.Create(ctx, role); err != nil {
		t.Fatalf("create a role of %d members: %v", members, err)
	}
	subjects := func() (bindings, total int, holds map[string]bool) {
		var crbs rbacv1.ClusterRoleBindingList
		if err := c.List(ctx, &crbs, client.MatchingLabels{identityv1alpha1.LabelRole: role.Name}); err != nil {
			t.Fatal(err)
		}
		holds = map[string]bool{}
		for _, crb := range crbs.Items {
			if len(crb.Subjects) > 1000 {
				t.Errorf("binding %s has %d subjects, more than the limit", crb.Name, len(crb.Subjects))
			}
			for _, s := range crb.Subjects {
				holds[s.Name] = true
			}
			total += len(crb.Subjects)
		}
		return len(crbs.Items), total, holds
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		n, total, _ := subjects()
		return n == 20 && total == members, nil
	})
	if err != nil {
		n, total, _ := subjects()
		t.Fatalf("want 20 bindings of %d subjects, have %d of %d", members, n, total)
	}
	t.Logf("projected %d members into 20 bindings in %s", members, time.Since(start).Round(time.Millisecond))

	// Creating the role makes the user controller reconcile its 20,000 members, and write the status
	// of each it finds before its binding. By default revocation is timed during that burst;
	// SCIM_LARGE_ROLE_SETTLE=1 times it once every user is Ready, as in a cluster at rest.
	if os.Getenv("SCIM_LARGE_ROLE_SETTLE") != "" {
		waitForUserStatuses(ctx, t, c)
	}

	// Watch the bindings, so the revocation is timed by the event that removes the member rather
	// than by polling 20,000 subjects.
	wc, err := client.NewWithWatch(adminCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &rbacv1.ClusterRoleBindingList{}, client.MatchingLabels{identityv1alpha1.LabelRole: role.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	victim := &identityv1alpha1.ScimUser{}
	if err := c.Get(ctx, client.ObjectKey{Name: "u-12345"}, victim); err != nil {
		t.Fatal(err)
	}
	victim.Spec.Active = ptr.To(false)
	if err := c.Update(ctx, victim); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	revoked := false
	for !revoked {
		select {
		case ev := <-w.ResultChan():
			crb, ok := ev.Object.(*rbacv1.ClusterRoleBinding)
			if !ok {
				continue
			}
			revoked = true
			for _, s := range crb.Subjects {
				if s.Name == victim.Spec.UserName {
					revoked = false
				}
			}
			revoked = revoked && ev.Type == "MODIFIED"
		case <-time.After(time.Minute):
			t.Fatal("the suspended member is still bound after a minute")
		}
	}
	elapsed := time.Since(start)
	if _, total, holds := subjects(); holds[victim.Spec.UserName] || total != members-1 {
		t.Fatalf("after revocation: %d subjects, victim bound: %v", total, holds[victim.Spec.UserName])
	}
	t.Logf("revoked one member of %d in %s", members, elapsed.Round(time.Millisecond))
}

// waitForUserStatuses waits until every ScimUser is Ready.
func waitForUserStatuses(ctx context.Context, t *testing.T, c client.Client) {
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, 5*time.Minute, true, func(context.Context) (bool, error) {
		var list identityv1alpha1.ScimUserList
		if err := c.List(ctx, &list); err != nil {
			return false, err
		}
		for _, u := range list.Items {
			if c := meta.FindStatusCondition(u.Status.Conditions, identityv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("user statuses did not settle: %v", err)
	}
	t.Logf("the users' statuses settled in %s", time.Since(start).Round(time.Millisecond))
}
