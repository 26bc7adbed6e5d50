package scimserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scim-operator/scim-operator/internal/scimtoken"
)

func TestTokenSourceAcceptsHashedAndPlainTokens(t *testing.T) {
	name := types.NamespacedName{Namespace: "scim", Name: "tokens"}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
		Data: map[string][]byte{
			"okta":          []byte("plain-okta\n"),
			"okta.hashed":   []byte(scimtoken.Hash("hashed-okta")),
			"azure.hashed":  []byte(scimtoken.Hash("hashed-azure") + "\n"),
			"generic.short": []byte("sha256:abc"), // not a hash: a plain token, as before
		},
	}
	tokens := &tokenSource{reader: fake.NewClientBuilder().WithObjects(secret).Build(), secret: name}
	ctx := context.Background()
	for _, tc := range []struct {
		provider, token string
		want            bool
	}{
		{"okta", "plain-okta", true},
		{"okta", "hashed-okta", true},
		{"azure", "hashed-azure", true},
		{"generic", "sha256:abc", true},
		{"okta", scimtoken.Hash("hashed-okta"), false}, // the stored hash is not a token
		{"azure", "hashed-okta", false},                // another provider's token
		{"okta", "wrong", false},
		{"okta", "", false},
		{"nobody", "plain-okta", false},
	} {
		if got := tokens.valid(ctx, tc.provider, tc.token); got != tc.want {
			t.Errorf("valid(%s, %q) = %v, want %v", tc.provider, tc.token, got, tc.want)
		}
	}
}
