package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// tenant is the identity provider's directory the bench pushes: n users and m groups, each user
// in about perUser groups, group sizes falling off as a power law from the largest (a share of all
// users) down to a handful, as in a real directory.
type tenant struct {
	users  []*user
	groups []*group
}

type user struct {
	userName string
	// body is the POST /Users body.
	body []byte
	// id is the SCIM id the server gave it.
	id string
	// groups are the indexes of the groups the user is in.
	groups []int
}

type group struct {
	displayName string
	id          string
	// members are indexes into tenant.users.
	members []int
}

// maxInlineMembers is the most members a ScimRole holds (the CRD's limit on spec.members).
const maxInlineMembers = 20000

func newTenant(n, m int, perUser, largest float64) *tenant {
	t := &tenant{}
	for i := range n {
		t.users = append(t.users, newUser(i))
	}
	sizes := groupSizes(n, m, perUser, largest)
	// Members are dealt from a shuffled deck of users, so that every user is in about perUser groups
	// and the groups a user is in are unrelated.
	rng := rand.New(rand.NewPCG(1, 2))
	deck := rng.Perm(n)
	next := 0
	for g, size := range sizes {
		grp := &group{displayName: fmt.Sprintf("Bench Group %05d", g)}
		for range size {
			u := deck[next%n]
			next++
			grp.members = append(grp.members, u)
			t.users[u].groups = append(t.users[u].groups, g)
		}
		t.groups = append(t.groups, grp)
	}
	return t
}

// groupSizes returns m group sizes, the i-th (from 1) largest·n / i^s, with the exponent s chosen so
// that the sizes add up to perUser·n memberships.
func groupSizes(n, m int, perUser, largest float64) []int {
	top := min(largest*float64(n), maxInlineMembers)
	total := perUser * float64(n)
	sizesFor := func(s float64) ([]int, int) {
		sizes, sum := make([]int, m), 0
		for i := range sizes {
			sizes[i] = min(n, max(1, int(math.Round(top/math.Pow(float64(i+1), s)))))
			sum += sizes[i]
		}
		return sizes, sum
	}
	lo, hi := 0.0, 4.0 // a larger s makes smaller groups
	for range 60 {
		mid := (lo + hi) / 2
		if _, sum := sizesFor(mid); float64(sum) > total {
			lo = mid
		} else {
			hi = mid
		}
	}
	sizes, _ := sizesFor(hi)
	return sizes
}

// newUser returns the bench's i-th user.
func newUser(i int) *user { return namedUser(fmt.Sprintf("bench.user%06d@example.com", i), i) }

func namedUser(userName string, i int) *user {
	given, family := fmt.Sprintf("Given%d", i), fmt.Sprintf("Family%d", i)
	body, _ := json.Marshal(map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":    userName,
		"externalId":  fmt.Sprintf("00u%017d", i),
		"name":        map[string]any{"givenName": given, "familyName": family},
		"displayName": given + " " + family,
		"emails":      []map[string]any{{"value": userName, "type": "work", "primary": true}},
		"title":       "Engineer",
		"active":      true,
	})
	return &user{userName: userName, body: body}
}

// spec is the user as the SCIM server stores it, for the ceiling's direct creates.
func (u *user) spec() v1.ScimUserSpec {
	var s v1.ScimUserSpec
	var doc map[string]any
	_ = json.Unmarshal(u.body, &doc)
	delete(doc, "schemas")
	data, _ := json.Marshal(doc)
	_ = json.Unmarshal(data, &s)
	s.UserType = "user"
	s.Name.Formatted = s.DisplayName
	return s
}

// memberships is the number of (user, group) pairs.
func (t *tenant) memberships() int {
	n := 0
	for _, g := range t.groups {
		n += len(g.members)
	}
	return n
}

// largestGroup is the size of the largest group.
func (t *tenant) largestGroup() int {
	n := 0
	for _, g := range t.groups {
		n = max(n, len(g.members))
	}
	return n
}

// patchBatch is one PATCH of a group: members [from, to) of it.
type patchBatch struct {
	group    int
	from, to int
}

// batches returns the member PATCHes, size members each, interleaved across groups (the first
// batch of every group, then the second, …) as an IdP pushing many groups at once sends them.
func (t *tenant) batches(size int) []patchBatch {
	var out []patchBatch
	for b := 0; ; b++ {
		added := false
		for g, grp := range t.groups {
			if from := b * size; from < len(grp.members) {
				out = append(out, patchBatch{group: g, from: from, to: min(len(grp.members), from+size)})
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// patchBody is the PATCH that adds a batch's members, one operation with every value, as Okta and
// Entra ID send it.
func (t *tenant) patchBody(b patchBatch) []byte {
	values := make([]map[string]string, 0, b.to-b.from)
	for _, u := range t.groups[b.group].members[b.from:b.to] {
		values = append(values, map[string]string{"value": t.users[u].id})
	}
	body, _ := json.Marshal(map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": values}},
	})
	return body
}
