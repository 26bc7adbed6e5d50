package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/elimity-com/scim"
)

// readResults are the three reads, measured against one server.
type readResults struct {
	getByID, filterEq, listPages *result
}

// pageSize is the count of a list page.
const pageSize = 100

// measureReads runs each read for d on clients clients against the operator (c) and the
// in-memory baseline (base), the two taking turns in rounds: GET by id and `filter=userName eq` of
// users picked in the same order for both, and list pages of pageSize, each client walking from
// startIndex=1 to the end and starting again.
func measureReads(ctx context.Context, c, base *scimClient, t *tenant, clients int, d time.Duration, rounds int) (operator, memory *readResults, err error) {
	n := len(t.users)
	pick := func(client, k int) *user { return t.users[(client*7919+k*104729)%n] }
	pages := (n + pageSize - 1) / pageSize
	// Each read is made for one server, k counting each client's operations across the rounds.
	reads := []struct {
		name string
		op   func(c *scimClient, ctx context.Context, client, k int) outcome
	}{
		{"GET /Users/{id}", func(c *scimClient, ctx context.Context, client, k int) outcome {
			_, retries, err := c.do(ctx, http.MethodGet, "/Users/"+pick(client, k).id, nil, http.StatusOK)
			return outcome{items: 1, retries: retries, err: err}
		}},
		{"GET /Users?filter=userName eq", func(c *scimClient, ctx context.Context, client, k int) outcome {
			filter := url.QueryEscape(fmt.Sprintf("userName eq %q", pick(client, k).userName))
			body, retries, err := c.do(ctx, http.MethodGet, "/Users?filter="+filter, nil, http.StatusOK)
			if err == nil {
				err = expectResources(body, 1, 1)
			}
			return outcome{items: 1, retries: retries, err: err}
		}},
		{fmt.Sprintf("GET /Users?startIndex=…&count=%d", pageSize), func(c *scimClient, ctx context.Context, _, k int) outcome {
			p := k % pages
			body, retries, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=%d", 1+p*pageSize, pageSize), nil, http.StatusOK)
			want := min(pageSize, n-p*pageSize)
			if err == nil {
				err = expectResources(body, n, want)
			}
			return outcome{items: want, retries: retries, err: err}
		}},
	}
	operator, memory = &readResults{}, &readResults{}
	for i, read := range reads {
		on := func(label string, c *scimClient) func(round int) *result {
			next := make([]int, clients) // each client's next k, across rounds
			return func(int) *result {
				return measureFor(ctx, label+": "+read.name, clients, d/time.Duration(rounds), func(ctx context.Context, client, _ int) outcome {
					k := next[client]
					next[client]++
					return read.op(c, ctx, client, k)
				})
			}
		}
		both := alternate(rounds, on("operator", c), on("in-memory", base))
		for _, r := range both {
			if err := r.check(); err != nil {
				return nil, nil, err
			}
		}
		*operator.of(i), *memory.of(i) = both[0], both[1]
	}
	return operator, memory, nil
}

// of returns the i-th read: GET by id, the filter, the list pages.
func (r *readResults) of(i int) **result {
	return []**result{&r.getByID, &r.filterEq, &r.listPages}[i]
}

// expectResources checks a ListResponse's totalResults and the number of resources it returned.
func expectResources(body []byte, total, items int) error {
	var l listResponse
	if err := json.Unmarshal(body, &l); err != nil {
		return err
	}
	if l.TotalResults != total || len(l.Resources) != items {
		return fmt.Errorf("list returned totalResults %d and %d resources, want %d and %d", l.TotalResults, len(l.Resources), total, items)
	}
	return nil
}

// memoryBaseline loads the in-memory server with the tenant's users, each the document the
// operator serves for it (groups included), under the same ids, and serves it.
func memoryBaseline(t *tenant) (string, func(), error) {
	users := map[string]scim.ResourceAttributes{}
	for _, u := range t.users {
		var attrs scim.ResourceAttributes
		if err := json.Unmarshal(u.body, &attrs); err != nil {
			return "", nil, err
		}
		delete(attrs, "schemas")
		attrs["userType"] = "user"
		attrs["name"].(map[string]any)["formatted"] = attrs["displayName"]
		groups := make([]any, 0, len(u.groups))
		for _, g := range u.groups {
			groups = append(groups, map[string]any{"value": t.groups[g].id, "display": t.groups[g].displayName})
		}
		attrs["groups"] = groups
		users[u.id] = attrs
	}
	m := newMemUsers()
	m.load(users)
	return serveMemory(m)
}
