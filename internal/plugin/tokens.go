package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scim-operator/scim-operator/internal/scimtoken"
)

// AnnotationTokensCreated on the token Secret records when kubectl scim created each of its keys:
// a JSON object from key to RFC 3339 time. Keys written by hand are not in it.
const AnnotationTokensCreated = "identity.scim-operator.io/tokens-created"

// nameLayout is the default token name: the UTC time of its creation, e.g. 20261201T094900Z.
const nameLayout = "20060102T150405Z"

// Values of Token.Stored.
const (
	// StoredHashed: the Secret holds the token's SHA-256, as kubectl scim writes it.
	StoredHashed = "hashed"
	// StoredPlain: the Secret holds the token itself, as written by hand.
	StoredPlain = "plain"
)

// TokenList is what `kubectl scim token list -o json|yaml` prints: the keys of the token Secret,
// never a token or a hash.
type TokenList struct {
	metav1.TypeMeta `json:",inline"`
	// Namespace and Secret name the token Secret.
	Namespace string `json:"namespace"`
	Secret    string `json:"secret"`
	// Items are the Secret's keys, sorted.
	Items []Token `json:"items"`
}

// Token is one key of the token Secret.
type Token struct {
	// Key is the Secret key, "<provider>" or "<provider>.<name>".
	Key string `json:"key"`
	// Provider is the provider the token opens.
	Provider string `json:"provider"`
	// Stored is StoredHashed or StoredPlain.
	Stored string `json:"stored"`
	// Created is when kubectl scim created the key; absent for keys written by hand.
	Created *metav1.Time `json:"created,omitempty"`
}

func newTokenCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the providers' SCIM bearer tokens",
		Long: "The token Secret holds one bearer token per key, \"<provider>\" or \"<provider>.<name>\"; " +
			"the SCIM server reads it on every request, so a change applies within seconds on every replica.",
	}
	cmd.PersistentFlags().StringVar(&o.secret, "secret", DefaultSecret, "The token Secret (the manager's --scim-token-secret)")
	cmd.AddCommand(newTokenCreateCommand(o), newTokenListCommand(o), newTokenRevokeCommand(o))
	return cmd
}

func newTokenCreateCommand(o *options) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "create PROVIDER [--name NAME]",
		Short: "Create a token for PROVIDER, store its SHA-256 and print the token, once",
		Example: `  # A token for Okta, named by the time of its creation (key okta.20261201T094900Z):
  kubectl scim token create okta
  # A named one, straight into a file:
  kubectl scim token create azure --name entra-prod > azure.token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now().UTC().Truncate(time.Second)
			if name == "" {
				name = now.Format(nameLayout)
			}
			key, err := scimtoken.Key(args[0], name)
			if err != nil {
				return err
			}
			s, err := o.tokenSecret()
			if err != nil {
				return err
			}
			token, err := scimtoken.Generate()
			if err != nil {
				return err
			}
			if err := s.add(cmd.Context(), key, scimtoken.Hash(token), now); err != nil {
				return err
			}
			fmt.Fprintln(o.streams.Out, token)
			fmt.Fprintf(o.streams.ErrOut, "Created token %s in Secret %s; only its SHA-256 is stored, this is the one time it is shown.\n", key, s.name)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "The token's name, the key's part after the provider (default: the UTC time, e.g. 20261201T094900Z)")
	return cmd
}

func newTokenListCommand(o *options) *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the token keys: provider, whether hashed or plain, and when created",
		Example: `  kubectl scim token list
  kubectl scim token list -o json | jq -r '.items[] | select(.stored == "plain") | .key'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			s, err := o.tokenSecret()
			if err != nil {
				return err
			}
			list, err := s.list(cmd.Context())
			if err != nil {
				return err
			}
			return out.print(o.streams.Out, list, list.printTable)
		},
	}
	out.add(cmd)
	return cmd
}

func newTokenRevokeCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke PROVIDER.NAME",
		Short:   "Delete a token's key: every replica refuses the token within seconds",
		Example: `  kubectl scim token revoke okta.20261201T094900Z`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := o.tokenSecret()
			if err != nil {
				return err
			}
			left, err := s.remove(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(o.streams.ErrOut, "Revoked token %s in Secret %s.\n", args[0], s.name)
			if left == 0 {
				fmt.Fprintf(o.streams.ErrOut, "Warning: provider %s has no token left; its identity provider cannot provision until you create one.\n", scimtoken.ProviderOf(args[0]))
			}
			return nil
		},
	}
}

// conflictBackoff paces the retries of a change that lost a race with another: jittered, so that
// several admins (or scripts) changing the Secret at once all get through.
var conflictBackoff = wait.Backoff{Steps: 10, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 1}

// tokenSecret returns the token Secret that the flags name.
func (o *options) tokenSecret() (tokenSecret, error) {
	c, err := o.client()
	return tokenSecret{client: c, name: types.NamespacedName{Namespace: o.namespace(), Name: o.secret}}, err
}

// tokenSecret is the token Secret. Every change is a patch of the one key it adds or removes and
// of AnnotationTokensCreated, made with the resourceVersion it was computed from and retried on
// conflict, so that concurrent changes to other keys are never lost.
type tokenSecret struct {
	client client.Client
	name   types.NamespacedName
}

// add stores value under key, created at created, creating the Secret when there is none. An
// existing key is never overwritten.
func (s tokenSecret) add(ctx context.Context, key, value string, created time.Time) error {
	retriable := func(err error) bool { return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) }
	return retry.OnError(conflictBackoff, retriable, func() error {
		secret := &corev1.Secret{}
		err := s.client.Get(ctx, s.name, secret)
		if apierrors.IsNotFound(err) {
			secret = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: s.name.Namespace, Name: s.name.Name},
				Type:       corev1.SecretTypeOpaque,
				Data:       map[string][]byte{key: []byte(value)},
			}
			setCreationTimes(secret, map[string]string{key: created.Format(time.RFC3339)})
			return s.client.Create(ctx, secret)
		}
		if err != nil {
			return fmt.Errorf("read Secret %s: %w", s.name, err)
		}
		if _, ok := secret.Data[key]; ok {
			return fmt.Errorf("the Secret %s already has a key %s: choose another --name (nothing is overwritten)", s.name, key)
		}
		before := secret.DeepCopy()
		if secret.Data == nil {
			secret.Data = map[string][]byte{}
		}
		secret.Data[key] = []byte(value)
		times := creationTimes(secret)
		times[key] = created.Format(time.RFC3339)
		setCreationTimes(secret, times)
		return s.patch(ctx, before, secret)
	})
}

// remove deletes key and its creation time, and returns how many keys of its provider are left. An
// unknown key is an error.
func (s tokenSecret) remove(ctx context.Context, key string) (left int, err error) {
	err = retry.RetryOnConflict(conflictBackoff, func() error {
		secret := &corev1.Secret{}
		if err := s.client.Get(ctx, s.name, secret); err != nil {
			return fmt.Errorf("read Secret %s: %w", s.name, err)
		}
		if _, ok := secret.Data[key]; !ok {
			return fmt.Errorf("the Secret %s has no key %s (kubectl scim token list shows the keys)", s.name, key)
		}
		before := secret.DeepCopy()
		delete(secret.Data, key)
		times := creationTimes(secret)
		delete(times, key)
		setCreationTimes(secret, times)
		left = 0
		for k := range secret.Data {
			if scimtoken.ProviderOf(k) == scimtoken.ProviderOf(key) {
				left++
			}
		}
		return s.patch(ctx, before, secret)
	})
	return left, err
}

// patch sends the difference between before and secret, with before's resourceVersion.
func (s tokenSecret) patch(ctx context.Context, before, secret *corev1.Secret) error {
	return s.client.Patch(ctx, secret, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// list describes the Secret's keys.
func (s tokenSecret) list(ctx context.Context) (*TokenList, error) {
	secret := &corev1.Secret{}
	if err := s.client.Get(ctx, s.name, secret); err != nil {
		return nil, fmt.Errorf("read Secret %s: %w", s.name, err)
	}
	times := creationTimes(secret)
	list := &TokenList{
		TypeMeta:  metav1.TypeMeta{APIVersion: ReportAPIVersion, Kind: "TokenList"},
		Namespace: s.name.Namespace,
		Secret:    s.name.Name,
		Items:     []Token{},
	}
	for _, key := range slices.Sorted(maps.Keys(secret.Data)) {
		t := Token{Key: key, Provider: scimtoken.ProviderOf(key), Stored: StoredPlain}
		if _, hashed := scimtoken.Digest(secret.Data[key]); hashed {
			t.Stored = StoredHashed
		}
		if at, err := time.Parse(time.RFC3339, times[key]); err == nil {
			t.Created = &metav1.Time{Time: at}
		}
		list.Items = append(list.Items, t)
	}
	return list, nil
}

func (l *TokenList) printTable(w io.Writer) {
	block(w, func(w io.Writer) {
		fmt.Fprintln(w, "KEY\tPROVIDER\tSTORED\tCREATED")
		for _, t := range l.Items {
			created := "unknown"
			if t.Created != nil {
				created = t.Created.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Key, t.Provider, t.Stored, created)
		}
	})
}

// creationTimes returns the Secret's AnnotationTokensCreated; one that is not a JSON object of
// strings (edited by hand) counts as empty, and is replaced by the next change.
func creationTimes(secret *corev1.Secret) map[string]string {
	times := map[string]string{}
	if raw := secret.Annotations[AnnotationTokensCreated]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &times); err != nil {
			return map[string]string{}
		}
	}
	return times
}

// setCreationTimes sets AnnotationTokensCreated to times, or removes it when times is empty.
func setCreationTimes(secret *corev1.Secret, times map[string]string) {
	if len(times) == 0 {
		delete(secret.Annotations, AnnotationTokensCreated)
		return
	}
	raw, _ := json.Marshal(times) // a map of strings always marshals
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[AnnotationTokensCreated] = string(raw)
}
