package index

import (
	"context"
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
