package scimserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/scimserver/store"
)

// match returns the key of the token Secret that holds token for provider (matchingKey), which is
// what the per-token limits count by. An empty token matches nothing, without reading the Secret.
// An error says the Secret could not be read, so that the token is neither accepted nor refused.
func (t *tokenSource) match(ctx context.Context, provider, token string) (string, bool, error) {
	if token == "" {
		return "", false, nil
	}
	secret, err := t.current(ctx)
	if err != nil {
		// The Secret cannot be read (its cache not synced within ctx, say): nothing can be said
		// of the token.
		return "", false, err
	}
	if secret == nil {
		// No Secret, no token: every token is wrong.
		return "", false, nil
	}
	matched := matchingKey(secret.Data, provider, token)
	return matched, matched != "", nil
}

// current returns the token Secret (nil when there is none): the copy the informer's events last
// delivered (watch) once they have delivered the first list, else the reader's, waited for at most
// t.wait. The cache's copy, uncopied: only read.
func (t *tokenSource) current(ctx context.Context) (*corev1.Secret, error) {
	if t.synced != nil && t.synced() {
		return t.watched.Load(), nil
	}
	if t.wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.wait)
		defer cancel()
	}
	secret := &corev1.Secret{}
	if err := t.reader.Get(ctx, t.secret, secret, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return secret, nil
}

// WatchTokenSecret has the server read the token Secret from the events of informers' Secret
// informer (tokenSource.watch) rather than through its reader on every request. SetupWithManager
// calls it with the manager's cache.
func (s *Server) WatchTokenSecret(ctx context.Context, informers store.Informers) error {
	return s.tokens.watch(ctx, informers)
}

// watch keeps t's copy of the token Secret from the events of the manager's Secret informer, so
// that authenticating a request is an atomic load rather than a cache Get (which, for a Secret
// cached in one namespace, maps its kind to a resource on every call: a tenth of the manager's CPU
// serving GETs). The copy changes as the cache does: a key added or revoked applies on the event
// that brings it.
func (t *tokenSource) watch(ctx context.Context, informers store.Informers) error {
	inf, err := informers.GetInformer(ctx, &corev1.Secret{}, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("informer of the token Secret: %w", err)
	}
	// seen stores the Secret an event brings, or none for a deletion; other Secrets are ignored.
	seen := func(obj any, deleted bool) {
		if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		s, ok := obj.(*corev1.Secret)
		if !ok || s.Namespace != t.secret.Namespace || s.Name != t.secret.Name {
			return
		}
		if deleted {
			s = nil
		}
		t.watched.Store(s)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { seen(obj, false) },
		UpdateFunc: func(_, obj any) { seen(obj, false) },
		DeleteFunc: func(obj any) { seen(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("watch the token Secret: %w", err)
	}
	t.synced = reg.HasSynced
	return nil
}
