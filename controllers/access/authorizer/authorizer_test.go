package authorizer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/index"
)

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := identityv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// user returns a ScimUser named name with userName, changed by opts.
func user(name, userName string, opts ...func(*identityv1alpha1.ScimUser)) *identityv1alpha1.ScimUser {
	u := &identityv1alpha1.ScimUser{
		ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: []string{identityv1alpha1.FinalizerAccess}},
		Spec:       identityv1alpha1.ScimUserSpec{UserName: userName},
	}
	for _, o := range opts {
		o(u)
	}
	return u
}

func suspendedBy(who string) func(*identityv1alpha1.ScimUser) {
	return func(u *identityv1alpha1.ScimUser) {
		u.Spec.Active = new(false)
		if who != "" {
			u.Annotations = map[string]string{identityv1alpha1.AnnotationSuspendedBy: who}
		}
	}
}

func deleted(u *identityv1alpha1.ScimUser) { u.DeletionTimestamp = new(metav1.Now()) }

// directory holds a user in every state the webhook tells apart.
var directory = []*identityv1alpha1.ScimUser{
	user("a-active", "alice@example.com"),
	user("a-by-provider", "bob@example.com", suspendedBy(identityv1alpha1.SuspendedByProvider)),
	user("a-by-admin", "carol@example.com", suspendedBy(identityv1alpha1.SuspendedByAdmin)),
	user("a-unrecorded", "dave@example.com", suspendedBy("")),
	user("a-deleted", "erin@example.com", deleted),
	// A deleted user and its successor under the same userName, while the first is cleaned up.
	user("a-old", "frank@example.com", deleted),
	user("a-new", "frank@example.com"),
	// Two users without access under one userName.
	user("a-gone-2", "grace@example.com", deleted),
	user("a-gone-1", "grace@example.com", suspendedBy(identityv1alpha1.SuspendedByProvider)),
	// A SCIM user named like a system component.
	user("a-system", "system:kube-scheduler", suspendedBy(identityv1alpha1.SuspendedByProvider)),
}

func newFakeReader(users ...*identityv1alpha1.ScimUser) client.Reader {
	objs := make([]client.Object, len(users))
	for i, u := range users {
		objs[i] = u.DeepCopy()
	}
	return fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(index.UserNameFolded.Object, index.UserNameFolded.Name, index.UserNameFolded.Extract).
		WithObjects(objs...).Build()
}

func TestReview(t *testing.T) {
	ctx := context.Background()
	reader := newFakeReader(directory...)
	for _, tc := range []struct {
		prefix, user string
		// denied is the reason expected after ReasonPrefix, or "" for no opinion.
		denied string
	}{
		{"oidc:", "oidc:alice@example.com", ""},
		{"oidc:", "oidc:bob@example.com", "ScimUser a-by-provider is suspended (by provider)"},
		{"oidc:", "oidc:carol@example.com", "ScimUser a-by-admin is suspended (by admin)"},
		// Suspended a moment ago by an admin, before the controller recorded who.
		{"oidc:", "oidc:dave@example.com", "ScimUser a-unrecorded is suspended (by admin)"},
		{"oidc:", "oidc:erin@example.com", "ScimUser a-deleted is being deleted"},
		{"oidc:", "oidc:frank@example.com", ""},
		{"oidc:", "oidc:grace@example.com", "ScimUser a-gone-1 is suspended (by provider)"},
		{"oidc:", "oidc:nobody@example.com", "the user is not provisioned: no ScimUser has this userName"},
		// userNames are compared exactly, as RBAC compares subject names.
		{"oidc:", "oidc:ALICE@example.com", "the user is not provisioned: no ScimUser has this userName"},
		// Outside the prefix: not the identity provider's user, whatever a ScimUser says.
		{"oidc:", "bob@example.com", ""},
		{"oidc:", "nobody@example.com", ""},
		{"oidc:", "system:serviceaccount:default:default", ""},
		{"oidc:", "", ""},
		// Without a prefix only known users are denied, and never a reserved name.
		{"", "bob@example.com", "ScimUser a-by-provider is suspended (by provider)"},
		{"", "alice@example.com", ""},
		{"", "nobody@example.com", ""},
		{"", "system:kube-scheduler", ""},
		{"", "system:anonymous", ""},
	} {
		status, err := New(reader, tc.prefix).Review(ctx, &authorizationv1.SubjectAccessReviewSpec{User: tc.user, Groups: []string{"system:authenticated"}})
		if err != nil {
			t.Fatalf("prefix %q, user %q: %v", tc.prefix, tc.user, err)
		}
		want := authorizationv1.SubjectAccessReviewStatus{}
		if tc.denied != "" {
			want = authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: ReasonPrefix + tc.denied}
		}
		if status != want {
			t.Errorf("prefix %q, user %q: %+v, want %+v", tc.prefix, tc.user, status, want)
		}
	}
}

// TestReviewNeverAllows asks about every user of the directory, and some that are in no directory,
// under either kind of prefix, for every kind of request: nothing is ever allowed.
func TestReviewNeverAllows(t *testing.T) {
	ctx := context.Background()
	reader := newFakeReader(directory...)
	names := []string{"", "nobody", "system:masters", "system:anonymous"}
	for _, u := range directory {
		names = append(names, u.Spec.UserName)
	}
	requests := []authorizationv1.SubjectAccessReviewSpec{
		{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: "default"}},
		{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}},
		{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/api"}},
		{Groups: []string{"system:masters"}},
	}
	for _, prefix := range []string{"", "oidc:"} {
		a := New(reader, prefix)
		for _, name := range names {
			for _, user := range []string{name, prefix + name} {
				for _, spec := range requests {
					spec.User = user
					status, err := a.Review(ctx, &spec)
					if err != nil || status.Allowed {
						t.Errorf("prefix %q, user %q, %+v: %+v, %v: the webhook must never allow", prefix, user, spec, status, err)
					}
				}
			}
		}
	}
}

func TestServeHTTP(t *testing.T) {
	a := New(newFakeReader(directory...), "oidc:")
	post := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
		return rec
	}
	review := func(user string) string {
		b, _ := json.Marshal(authorizationv1.SubjectAccessReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"},
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
				ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods"}},
		})
		return string(b)
	}

	for user, want := range map[string]authorizationv1.SubjectAccessReviewStatus{
		"oidc:bob@example.com":   {Denied: true, Reason: ReasonPrefix + "ScimUser a-by-provider is suspended (by provider)"},
		"oidc:alice@example.com": {},
	} {
		rec := post(review(user))
		var got authorizationv1.SubjectAccessReview
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %s (%v)", user, rec.Code, rec.Body, err)
		}
		if got.APIVersion != "authorization.k8s.io/v1" || got.Kind != "SubjectAccessReview" || got.Status != want {
			t.Errorf("%s: %s, want status %+v", user, rec.Body, want)
		}
		if strings.Contains(rec.Body.String(), `"allowed":true`) {
			t.Errorf("%s: %s allows", user, rec.Body)
		}
	}

	get := httptest.NewRecorder()
	a.ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/", nil))
	if get.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", get.Code)
	}
	for name, body := range map[string]string{
		"not JSON":      "{",
		"v1beta1":       strings.Replace(review("oidc:bob@example.com"), "authorization.k8s.io/v1", "authorization.k8s.io/v1beta1", 1),
		"another kind":  strings.Replace(review("oidc:bob@example.com"), `"SubjectAccessReview"`, `"LocalSubjectAccessReview"`, 1),
		"no type":       `{"spec":{"user":"oidc:bob@example.com"}}`,
		"too large":     `{"spec":{"user":"` + strings.Repeat("x", maxReviewBytes) + `"}}`,
		"another value": `[]`,
	} {
		if rec := post(body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, rec.Code)
		}
	}
}

// failingReader fails every read, as a cache that cannot answer.
type failingReader struct{ client.Reader }

func (failingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("the cache is gone")
}

func TestServeHTTPCacheError(t *testing.T) {
	rec := httptest.NewRecorder()
	body := `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"oidc:bob@example.com"}}`
	New(failingReader{}, "oidc:").ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(body)))
	// Not a 500: the API server retries those, and the user would wait for its backoff.
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("%d %s, want 503", rec.Code, rec.Body)
	}
}
