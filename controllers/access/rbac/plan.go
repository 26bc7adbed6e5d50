package rbac

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	identityv1alpha1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/controllers/access"
)

// The pure part of the projection: names, labels and how subjects are spread over bindings.

const (
	// namePrefix starts the name of every binding the operator owns.
	namePrefix = "scim-"
	// maxRoleInName and maxGrantInName bound the readable parts of a binding name, so that the name
	// stays far below the 253 characters Kubernetes allows; the hash keeps it unique.
	maxRoleInName  = 100
	maxGrantInName = 60
	// hashLen is the number of hex digits of the grant hash in a binding name.
	hashLen = 10
)

// baseName is the name shared by the bindings of one grant of a role, before the index suffix:
// scim-<role>-<granted role>-<hash of role and grant>.
func baseName(role string, g access.Grant) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{role, g.Kind, g.Namespace, g.Name}, "\x00")))
	return namePrefix + truncate(role, maxRoleInName) + "-" + truncate(g.Name, maxGrantInName) + "-" +
		hex.EncodeToString(sum[:])[:hashLen]
}

// bindingName is the name of the binding at index i of a grant whose base name is base.
func bindingName(base string, i int) string { return base + "-" + strconv.Itoa(i) }

// indexOf returns the index of a binding named name among the bindings of base, or false when the
// name is not one of them.
func indexOf(base, name string) (int, bool) {
	suffix, ok := strings.CutPrefix(name, base+"-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(suffix)
	if err != nil || i < 0 || strconv.Itoa(i) != suffix {
		return 0, false
	}
	return i, true
}

// RoleLabelValue is the value of the LabelRole label for the role named role: the name itself when
// it is a valid label value (every generated SCIM id is), else a prefix of it and a hash.
func RoleLabelValue(role string) string {
	if len(validation.IsValidLabelValue(role)) == 0 {
		return role
	}
	sum := sha256.Sum256([]byte(role))
	prefix := strings.TrimRight(truncate(role, validation.LabelValueMaxLength-hashLen-1), "-_.")
	return prefix + "-" + hex.EncodeToString(sum[:])[:hashLen]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// subjectsFor returns the User subjects for users (userNames) with prefix, sorted by name. A name
// in Kubernetes' reserved system: namespace is never written, whatever the caller passed.
func subjectsFor(users []string, prefix string) []rbacv1.Subject {
	subjects := make([]rbacv1.Subject, 0, len(users))
	for _, u := range users {
		if name := identityv1alpha1.SubjectName(prefix, u); !identityv1alpha1.IsReservedSubject(name) {
			subjects = append(subjects, userSubject(name))
		}
	}
	slices.SortFunc(subjects, func(a, b rbacv1.Subject) int { return strings.Compare(a.Name, b.Name) })
	return subjects
}

// userSubject is the User subject named name.
func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// usersIn returns the userNames of the User subjects of subjects that carry prefix. Other subjects
// were not written by the operator.
func usersIn(subjects []rbacv1.Subject, prefix string) []string {
	users := make([]string, 0, len(subjects))
	for _, s := range subjects {
		if s.Kind != rbacv1.UserKind || s.APIGroup != rbacv1.GroupName {
			continue
		}
		if u, ok := strings.CutPrefix(s.Name, prefix); ok {
			users = append(users, u)
		}
	}
	return users
}

// spread distributes desired (userNames) over as few bindings of at most max subjects as possible,
// and at least one. current holds the users each existing binding of the grant holds, by index.
//
// A user stays in the binding it is already in while that binding is kept, so that a member joining
// or leaving rewrites a single binding and no remaining member loses access while several are
// rewritten one after the other. Users are placed in the lowest binding with room, and each list is
// sorted: the result depends only on current and desired.
func spread(current [][]string, desired []string, max int) [][]string {
	if max < 1 {
		max = 1
	}
	wanted := make(map[string]bool, len(desired))
	for _, u := range desired {
		wanted[u] = true
	}
	out := make([][]string, (len(wanted)+max-1)/max)
	if len(out) == 0 {
		out = [][]string{nil}
	}
	placed := make(map[string]bool, len(wanted))
	for i := 0; i < len(out) && i < len(current); i++ {
		for _, u := range slices.Sorted(slices.Values(current[i])) {
			if wanted[u] && !placed[u] && len(out[i]) < max {
				out[i] = append(out[i], u)
				placed[u] = true
			}
		}
	}
	next := 0
	for _, u := range slices.Sorted(slices.Values(desired)) {
		if placed[u] {
			continue
		}
		for len(out[next]) >= max {
			next++
		}
		out[next] = append(out[next], u)
		placed[u] = true
	}
	for _, users := range out {
		slices.Sort(users)
	}
	return out
}
