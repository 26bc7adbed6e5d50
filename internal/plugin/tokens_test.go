package plugin_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/scim-operator/scim-operator/internal/plugin"
	"github.com/scim-operator/scim-operator/internal/scimtoken"
)

// tokenPattern is a printed token and nothing else: 32 random bytes in unpadded base64url.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}\n$`)

var _ = Describe("kubectl scim token", func() {
	var secretName string
	var handWritten map[string][]byte

	getSecret := func() *corev1.Secret {
		GinkgoHelper()
		s := &corev1.Secret{}
		Expect(admin.Get(suiteCtx, client.ObjectKey{Namespace: plugin.DefaultNamespace, Name: secretName}, s)).To(Succeed())
		return s
	}
	creationTimes := func(s *corev1.Secret) map[string]string {
		GinkgoHelper()
		times := map[string]string{}
		Expect(json.Unmarshal([]byte(s.Annotations[plugin.AnnotationTokensCreated]), &times)).To(Succeed())
		return times
	}
	// expectHandWrittenUntouched asserts that the keys written by hand are as they were.
	expectHandWrittenUntouched := func(s *corev1.Secret) {
		GinkgoHelper()
		for k, v := range handWritten {
			Expect(s.Data).To(HaveKeyWithValue(k, v))
		}
		Expect(s.Labels).To(HaveKeyWithValue("team", "platform"))
		Expect(s.Annotations).To(HaveKeyWithValue("owner", "platform-team"))
	}

	BeforeEach(func() {
		// A token Secret written by hand, as the README showed before kubectl scim.
		secretName = unique("tokens")
		handWritten = map[string][]byte{"generic": []byte("generic-plain-token"), "okta.old": []byte("okta-old-token\n")}
		Expect(admin.Create(suiteCtx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: plugin.DefaultNamespace, Name: secretName,
				Labels: map[string]string{"team": "platform"}, Annotations: map[string]string{"owner": "platform-team"}},
			Data: handWritten,
		})).To(Succeed())
	})

	It("creates a token, stores only its hash beside the other keys and prints it alone, once", func() {
		before := time.Now().UTC().Truncate(time.Second)
		r := kubectlScim("token", "create", "okta", "--secret", secretName).succeeds()
		Expect(r.stdout).To(MatchRegexp(tokenPattern.String()), "stdout is the token and a newline")
		token := strings.TrimSuffix(r.stdout, "\n")
		Expect(r.stderr).To(ContainSubstring("Created token okta."))
		Expect(r.stderr).NotTo(ContainSubstring(token))

		s := getSecret()
		expectHandWrittenUntouched(s)
		Expect(s.Data).To(HaveLen(3))
		var key string
		for k := range s.Data {
			if _, old := handWritten[k]; !old {
				key = k
			}
		}
		Expect(key).To(MatchRegexp(`^okta\.\d{8}T\d{6}Z$`), "named by the UTC time")
		Expect(string(s.Data[key])).To(Equal(scimtoken.Hash(token)))
		Expect(string(s.Data[key])).To(MatchRegexp(`^sha256:[0-9a-f]{64}$`))
		created, err := time.Parse(time.RFC3339, creationTimes(s)[key])
		Expect(err).NotTo(HaveOccurred())
		Expect(created).To(BeTemporally(">=", before))
		Expect(created).To(BeTemporally("<=", time.Now()))
		Expect(creationTimes(s)).To(HaveLen(1), "keys written by hand have no creation time")
	})

	It("creates the Secret when there is none", func() {
		secretName = unique("new-tokens")
		r := kubectlScim("token", "create", "azure", "--name", "first", "--secret", secretName).succeeds()
		s := getSecret()
		Expect(s.Data).To(HaveLen(1))
		Expect(string(s.Data["azure.first"])).To(Equal(scimtoken.Hash(strings.TrimSpace(r.stdout))))
		Expect(creationTimes(s)).To(HaveKey("azure.first"))
	})

	It("refuses to overwrite a key, and invalid providers and names", func() {
		kubectlScim("token", "create", "okta", "--name", "next", "--secret", secretName).succeeds()
		stored := getSecret().Data["okta.next"]
		kubectlScim("token", "create", "okta", "--name", "next", "--secret", secretName).fails("already has a key okta.next")
		kubectlScim("token", "create", "okta", "--name", "old", "--secret", secretName).fails("already has a key okta.old")
		Expect(getSecret().Data["okta.next"]).To(Equal(stored))
		Expect(getSecret().Data["okta.old"]).To(Equal(handWritten["okta.old"]))

		kubectlScim("token", "create", "ok.ta", "--secret", secretName).fails("invalid provider")
		kubectlScim("token", "create", "okta", "--name", "a/b", "--secret", secretName).fails("invalid token name")
		kubectlScim("token", "create", "--secret", secretName).fails("accepts 1 arg")
		Expect(getSecret().Data).To(HaveLen(3))
	})

	It("adds concurrent tokens without losing any (a patch with a resourceVersion precondition, retried)", func() {
		var wg sync.WaitGroup
		results := make([]result, 6)
		for i := range results {
			wg.Go(func() {
				defer GinkgoRecover()
				results[i] = kubectlScim("token", "create", "generic", "--name", "parallel-"+string(rune('a'+i)), "--secret", secretName)
			})
		}
		wg.Wait()
		s := getSecret()
		for i, r := range results {
			r.succeeds()
			key := "generic.parallel-" + string(rune('a'+i))
			Expect(string(s.Data[key])).To(Equal(scimtoken.Hash(strings.TrimSpace(r.stdout))), key)
		}
		Expect(s.Data).To(HaveLen(2 + len(results)))
		Expect(creationTimes(s)).To(HaveLen(len(results)))
		expectHandWrittenUntouched(s)
	})

	It("lists keys, providers, how they are stored and when they were created, never a token or a hash", func() {
		token := strings.TrimSpace(kubectlScim("token", "create", "okta", "--name", "next", "--secret", secretName).succeeds().stdout)

		r := kubectlScim("token", "list", "--secret", secretName).succeeds()
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		Expect(lines).To(HaveLen(4))
		Expect(strings.Fields(lines[0])).To(Equal([]string{"KEY", "PROVIDER", "STORED", "CREATED"}))
		Expect(strings.Fields(lines[1])).To(Equal([]string{"generic", "generic", "plain", "unknown"}))
		Expect(strings.Fields(lines[2])).To(HaveExactElements("okta.next", "okta", "hashed", MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)))
		Expect(strings.Fields(lines[3])).To(Equal([]string{"okta.old", "okta", "plain", "unknown"}))

		for _, format := range []string{"json", "yaml"} {
			out := kubectlScim("token", "list", "--secret", secretName, "-o", format).succeeds().stdout
			for _, secret := range []string{token, "sha256:", "generic-plain-token", "okta-old-token"} {
				Expect(out).NotTo(ContainSubstring(secret))
			}
			var list plugin.TokenList
			Expect(yaml.Unmarshal([]byte(out), &list)).To(Succeed(), format) // YAML is a superset of JSON
			Expect(list.APIVersion).To(Equal(plugin.ReportAPIVersion))
			Expect(list.Kind).To(Equal("TokenList"))
			Expect(list.Namespace).To(Equal(plugin.DefaultNamespace))
			Expect(list.Secret).To(Equal(secretName))
			Expect(list.Items).To(HaveLen(3))
			Expect(list.Items[0]).To(Equal(plugin.Token{Key: "generic", Provider: "generic", Stored: plugin.StoredPlain}))
			Expect(list.Items[1]).To(And(HaveField("Key", "okta.next"), HaveField("Stored", plugin.StoredHashed), HaveField("Created", Not(BeNil()))))
		}
		Expect(strings.TrimSpace(r.stdout)).NotTo(ContainSubstring(token))
		kubectlScim("token", "list", "--secret", secretName, "-o", "xml").fails("allowed formats are")
		kubectlScim("token", "list", "--secret", unique("missing")).fails("not found")
	})

	It("revokes a key and its creation time; an unknown key is an error", func() {
		kubectlScim("token", "create", "okta", "--name", "next", "--secret", secretName).succeeds()
		kubectlScim("token", "create", "okta", "--name", "spare", "--secret", secretName).succeeds()

		r := kubectlScim("token", "revoke", "okta.next", "--secret", secretName).succeeds()
		Expect(r.stdout).To(BeEmpty())
		Expect(r.stderr).To(ContainSubstring("Revoked token okta.next"))
		s := getSecret()
		Expect(s.Data).NotTo(HaveKey("okta.next"))
		Expect(s.Data).To(HaveKey("okta.spare"))
		Expect(creationTimes(s)).To(HaveKey("okta.spare"))
		Expect(creationTimes(s)).NotTo(HaveKey("okta.next"))
		expectHandWrittenUntouched(s)

		kubectlScim("token", "revoke", "okta.next", "--secret", secretName).fails("has no key okta.next")
		kubectlScim("token", "revoke", "okta.spare", "--secret", secretName).succeeds()
		Expect(getSecret().Annotations).NotTo(HaveKey(plugin.AnnotationTokensCreated), "no creation time left")

		r = kubectlScim("token", "revoke", "generic", "--secret", secretName).succeeds() // a key written by hand
		Expect(r.stderr).To(ContainSubstring("provider generic has no token left"))
		Expect(getSecret().Data).To(Equal(map[string][]byte{"okta.old": handWritten["okta.old"]}))
	})
})
