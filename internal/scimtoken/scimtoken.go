// Package scimtoken is the format of the providers' bearer tokens in the token Secret, shared by the
// SCIM server, which checks them, and kubectl scim, which writes them. Each key of the Secret,
// "<provider>" or "<provider>.<name>", holds one token of that provider, either as written by hand
// (the token itself) or as HashPrefix followed by the lowercase hex SHA-256 of the token.
package scimtoken

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// HashPrefix starts a stored value that is the SHA-256 of a token rather than the token.
const HashPrefix = "sha256:"

// randomBytes is the entropy of a generated token: 256 bits, so that an unsalted SHA-256 of it
// cannot be reversed by guessing.
const randomBytes = 32

// Generate returns a new random token: randomBytes from crypto/rand, base64url-encoded without
// padding, which keeps it safe in HTTP headers, URLs and shells.
func Generate() (string, error) {
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the value stored for token: HashPrefix and the lowercase hex SHA-256 of token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return HashPrefix + hex.EncodeToString(sum[:])
}

// Digest returns the SHA-256 that a presented token must have to match the stored value, and
// whether value is a hash: HashPrefix followed by 64 hex digits. Any other value is a token written
// by hand, whose digest is that of the value without surrounding white space (a token written with
// kubectl --from-file keeps its trailing newline, which is not part of it).
func Digest(value []byte) (sum [sha256.Size]byte, hashed bool) {
	value = bytes.TrimSpace(value)
	if digits, ok := bytes.CutPrefix(value, []byte(HashPrefix)); ok && len(digits) == hex.EncodedLen(sha256.Size) {
		if _, err := hex.Decode(sum[:], digits); err == nil {
			return sum, true
		}
	}
	return sha256.Sum256(value), false
}

// ProviderOf returns the provider whose token the key holds: the key up to its first dot.
func ProviderOf(key string) string {
	provider, _, _ := strings.Cut(key, ".")
	return provider
}

// providerPattern is what a provider name may be: Secret key characters without the dot that ends
// it in a key.
var providerPattern = regexp.MustCompile(`^[-_a-zA-Z0-9]+$`)

// Key returns the Secret key of provider's token named name, or why there is none: provider is made
// of Secret key characters other than the dot, name of Secret key characters, and the key is a valid
// Secret key.
func Key(provider, name string) (string, error) {
	if !providerPattern.MatchString(provider) {
		return "", fmt.Errorf("invalid provider %q: use letters, digits, '-' and '_'", provider)
	}
	if name == "" {
		return "", fmt.Errorf("the token name must not be empty")
	}
	key := provider + "." + name
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return "", fmt.Errorf("invalid token name %q: key %q: %s", name, key, strings.Join(errs, "; "))
	}
	return key, nil
}
