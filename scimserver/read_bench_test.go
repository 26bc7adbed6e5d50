package scimserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/cachetest"
	"github.com/scim-operator/scim-operator/scimserver"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// BenchmarkReadUsers serves the reads an identity provider makes — GET by id, `userName eq`, a list
// page of 100 at the start and at the end — through the SCIM handler over an in-memory cache of
// 1,000 and of 50,000 users (a tenth as many roles, one holding a fifth of the users), without an
// API server or a network. Reads are served from memory: their cost must not grow with the
// number of users, and a list page must cost a page.
func BenchmarkReadUsers(b *testing.B) {
	for _, n := range []int{1000, 50000} {
		handler := benchHandler(b, n, n/10)
		eq := url.QueryEscape(fmt.Sprintf("userName eq %q", cachetest.UserName(n/2)))
		for _, read := range []struct{ name, path string }{
			{"GET by id", "/Users/" + cachetest.UserID(n/2)},
			{"filter userName eq", "/Users?filter=" + eq},
			{"list page at the start", "/Users?startIndex=1&count=100"},
			{"list page at the end", fmt.Sprintf("/Users?startIndex=%d&count=100", n-99)},
		} {
			b.Run(fmt.Sprintf("%s/users=%d", read.name, n), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/provisioning/okta/v2"+read.path, nil)
				req.Header.Set("Authorization", "Bearer bench-token")
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					handler.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("%s: %d %s", read.path, w.Code, w.Body)
					}
				}
			})
		}
	}
}

// benchHandler returns the SCIM handler of the okta provider over an in-memory cache of a tenant
// (cachetest.Tenant), the bearer token "bench-token".
func benchHandler(b *testing.B, users, roles int) http.Handler {
	b.Helper()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: "scim"}, Data: map[string][]byte{"okta": []byte("bench-token")}}
	c := cachetest.New(append(cachetest.Tenant(users, roles), client.Object(secret))...)
	if err := store.RegisterIndexes(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	// As SetupWithManager sets the store up.
	st := &store.Store{Client: c, Live: c}
	if err := st.IndexOrder(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	srv, err := scimserver.New(scimserver.Options{Providers: []string{"okta"}, TokenSecret: types.NamespacedName{Namespace: "scim", Name: "tokens"}},
		st, c, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	return srv.Handler()
}
