package scimserver

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// match returns the key of the token Secret that holds token for provider (the smallest, should
// several hold it), which is what the per-token limits count by. valid (tokens.go) stays the one
// comparison of tokens: it is asked once for every key, each time over a view of the Secret that
// holds that key alone, so timing tells neither the token nor which key holds it. An empty token
// matches nothing, without reading the Secret. An error says the Secret could not be read, so
// that the token is neither accepted nor refused.
func (t *tokenSource) match(ctx context.Context, provider, token string) (string, bool, error) {
	if token == "" {
		return "", false, nil
	}
	// The cache's copy, uncopied: only read, here and through the views.
	secret := &corev1.Secret{}
	if err := t.reader.Get(ctx, t.secret, secret, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			// No Secret, no token: every token is wrong.
			return "", false, nil
		}
		// The Secret cannot be read (its cache not synced within ctx, say): nothing can be said
		// of the token.
		return "", false, err
	}
	matched := ""
	for key := range secret.Data {
		one := &tokenSource{reader: singleKey{secret: secret, key: key}, secret: t.secret}
		if one.valid(ctx, provider, token) && (matched == "" || key < matched) {
			matched = key
		}
	}
	return matched, matched != "", nil
}

// singleKey is a client.Reader that serves secret with its key key only.
type singleKey struct {
	secret *corev1.Secret
	key    string
}

func (s singleKey) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	out, ok := obj.(*corev1.Secret)
	if !ok {
		return fmt.Errorf("a token Secret view serves a Secret, not %T", obj)
	}
	*out = corev1.Secret{ObjectMeta: s.secret.ObjectMeta, Data: map[string][]byte{s.key: s.secret.Data[s.key]}}
	return nil
}

func (singleKey) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("a token Secret view serves one Secret, no list")
}
