package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/scim-operator/scim-operator/internal/bindingwatch"
)

// revocationResult is the time from a suspension's SCIM response to the last binding written
// without the user, as a watch of the bindings sees it.
type revocationResult struct {
	// roles is the number of roles the one user is in; oneUser its suspensions, one after another.
	roles   int
	oneUser *result
	// burst is that many of the tenant's users suspended at once by the clients.
	burst *result
}

// Suspending and reactivating: the PatchOp bodies.
var (
	suspendBody  = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	activateBody = []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
)

// revocation measures rule 5 through SCIM: a new user added to the roles smallest groups of the
// tenant and suspended times times (reactivated in between), then burst of the tenant's users
// suspended at once.
func revocation(ctx context.Context, e *env, c *scimClient, t *tenant, o options) (*revocationResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr, err := bindingwatch.New(ctx, e.adminCfg, scheme)
	if err != nil {
		return nil, err
	}
	res := &revocationResult{roles: min(o.revocationRoles, len(t.groups))}

	target := namedUser("bench.revoked@example.com", 0)
	body, _, err := c.do(ctx, http.MethodPost, "/Users", target.body, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	if target.id, err = idOf(body); err != nil {
		return nil, err
	}
	bySize := make([]int, len(t.groups))
	for i := range bySize {
		bySize[i] = i
	}
	sort.SliceStable(bySize, func(i, j int) bool { return len(t.groups[bySize[i]].members) < len(t.groups[bySize[j]].members) })
	add := fmt.Appendf(nil, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, target.id)
	joined := measureN(ctx, "join", o.clients, res.roles, func(ctx context.Context, i int) outcome {
		_, retries, err := c.do(ctx, http.MethodPatch, "/Groups/"+t.groups[bySize[i]].id, add, http.StatusOK, http.StatusNoContent)
		return outcome{retries: retries, err: err}
	})
	if err := joined.check(); err != nil {
		return nil, err
	}
	subject := userPrefix + target.userName
	if err := tr.WaitHeld(ctx, subject, e.bindingsFor(res.roles), 5*time.Minute); err != nil {
		return nil, err
	}
	rec := newRecorder(fmt.Sprintf("suspend 1 user in %d roles", res.roles))
	start := time.Now()
	for range o.revocations {
		r := tr.Expect(subject)
		_, retries, err := c.do(ctx, http.MethodPatch, "/Users/"+target.id, suspendBody, http.StatusOK, http.StatusNoContent)
		if err != nil {
			return nil, err
		}
		last, _, err := tr.WaitRevoked(ctx, r, time.Now(), 2*time.Minute)
		rec.add(last, outcome{retries: retries, err: err})
		if _, _, err := c.do(ctx, http.MethodPatch, "/Users/"+target.id, activateBody, http.StatusOK, http.StatusNoContent); err != nil {
			return nil, err
		}
		if err := tr.WaitHeld(ctx, subject, e.bindingsFor(res.roles), 5*time.Minute); err != nil {
			return nil, err
		}
	}
	res.oneUser = rec.finish(start)

	n := min(o.burst, len(t.users))
	revocations := make([]*bindingwatch.Revocation, n)
	for i := range n {
		revocations[i] = tr.Expect(userPrefix + t.users[i].userName)
	}
	responded := make([]time.Time, n)
	suspended := measureN(ctx, "burst", o.clients, n, func(ctx context.Context, i int) outcome {
		_, retries, err := c.do(ctx, http.MethodPatch, "/Users/"+t.users[i].id, suspendBody, http.StatusOK, http.StatusNoContent)
		responded[i] = time.Now()
		return outcome{retries: retries, err: err}
	})
	if err := suspended.check(); err != nil {
		return nil, err
	}
	rec = newRecorder(fmt.Sprintf("suspend %d users at once (%d roles each)", n, len(t.users[0].groups)))
	start = time.Now()
	for i, r := range revocations {
		last, _, err := tr.WaitRevoked(ctx, r, responded[i], 2*time.Minute)
		rec.add(last, outcome{err: err})
	}
	res.burst = rec.finish(start)
	return res, errorsOf(res.oneUser, res.burst)
}

func errorsOf(results ...*result) error {
	for _, r := range results {
		if err := r.check(); err != nil {
			return err
		}
	}
	return nil
}
