package store

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scim-operator/scim-operator/internal/cachetest"
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// TestUniqueLookupsKeepOnlyTheirKey checks the reads through the bucketed unique indexes with
// every user and group in one bucket: an eq filter on userName, externalId or displayName finds
// exactly its resource, a new userName is free though its bucket is full, and a userName taken
// (in another case) is still a 409.
func TestUniqueLookupsKeepOnlyTheirKey(t *testing.T) {
	old := index.Buckets
	index.Buckets = 1
	t.Cleanup(func() { index.Buckets = old })
	ctx := context.Background()
	c := cachetest.New(cachetest.Tenant(20, 4)...)
	if err := RegisterIndexes(ctx, c); err != nil {
		t.Fatal(err)
	}
	s := &Store{Client: c, Live: c}
	for _, tt := range []struct {
		rs               Resources
		attribute, value string
		want             string // the attribute's value in the one resource found
	}{
		{s.Users(), "userName", cachetest.UserName(7), cachetest.UserName(7)},
		{s.Users(), "userName", strings.ToUpper(cachetest.UserName(7)), cachetest.UserName(7)},
		{s.Users(), "externalId", fmt.Sprintf("00u%017d", 12), fmt.Sprintf("00u%017d", 12)},
		{s.Groups(), "displayName", "group 2", "Group 2"},
	} {
		found, err := tt.rs.List(ctx, &Equality{Attribute: tt.attribute, Value: tt.value})
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Doc[tt.attribute] != tt.want {
			var got []any
			for _, r := range found {
				got = append(got, r.Doc[tt.attribute])
			}
			t.Errorf("%s eq %q found %v, want only %q", tt.attribute, tt.value, got, tt.want)
		}
	}
	if found, err := s.Users().List(ctx, &Equality{Attribute: "userName", Value: "nobody@example.com"}); err != nil || len(found) != 0 {
		t.Errorf("userName eq nobody found %d (%v), want none", len(found), err)
	}
	body := func(userName string) map[string]any {
		return map[string]any{"schemas": []any{schema.UserURN}, "userName": userName}
	}
	if _, err := s.Users().Create(ctx, Write{Provider: "okta"}, body("new@example.com")); err != nil {
		t.Errorf("a new userName in a full bucket: %v", err)
	}
	_, err := s.Users().Create(ctx, Write{Provider: "okta"}, body(strings.ToUpper(cachetest.UserName(3))))
	if e := scimerror.As(err); e == nil || e.Status != http.StatusConflict {
		t.Errorf("a taken userName: %v, want 409", err)
	}
}
