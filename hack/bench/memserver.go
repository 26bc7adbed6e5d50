package main

import (
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	scimfilter "github.com/scim2/filter-parser/v2"
)

// The baseline of the reads: a SCIM server built on github.com/elimity-com/scim whose Users live
// in memory — a map by id, the ids in order, and a map by lower-cased userName for `userName eq`,
// which is what serving reads "at the speed of memory" means. It is served over HTTP on loopback
// and measured with the same clients as the operator. Writes are refused: the bench loads it
// directly.

// memUsers is an in-memory ResourceHandler of Users.
type memUsers struct {
	mu     sync.RWMutex
	byID   map[string]scim.Resource
	byName map[string]string // lower-cased userName → id
	ids    []string          // sorted
}

func newMemUsers() *memUsers {
	return &memUsers{byID: map[string]scim.Resource{}, byName: map[string]string{}}
}

// load stores the users, their documents as the operator's (attributes without id, schemas and
// meta), under the operator's ids.
func (m *memUsers) load(users map[string]scim.ResourceAttributes) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	for id, attrs := range users {
		m.byID[id] = scim.Resource{ID: id, Attributes: attrs, Meta: scim.Meta{Created: &now, LastModified: &now, Version: `W/"1"`}}
		m.byName[strings.ToLower(attrs["userName"].(string))] = id
		m.ids = append(m.ids, id)
	}
	slices.Sort(m.ids)
}

var errReadOnly = errors.New("the in-memory baseline serves reads only")

func (m *memUsers) Create(*http.Request, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, errReadOnly
}

func (m *memUsers) Replace(*http.Request, string, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, errReadOnly
}

func (m *memUsers) Patch(*http.Request, string, []scim.PatchOperation) (scim.Resource, error) {
	return scim.Resource{}, errReadOnly
}

func (m *memUsers) Delete(*http.Request, string) error { return errReadOnly }

func (m *memUsers) Get(_ *http.Request, id string) (scim.Resource, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.byID[id]
	if !ok {
		return scim.Resource{}, scimerrors.ScimErrorResourceNotFound(id)
	}
	return r, nil
}

// GetAll serves `userName eq` from its map, any other filter by testing every user, and a page
// from the ordered ids.
func (m *memUsers) GetAll(_ *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p.FilterValidator != nil {
		var matched []scim.Resource
		if name, ok := userNameEq(p.FilterValidator.GetFilter()); ok {
			if id, ok := m.byName[strings.ToLower(name)]; ok {
				matched = append(matched, m.byID[id])
			}
		} else {
			for _, id := range m.ids {
				if r := m.byID[id]; p.FilterValidator.PassesFilter(r.Attributes) == nil {
					matched = append(matched, r)
				}
			}
		}
		return scim.Page{TotalResults: len(matched), Resources: page(matched, p.StartIndex, p.Count)}, nil
	}
	ids := page(m.ids, p.StartIndex, p.Count)
	resources := make([]scim.Resource, len(ids))
	for i, id := range ids {
		resources[i] = m.byID[id]
	}
	return scim.Page{TotalResults: len(m.ids), Resources: resources}, nil
}

// userNameEq recognizes `userName eq "…"`.
func userNameEq(e scimfilter.Expression) (string, bool) {
	a, ok := e.(*scimfilter.AttributeExpression)
	if !ok || a.Operator != scimfilter.EQ || !strings.EqualFold(a.AttributePath.AttributeName, "userName") || a.AttributePath.SubAttribute != nil {
		return "", false
	}
	s, ok := a.CompareValue.(string)
	return s, ok
}

// page returns at most count items from the 1-based startIndex.
func page[T any](all []T, startIndex, count int) []T {
	from := max(startIndex, 1) - 1
	if from >= len(all) {
		return []T{}
	}
	return all[from:min(len(all), from+count)]
}

// serveMemory serves users over HTTP on a loopback port and returns the base URL of its /v2 and a
// function that stops it.
func serveMemory(users *memUsers) (string, func(), error) {
	server, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: 1000, SupportFiltering: true},
		ResourceTypes: []scim.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Schema:           schema.CoreUserSchema(),
			SchemaExtensions: []scim.SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
			Handler:          users,
		}},
	})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: server, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/v2", func() { _ = srv.Close() }, nil
}
