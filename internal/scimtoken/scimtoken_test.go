package scimtoken

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		token, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) < 32 {
			t.Fatalf("token %q is not ≥ 32 bytes of unpadded base64url: %v", token, err)
		}
		if seen[token] {
			t.Fatalf("token %q generated twice", token)
		}
		seen[token] = true
	}
}

func TestHashIsLowercaseHexSHA256(t *testing.T) {
	// printf %s secret | sha256sum
	const want = "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
	if got := Hash("secret"); got != want {
		t.Fatalf("Hash(secret) = %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(Hash("x")) {
		t.Fatalf("Hash(x) = %s", Hash("x"))
	}
}

func TestDigest(t *testing.T) {
	token := "tok-en"
	sum := sha256.Sum256([]byte(token))
	hashed := Hash(token)
	for _, tc := range []struct {
		value      string
		wantHashed bool
		matches    bool
	}{
		{hashed, true, true},
		{hashed + "\n", true, true}, // written with --from-file
		{"sha256:" + strings.ToUpper(strings.TrimPrefix(hashed, "sha256:")), true, true}, // hex digits of either case
		{token, false, true}, // a plain token, as before
		{token + "\n", false, true},
		{hashed[:len(hashed)-1], false, false},       // 63 digits: a plain token that is not ours
		{hashed[:len(hashed)-1] + "g", false, false}, // not hex
		{"sha256:", false, false},
		{"SHA256:" + strings.TrimPrefix(hashed, "sha256:"), false, false}, // the prefix is exact
	} {
		got, isHash := Digest([]byte(tc.value))
		if isHash != tc.wantHashed || (got == sum) != tc.matches {
			t.Errorf("Digest(%q) = hashed %v, matches %v; want %v, %v", tc.value, isHash, got == sum, tc.wantHashed, tc.matches)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ provider, name, want string }{
		{"okta", "20261201T094900Z", "okta.20261201T094900Z"},
		{"my-idp_2", "next.v2", "my-idp_2.next.v2"},
	} {
		if got, err := Key(tc.provider, tc.name); err != nil || got != tc.want {
			t.Errorf("Key(%q, %q) = %q, %v; want %q", tc.provider, tc.name, got, err, tc.want)
		}
		if ProviderOf(tc.want) != tc.provider {
			t.Errorf("ProviderOf(%q) = %q", tc.want, ProviderOf(tc.want))
		}
	}
	for _, tc := range []struct{ provider, name string }{
		{"", "x"}, {"ok.ta", "x"}, {"ok ta", "x"}, {"okta/x", "x"}, {"okta", ""}, {"okta", "a b"},
		{"okta", "a/b"}, {"okta", strings.Repeat("n", 250)},
	} {
		if key, err := Key(tc.provider, tc.name); err == nil {
			t.Errorf("Key(%q, %q) = %q, want an error", tc.provider, tc.name, key)
		}
	}
}
