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
	"github.com/scim-operator/scim-operator/internal/index"
	"github.com/scim-operator/scim-operator/scimserver"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// BenchmarkReadUsers serves the reads an identity provider makes — GET by id, `userName eq`, a list
// page of 100 at the start and at the end — through the SCIM handler over an in-memory cache of
// 1,000 and of 50,000 users (a tenth as many roles, one holding a fifth of the users), without an
// API server or a network, the users and their roles read from client-go informers as the manager
// reads them (index.Direct). Reads are served from memory: their cost must not grow with the
// number of users, and a list page must cost a page. GET and `eq` read 1,024 users spread over the
// tenant in turn, all rendered once before the clock starts (as rendering ahead leaves them), so
// that a larger tenant is not read from a warmer processor cache.
func BenchmarkReadUsers(b *testing.B) {
	for _, n := range []int{1000, 50000} {
		handler := benchHandler(b, n, n/10)
		var gets, eqs []string
		for i := range spread {
			u := i * n / spread
			gets = append(gets, "/Users/"+cachetest.UserID(u))
			eqs = append(eqs, "/Users?filter="+url.QueryEscape(fmt.Sprintf("userName eq %q", cachetest.UserName(u))))
		}
		for _, path := range gets {
			serve(b, handler, path)
		}
		for _, read := range []struct {
			name  string
			paths []string
		}{
			{"GET by id", gets},
			{"filter userName eq", eqs},
			{"list page at the start", []string{"/Users?startIndex=1&count=100"}},
			{"list page at the end", []string{fmt.Sprintf("/Users?startIndex=%d&count=100", n-99)}},
		} {
			b.Run(fmt.Sprintf("%s/users=%d", read.name, n), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					serve(b, handler, read.paths[i%len(read.paths)])
					i++
				}
			})
		}
	}
}

// spread is how many users BenchmarkReadUsers reads by id and by userName.
const spread = 1024

// serve answers a GET of path (under the okta provider's base) with handler, and fails b unless
// it is 200.
func serve(b *testing.B, handler http.Handler, path string) {
	req := httptest.NewRequest(http.MethodGet, "/provisioning/okta/v2"+path, nil)
	req.Header.Set("Authorization", "Bearer bench-token")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("%s: %d %s", path, w.Code, w.Body)
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
	informers, err := c.Informers(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if st.Direct, err = index.NewDirect(context.Background(), informers); err != nil {
		b.Fatal(err)
	}
	if err := st.WatchMemberships(context.Background(), informers); err != nil {
		b.Fatal(err)
	}
	srv, err := scimserver.New(scimserver.Options{Providers: []string{"okta"}, TokenSecret: types.NamespacedName{Namespace: "scim", Name: "tokens"}},
		st, c, logr.Discard())
	if err != nil {
		b.Fatal(err)
	}
	// As SetupWithManager does: the token Secret from its informer's events.
	if err := srv.WatchTokenSecret(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	return srv.Handler()
}
