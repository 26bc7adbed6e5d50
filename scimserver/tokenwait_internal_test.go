package scimserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	fcache "k8s.io/client-go/tools/cache/testing"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/scimserver/store"
)

// unsyncedCache is a reader of the token Secret as controller-runtime's informer cache is before
// its first sync: Get waits until it syncs, which it never does here (the Secret cannot be
// listed), or until the context ends.
type unsyncedCache struct{}

func (unsyncedCache) Get(ctx context.Context, _ client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	<-ctx.Done()
	return ctx.Err()
}

func (unsyncedCache) List(ctx context.Context, _ client.ObjectList, _ ...client.ListOption) error {
	<-ctx.Done()
	return ctx.Err()
}

// missingSecret is a reader that has synced and holds no token Secret.
type missingSecret struct{ unsyncedCache }

func (missingSecret) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "tokens")
}

func tokenWaitServer(t *testing.T, secrets client.Reader) *Server {
	t.Helper()
	srv, err := New(Options{Providers: []string{"okta"}, TokenSecret: types.NamespacedName{Namespace: "scim", Name: "tokens"},
		WriteTimeout: 50 * time.Millisecond, AuthFailureRate: 1, AuthFailureBurst: 1}, &store.Store{}, secrets, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func get(t *testing.T, srv *Server, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/provisioning/okta/v2/Users", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Handler().ServeHTTP(w, req)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the request is still waiting for the token Secret after a minute")
	}
	return w
}

// A token Secret the cache cannot read (never synced) holds no request beyond --scim-write-timeout:
// it is answered 503 with Retry-After, not 401 (which would tell the IdP its token is wrong), and
// does not count as a failed authentication of the address.
func TestUnreadableTokenSecretIsUnavailableNotUnauthorized(t *testing.T) {
	srv := tokenWaitServer(t, unsyncedCache{})
	for range 3 { // past the failed-authentication burst of 1
		w := get(t, srv, "any-token")
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Fatalf("answered %d (Retry-After %q) %s, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Status != "503" {
			t.Fatalf("body %s is not a SCIM error of status 503 (%v)", w.Body, err)
		}
	}
	if n := srv.failures.size(); n != 0 {
		t.Fatalf("%d addresses charged with failed authentications, want none", n)
	}
}

// A synced cache without the Secret has no valid token: 401, counted.
func TestMissingTokenSecretIsUnauthorized(t *testing.T) {
	srv := tokenWaitServer(t, missingSecret{})
	if w := get(t, srv, "any-token"); w.Code != http.StatusUnauthorized {
		t.Fatalf("answered %d %s, want 401", w.Code, w.Body)
	}
	if w := get(t, srv, "any-token"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("second failure answered %d %s, want 429 (burst 1)", w.Code, w.Body)
	}
}

// informersOf serves one informer for every kind.
type informersOf struct {
	inf toolscache.SharedIndexInformer
}

func (i informersOf) GetInformer(context.Context, client.Object, ...cache.InformerGetOption) (cache.Informer, error) {
	return i.inf, nil
}

// The token Secret as the informer's events deliver it: requests read it once the informer has
// delivered its first list (before that through the reader), only the Secret named by
// TokenSecret counts, and an update or a deletion applies with its event.
func TestTokensFollowTheSecretInformer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	name := types.NamespacedName{Namespace: "scim", Name: "tokens"}
	secret := func(name, token string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "scim", Name: name}, Data: map[string][]byte{"okta": []byte(token)}}
	}
	src := fcache.NewFakeControllerSource()
	src.Add(secret("tokens", "first"))
	src.Add(secret("other", "not-a-token"))
	inf := toolscache.NewSharedIndexInformer(src, &corev1.Secret{}, 0, toolscache.Indexers{})
	// Until the informer has synced, the reader answers: here a cache that never syncs.
	tokens := &tokenSource{reader: unsyncedCache{}, secret: name}
	if err := tokens.watch(ctx, informersOf{inf}); err != nil {
		t.Fatal(err)
	}
	short, stop := context.WithTimeout(ctx, 10*time.Millisecond)
	if _, _, err := tokens.match(short, "okta", "first"); err == nil {
		t.Fatal("before the informer synced, a token was judged without the reader")
	}
	stop()
	go inf.Run(ctx.Done())

	eventually := func(what, token string, want bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			short, stop := context.WithTimeout(ctx, 10*time.Millisecond) // before the sync, the reader waits
			_, ok, err := tokens.match(short, "okta", token)
			stop()
			if err == nil && ok == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: token %q accepted %v (error %v), want %v", what, token, ok, err, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	eventually("synced", "first", true)
	eventually("another Secret's value", "not-a-token", false)
	src.Modify(secret("tokens", "second"))
	eventually("rotated", "second", true)
	eventually("rotated", "first", false)
	src.Modify(secret("other", "second-other"))
	eventually("another Secret changed", "second", true)
	src.Delete(secret("tokens", "second"))
	eventually("Secret deleted", "second", false)
	src.Add(secret("tokens", "third"))
	eventually("Secret created again", "third", true)
}
