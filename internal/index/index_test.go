package index

import (
	"context"
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

// UsersNamed finds through the identity key exactly the users of one userName: not those whose
// userName differs only in case, white space or Unicode form, which share the key (possible for
// users created with kubectl, which no SCIM uniqueness check stands in front of).
func TestUsersNamedIsExact(t *testing.T) {
	for _, buckets := range []uint64{Buckets, 1} { // 1: every user in one bucket
		t.Run(fmt.Sprintf("buckets=%d", buckets), func(t *testing.T) {
			setBuckets(t, buckets)
			testUsersNamedIsExact(t)
		})
	}
}

func testUsersNamedIsExact(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	user := func(name, userName string) client.Object {
		return &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.ScimUserSpec{UserName: userName}}
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(UserNameFolded.Object, UserNameFolded.Name, UserNameFolded.Extract).
		WithObjects(user("a-1", "alice@example.com"), user("a-2", "Alice@Example.com"), user("a-3", " alice@example.com"),
			user("a-4", "bob@example.com"), user("a-5", "Ǆemal@example.com"), user("a-6", "ǆemal@example.com")).Build()
	for userName, want := range map[string][]string{
		"alice@example.com":  {"a-1"},
		"Alice@Example.com":  {"a-2"},
		" alice@example.com": {"a-3"},
		"ALICE@example.com":  nil,
		"ǆemal@example.com":  {"a-6"},
		"nobody@example.com": nil,
	} {
		users, err := UsersNamed(context.Background(), c, userName)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range users {
			got = append(got, u.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("UsersNamed(%q) = %v, want %v", userName, got, want)
		}
	}
}

// setBuckets sets Buckets to n for the rest of t.
func setBuckets(t *testing.T, n uint64) {
	old := Buckets
	Buckets = n
	t.Cleanup(func() { Buckets = old })
}

// A bucketed index indexes a key's bucket, which the lookup value names, and a reader keeps only
// the objects that have the key: with one bucket, every user is under every key's value.
func TestBucketedIndexSelectsTheBucketAndMatchesTheKey(t *testing.T) {
	alice := &v1.ScimUser{Spec: v1.ScimUserSpec{UserName: "Alice@Example.com", ExternalID: "00u1"}}
	bob := &v1.ScimUser{Spec: v1.ScimUserSpec{UserName: "bob@example.com"}}
	for _, ix := range []Index{UserNameFolded, UserExternalID, RoleDisplayNameFolded, RoleExternalID} {
		if ix.keyOf == nil {
			t.Errorf("index %T %s is not bucketed", ix.Object, ix.Name)
		}
	}
	if RoleMember.keyOf != nil || !RoleMember.matches(&v1.ScimRole{}, "anything") || RoleMember.value("a-1") != "a-1" {
		t.Error("an index of keys selects by the key itself and keeps what it selects")
	}
	if got := UserNameFolded.Extract(alice); !slices.Equal(got, []string{UserNameFolded.value("alice@example.com")}) {
		t.Errorf("alice is indexed under %v, not the bucket of her identity key", got)
	}
	if got := UserExternalID.Extract(bob); got != nil {
		t.Errorf("a user without an externalId is indexed under %v", got)
	}
	// Spread over the default buckets, 1,000 keys land in hundreds of them.
	seen := map[string]bool{}
	for i := range 1000 {
		seen[UserNameFolded.value(fmt.Sprintf("user%d@example.com", i))] = true
	}
	if len(seen) < 900 {
		t.Errorf("1,000 keys in %d buckets of %d", len(seen), Buckets)
	}
	setBuckets(t, 1)
	if UserNameFolded.value("alice@example.com") != UserNameFolded.value("bob@example.com") {
		t.Fatal("one bucket, two values")
	}
	if !UserNameFolded.matches(alice, "alice@example.com") || UserNameFolded.matches(bob, "alice@example.com") {
		t.Error("Matches keeps the users of the key only")
	}
	if !UserExternalID.matches(alice, "00u1") || UserExternalID.matches(bob, "00u1") {
		t.Error("Matches keeps the users of the externalId only")
	}
}
