package scimserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/scimtoken"
)

// tokenSource checks bearer tokens against the token Secret. Each key of the Secret named
// "<provider>" or "<provider>.<anything>" holds one token of that provider, so a token is rotated by
// adding "okta.next", moving the IdP over, then deleting "okta". A value is the token, or its
// SHA-256 as kubectl scim stores it ("sha256:" and 64 hex digits, see package scimtoken). The Secret
// is read through the informer cache on every request, so changes (a revoked key) apply without a
// restart, on every replica, as soon as its informer sees them.
type tokenSource struct {
	reader client.Reader
	secret types.NamespacedName
	// watched is the Secret as the informer's events deliver it (nil: none), read once synced says
	// they have delivered the first list (watch); without watch, every request reads through
	// reader, waiting at most wait for it when wait is positive.
	watched atomic.Pointer[corev1.Secret]
	synced  func() bool
	wait    time.Duration
}

// valid reports whether token is one of provider's tokens (matchingKey).
func (t *tokenSource) valid(ctx context.Context, provider, token string) bool {
	if token == "" {
		return false
	}
	secret := &corev1.Secret{}
	if err := t.reader.Get(ctx, t.secret, secret); err != nil {
		return false
	}
	return matchingKey(secret.Data, provider, token) != ""
}

// matchingKey returns the key of data (a token Secret's) that holds token for provider, the
// smallest should several hold it, or "". Every candidate is compared, each in constant time over
// fixed-length digests, so neither the token nor the number of candidates leaks through timing.
func matchingKey(data map[string][]byte, provider, token string) string {
	given := sha256.Sum256([]byte(token))
	matched := ""
	for key, value := range data {
		if scimtoken.ProviderOf(key) != provider || len(value) == 0 {
			continue
		}
		want, _ := scimtoken.Digest(value)
		if subtle.ConstantTimeCompare(given[:], want[:]) == 1 && (matched == "" || key < matched) {
			matched = key
		}
	}
	return matched
}
