package scimserver_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/scimtoken"
)

var _ = Describe("Hashed tokens", func() {
	It("are accepted by every replica, and refused by every replica within seconds of their revocation", func() {
		second := startInstance()
		defer second.Close()
		replicas := []string{server.URL, second.URL}

		token, err := scimtoken.Generate()
		Expect(err).NotTo(HaveOccurred())
		key := "okta." + unique("hashed")
		changeSecret := func(change func(*corev1.Secret)) {
			GinkgoHelper()
			secret := &corev1.Secret{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: tokenNamespace, Name: tokenName}, secret)).To(Succeed())
			before := secret.DeepCopy()
			change(secret)
			Expect(k8sClient.Patch(ctx, secret, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))).To(Succeed())
		}
		status := func(base string) func() int {
			return func() int {
				return call(base, "okta", "GET", "/Users", "", "Authorization", "Bearer "+token).StatusCode
			}
		}

		changeSecret(func(s *corev1.Secret) { s.Data[key] = []byte(scimtoken.Hash(token)) })
		for _, base := range replicas {
			Eventually(status(base)).WithTimeout(5 * time.Second).Should(Equal(http.StatusOK))
		}
		call(server.URL, "okta", "GET", "/Users", "", "Authorization", "Bearer "+scimtoken.Hash(token)).
			expectError(http.StatusUnauthorized, "") // what is stored opens nothing

		changeSecret(func(s *corev1.Secret) { delete(s.Data, key) })
		revoked := time.Now()
		for _, base := range replicas {
			Eventually(status(base)).WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).
				Should(Equal(http.StatusUnauthorized))
		}
		GinkgoWriter.Printf("every replica refused the revoked token %v after the revocation\n", time.Since(revoked))
		call(server.URL, "okta", "GET", "/Users", "").expectStatus(http.StatusOK) // the other tokens still open
	})
})
